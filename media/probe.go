package media

import (
	"bufio"
	"context"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"time"

	"golang.org/x/image/webp"
)

// Info is what Probe learns about a file without decoding its pixels.
type Info struct {
	// Format is the format recognised from the bytes.
	Format Format
	// Width and Height are as displayed: swapped for EXIF orientations 5-8
	// of a JPEG; for HEIC/HEIF from the container's size, crop and rotation
	// (the EXIF Orientation is ignored); for video after its rotation.
	Width, Height int
	// Orientation is the EXIF orientation 1-8 of a JPEG, 1 when absent. It
	// is always 1 for other formats: their pixels are shown as decoded.
	Orientation int
	// CapturedAt is when the picture was taken: EXIF DateTimeOriginal
	// (else CreateDate, else DateTime) to the second, or a video's creation
	// time. Nil when unknown.
	//
	// When CapturedAtHasOffset is true, CapturedAt is an instant: its
	// Location is a time.FixedZone with the offset the camera recorded
	// (EXIF OffsetTimeOriginal), or UTC for video creation times. When it
	// is false, the camera recorded only its wall clock; CapturedAt holds
	// that wall clock in UTC ("floating") and must not be converted to
	// other zones as if it were an instant.
	CapturedAt          *time.Time
	CapturedAtHasOffset bool
	// VideoCodec is the codec of a video's first video stream as ffprobe names it
	// (h264, hevc, vp9, ...); empty for images.
	VideoCodec string
	// Camera is what EXIF says about the camera; zero for video.
	Camera Camera
	// Duration is the length of a video in seconds; 0 for images and when
	// the container does not say.
	Duration float64
}

// Camera is what EXIF says about the camera and exposure; fields are zero
// when absent.
type Camera struct {
	// Make, Model and Lens are as written by the camera, trimmed.
	Make, Model, Lens string
	// FNumber is the aperture, e.g. 5.6.
	FNumber float64
	// ExposureTime is the shutter speed as cameras show it: "1/250", "0.4", "2".
	ExposureTime string
	// ISO is the ISO speed rating.
	ISO int
	// FocalLength is the real (not 35 mm equivalent) focal length in mm.
	FocalLength float64
}

// Probe recognises the file at path and reads its header and metadata: EXIF
// for images, ffprobe for video. It decodes no image pixels, and refuses a
// header that declares more than cfg.MaxPixels pixels with ErrTooManyPixels
// (a *PixelLimitError in the chain) before reading any further. An
// unrecognised file gives ErrUnsupportedFormat, an unreadable one
// ErrCorruptFile, a video without ffprobe installed ErrFFmpegMissing.
func Probe(ctx context.Context, cfg Config, path string) (Info, error) {
	cfg = cfg.withDefaults()
	if err := ctx.Err(); err != nil {
		return Info{}, fmt.Errorf("probe %s: %w", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return Info{}, fmt.Errorf("probe: %w", err)
	}
	defer f.Close()
	format, err := sniffReader(f)
	if err != nil {
		return Info{}, fmt.Errorf("probe %s: %w", path, err)
	}
	var info Info
	if format.Kind() == KindVideo {
		info, err = probeVideo(ctx, cfg, path, format)
	} else {
		info, err = probeImage(cfg, f, format)
	}
	if err != nil {
		return Info{}, fmt.Errorf("probe %s: %w", path, err)
	}
	return info, nil
}

// probeImage reads the header of an image, checks its pixel count, then
// reads its EXIF.
func probeImage(cfg Config, f *os.File, format Format) (Info, error) {
	w, h, err := imageSize(f, format)
	if err != nil {
		return Info{}, err
	}
	if err := checkPixels(w, h, cfg.MaxPixels); err != nil {
		return Info{}, err
	}
	info := Info{Format: format, Width: w, Height: h, Orientation: 1}

	switch format {
	case FormatJPEG, FormatHEIC, FormatHEIF:
		m := readEXIF(f)
		info.CapturedAt, info.CapturedAtHasOffset, info.Camera = m.capturedAt, m.hasOffset, m.camera
		if format == FormatJPEG {
			// HEIF decoders apply the container's irot/imir; the EXIF
			// Orientation phones also write would turn the picture twice.
			info.Orientation = m.orientation
		}
	}
	if info.Orientation >= 5 {
		info.Width, info.Height = info.Height, info.Width
	}
	return info, nil
}

// imageSize reads the dimensions an image header declares, as stored (before
// EXIF orientation; after the container's transforms for HEIF).
func imageSize(f *os.File, format Format) (w, h int, err error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, 0, fmt.Errorf("seek: %w", err)
	}
	var cfg image.Config
	r := bufio.NewReader(f)
	switch format {
	case FormatJPEG:
		cfg, err = jpeg.DecodeConfig(r)
	case FormatPNG:
		cfg, err = png.DecodeConfig(r)
	case FormatGIF:
		cfg, err = gif.DecodeConfig(r)
	case FormatWebP:
		cfg, err = webp.DecodeConfig(r)
	case FormatHEIC, FormatHEIF:
		st, serr := f.Stat()
		if serr != nil {
			return 0, 0, fmt.Errorf("stat: %w", serr)
		}
		cfg.Width, cfg.Height, err = heifSize(f, st.Size())
	default:
		return 0, 0, fmt.Errorf("%w: %s is not an image format", ErrUnsupportedFormat, format)
	}
	if err != nil {
		return 0, 0, corrupt(string(format)+" header", err)
	}
	return cfg.Width, cfg.Height, nil
}
