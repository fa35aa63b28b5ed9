package media_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/gallerist/gallerist/media"
	"github.com/gallerist/gallerist/media/mediatest"
)

// ftyp builds an ISO-BMFF ftyp box with a major brand and compatible brands.
func ftyp(major string, compatible ...string) []byte {
	body := []byte(major + "\x00\x00\x00\x00")
	for _, c := range compatible {
		body = append(body, c...)
	}
	size := 8 + len(body)
	out := []byte{byte(size >> 24), byte(size >> 16), byte(size >> 8), byte(size)}
	out = append(out, "ftyp"...)
	out = append(out, body...)
	return append(out, "\x00\x00\x00\x08free"...)
}

// ebml builds an EBML header with the given DocType, as Matroska and WebM
// files start.
func ebml(docType string) []byte {
	// EBMLVersion 1, then DocType; sizes are 1-byte vints (0x80 | n).
	body := []byte{0x42, 0x86, 0x81, 0x01}
	body = append(body, 0x42, 0x82, 0x80|byte(len(docType)))
	body = append(body, docType...)
	out := []byte{0x1A, 0x45, 0xDF, 0xA3, 0x80 | byte(len(body))}
	out = append(out, body...)
	return append(out, 0x18, 0x53, 0x80, 0x67) // Segment ID
}

func zipBytes(t *testing.T) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("photo.jpg")
	_, _ = w.Write(mediatest.JPEG(16, 16, 1, nil))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSniff(t *testing.T) {
	riff := func(form string) []byte { return []byte("RIFF\x24\x00\x00\x00" + form + "VP8L") }
	ok := []struct {
		name string
		head []byte
		want media.Format
	}{
		{"jpeg", mediatest.JPEG(32, 32, 1, nil), media.FormatJPEG},
		{"jpeg with exif", mediatest.JPEG(32, 32, 1, &mediatest.EXIF{Orientation: 6}), media.FormatJPEG},
		{"png", mediatest.PNG(32, 32, 1), media.FormatPNG},
		{"gif", mediatest.GIF(32, 32, 1), media.FormatGIF},
		{"gif87a", []byte("GIF87a\x10\x00\x10\x00"), media.FormatGIF},
		{"webp", riff("WEBP"), media.FormatWebP},
		{"avi", riff("AVI "), media.FormatAVI},
		{"mp4 isom", ftyp("isom", "isom", "iso2", "avc1", "mp41"), media.FormatMP4},
		{"mp4 mp42", ftyp("mp42", "mp42", "isom"), media.FormatMP4},
		{"mov", ftyp("qt  ", "qt  "), media.FormatMOV},
		{"mov without ftyp", []byte("\x00\x00\x00\x08wide\x00\x10\x00\x00mdat"), media.FormatMOV},
		{"heic (iPhone brands)", ftyp("heic", "mif1", "MiHE", "MiPr", "miaf", "MiHB", "heic"), media.FormatHEIC},
		{"heix", ftyp("heix", "mif1", "heix"), media.FormatHEIC},
		{"hevc sequence", ftyp("hevc", "msf1", "hevc"), media.FormatHEIC},
		{"heif mif1", ftyp("mif1", "mif1", "heic"), media.FormatHEIF},
		{"heif msf1", ftyp("msf1", "msf1", "iso8"), media.FormatHEIF},
		{"webm", ebml("webm"), media.FormatWebM},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			head := tc.head[:min(len(tc.head), media.SniffLen)]
			got, err := media.Sniff(head)
			if err != nil || got != tc.want {
				t.Fatalf("Sniff = %q, %v; want %q", got, err, tc.want)
			}
		})
	}

	bad := []struct {
		name string
		head []byte
	}{
		{"empty", nil},
		{"text", []byte("hello, this is a plain text file\n")},
		{"html", []byte("<!DOCTYPE html><html><body><img src=x></body></html>")},
		{"svg", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>`)},
		{"zip", zipBytes(t)},
		{"pdf", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3")},
		{"avif", ftyp("avif", "mif1", "avif", "miaf")},
		{"avif behind mif1", ftyp("mif1", "mif1", "avif", "miaf")},
		{"m4a audio", ftyp("M4A ", "M4A ", "mp42", "isom")},
		{"canon cr3", ftyp("crx ", "crx ", "isom")},
		{"matroska", ebml("matroska")},
		{"riff wave", riff("WAVE")},
		{"truncated jpeg magic", []byte{0xFF, 0xD8}},
		{"tiff", []byte("II*\x00\x08\x00\x00\x00")},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			got, err := media.Sniff(tc.head)
			if !errors.Is(err, media.ErrUnsupportedFormat) {
				t.Fatalf("Sniff = %q, %v; want ErrUnsupportedFormat", got, err)
			}
		})
	}
}

// A file named .jpg whose bytes are a PNG is a PNG: the name plays no part.
func TestProbeIgnoresExtension(t *testing.T) {
	p := writeFile(t, "holiday.jpg", mediatest.PNG(120, 80, 3))
	info, err := media.Probe(context.Background(), media.DefaultConfig(), p)
	if err != nil {
		t.Fatal(err)
	}
	if info.Format != media.FormatPNG || info.Width != 120 || info.Height != 80 {
		t.Fatalf("Probe = %s %s, want png 120x80", info.Format, dims(info.Width, info.Height))
	}
}

func TestProbeRejectsUnsupported(t *testing.T) {
	for name, data := range map[string][]byte{
		"notes.jpg": []byte("just some text pretending to be a photo"),
		"page.png":  []byte("<html><body>hi</body></html>"),
		"empty.gif": nil,
	} {
		_, err := media.Probe(context.Background(), media.DefaultConfig(), writeFile(t, name, data))
		if !errors.Is(err, media.ErrUnsupportedFormat) {
			t.Errorf("%s: Probe error = %v, want ErrUnsupportedFormat", name, err)
		}
	}
}

func TestFormatProperties(t *testing.T) {
	cases := []struct {
		f         media.Format
		kind      media.Kind
		ext, mime string
	}{
		{media.FormatJPEG, media.KindImage, "jpg", "image/jpeg"},
		{media.FormatPNG, media.KindImage, "png", "image/png"},
		{media.FormatGIF, media.KindImage, "gif", "image/gif"},
		{media.FormatWebP, media.KindImage, "webp", "image/webp"},
		{media.FormatHEIC, media.KindImage, "heic", "image/heic"},
		{media.FormatHEIF, media.KindImage, "heif", "image/heif"},
		{media.FormatMP4, media.KindVideo, "mp4", "video/mp4"},
		{media.FormatMOV, media.KindVideo, "mov", "video/quicktime"},
		{media.FormatWebM, media.KindVideo, "webm", "video/webm"},
		{media.FormatAVI, media.KindVideo, "avi", "video/x-msvideo"},
		{media.Format("bmp"), "", "", ""},
	}
	for _, c := range cases {
		if c.f.Kind() != c.kind || c.f.Extension() != c.ext || c.f.MIMEType() != c.mime {
			t.Errorf("%s: Kind, Extension, MIMEType = %q, %q, %q; want %q, %q, %q",
				c.f, c.f.Kind(), c.f.Extension(), c.f.MIMEType(), c.kind, c.ext, c.mime)
		}
	}
}
