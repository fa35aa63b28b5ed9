//go:build !cgo || nojpegturbo

package media

import (
	"image"
	"io"
)

// jpegTurbo tells whether this build decodes JPEGs through libjpeg-turbo.
const jpegTurbo = false

// decodeJPEGScaled is the build without libjpeg-turbo: it always returns
// errNoScaledDecoder, and the caller decodes with image/jpeg.
func decodeJPEGScaled(path string, w, h, long int) (*image.NRGBA, error) {
	return nil, errNoScaledDecoder
}

// encodeJPEGTurbo is the build without libjpeg-turbo: never called (jpegTurbo is false).
func encodeJPEGTurbo(w io.Writer, img *image.NRGBA, quality int) error {
	return errNoScaledDecoder
}
