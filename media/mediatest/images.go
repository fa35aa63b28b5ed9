package mediatest

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
)

// The pictures are split into four quadrants of distinct colours, as stored
// in the file (before any EXIF orientation is applied), so a test can tell
// where each corner ended up. A little seeded noise is added on top, so two
// seeds give different bytes; it stays within ±NoiseAmplitude of the colour.
var (
	// TopLeft is the colour of the top-left quadrant (red).
	TopLeft = color.NRGBA{R: 220, G: 30, B: 30, A: 255}
	// TopRight is the colour of the top-right quadrant (green).
	TopRight = color.NRGBA{R: 30, G: 180, B: 40, A: 255}
	// BottomLeft is the colour of the bottom-left quadrant (blue).
	BottomLeft = color.NRGBA{R: 30, G: 60, B: 220, A: 255}
	// BottomRight is the colour of the bottom-right quadrant (yellow). In
	// PNG and GIF fixtures that quadrant is fully transparent instead.
	BottomRight = color.NRGBA{R: 235, G: 220, B: 40, A: 255}
)

// NoiseAmplitude bounds the per-channel noise added to the quadrant colours.
const NoiseAmplitude = 12

// JPEG returns a baseline JPEG of w×h pixels (quality 90) whose picture is
// the four quadrants with noise from seed. When exif is not nil, an APP1 Exif
// segment written by this package's own TIFF writer follows the SOI marker.
func JPEG(w, h int, seed int64, exif *EXIF) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, picture(w, h, seed, false), &jpeg.Options{Quality: 90}); err != nil {
		panic("mediatest: encode jpeg: " + err.Error())
	}
	out := buf.Bytes()
	if exif == nil {
		return out
	}
	// out[:2] is SOI; image/jpeg writes no APP segments, so the Exif segment
	// is the first one, where readers expect it.
	seg := exif.app1()
	res := make([]byte, 0, len(out)+len(seg))
	res = append(res, out[:2]...)
	res = append(res, seg...)
	return append(res, out[2:]...)
}

// PNG returns an 8-bit RGBA PNG of w×h pixels with the quadrant picture; its
// bottom-right quadrant is fully transparent.
func PNG(w, h int, seed int64) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, picture(w, h, seed, true)); err != nil {
		panic("mediatest: encode png: " + err.Error())
	}
	return buf.Bytes()
}

// GIF returns a single-frame GIF of w×h pixels with the quadrant picture;
// its bottom-right quadrant uses the transparent palette entry.
func GIF(w, h int, seed int64) []byte {
	const shades = 4
	quads := []color.NRGBA{TopLeft, TopRight, BottomLeft}
	pal := color.Palette{color.NRGBA{}} // index 0: transparent
	for _, q := range quads {
		for s := range shades {
			pal = append(pal, shade(q, s*NoiseAmplitude/shades))
		}
	}
	img := image.NewPaletted(image.Rect(0, 0, w, h), pal)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6d656469612f6769))
	for y := range h {
		for x := range w {
			q := quadrant(x, y, w, h)
			if q == 3 {
				continue // transparent
			}
			img.SetColorIndex(x, y, uint8(1+q*shades+rng.IntN(shades)))
		}
	}
	var buf bytes.Buffer
	if err := gif.Encode(&buf, img, &gif.Options{NumColors: len(pal)}); err != nil {
		panic("mediatest: encode gif: " + err.Error())
	}
	return buf.Bytes()
}

// BombPNG returns a PNG whose IHDR declares w×h RGB pixels but whose IDAT
// holds only a few compressed rows: a decompression bomb in miniature, a few
// KB on disk, that a decoder would need w*h*4 bytes of memory for.
func BombPNG(w, h int) []byte {
	var buf bytes.Buffer
	buf.WriteString("\x89PNG\r\n\x1a\n")

	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8] = 8 // bit depth
	ihdr[9] = 2 // colour type RGB
	writeChunk(&buf, "IHDR", ihdr[:])

	// Rows of zeros (filter byte 0 then 3 bytes per pixel) compress to almost
	// nothing; stop once the stream would pass 2 KB.
	var idat bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&idat, zlib.BestCompression)
	row := make([]byte, 1+3*w)
	for i := 0; i < h && i < 64 && idat.Len() < 2048; i++ {
		_, _ = zw.Write(row)
	}
	_ = zw.Close()
	writeChunk(&buf, "IDAT", idat.Bytes())
	writeChunk(&buf, "IEND", nil)
	return buf.Bytes()
}

// writeChunk appends one PNG chunk: length, type, data, CRC of type and data.
func writeChunk(buf *bytes.Buffer, typ string, data []byte) {
	_ = binary.Write(buf, binary.BigEndian, uint32(len(data)))
	crc := crc32.NewIEEE()
	_, _ = crc.Write([]byte(typ))
	_, _ = crc.Write(data)
	buf.WriteString(typ)
	buf.Write(data)
	_ = binary.Write(buf, binary.BigEndian, crc.Sum32())
}

// quadrant numbers the quadrants 0 top-left, 1 top-right, 2 bottom-left,
// 3 bottom-right.
func quadrant(x, y, w, h int) int {
	q := 0
	if x >= w/2 {
		q++
	}
	if y >= h/2 {
		q += 2
	}
	return q
}

// picture draws the four quadrants with seeded noise; transparentBR makes
// the bottom-right quadrant fully transparent.
func picture(w, h int, seed int64, transparentBR bool) *image.NRGBA {
	quads := [4]color.NRGBA{TopLeft, TopRight, BottomLeft, BottomRight}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6d656469612f7069))
	for y := range h {
		for x := range w {
			q := quadrant(x, y, w, h)
			i := img.PixOffset(x, y)
			if q == 3 && transparentBR {
				continue // zero value: transparent black
			}
			c := shade(quads[q], rng.IntN(2*NoiseAmplitude+1)-NoiseAmplitude)
			img.Pix[i+0], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, 255
		}
	}
	return img
}

// shade moves every channel of c by d, clamped to 0..255.
func shade(c color.NRGBA, d int) color.NRGBA {
	clamp := func(v int) uint8 { return uint8(max(0, min(255, v))) }
	return color.NRGBA{R: clamp(int(c.R) + d), G: clamp(int(c.G) + d), B: clamp(int(c.B) + d), A: c.A}
}
