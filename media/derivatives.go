package media

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"os"

	"github.com/disintegration/imaging"
	"github.com/gen2brain/heic"
	"golang.org/x/image/webp"
)

func init() {
	// Always decode HEIC with the embedded WebAssembly, whether or not a
	// libheif.so happens to be installed and whatever the build tags: see
	// the package doc. Set once here, before any use, as heic requires.
	heic.ForceWasmMode = true
}

// Warm compiles the WebAssembly HEIC decoder now, so that the first HEIC
// upload does not pay for it (0.2 s to several seconds, more under load).
// Call it from a goroutine at start-up; calling it again costs little.
func Warm() {
	defer func() { _ = recover() }() // a failure here only means no warm-up
	// An ftyp box alone: enough for heic to set up its module and refuse.
	_, _ = heic.DecodeConfig(bytes.NewReader([]byte("\x00\x00\x00\x10ftypheic\x00\x00\x00\x00")))
}

// DerivativeSizes are the dimensions of the images Derivatives wrote.
type DerivativeSizes struct {
	DisplayWidth, DisplayHeight int
	ThumbWidth, ThumbHeight     int
}

// Derivatives writes the display copy (long edge cfg.DisplaySize) to display
// and the thumbnail (long edge cfg.ThumbSize) to thumb, as baseline JPEGs
// with no metadata, upright, with transparency flattened onto white. Neither
// is ever larger than its source. The thumbnail is made from the display
// copy, so each photo is decoded once; a GIF gives its first frame.
//
// info comes from Probe: its Orientation is applied to JPEGs and its
// Duration picks the poster frame of a video. When info is zero, or its
// Format is not what the bytes are, Derivatives probes the file itself. The
// image header is checked against cfg.MaxPixels again before decoding.
//
// For video, ffmpeg extracts the frame at 1 s (at 0 s when the video is
// shorter or the frame at 1 s yields nothing), already scaled to the display
// size and rotated by ffmpeg.
//
// Decoding cannot be interrupted: ctx is checked between the steps, and
// stops ffmpeg.
func Derivatives(ctx context.Context, cfg Config, path string, info Info, display, thumb io.Writer) (DerivativeSizes, error) {
	cfg = cfg.withDefaults()
	if err := ctx.Err(); err != nil {
		return DerivativeSizes{}, fmt.Errorf("derivatives %s: %w", path, err)
	}
	// The decoder must match the bytes, whatever Info says: sniff again, and
	// probe afresh when Info is zero or describes another format.
	format, err := sniffPath(path)
	if err != nil {
		return DerivativeSizes{}, fmt.Errorf("derivatives %s: %w", path, err)
	}
	if info.Format != format {
		if info, err = Probe(ctx, cfg, path); err != nil {
			return DerivativeSizes{}, fmt.Errorf("derivatives: %w", err)
		}
	}

	var disp *image.NRGBA
	if info.Format.Kind() == KindVideo {
		disp, err = videoFrame(ctx, cfg, path, info)
	} else {
		disp, err = displayImage(cfg, path, info)
	}
	if err != nil {
		return DerivativeSizes{}, fmt.Errorf("derivatives %s: %w", path, err)
	}
	if err := ctx.Err(); err != nil {
		return DerivativeSizes{}, fmt.Errorf("derivatives %s: %w", path, err)
	}
	th := fit(disp, cfg.ThumbSize)
	flatten(th) // resampling an opaque image can round alpha to 254

	if err := encodeJPEG(display, disp, cfg.JPEGQuality); err != nil {
		return DerivativeSizes{}, fmt.Errorf("derivatives %s: write display: %w", path, err)
	}
	if err := encodeJPEG(thumb, th, cfg.JPEGQuality); err != nil {
		return DerivativeSizes{}, fmt.Errorf("derivatives %s: write thumbnail: %w", path, err)
	}
	return DerivativeSizes{
		DisplayWidth: disp.Rect.Dx(), DisplayHeight: disp.Rect.Dy(),
		ThumbWidth: th.Rect.Dx(), ThumbHeight: th.Rect.Dy(),
	}, nil
}

// displayImage decodes an image once and returns its display copy: resized,
// oriented, flattened.
func displayImage(cfg Config, path string, info Info) (*image.NRGBA, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	format := info.Format
	w, h, err := imageSize(f, format)
	if err != nil {
		return nil, err
	}
	if err := checkPixels(w, h, cfg.MaxPixels); err != nil {
		return nil, err
	}
	var src image.Image
	if format == FormatJPEG && jpegTurbo {
		// Decode at the smallest n/8 scale still at least the display size, in the DCT
		// domain, so the full-size image is never built; when libjpeg cannot, image/jpeg
		// decodes at full size below and has the last word on damaged files.
		if img, err := decodeJPEGScaled(path, w, h, cfg.DisplaySize); err == nil {
			src = img
		}
	}
	if src == nil {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("seek: %w", err)
		}
		if src, err = decode(bufio.NewReaderSize(f, 64<<10), format, w, h); err != nil {
			return nil, err
		}
	}
	// Resize before orienting: the long edge is the same either way, and
	// turning the small copy is cheap.
	disp := fit(src, cfg.DisplaySize)
	if format == FormatJPEG {
		disp = orient(disp, info.Orientation)
	}
	flatten(disp)
	return disp, nil
}

