package media_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"testing"

	"github.com/gallerist/gallerist/media"
	"github.com/gallerist/gallerist/media/mediatest"
)

// Colour names for the expected corners, as in helpers_test.go.
const (
	red    = "red (stored top-left)"
	green  = "green (stored top-right)"
	blue   = "blue (stored bottom-left)"
	yellow = "yellow (stored bottom-right)"
	white  = "white"
)

// upright lists, for each EXIF orientation, the colours at the displayed
// top-left, top-right, bottom-left and bottom-right corners once the
// orientation is applied to the stored picture [red green; blue yellow]
// (EXIF 2.32, tag 0x0112: where the 0th row and 0th column are shown).
var upright = map[int][4]string{
	1: {red, green, blue, yellow}, // as stored
	2: {green, red, yellow, blue}, // mirrored left-right
	3: {yellow, blue, green, red}, // turned 180°
	4: {blue, yellow, red, green}, // mirrored top-bottom
	5: {red, blue, green, yellow}, // transposed: 0th row is the left column
	6: {blue, red, yellow, green}, // turned 90° clockwise
	7: {yellow, green, blue, red}, // transversed: 0th row is the right column, bottom up
	8: {green, yellow, red, blue}, // turned 90° counter-clockwise
}

// derive runs Probe then Derivatives on path and decodes both outputs,
// checking they are plain baseline JPEGs of the reported sizes.
func derive(t *testing.T, cfg media.Config, path string) (media.Info, media.DerivativeSizes, []byte, []byte) {
	t.Helper()
	ctx := context.Background()
	info, err := media.Probe(ctx, cfg, path)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	var display, thumb bytes.Buffer
	sizes, err := media.Derivatives(ctx, cfg, path, info, &display, &thumb)
	if err != nil {
		t.Fatalf("Derivatives: %v", err)
	}
	checkPlainJPEG(t, "display", display.Bytes())
	checkPlainJPEG(t, "thumb", thumb.Bytes())
	d, th := decodeJPEG(t, display.Bytes()), decodeJPEG(t, thumb.Bytes())
	if d.Bounds().Dx() != sizes.DisplayWidth || d.Bounds().Dy() != sizes.DisplayHeight {
		t.Errorf("display is %s, Derivatives reported %s", dims(d.Bounds().Dx(), d.Bounds().Dy()), dims(sizes.DisplayWidth, sizes.DisplayHeight))
	}
	if th.Bounds().Dx() != sizes.ThumbWidth || th.Bounds().Dy() != sizes.ThumbHeight {
		t.Errorf("thumb is %s, Derivatives reported %s", dims(th.Bounds().Dx(), th.Bounds().Dy()), dims(sizes.ThumbWidth, sizes.ThumbHeight))
	}
	return info, sizes, display.Bytes(), thumb.Bytes()
}

func TestDerivativesJPEGOrientation(t *testing.T) {
	cfg := media.DefaultConfig()
	for o := 1; o <= 8; o++ {
		// Odd orientations from a source larger than the display size, even
		// ones from a smaller source: both must keep to min(2048, long edge).
		w, h := 2400, 1600
		if o%2 == 0 {
			w, h = 900, 600
		}
		exif := &mediatest.EXIF{Orientation: o, Make: "Acme", Model: "Z", GPS: true,
			DateTimeOriginal: "2026:05:12 15:23:11", OffsetTimeOriginal: "+02:00"}
		p := writeFile(t, "photo.jpg", mediatest.JPEG(w, h, int64(o), exif))
		info, sizes, display, thumb := derive(t, cfg, p)

		wantLong := min(2048, longEdge(w, h))
		if got := longEdge(sizes.DisplayWidth, sizes.DisplayHeight); got != wantLong {
			t.Errorf("orientation %d: display long edge %d, want %d", o, got, wantLong)
		}
		if got := longEdge(sizes.ThumbWidth, sizes.ThumbHeight); got != 400 {
			t.Errorf("orientation %d: thumb long edge %d, want 400", o, got)
		}
		portrait := o >= 5
		if (sizes.DisplayHeight > sizes.DisplayWidth) != portrait || (sizes.ThumbHeight > sizes.ThumbWidth) != portrait {
			t.Errorf("orientation %d: display %s, thumb %s; want portrait=%v",
				o, dims(sizes.DisplayWidth, sizes.DisplayHeight), dims(sizes.ThumbWidth, sizes.ThumbHeight), portrait)
		}
		if ew, eh := fitDims(info.Width, info.Height, 2048); sizes.DisplayWidth != ew || sizes.DisplayHeight != eh {
			t.Errorf("orientation %d: display %s, want Probe's %s fitted to 2048: %s",
				o, dims(sizes.DisplayWidth, sizes.DisplayHeight), dims(info.Width, info.Height), dims(ew, eh))
		}
		if got := corners(decodeJPEG(t, display)); got != upright[o] {
			t.Errorf("orientation %d: display corners %v, want %v", o, got, upright[o])
		}
		if got := corners(decodeJPEG(t, thumb)); got != upright[o] {
			t.Errorf("orientation %d: thumb corners %v, want %v", o, got, upright[o])
		}
	}
}

