package media

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/gallerist/gallerist/media/mediatest"
)

func TestJPEGScale(t *testing.T) {
	for _, c := range []struct{ w, h, long, n, edge int }{
		{6000, 4000, 2048, 3, 2250}, // 24 MP: 3/8
		{4032, 3024, 2048, 5, 2520}, // 12 MP: 4/8 would give 2016
		{8256, 5504, 2048, 2, 2064}, // 45 MP: 2/8
		{3000, 5000, 2048, 4, 2500}, // portrait: the long edge counts
		{16384, 100, 2048, 1, 2048}, // 1/8 exactly
		{2049, 100, 2048, 8, 2049},  // 7/8 would give 1793
		{2048, 1536, 2048, 8, 2048}, // fits already
		{800, 600, 400, 4, 400},     // any display size
	} {
		n := jpegScale(c.w, c.h, c.long)
		if n != c.n || scaledEdge(max(c.w, c.h), n) != c.edge {
			t.Errorf("jpegScale(%d, %d, %d) = %d/8 (edge %d), want %d/8 (edge %d)",
				c.w, c.h, c.long, n, scaledEdge(max(c.w, c.h), n), c.n, c.edge)
		}
		if n > 1 && scaledEdge(max(c.w, c.h), n-1) >= c.long {
			t.Errorf("jpegScale(%d, %d, %d) = %d/8, but %d/8 is enough", c.w, c.h, c.long, n, n-1)
		}
	}
}

func writeTemp(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// meanAbsDiff compares two images of one size channel by channel (R, G, B).
func meanAbsDiff(a, b image.Image) float64 {
	r := a.Bounds()
	var sum, n float64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			ca := color.NRGBAModel.Convert(a.At(x, y)).(color.NRGBA)
			cb := color.NRGBAModel.Convert(b.At(x, y)).(color.NRGBA)
			for _, d := range []int{int(ca.R) - int(cb.R), int(ca.G) - int(cb.G), int(ca.B) - int(cb.B)} {
				sum += float64(max(d, -d))
				n++
			}
		}
	}
	return sum / n
}

// TestDecodeJPEGScaled: with libjpeg-turbo in the build, a JPEG larger than the display
// size decodes at n/8 to the size jpegScale promises, with the same picture as
// image/jpeg's full decode shrunk to that size; damaged files are refused so that
// image/jpeg decides. Without it, the decoder says so and Derivatives uses image/jpeg.
func TestDecodeJPEGScaled(t *testing.T) {
	data := mediatest.JPEG(2400, 1600, 7, nil)
	p := writeTemp(t, "a.jpg", data)
	img, err := decodeJPEGScaled(p, 2400, 1600, 1000)
	if !jpegTurbo {
		if !errors.Is(err, errNoScaledDecoder) {
			t.Fatalf("build without libjpeg-turbo: err = %v, want errNoScaledDecoder", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	// 4/8 of 2400 is 1200, the smallest n/8 at least 1000.
	if got := img.Bounds(); got != image.Rect(0, 0, 1200, 800) {
		t.Fatalf("scaled decode is %v, want 1200x800", got)
	}
	for i := 3; i < len(img.Pix); i += 4 {
		if img.Pix[i] != 255 {
			t.Fatalf("alpha at byte %d = %d, want opaque", i, img.Pix[i])
		}
	}
	full, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	ref := imaging.Resize(full, 1200, 800, imaging.Box)
	if d := meanAbsDiff(img, ref); d > 3 {
		t.Errorf("scaled decode differs from image/jpeg shrunk by a box filter by %.2f levels on average, want ≤ 3", d)
	}

	// A grey JPEG comes out as R = G = B.
	var gbuf bytes.Buffer
	gray := image.NewGray(image.Rect(0, 0, 64, 32))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 7)
	}
	if err := jpeg.Encode(&gbuf, gray, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	gimg, err := decodeJPEGScaled(writeTemp(t, "g.jpg", gbuf.Bytes()), 64, 32, 2048)
	if err != nil {
		t.Fatalf("grey JPEG: %v", err)
	}
	gref, _ := jpeg.Decode(bytes.NewReader(gbuf.Bytes()))
	for i := 0; i < len(gimg.Pix); i += 4 {
		if px := gimg.Pix[i : i+3]; px[0] != px[1] || px[1] != px[2] {
			t.Fatalf("grey JPEG pixel %d = %v, want R = G = B", i/4, px)
		}
	}
	if d := meanAbsDiff(gimg, gref); d > 1 {
		t.Errorf("grey JPEG differs from image/jpeg by %.2f levels", d)
	}

	// A cut scan is refused (image/jpeg then reports ErrCorruptFile), as is a missing file.
	if _, err := decodeJPEGScaled(writeTemp(t, "cut.jpg", data[:len(data)/2]), 2400, 1600, 1000); err == nil {
		t.Error("truncated JPEG decoded without an error")
	}
	if _, err := decodeJPEGScaled(filepath.Join(t.TempDir(), "missing.jpg"), 2400, 1600, 1000); err == nil {
		t.Error("missing file decoded without an error")
	}
	// A header size that does not match the caller's is left to image/jpeg.
	if _, err := decodeJPEGScaled(p, 2401, 1600, 1000); err == nil {
		t.Error("size mismatch decoded without an error")
	}
}

// TestEncodeJPEGTurbo: with libjpeg-turbo, encodeJPEG's output decodes (by image/jpeg) to
// the picture it was given, about as closely as image/jpeg's own encoding at that quality.
func TestEncodeJPEGTurbo(t *testing.T) {
	src, err := jpeg.Decode(bytes.NewReader(mediatest.JPEG(640, 480, 3, nil)))
	if err != nil {
		t.Fatal(err)
	}
	img := imaging.Clone(src)
	var got, std bytes.Buffer
	if err := encodeJPEG(&got, img, 85); err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(&std, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	if !jpegTurbo {
		if !bytes.Equal(got.Bytes(), std.Bytes()) {
			t.Error("build without libjpeg-turbo: encodeJPEG differs from image/jpeg")
		}
		return
	}
	out, err := jpeg.Decode(bytes.NewReader(got.Bytes()))
	if err != nil {
		t.Fatalf("libjpeg output does not decode: %v", err)
	}
	if out.Bounds() != img.Bounds() {
		t.Fatalf("libjpeg output is %v, want %v", out.Bounds(), img.Bounds())
	}
	stdOut, _ := jpeg.Decode(bytes.NewReader(std.Bytes()))
	dGot, dStd := meanAbsDiff(out, img), meanAbsDiff(stdOut, img)
	t.Logf("mean error: libjpeg %.2f, image/jpeg %.2f levels; %d vs %d bytes", dGot, dStd, got.Len(), std.Len())
	if dGot > dStd*1.2+0.2 {
		t.Errorf("libjpeg's error %.2f levels is well above image/jpeg's %.2f at the same quality", dGot, dStd)
	}
}