// decode decodes one image of the given format; w×h is its header size.
// Decoder panics on hostile input become ErrCorruptFile.
func decode(r io.Reader, format Format, w, h int) (img image.Image, err error) {
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, corrupt(string(format)+" decode", fmt.Errorf("panic: %v", p))
		}
	}()
	switch format {
	case FormatJPEG:
		img, err = jpeg.Decode(r)
	case FormatPNG:
		img, err = png.Decode(r)
	case FormatGIF:
		img, err = gif.Decode(r)
		if err == nil {
			img = onCanvas(img, w, h)
		}
	case FormatWebP:
		img, err = webp.Decode(r)
	case FormatHEIC, FormatHEIF:
		img, err = heic.Decode(r)
	default:
		return nil, fmt.Errorf("%w: no decoder for %s", ErrUnsupportedFormat, format)
	}
	if err != nil {
		return nil, corrupt(string(format)+" decode", err)
	}
	if b := img.Bounds(); b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, fmt.Errorf("%w: %s decoded to %dx%d", ErrCorruptFile, format, b.Dx(), b.Dy())
	}
	return img, nil
}

// onCanvas places a GIF's first frame, whose bounds may be a part of the
// logical screen, on a transparent canvas of the screen size.
func onCanvas(frame image.Image, w, h int) image.Image {
	screen := image.Rect(0, 0, w, h)
	if frame.Bounds() == screen {
		return frame
	}
	canvas := image.NewNRGBA(screen)
	draw.Draw(canvas, frame.Bounds(), frame, frame.Bounds().Min, draw.Src)
	return canvas
}

// fitSize returns w×h scaled so that the long edge is at most long, keeping
// the aspect ratio; sizes that fit are returned unchanged.
func fitSize(w, h, long int) (int, int) {
	if w <= long && h <= long {
		return w, h
	}
	if w >= h {
		return long, max(1, int(math.Round(float64(h)*float64(long)/float64(w))))
	}
	return max(1, int(math.Round(float64(w)*float64(long)/float64(h)))), long
}

// fit returns img resized with a linear filter so its long edge is at most
// long, never upscaled, as a fresh NRGBA image at the origin. Linear is
// within 0.5 dB of Lanczos here and much faster (media-perf.md §3).
func fit(img image.Image, long int) *image.NRGBA {
	b := img.Bounds()
	w, h := fitSize(b.Dx(), b.Dy(), long)
	if w == b.Dx() && h == b.Dy() {
		return imaging.Clone(img)
	}
	return imaging.Resize(img, w, h, imaging.Linear)
}

// orient applies an EXIF orientation (2-8) so the picture is upright.
func orient(img *image.NRGBA, o int) *image.NRGBA {
	switch o {
	case 2:
		return imaging.FlipH(img)
	case 3:
		return imaging.Rotate180(img)
	case 4:
		return imaging.FlipV(img)
	case 5:
		return imaging.Transpose(img)
	case 6:
		return imaging.Rotate270(img) // 90° clockwise
	case 7:
		return imaging.Transverse(img)
	case 8:
		return imaging.Rotate90(img) // 90° counter-clockwise
	}
	return img
}

// flatten composites img onto white in place, leaving it opaque.
func flatten(img *image.NRGBA) {
	for y := 0; y < img.Rect.Dy(); y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+4*img.Rect.Dx()]
		for i := 0; i < len(row); i += 4 {
			a := uint32(row[i+3])
			if a == 255 {
				continue
			}
			for c := range 3 {
				row[i+c] = uint8((uint32(row[i+c])*a + 255*(255-a) + 127) / 255)
			}
			row[i+3] = 255
		}
	}
}

// encodeJPEG writes an opaque image as a baseline JPEG with no metadata, through
// libjpeg-turbo when the build has it. Otherwise: an opaque NRGBA has the same bytes
// as an RGBA, and image/jpeg has a fast path for *image.RGBA.
func encodeJPEG(w io.Writer, img *image.NRGBA, quality int) error {
	if jpegTurbo {
		return encodeJPEGTurbo(w, img, quality) // one Write of the whole file
	}
	rgba := &image.RGBA{Pix: img.Pix, Stride: img.Stride, Rect: img.Rect}
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := jpeg.Encode(bw, rgba, &jpeg.Options{Quality: quality}); err != nil {
		return err
	}
	return bw.Flush()
}