// fitDims scales w×h to a long edge of at most long, rounding the short edge.
func fitDims(w, h, long int) (int, int) {
	if max(w, h) <= long {
		return w, h
	}
	s := float64(long) / float64(max(w, h))
	return int(math.Round(float64(w) * s)), int(math.Round(float64(h) * s))
}

func TestDerivativesNeverUpscale(t *testing.T) {
	p := writeFile(t, "small.jpg", mediatest.JPEG(240, 160, 1, nil))
	_, sizes, _, _ := derive(t, media.DefaultConfig(), p)
	if sizes != (media.DerivativeSizes{DisplayWidth: 240, DisplayHeight: 160, ThumbWidth: 240, ThumbHeight: 160}) {
		t.Fatalf("sizes = %+v, want the 240x160 source size for both", sizes)
	}
}

func TestDerivativesConfiguredSizes(t *testing.T) {
	cfg := media.DefaultConfig()
	cfg.DisplaySize, cfg.ThumbSize = 500, 100
	p := writeFile(t, "a.jpg", mediatest.JPEG(1000, 250, 1, nil))
	_, sizes, _, _ := derive(t, cfg, p)
	if sizes != (media.DerivativeSizes{DisplayWidth: 500, DisplayHeight: 125, ThumbWidth: 100, ThumbHeight: 25}) {
		t.Fatalf("sizes = %+v, want display 500x125, thumb 100x25", sizes)
	}
}

// PNG, GIF and WebP fixtures have a transparent bottom-right quadrant, which
// must come out white.
func TestDerivativesTransparentFormats(t *testing.T) {
	want := [4]string{red, green, blue, white}
	cases := map[string]func(t *testing.T) string{
		"png": func(t *testing.T) string { return writeFile(t, "a.png", mediatest.PNG(800, 600, 1)) },
		"gif": func(t *testing.T) string { return writeFile(t, "a.gif", mediatest.GIF(800, 600, 1)) },
		"webp": func(t *testing.T) string {
			return mediatest.WebP(t, t.TempDir(), 800, 600)
		},
	}
	for name, make := range cases {
		t.Run(name, func(t *testing.T) {
			info, sizes, display, thumb := derive(t, media.DefaultConfig(), make(t))
			if string(info.Format) != name || info.Width != 800 || info.Height != 600 || info.Orientation != 1 {
				t.Errorf("Probe = %s %s orientation %d, want %s 800x600 orientation 1", info.Format, dims(info.Width, info.Height), info.Orientation, name)
			}
			if sizes != (media.DerivativeSizes{DisplayWidth: 800, DisplayHeight: 600, ThumbWidth: 400, ThumbHeight: 300}) {
				t.Errorf("sizes = %+v, want display 800x600, thumb 400x300", sizes)
			}
			if got := corners(decodeJPEG(t, display)); got != want {
				t.Errorf("display corners %v, want %v", got, want)
			}
			if got := corners(decodeJPEG(t, thumb)); got != want {
				t.Errorf("thumb corners %v, want %v", got, want)
			}
		})
	}
}

