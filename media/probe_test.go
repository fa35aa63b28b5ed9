package media_test

import (
	"context"
	"errors"
	"io/fs"
	"runtime"
	"testing"
	"time"

	"github.com/gallerist/gallerist/media"
	"github.com/gallerist/gallerist/media/mediatest"
)

func TestProbeJPEGOrientation(t *testing.T) {
	const w, h = 300, 200
	for o := 1; o <= 8; o++ {
		p := writeFile(t, "o.jpg", mediatest.JPEG(w, h, int64(o), &mediatest.EXIF{Orientation: o}))
		info, err := media.Probe(context.Background(), media.DefaultConfig(), p)
		if err != nil {
			t.Fatalf("orientation %d: %v", o, err)
		}
		wantW, wantH := w, h
		if o >= 5 {
			wantW, wantH = h, w
		}
		if info.Format != media.FormatJPEG || info.Orientation != o || info.Width != wantW || info.Height != wantH {
			t.Errorf("orientation %d: Probe = %s orientation %d %s, want jpeg orientation %d %s",
				o, info.Format, info.Orientation, dims(info.Width, info.Height), o, dims(wantW, wantH))
		}
	}
}

func TestProbeJPEGWithoutEXIF(t *testing.T) {
	info, err := media.Probe(context.Background(), media.DefaultConfig(), writeFile(t, "a.jpg", mediatest.JPEG(64, 48, 1, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if info.Orientation != 1 || info.CapturedAt != nil || info.Camera != (media.Camera{}) || info.Width != 64 || info.Height != 48 {
		t.Fatalf("Probe = %+v, want 64x48, orientation 1, no time, no camera", info)
	}
}

func TestProbeCaptureTime(t *testing.T) {
	t.Run("with offset", func(t *testing.T) {
		p := writeFile(t, "a.jpg", mediatest.JPEG(64, 48, 1, &mediatest.EXIF{
			DateTimeOriginal: "2026:05:12 15:23:11", OffsetTimeOriginal: "+02:00",
			Make: "Gallerist Optics", Model: "GX-1",
		}))
		info, err := media.Probe(context.Background(), media.DefaultConfig(), p)
		if err != nil {
			t.Fatal(err)
		}
		if info.CapturedAt == nil || !info.CapturedAtHasOffset {
			t.Fatalf("CapturedAt = %v, HasOffset = %v; want a time with offset", info.CapturedAt, info.CapturedAtHasOffset)
		}
		if got := info.CapturedAt.Format(time.RFC3339); got != "2026-05-12T15:23:11+02:00" {
			t.Errorf("CapturedAt = %s, want 2026-05-12T15:23:11+02:00", got)
		}
		if want := time.Date(2026, 5, 12, 13, 23, 11, 0, time.UTC); !info.CapturedAt.Equal(want) {
			t.Errorf("CapturedAt is the instant %s, want %s", info.CapturedAt.UTC(), want)
		}
		if info.Camera.Make != "Gallerist Optics" || info.Camera.Model != "GX-1" {
			t.Errorf("Camera = %q %q, want Gallerist Optics GX-1", info.Camera.Make, info.Camera.Model)
		}
	})
	t.Run("negative offset", func(t *testing.T) {
		p := writeFile(t, "a.jpg", mediatest.JPEG(64, 48, 1, &mediatest.EXIF{
			DateTimeOriginal: "2025:12:31 23:59:59", OffsetTimeOriginal: "-04:30",
		}))
		info, err := media.Probe(context.Background(), media.DefaultConfig(), p)
		if err != nil {
			t.Fatal(err)
		}
		if info.CapturedAt == nil || info.CapturedAt.Format(time.RFC3339) != "2025-12-31T23:59:59-04:30" || !info.CapturedAtHasOffset {
			t.Fatalf("CapturedAt = %v (offset %v), want 2025-12-31T23:59:59-04:30", info.CapturedAt, info.CapturedAtHasOffset)
		}
	})
	t.Run("without offset is floating UTC", func(t *testing.T) {
		p := writeFile(t, "a.jpg", mediatest.JPEG(64, 48, 1, &mediatest.EXIF{DateTimeOriginal: "2026:05:12 15:23:11"}))
		info, err := media.Probe(context.Background(), media.DefaultConfig(), p)
		if err != nil {
			t.Fatal(err)
		}
		if info.CapturedAt == nil || info.CapturedAtHasOffset {
			t.Fatalf("CapturedAt = %v, HasOffset = %v; want a floating time", info.CapturedAt, info.CapturedAtHasOffset)
		}
		if info.CapturedAt.Location() != time.UTC || info.CapturedAt.Format(time.RFC3339) != "2026-05-12T15:23:11Z" {
			t.Errorf("CapturedAt = %s in %s, want the wall clock 15:23:11 as UTC", info.CapturedAt.Format(time.RFC3339), info.CapturedAt.Location())
		}
	})
	t.Run("zero date is no date", func(t *testing.T) {
		p := writeFile(t, "a.jpg", mediatest.JPEG(64, 48, 1, &mediatest.EXIF{DateTimeOriginal: "0000:00:00 00:00:00"}))
		info, err := media.Probe(context.Background(), media.DefaultConfig(), p)
		if err != nil {
			t.Fatal(err)
		}
		if info.CapturedAt != nil {
			t.Fatalf("CapturedAt = %s, want nil", info.CapturedAt)
		}
	})
}

// A PNG that declares 60000×60000 pixels (3.6 GP, 14 GB decoded) in a few KB
// is refused from its header alone: quickly and without allocating.
func TestProbeRefusesDecompressionBomb(t *testing.T) {
	bomb := mediatest.BombPNG(60000, 60000)
	if len(bomb) > 8<<10 {
		t.Fatalf("bomb fixture is %d bytes, want a few KB", len(bomb))
	}
	p := writeFile(t, "bomb.png", bomb)
	cfg := media.DefaultConfig()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := media.Probe(context.Background(), cfg, p)
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)

	if !errors.Is(err, media.ErrTooManyPixels) {
		t.Fatalf("Probe error = %v, want ErrTooManyPixels", err)
	}
	var pe *media.PixelLimitError
	if !errors.As(err, &pe) || pe.Width != 60000 || pe.Height != 60000 || pe.MaxPixels != cfg.MaxPixels {
		t.Errorf("error %v does not carry 60000x60000 and the limit", err)
	}
	if elapsed > time.Second {
		t.Errorf("refusal took %s, want well under 1s", elapsed)
	}
	t.Logf("refused in %s, %d bytes allocated", elapsed, after.TotalAlloc-before.TotalAlloc)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2<<20 {
		t.Errorf("refusal allocated %d bytes, want under 2 MiB", alloc)
	}

	// Derivatives checks the header again, even when handed a made-up Info.
	start = time.Now()
	_, err = media.Derivatives(context.Background(), cfg, p,
		media.Info{Format: media.FormatPNG, Width: 10, Height: 10, Orientation: 1}, discard{}, discard{})
	if !errors.Is(err, media.ErrTooManyPixels) || time.Since(start) > time.Second {
		t.Errorf("Derivatives error = %v after %s, want ErrTooManyPixels at once", err, time.Since(start))
	}
}

func TestProbeMaxPixelsIsConfigurable(t *testing.T) {
	p := writeFile(t, "a.jpg", mediatest.JPEG(200, 100, 1, nil))
	cfg := media.DefaultConfig()
	cfg.MaxPixels = 200*100 - 1
	if _, err := media.Probe(context.Background(), cfg, p); !errors.Is(err, media.ErrTooManyPixels) {
		t.Errorf("one pixel over: error = %v, want ErrTooManyPixels", err)
	}
	cfg.MaxPixels = 200 * 100
	if _, err := media.Probe(context.Background(), cfg, p); err != nil {
		t.Errorf("exactly at the limit: %v", err)
	}
}

func TestProbeCorrupt(t *testing.T) {
	full := mediatest.JPEG(64, 48, 1, &mediatest.EXIF{Orientation: 3, Make: "X"})
	cases := map[string][]byte{
		"truncated header":  full[:40],
		"png without IHDR":  []byte("\x89PNG\r\n\x1a\n\x00\x00"),
		"gif cut off":       []byte("GIF89a\x10"),
		"webp without data": []byte("RIFF\x04\x00\x00\x00WEBP"),
		"heic without meta": ftyp("heic", "mif1", "heic"),
	}
	for name, data := range cases {
		_, err := media.Probe(context.Background(), media.DefaultConfig(), writeFile(t, "x", data))
		if !errors.Is(err, media.ErrCorruptFile) {
			t.Errorf("%s: Probe error = %v, want ErrCorruptFile", name, err)
		}
	}
}

func TestProbeMissingFile(t *testing.T) {
	_, err := media.Probe(context.Background(), media.DefaultConfig(), t.TempDir()+"/nope.jpg")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error = %v, want fs.ErrNotExist", err)
	}
}

func TestProbeHonoursCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := media.Probe(ctx, media.DefaultConfig(), writeFile(t, "a.jpg", mediatest.JPEG(16, 16, 1, nil)))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
}

// discard is an io.Writer that keeps nothing.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
