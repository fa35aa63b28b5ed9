package media

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"os"
)

// Format is a file format recognised from its bytes.
type Format string

// The formats this package handles.
const (
	// FormatJPEG is JPEG (JFIF or Exif).
	FormatJPEG Format = "jpeg"
	// FormatPNG is PNG; APNG gives its first frame.
	FormatPNG Format = "png"
	// FormatGIF is GIF; an animation gives its first frame.
	FormatGIF Format = "gif"
	// FormatWebP is WebP, lossy or lossless.
	FormatWebP Format = "webp"
	// FormatHEIC is HEIF with an HEVC brand (heic, heix, hevc, hevx) as its
	// major brand: what phones write.
	FormatHEIC Format = "heic"
	// FormatHEIF is HEIF whose major brand is the generic mif1 or msf1.
	FormatHEIF Format = "heif"
	// FormatMP4 is an MPEG-4 (ISO base media) video.
	FormatMP4 Format = "mp4"
	// FormatMOV is a QuickTime video.
	FormatMOV Format = "mov"
	// FormatWebM is a WebM video (Matroska with the webm DocType).
	FormatWebM Format = "webm"
	// FormatAVI is an AVI (RIFF) video.
	FormatAVI Format = "avi"
)

// Kind is what a format holds: a still image or a video.
type Kind string

// The kinds of format.
const (
	// KindImage is a still picture.
	KindImage Kind = "image"
	// KindVideo is a moving picture; its poster frame stands for it.
	KindVideo Kind = "video"
)

type formatInfo struct {
	kind      Kind
	extension string
	mime      string
}

var formats = map[Format]formatInfo{
	FormatJPEG: {KindImage, "jpg", "image/jpeg"},
	FormatPNG:  {KindImage, "png", "image/png"},
	FormatGIF:  {KindImage, "gif", "image/gif"},
	FormatWebP: {KindImage, "webp", "image/webp"},
	FormatHEIC: {KindImage, "heic", "image/heic"},
	FormatHEIF: {KindImage, "heif", "image/heif"},
	FormatMP4:  {KindVideo, "mp4", "video/mp4"},
	FormatMOV:  {KindVideo, "mov", "video/quicktime"},
	FormatWebM: {KindVideo, "webm", "video/webm"},
	FormatAVI:  {KindVideo, "avi", "video/x-msvideo"},
}

// Kind returns KindImage or KindVideo, or "" for a Format this package does
// not define.
func (f Format) Kind() Kind { return formats[f].kind }

// Extension returns the usual file extension without the dot ("jpg",
// "mov"), or "" for an unknown Format.
func (f Format) Extension() string { return formats[f].extension }

// MIMEType returns the media type to serve the format with ("image/jpeg",
// "video/quicktime"), or "" for an unknown Format.
func (f Format) MIMEType() string { return formats[f].mime }

// SniffLen is how many leading bytes Sniff looks at; fewer are accepted.
const SniffLen = 512

// Magic numbers.
var (
	magicJPEG  = []byte{0xFF, 0xD8, 0xFF}
	magicPNG   = []byte("\x89PNG\r\n\x1a\n")
	magicGIF87 = []byte("GIF87a")
	magicGIF89 = []byte("GIF89a")
	magicEBML  = []byte{0x1A, 0x45, 0xDF, 0xA3}
)

// ISO base media file format (ISO/IEC 14496-12) brands, from the ftyp box.
var (
	brandsHEIC = []string{"heic", "heix", "hevc", "hevx"}
	brandsHEIF = []string{"mif1", "msf1"}
	brandsAVIF = []string{"avif", "avis"}
	brandsMP4  = []string{"isom", "iso2", "iso3", "iso4", "iso5", "iso6", "mp41", "mp42", "avc1", "dash", "M4V ", "mmp4", "MSNV", "f4v "}
	brandsMOV  = []string{"qt  "}
)

// Sniff decides the format from the leading bytes of a file (SniffLen of
// them are enough) by magic numbers: the ftyp brands tell MP4, MOV, HEIC,
// HEIF and AVIF apart, the RIFF form type WebP from AVI, and the EBML
// DocType WebM from other Matroska. Anything else, AVIF and non-WebM
// Matroska included, gives ErrUnsupportedFormat.
func Sniff(head []byte) (Format, error) {
	switch {
	case bytes.HasPrefix(head, magicJPEG):
		return FormatJPEG, nil
	case bytes.HasPrefix(head, magicPNG):
		return FormatPNG, nil
	case bytes.HasPrefix(head, magicGIF87), bytes.HasPrefix(head, magicGIF89):
		return FormatGIF, nil
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return FormatWebP, nil
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "AVI ":
		return FormatAVI, nil
	case len(head) >= 12 && string(head[4:8]) == "ftyp":
		return sniffFtyp(head)
	case len(head) >= 8 && isQuickTimeAtom(string(head[4:8])) && binary.BigEndian.Uint32(head) >= 8:
		// QuickTime files from before the ftyp box start with their atoms.
		return FormatMOV, nil
	case bytes.HasPrefix(head, magicEBML):
		return sniffEBML(head)
	}
	return "", ErrUnsupportedFormat
}

