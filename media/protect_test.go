package media_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gallerist/gallerist/media"
	"github.com/gallerist/gallerist/media/mediatest"
)

// protect runs Protect on path and decodes the output, checking that it is
// a plain baseline JPEG of the reported size.
func protect(t *testing.T, cfg media.Config, path string, opts media.ProtectOptions) *image.RGBA {
	t.Helper()
	var out bytes.Buffer
	w, h, err := media.Protect(context.Background(), cfg, path, opts, &out)
	if err != nil {
		t.Fatalf("Protect(%+v): %v", opts, err)
	}
	checkPlainJPEG(t, "protected", out.Bytes())
	img := decodeJPEG(t, out.Bytes())
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Fatalf("output is %s, Protect reported %s", dims(b.Dx(), b.Dy()), dims(w, h))
	}
	rgba := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(rgba, rgba.Rect, img, img.Bounds().Min, draw.Src)
	return rgba
}

// unmarked is the same resize without a mark, the reference for diffs.
func unmarked(t *testing.T, path string, maxEdge int) *image.RGBA {
	t.Helper()
	return protect(t, media.Config{}, path, media.ProtectOptions{MaxEdge: maxEdge})
}

// regionDiff is the mean absolute difference of the R, G and B channels of
// a and b (same size) over r, in 8-bit levels.
func regionDiff(t *testing.T, a, b *image.RGBA, r image.Rectangle) float64 {
	t.Helper()
	if a.Rect != b.Rect {
		t.Fatalf("sizes differ: %v and %v", a.Rect, b.Rect)
	}
	r = r.Intersect(a.Rect)
	if r.Empty() {
		t.Fatalf("empty region %v", r)
	}
	var sum int
	for y := r.Min.Y; y < r.Max.Y; y++ {
		pa := a.Pix[a.PixOffset(r.Min.X, y):a.PixOffset(r.Max.X, y)]
		pb := b.Pix[b.PixOffset(r.Min.X, y):]
		for i := 0; i < len(pa); i += 4 {
			for c := range 3 {
				sum += max(int(pa[i+c])-int(pb[i+c]), int(pb[i+c])-int(pa[i+c]))
			}
		}
	}
	return float64(sum) / float64(3*r.Dx()*r.Dy())
}

// solidJPEG is a w×h JPEG of one colour.
func solidJPEG(t *testing.T, w, h int, c color.Color) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Regions of a w×h picture. The non-tiled marks sit in the lower right
// (within the bottom fifth of the right half) and in the centre.
func quadrants(w, h int) [4]image.Rectangle {
	return [4]image.Rectangle{
		image.Rect(0, 0, w/2, h/2), image.Rect(w/2, 0, w, h/2),
		image.Rect(0, h/2, w/2, h), image.Rect(w/2, h/2, w, h),
	}
}
func lowerRightBand(w, h int) image.Rectangle { return image.Rect(w/2, h-h/5, w, h) }
func centreBand(w, h int) image.Rectangle     { return image.Rect(w/4, h/2-h/10, 3*w/4, h/2+h/10) }
func topLeftCorner(w, h int) image.Rectangle  { return image.Rect(0, 0, w/3, h/3) }
func lowerRightCorner(w, h int) image.Rectangle {
	return image.Rect(w-w/8, h-h/8, w, h)
}

