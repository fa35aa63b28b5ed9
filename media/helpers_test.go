package media_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"github.com/gallerist/gallerist/media/mediatest"
)

// writeFile writes data to name in a fresh temporary folder and returns the path.
func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// decodeJPEG decodes bytes that must be a JPEG.
func decodeJPEG(t testing.TB, b []byte) image.Image {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("output is not a JPEG: %v", err)
	}
	return img
}

// named colours the tests look for.
var quadrantNames = []struct {
	name string
	c    color.NRGBA
}{
	{"red (stored top-left)", mediatest.TopLeft},
	{"green (stored top-right)", mediatest.TopRight},
	{"blue (stored bottom-left)", mediatest.BottomLeft},
	{"yellow (stored bottom-right)", mediatest.BottomRight},
	{"white", color.NRGBA{255, 255, 255, 255}},
}

// colourName returns the name of the reference colour nearest to the pixel
// at (x, y), or "none" when none is within a distance JPEG and resampling
// can explain.
func colourName(img image.Image, x, y int) string {
	r, g, b, _ := img.At(img.Bounds().Min.X+x, img.Bounds().Min.Y+y).RGBA()
	best, bestD := "none", 60*60*3
	for _, q := range quadrantNames {
		dr, dg, db := int(r>>8)-int(q.c.R), int(g>>8)-int(q.c.G), int(b>>8)-int(q.c.B)
		if d := dr*dr + dg*dg + db*db; d < bestD {
			best, bestD = q.name, d
		}
	}
	return best
}

// corners names the colours at the four corners of img (inset by an eighth,
// away from edges and quadrant borders): top-left, top-right, bottom-left,
// bottom-right.
func corners(img image.Image) [4]string {
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	return [4]string{
		colourName(img, w/8, h/8), colourName(img, w-1-w/8, h/8),
		colourName(img, w/8, h-1-h/8), colourName(img, w-1-w/8, h-1-h/8),
	}
}

// checkPlainJPEG fails unless b is a baseline JPEG without APPn metadata
// segments (no Exif, so no GPS either) or comments.
func checkPlainJPEG(t testing.TB, what string, b []byte) {
	t.Helper()
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		t.Fatalf("%s: no SOI marker", what)
	}
	if bytes.Contains(b, []byte("Exif\x00\x00")) {
		t.Errorf("%s: contains an Exif header", what)
	}
	sof := byte(0)
	for p := 2; p+4 <= len(b); {
		if b[p] != 0xFF {
			t.Fatalf("%s: expected a marker at %d, got %#x", what, p, b[p])
		}
		m := b[p+1]
		if m == 0xDA { // SOS: entropy-coded data follows
			break
		}
		n := int(binary.BigEndian.Uint16(b[p+2:]))
		switch {
		case m >= 0xE0 && m <= 0xEF:
			t.Errorf("%s: has an APP%d segment of %d bytes", what, m-0xE0, n)
		case m == 0xFE:
			t.Errorf("%s: has a COM segment", what)
		case m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC:
			sof = m
		}
		p += 2 + n
	}
	if sof != 0xC0 {
		t.Errorf("%s: frame marker %#x, want baseline SOF0 (0xc0)", what, sof)
	}
}

// longEdge returns the longer side.
func longEdge(w, h int) int { return max(w, h) }

func dims(w, h int) string { return fmt.Sprintf("%dx%d", w, h) }