func TestDerivativesZeroInfoProbesItself(t *testing.T) {
	p := writeFile(t, "a.jpg", mediatest.JPEG(600, 400, 1, &mediatest.EXIF{Orientation: 6}))
	var display, thumb bytes.Buffer
	sizes, err := media.Derivatives(context.Background(), media.Config{}, p, media.Info{}, &display, &thumb)
	if err != nil {
		t.Fatal(err)
	}
	if sizes.DisplayWidth != 400 || sizes.DisplayHeight != 600 {
		t.Fatalf("display %s, want 400x600 (orientation 6 applied)", dims(sizes.DisplayWidth, sizes.DisplayHeight))
	}
	if got := corners(decodeJPEG(t, display.Bytes())); got != upright[6] {
		t.Errorf("corners %v, want %v", got, upright[6])
	}
}

func TestDerivativesCorruptBody(t *testing.T) {
	full := mediatest.JPEG(640, 480, 1, nil)
	p := writeFile(t, "cut.jpg", full[:len(full)/2]) // header intact, scan cut off
	info, err := media.Probe(context.Background(), media.DefaultConfig(), p)
	if err != nil {
		t.Fatalf("Probe reads the intact header, got %v", err)
	}
	_, err = media.Derivatives(context.Background(), media.DefaultConfig(), p, info, discard{}, discard{})
	if !errors.Is(err, media.ErrCorruptFile) {
		t.Fatalf("Derivatives error = %v, want ErrCorruptFile", err)
	}
}

func TestDerivativesWriterError(t *testing.T) {
	p := writeFile(t, "a.jpg", mediatest.JPEG(64, 48, 1, nil))
	_, err := media.Derivatives(context.Background(), media.DefaultConfig(), p, media.Info{}, failingWriter{}, discard{})
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("error = %v, want the writer's error", err)
	}
}

func TestDerivativesHonoursCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := writeFile(t, "a.jpg", mediatest.JPEG(64, 48, 1, nil))
	_, err := media.Derivatives(ctx, media.DefaultConfig(), p, media.Info{Format: media.FormatJPEG, Width: 64, Height: 48, Orientation: 1}, discard{}, discard{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
}

var errDiskFull = errors.New("disk full")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errDiskFull }

// The same picture encoded with two seeds must differ, or fixtures could
// hide bugs behind identical bytes.
func TestFixturesDifferBySeed(t *testing.T) {
	a, b := mediatest.JPEG(64, 48, 1, nil), mediatest.JPEG(64, 48, 2, nil)
	if bytes.Equal(a, b) {
		t.Fatal("JPEG fixtures with different seeds are identical")
	}
	if bytes.Equal(mediatest.PNG(64, 48, 1), mediatest.PNG(64, 48, 2)) {
		t.Fatal("PNG fixtures with different seeds are identical")
	}
	if !bytes.Equal(a, mediatest.JPEG(64, 48, 1, nil)) {
		t.Fatal("JPEG fixture is not deterministic")
	}
}

// BenchmarkDerivatives24MP measures one 24 MP camera-sized JPEG (6000x4000)
// to a 2048 display copy and a 400 thumbnail; compare with media-perf.md §3
// (image/jpeg + imaging Linear: about 850 ms CPU per image on one core).
func BenchmarkDerivatives24MP(b *testing.B) {
	p := writeFile(b, "c24.jpg", mediatest.JPEG(6000, 4000, 1, &mediatest.EXIF{Orientation: 6}))
	ctx := context.Background()
	cfg := media.DefaultConfig()
	info, err := media.Probe(ctx, cfg, p)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := media.Derivatives(ctx, cfg, p, info, discard{}, discard{}); err != nil {
			b.Fatal(err)
		}
	}
}

// An Info that names another format than the bytes is not trusted: the file
// is probed again and decoded as what it is.
func TestDerivativesMismatchedInfo(t *testing.T) {
	p := writeFile(t, "a.jpg", mediatest.PNG(400, 300, 5))
	lie := media.Info{Format: media.FormatJPEG, Width: 300, Height: 400, Orientation: 6}
	var display bytes.Buffer
	sizes, err := media.Derivatives(context.Background(), media.DefaultConfig(), p, lie, &display, discard{})
	if err != nil {
		t.Fatal(err)
	}
	if sizes.DisplayWidth != 400 || sizes.DisplayHeight != 300 {
		t.Errorf("display %s, want 400x300 (no orientation for a PNG)", dims(sizes.DisplayWidth, sizes.DisplayHeight))
	}
	if got := corners(decodeJPEG(t, display.Bytes())); got != [4]string{red, green, blue, white} {
		t.Errorf("corners %v", got)
	}
}