func TestProtectSizeOrientationMetadata(t *testing.T) {
	// Orientation 6 with GPS: the output is portrait, upright like the
	// display copy, and carries no EXIF.
	exif := &mediatest.EXIF{Orientation: 6, Make: "Acme", Model: "Z", GPS: true,
		DateTimeOriginal: "2026:05:12 15:23:11"}
	p := writeFile(t, "photo.jpg", mediatest.JPEG(1200, 800, 6, exif))
	for _, tiled := range []bool{false, true} {
		img := protect(t, media.Config{}, p, media.ProtectOptions{MaxEdge: 600, Text: "© Studio Anna", Tiled: tiled})
		if got := dims(img.Bounds().Dx(), img.Bounds().Dy()); got != "400x600" {
			t.Errorf("tiled=%v: output %s, want 400x600 (portrait, long edge 600)", tiled, got)
		}
	}
	if got := corners(unmarked(t, p, 600)); got != upright[6] {
		t.Errorf("corners %v, want %v as Derivatives orients", got, upright[6])
	}

	// Never upscaled; aspect kept.
	small := writeFile(t, "small.jpg", mediatest.JPEG(900, 600, 1, nil))
	img := protect(t, media.Config{}, small, media.ProtectOptions{MaxEdge: 1600, Text: "Gallery"})
	if got := dims(img.Bounds().Dx(), img.Bounds().Dy()); got != "900x600" {
		t.Errorf("small source: output %s, want its own 900x600", got)
	}
	img = protect(t, media.Config{}, small, media.ProtectOptions{MaxEdge: 450, Text: "Gallery"})
	if got := dims(img.Bounds().Dx(), img.Bounds().Dy()); got != "450x300" {
		t.Errorf("MaxEdge 450: output %s, want 450x300", got)
	}
	// MaxEdge 0 takes the display size.
	img = protect(t, media.Config{DisplaySize: 300}, small, media.ProtectOptions{Text: "Gallery"})
	if got := dims(img.Bounds().Dx(), img.Bounds().Dy()); got != "300x200" {
		t.Errorf("MaxEdge 0, DisplaySize 300: output %s, want 300x200", got)
	}

	// A PNG with a transparent quadrant: flattened onto white as for the
	// display copy.
	pngPath := writeFile(t, "picture.png", mediatest.PNG(600, 400, 2))
	img = protect(t, media.Config{}, pngPath, media.ProtectOptions{MaxEdge: 300, Text: "Gallery", Tiled: true})
	if got := dims(img.Bounds().Dx(), img.Bounds().Dy()); got != "300x200" {
		t.Errorf("PNG: output %s, want 300x200", got)
	}
}

func TestProtectMarkPlacement(t *testing.T) {
	p := writeFile(t, "photo.jpg", mediatest.JPEG(1200, 800, 3, nil))
	ref := unmarked(t, p, 960)
	w, h := ref.Bounds().Dx(), ref.Bounds().Dy()
	img := protect(t, media.Config{}, p, media.ProtectOptions{MaxEdge: 960, Text: "© Studio Anna"})

	if d := regionDiff(t, img, ref, lowerRightBand(w, h)); d < 2 {
		t.Errorf("lower-right band differs by %.2f from the unmarked copy, want a visible mark (>= 2)", d)
	}
	if d := regionDiff(t, img, ref, quadrants(w, h)[3]); d < 1 {
		t.Errorf("lower-right quadrant differs by %.2f, want >= 1", d)
	}
	if d := regionDiff(t, img, ref, centreBand(w, h)); d < 2 {
		t.Errorf("centre differs by %.2f, want the centred mark (>= 2)", d)
	}
	if d := regionDiff(t, img, ref, topLeftCorner(w, h)); d > 0.05 {
		t.Errorf("top-left corner differs by %.2f, want no mark there", d)
	}

	// A stronger mark differs more.
	weak := protect(t, media.Config{}, p, media.ProtectOptions{MaxEdge: 960, Text: "© Studio Anna", Opacity: 0.2})
	strong := protect(t, media.Config{}, p, media.ProtectOptions{MaxEdge: 960, Text: "© Studio Anna", Opacity: 0.8})
	dw := regionDiff(t, weak, ref, lowerRightBand(w, h))
	ds := regionDiff(t, strong, ref, lowerRightBand(w, h))
	if !(ds > 2*dw) {
		t.Errorf("opacity 0.8 differs by %.2f, opacity 0.2 by %.2f; want the stronger mark to differ much more", ds, dw)
	}
}

func TestProtectVisibleOnWhiteAndBlack(t *testing.T) {
	for _, c := range []struct {
		name string
		c    color.Color
	}{{"white", color.White}, {"black", color.Black}} {
		p := writeFile(t, c.name+".jpg", solidJPEG(t, 900, 600, c.c))
		ref := unmarked(t, p, 900)
		w, h := ref.Bounds().Dx(), ref.Bounds().Dy()
		for _, tiled := range []bool{false, true} {
			img := protect(t, media.Config{}, p, media.ProtectOptions{MaxEdge: 900, Text: "Summer Party 2026", Tiled: tiled})
			if d := regionDiff(t, img, ref, lowerRightBand(w, h)); d < 2.5 {
				t.Errorf("%s, tiled=%v: lower-right band differs by %.2f, want a visible mark (>= 2.5)", c.name, tiled, d)
			}
		}
	}
}

