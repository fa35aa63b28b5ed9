package media

import (
	"errors"
	"fmt"
)

// Errors returned by this package, wrapped with context; test them with
// errors.Is.
var (
	// ErrUnsupportedFormat means the bytes are not a format this package
	// handles (text, archives, AVIF, Matroska other than WebM, ...).
	ErrUnsupportedFormat = errors.New("media: unsupported format")
	// ErrCorruptFile means the file claims a supported format but cannot be
	// read as one: a truncated header, a broken stream, no video frame.
	ErrCorruptFile = errors.New("media: corrupt file")
	// ErrTooManyPixels means the header declares more pixels than
	// Config.MaxPixels allows. The error in the chain is a
	// *PixelLimitError carrying the dimensions.
	ErrTooManyPixels = errors.New("media: too many pixels")
	// ErrFFmpegMissing means a video operation could not start ffmpeg or
	// ffprobe because the binary is not installed (or not at the configured
	// path).
	ErrFFmpegMissing = errors.New("media: ffmpeg not found")
)

// PixelLimitError reports the dimensions a header declared when they were
// refused. errors.Is(err, ErrTooManyPixels) is true for it.
type PixelLimitError struct {
	// Width and Height are as declared by the header.
	Width, Height int
	// MaxPixels is the limit that was exceeded.
	MaxPixels int64
}

// Error describes the refused dimensions.
func (e *PixelLimitError) Error() string {
	return fmt.Sprintf("%v: %dx%d declared (%d pixels, limit %d)",
		ErrTooManyPixels, e.Width, e.Height, int64(e.Width)*int64(e.Height), e.MaxPixels)
}

// Unwrap returns ErrTooManyPixels.
func (e *PixelLimitError) Unwrap() error { return ErrTooManyPixels }

// checkPixels refuses w×h when it is above max, and dimensions that are not
// positive as corrupt.
func checkPixels(w, h int, max int64) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%w: header declares %dx%d", ErrCorruptFile, w, h)
	}
	if int64(w)*int64(h) > max {
		return &PixelLimitError{Width: w, Height: h, MaxPixels: max}
	}
	return nil
}

// corrupt marks err, a decoder's complaint, as ErrCorruptFile while keeping
// it in the chain.
func corrupt(what string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrCorruptFile, what, err)
}