// isQuickTimeAtom reports the top-level atoms an old QuickTime file can
// start with. "free" and "skip" are left out: they say nothing about what follows.
func isQuickTimeAtom(typ string) bool {
	switch typ {
	case "moov", "mdat", "wide", "pnot":
		return true
	}
	return false
}

// sniffFtyp classifies an ISO-BMFF file by its major brand, then by its
// compatible brands.
func sniffFtyp(head []byte) (Format, error) {
	size := int(binary.BigEndian.Uint32(head))
	if size < 16 {
		return "", fmt.Errorf("%w: ftyp box of %d bytes", ErrUnsupportedFormat, size)
	}
	major := string(head[8:12])
	var compatible []string
	for off := 16; off+4 <= min(size, len(head)); off += 4 {
		compatible = append(compatible, string(head[off:off+4]))
	}
	has := func(brands []string, in ...string) bool {
		for _, b := range in {
			for _, want := range brands {
				if b == want {
					return true
				}
			}
		}
		return false
	}

	switch {
	case has(brandsHEIC, major):
		return FormatHEIC, nil
	case has(brandsMOV, major):
		return FormatMOV, nil
	case has(brandsAVIF, major):
		return "", fmt.Errorf("%w: AVIF", ErrUnsupportedFormat)
	case has(brandsHEIF, major):
		if has(brandsAVIF, compatible...) && !has(brandsHEIC, compatible...) {
			return "", fmt.Errorf("%w: AVIF", ErrUnsupportedFormat)
		}
		return FormatHEIF, nil
	case has(brandsMP4, major):
		return FormatMP4, nil
	}
	// An unknown major brand (audio-only M4A, Canon CR3, 3GPP, ...): only
	// accept it when a compatible brand says what it is.
	switch {
	case has(brandsMOV, compatible...):
		return FormatMOV, nil
	case has(brandsHEIC, compatible...):
		return FormatHEIC, nil
	case has(brandsAVIF, compatible...):
		return "", fmt.Errorf("%w: AVIF", ErrUnsupportedFormat)
	case has(brandsHEIF, compatible...):
		return FormatHEIF, nil
	}
	return "", fmt.Errorf("%w: ISO media with brand %q", ErrUnsupportedFormat, major)
}

// sniffEBML reads the DocType of an EBML header (RFC 8794): "webm" is
// FormatWebM, anything else (plain "matroska") is unsupported.
func sniffEBML(head []byte) (Format, error) {
	p := len(magicEBML)
	size, n := ebmlVint(head[p:], true)
	if n == 0 {
		return "", fmt.Errorf("%w: EBML header", ErrUnsupportedFormat)
	}
	p += n
	end := len(head)
	if size >= 0 && p+int(size) < end {
		end = p + int(size)
	}
	for p < end {
		id, n := ebmlVint(head[p:end], false)
		if n == 0 {
			break
		}
		p += n
		size, n := ebmlVint(head[p:end], true)
		if n == 0 || size < 0 || int64(end-p-n) < size {
			break
		}
		p += n
		if id == 0x4282 { // DocType
			doc := string(bytes.TrimRight(head[p:p+int(size)], "\x00"))
			if doc == "webm" {
				return FormatWebM, nil
			}
			return "", fmt.Errorf("%w: EBML DocType %q", ErrUnsupportedFormat, doc)
		}
		p += int(size)
	}
	return "", fmt.Errorf("%w: EBML without DocType", ErrUnsupportedFormat)
}

// ebmlVint reads a variable-length integer: the count of leading zero bits
// of the first byte gives its length. Sizes drop the length marker (and an
// all-ones size, "unknown", is -1); IDs keep it. n is 0 when b is too short
// or the first byte is 0.
func ebmlVint(b []byte, isSize bool) (v int64, n int) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0
	}
	n = bits.LeadingZeros8(b[0]) + 1
	if n > 8 || len(b) < n {
		return 0, 0
	}
	first := int64(b[0])
	if isSize {
		first &= int64(0xFF >> n)
	}
	v = first
	allOnes := first == int64(0xFF>>n)
	for _, c := range b[1:n] {
		v = v<<8 | int64(c)
		allOnes = allOnes && c == 0xFF
	}
	if isSize && allOnes {
		return -1, n
	}
	return v, n
}

// sniffReader reads up to SniffLen bytes from the start of r and sniffs them.
func sniffReader(r io.ReaderAt) (Format, error) {
	head := make([]byte, SniffLen)
	n, err := r.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read head: %w", err)
	}
	return Sniff(head[:n])
}

// sniffPath sniffs the file at path.
func sniffPath(path string) (Format, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return sniffReader(f)
}