func TestProtectTiledCoversQuadrants(t *testing.T) {
	p := writeFile(t, "photo.jpg", mediatest.JPEG(1200, 800, 4, nil))
	ref := unmarked(t, p, 800)
	w, h := ref.Bounds().Dx(), ref.Bounds().Dy()
	img := protect(t, media.Config{}, p, media.ProtectOptions{MaxEdge: 800, Text: "Anna", Opacity: 0.5, Tiled: true})
	for i, q := range quadrants(w, h) {
		if d := regionDiff(t, img, ref, q); d < 3 {
			t.Errorf("quadrant %d %v differs by %.2f, want the tiled mark there (>= 3)", i, q, d)
		}
	}
}

func TestProtectLogo(t *testing.T) {
	// A magenta disc on transparency, through a real PNG with alpha.
	logoPNG := func(alpha uint8) image.Image {
		m := image.NewNRGBA(image.Rect(0, 0, 96, 64))
		for y := range 64 {
			for x := range 96 {
				if dx, dy := x-48, y-32; dx*dx+dy*dy <= 30*30 {
					m.SetNRGBA(x, y, color.NRGBA{R: 230, G: 0, B: 200, A: alpha})
				}
			}
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, m); err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(&buf)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	p := writeFile(t, "photo.jpg", mediatest.JPEG(1200, 800, 5, nil))
	ref := unmarked(t, p, 900)
	w, h := ref.Bounds().Dx(), ref.Bounds().Dy()

	img := protect(t, media.Config{}, p, media.ProtectOptions{MaxEdge: 900, Logo: logoPNG(255), Opacity: 0.5})
	if d := regionDiff(t, img, ref, lowerRightBand(w, h)); d < 2 {
		t.Errorf("logo alone: lower-right band differs by %.2f, want the logo (>= 2)", d)
	}
	if d := regionDiff(t, img, ref, topLeftCorner(w, h)); d > 0.05 {
		t.Errorf("logo alone: top-left corner differs by %.2f, want nothing there", d)
	}
	both := protect(t, media.Config{}, p, media.ProtectOptions{MaxEdge: 900, Logo: logoPNG(255), Text: "Studio Anna", Opacity: 0.5})
	if d, dl := regionDiff(t, both, ref, lowerRightBand(w, h)), regionDiff(t, img, ref, lowerRightBand(w, h)); d <= dl {
		t.Errorf("logo and text differ by %.2f, no more than the logo alone (%.2f)", d, dl)
	}
	// Alpha is honoured: a fully transparent logo draws nothing.
	clear := protect(t, media.Config{}, p, media.ProtectOptions{MaxEdge: 900, Logo: logoPNG(0), Opacity: 1})
	if d := regionDiff(t, clear, ref, ref.Bounds()); d != 0 {
		t.Errorf("transparent logo: output differs by %.3f, want identical to the unmarked copy", d)
	}
}

func TestProtectLongUnicodeText(t *testing.T) {
	// 960×640: the lower-right mark keeps a margin of 19 px, so the outer
	// 8 px (half a JPEG MCU beyond it) must be untouched.
	p := writeFile(t, "photo.jpg", mediatest.JPEG(1200, 800, 7, nil))
	ref := unmarked(t, p, 960)
	w, h := ref.Bounds().Dx(), ref.Bounds().Dy()
	texts := []string{
		strings.Repeat("Müller & Søn — 山田写真館 🎉\u200d ", 40) + "\xff\xfe",
		"山田写真館",
		"Müller & Søn",
		"e\u0301\u0301\u0301 \t\n",
	}
	for _, text := range texts {
		for _, tiled := range []bool{false, true} {
			img := protect(t, media.Config{}, p, media.ProtectOptions{MaxEdge: 960, Text: text, Tiled: tiled})
			if got := dims(img.Bounds().Dx(), img.Bounds().Dy()); got != dims(w, h) {
				t.Fatalf("%.20q tiled=%v: output %s, want %s", text, tiled, got, dims(w, h))
			}
			if tiled {
				// Short texts make small tiles: look for them anywhere.
				if d := regionDiff(t, img, ref, ref.Bounds()); d < 0.8 {
					t.Errorf("%.20q tiled: differs by %.2f, want marks (>= 0.8)", text, d)
				}
				continue
			}
			if d := regionDiff(t, img, ref, lowerRightCorner(w, h)); d < 1 {
				t.Errorf("%.20q: lower-right corner differs by %.2f, want a mark (>= 1)", text, d)
			}
			for name, r := range map[string]image.Rectangle{
				"left edge": image.Rect(0, 0, 8, h), "right edge": image.Rect(w-8, 0, w, h),
				"bottom edge": image.Rect(0, h-8, w, h), "top edge": image.Rect(0, 0, w, 8),
			} {
				if d := regionDiff(t, img, ref, r); d > 0.05 {
					t.Errorf("%.20q: %s differs by %.2f, want the mark within the image's margins", text, name, d)
				}
			}
		}
	}
}

func TestProtectVideo(t *testing.T) {
	// The poster frame, as for Derivatives, scaled to MaxEdge by ffmpeg.
	p := mediatest.Video(t, t.TempDir(), "mp4", 1.5, 320, 240)
	ref := unmarked(t, p, 200)
	if got := dims(ref.Bounds().Dx(), ref.Bounds().Dy()); got != "200x150" {
		t.Fatalf("output %s, want 200x150", got)
	}
	img := protect(t, media.Config{}, p, media.ProtectOptions{MaxEdge: 200, Text: "Anna", Tiled: true})
	if d := regionDiff(t, img, ref, ref.Bounds()); d < 1 {
		t.Errorf("differs by %.2f from the unmarked frame, want marks (>= 1)", d)
	}
}

func TestProtectNoMark(t *testing.T) {
	// Empty (or blank) text and no logo: a plain resize.
	p := writeFile(t, "photo.jpg", mediatest.JPEG(800, 600, 8, nil))
	ref := unmarked(t, p, 400)
	img := protect(t, media.Config{}, p, media.ProtectOptions{MaxEdge: 400, Text: " \t\u200b", Tiled: true})
	if d := regionDiff(t, img, ref, ref.Bounds()); d != 0 {
		t.Errorf("blank text: differs by %.3f from the unmarked copy, want identical", d)
	}
}

func TestProtectErrors(t *testing.T) {
	p := writeFile(t, "photo.jpg", mediatest.JPEG(400, 300, 9, nil))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	if _, _, err := media.Protect(ctx, media.Config{}, p, media.ProtectOptions{Text: "x"}, &out); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: err = %v, want context.Canceled", err)
	}
	if out.Len() != 0 {
		t.Errorf("cancelled ctx: wrote %d bytes", out.Len())
	}

	txt := writeFile(t, "notes.txt", []byte("just some text, not a picture\n"))
	if _, _, err := media.Protect(context.Background(), media.Config{}, txt, media.ProtectOptions{Text: "x"}, &out); !errors.Is(err, media.ErrUnsupportedFormat) {
		t.Errorf("text file: err = %v, want ErrUnsupportedFormat", err)
	}
	bomb := writeFile(t, "bomb.png", mediatest.BombPNG(60000, 60000))
	if _, _, err := media.Protect(context.Background(), media.Config{}, bomb, media.ProtectOptions{Text: "x"}, &out); !errors.Is(err, media.ErrTooManyPixels) {
		t.Errorf("bomb: err = %v, want ErrTooManyPixels", err)
	}
}

// BenchmarkProtect measures Protect from a 2048×1365 display JPEG, the
// input callers are meant to pass.
func BenchmarkProtect(b *testing.B) {
	p := filepath.Join(b.TempDir(), "display.jpg")
	if err := os.WriteFile(p, mediatest.JPEG(2048, 1365, 1, nil), 0o600); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		opts media.ProtectOptions
	}{
		{"none-1600", media.ProtectOptions{MaxEdge: 1600}},
		{"enhanced-1600", media.ProtectOptions{MaxEdge: 1600, Text: "Summer Party 2026", Opacity: 0.35}},
		{"maximum-1200", media.ProtectOptions{MaxEdge: 1200, Text: "Summer Party 2026", Opacity: 0.5, Tiled: true}},
		{"maximum-2048", media.ProtectOptions{MaxEdge: 2048, Text: "Summer Party 2026", Opacity: 0.5, Tiled: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := media.Protect(context.Background(), media.Config{}, p, bc.opts, io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
