package media_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/gallerist/gallerist/media"
	"github.com/gallerist/gallerist/media/mediatest"
)

// A phone HEIC carries its rotation twice: as the container's irot, which
// decoders apply, and as EXIF Orientation. The fixture has both (irot 270°
// counter-clockwise = 90° clockwise, EXIF 6 = 90° clockwise); applying both
// would leave the picture upside down.
func TestHEICRotationAppliedOnce(t *testing.T) {
	exif := &mediatest.EXIF{Orientation: 6, DateTimeOriginal: "2026:05:12 15:23:11", OffsetTimeOriginal: "+02:00", Make: "Apple", Model: "iPhone 15"}
	p := mediatest.HEIC(t, t.TempDir(), 640, 480, 1, exif, 270)

	info, sizes, display, thumb := derive(t, media.DefaultConfig(), p)
	if info.Format != media.FormatHEIC || info.Width != 480 || info.Height != 640 || info.Orientation != 1 {
		t.Errorf("Probe = %s %s orientation %d, want heic 480x640 (irot applied) orientation 1", info.Format, dims(info.Width, info.Height), info.Orientation)
	}
	if info.CapturedAt == nil || info.CapturedAt.Format(time.RFC3339) != "2026-05-12T15:23:11+02:00" {
		t.Errorf("CapturedAt = %v, want 2026-05-12T15:23:11+02:00", info.CapturedAt)
	}
	if info.Camera.Make != "Apple" || info.Camera.Model != "iPhone 15" {
		t.Errorf("Camera = %q %q, want Apple iPhone 15", info.Camera.Make, info.Camera.Model)
	}
	if sizes != (media.DerivativeSizes{DisplayWidth: 480, DisplayHeight: 640, ThumbWidth: 300, ThumbHeight: 400}) {
		t.Errorf("sizes = %+v, want display 480x640, thumb 300x400", sizes)
	}
	if got := corners(decodeJPEG(t, display)); got != upright[6] {
		t.Errorf("display corners %v, want %v (turned once, clockwise)", got, upright[6])
	}
	if got := corners(decodeJPEG(t, thumb)); got != upright[6] {
		t.Errorf("thumb corners %v, want %v", got, upright[6])
	}
}

// Without irot, the EXIF Orientation alone does not turn a HEIC: HEIF
// readers follow the container, as libheif and browsers do.
func TestHEICIgnoresEXIFOrientation(t *testing.T) {
	p := mediatest.HEIC(t, t.TempDir(), 640, 480, 2, &mediatest.EXIF{Orientation: 6}, 0)
	info, sizes, display, _ := derive(t, media.DefaultConfig(), p)
	if info.Width != 640 || info.Height != 480 || info.Orientation != 1 {
		t.Errorf("Probe = %s orientation %d, want 640x480 orientation 1", dims(info.Width, info.Height), info.Orientation)
	}
	if sizes.DisplayWidth != 640 || sizes.DisplayHeight != 480 {
		t.Errorf("display %s, want 640x480", dims(sizes.DisplayWidth, sizes.DisplayHeight))
	}
	if got := corners(decodeJPEG(t, display)); got != upright[1] {
		t.Errorf("display corners %v, want %v", got, upright[1])
	}
}

// Probe reads HEIC sizes from the container, not through the decoder: it
// stays fast even before the WebAssembly module has been compiled, and it
// refuses oversized pictures first.
func TestHEICProbeLimits(t *testing.T) {
	p := mediatest.HEIC(t, t.TempDir(), 320, 240, 3, nil, 90)
	cfg := media.DefaultConfig()
	cfg.MaxPixels = 320*240 - 1
	start := time.Now()
	_, err := media.Probe(context.Background(), cfg, p)
	var pe *media.PixelLimitError
	if !errors.As(err, &pe) || pe.Width != 240 || pe.Height != 320 {
		t.Fatalf("Probe error = %v, want a PixelLimitError for 240x320", err)
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("Probe took %s, want a header read", d)
	}

	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	cut := writeFile(t, "cut.heic", data[:200]) // inside the meta box
	if _, err := media.Probe(context.Background(), media.DefaultConfig(), cut); !errors.Is(err, media.ErrCorruptFile) {
		t.Errorf("truncated HEIC: error = %v, want ErrCorruptFile", err)
	}
}

// A HEIF whose major brand is the generic mif1 is FormatHEIF, and decodes
// the same way when its picture is HEVC.
func TestHEIFGenericBrand(t *testing.T) {
	data, err := os.ReadFile(mediatest.HEIC(t, t.TempDir(), 320, 240, 4, nil, 90))
	if err != nil {
		t.Fatal(err)
	}
	if string(data[4:12]) != "ftypheic" {
		t.Fatalf("heif-enc wrote ftyp %q, want major brand heic", data[4:12])
	}
	copy(data[8:12], "mif1")
	info, sizes, display, _ := derive(t, media.DefaultConfig(), writeFile(t, "a.heif", data))
	if info.Format != media.FormatHEIF || info.Width != 240 || info.Height != 320 {
		t.Errorf("Probe = %s %s, want heif 240x320", info.Format, dims(info.Width, info.Height))
	}
	if sizes.DisplayWidth != 240 || sizes.DisplayHeight != 320 {
		t.Errorf("display %s, want 240x320", dims(sizes.DisplayWidth, sizes.DisplayHeight))
	}
	if got := corners(decodeJPEG(t, display)); got != upright[8] {
		t.Errorf("corners %v, want %v (irot 90 = EXIF 8)", got, upright[8])
	}
}

func TestWarm(t *testing.T) {
	start := time.Now()
	media.Warm()
	t.Logf("first Warm: %s", time.Since(start))
	start = time.Now()
	media.Warm()
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("second Warm took %s: the decoder was not kept compiled", d)
	}
}
