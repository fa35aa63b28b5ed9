package mediatest

import (
	"bytes"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"testing"

	"github.com/evanoberholster/imagemeta"
)

// The EXIF writer is checked with an independent reader, so the media
// tests that rely on it (orientation, capture time, "no GPS in outputs")
// rest on tags that are really there.
func TestJPEGEXIFReadsBack(t *testing.T) {
	b := JPEG(64, 48, 7, &EXIF{Orientation: 8, DateTimeOriginal: "2026:05:12 15:23:11",
		OffsetTimeOriginal: "+02:00", Make: "Acme", Model: "Z 9", GPS: true})
	e, err := imagemeta.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if e.Make != "Acme" || e.Model != "Z 9" || int(e.Orientation) != 8 {
		t.Errorf("Make, Model, Orientation = %q, %q, %d; want Acme, Z 9, 8", e.Make, e.Model, e.Orientation)
	}
	if got := e.DateTimeOriginal().Format("2006-01-02T15:04:05-07:00"); got != "2026-05-12T15:23:11+02:00" {
		t.Errorf("DateTimeOriginal = %s", got)
	}
	if lat, lon := e.GPS.Latitude(), e.GPS.Longitude(); math.Abs(lat-52.5167) > 0.001 || math.Abs(lon-13.4) > 0.001 {
		t.Errorf("GPS = %f, %f; want 52.5167, 13.4", lat, lon)
	}
	if _, err := jpeg.Decode(bytes.NewReader(b)); err != nil {
		t.Errorf("JPEG with EXIF does not decode: %v", err)
	}
}

func TestImagesDecode(t *testing.T) {
	if img, err := png.Decode(bytes.NewReader(PNG(40, 30, 1))); err != nil || img.Bounds().Dx() != 40 {
		t.Errorf("PNG: %v", err)
	}
	g, err := gif.Decode(bytes.NewReader(GIF(40, 30, 1)))
	if err != nil || g.Bounds().Dy() != 30 {
		t.Fatalf("GIF: %v", err)
	}
	if _, _, _, a := g.At(35, 25).RGBA(); a != 0 {
		t.Errorf("GIF bottom-right alpha = %d, want transparent", a)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(BombPNG(60000, 50000)))
	if err != nil || cfg.Width != 60000 || cfg.Height != 50000 {
		t.Errorf("BombPNG header: %+v, %v", cfg, err)
	}
}

// addRotation must keep the file readable: the item data moves by the bytes
// added, and the iloc offsets must follow it.
func TestHEICRotationKeepsData(t *testing.T) {
	dir := t.TempDir()
	plain, err := os.ReadFile(HEIC(t, dir, 64, 48, 1, nil, 0))
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := os.ReadFile(HEIC(t, dir, 64, 48, 1, nil, 90))
	if err != nil {
		t.Fatal(err)
	}
	if len(rotated) <= len(plain) {
		t.Fatalf("rotated file is %d bytes, plain %d: no irot added", len(rotated), len(plain))
	}
	// The coded picture (the tail of mdat) is identical and now later in the file.
	tail := plain[len(plain)-256:]
	if !bytes.Equal(rotated[len(rotated)-256:], tail) || !bytes.Contains(rotated, []byte("irot")) {
		t.Fatal("rotated file does not end with the same coded data or lacks irot")
	}
}
