package media

import "errors"

// errNoScaledDecoder says this build has no DCT-scaled JPEG decoder (built without cgo,
// or with the nojpegturbo tag), so JPEGs are decoded at full size by image/jpeg.
var errNoScaledDecoder = errors.New("no DCT-scaled JPEG decoder in this build")

// jpegScale returns n of the n/8 scale at which to decode a w×h JPEG whose display
// copy has a long edge of long: the smallest n (the largest reduction, the least work)
// whose decoded long edge, ceil(edge·n/8) as libjpeg computes it, is still at least
// long. Images that already fit decode at 8/8.
func jpegScale(w, h, long int) int {
	edge := max(w, h)
	if edge <= long {
		return 8
	}
	for n := 1; n < 8; n++ {
		if scaledEdge(edge, n) >= long {
			return n
		}
	}
	return 8
}

// scaledEdge is an edge of edge pixels decoded at n/8: ceil(edge·n/8).
func scaledEdge(edge, n int) int { return (edge*n + 7) / 8 }

// JPEGCodec names what decodes and encodes JPEGs in this build: "libjpeg-turbo" (cgo,
// with DCT-scaled decoding) or "image/jpeg" (pure Go, full-size decoding).
func JPEGCodec() string {
	if jpegTurbo {
		return "libjpeg-turbo"
	}
	return "image/jpeg"
}
