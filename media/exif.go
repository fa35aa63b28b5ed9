package media

import (
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/evanoberholster/imagemeta"
	"github.com/evanoberholster/imagemeta/exif2"
)

// exifMeta is what Probe keeps from EXIF.
type exifMeta struct {
	orientation int
	capturedAt  *time.Time
	hasOffset   bool
	camera      Camera
}

// readEXIF reads the EXIF of a JPEG or HEIF file with imagemeta. Metadata is
// a nicety: a file whose EXIF is missing or broken still probes, so every
// failure here, a panic of the parser included, gives empty metadata.
func readEXIF(r io.ReadSeeker) (m exifMeta) {
	m.orientation = 1
	defer func() {
		if recover() != nil {
			m = exifMeta{orientation: 1}
		}
	}()
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return m
	}
	e, err := imagemeta.Decode(r)
	if err != nil {
		return m
	}
	if o := int(e.Orientation); o >= 1 && o <= 8 {
		m.orientation = o
	}
	m.capturedAt, m.hasOffset = captureTime(e)
	m.camera = Camera{
		Make:         cleanString(e.Make),
		Model:        cleanString(e.Model),
		Lens:         cleanString(e.LensModel),
		FNumber:      round2(float64(e.FNumber)),
		ExposureTime: formatExposure(float64(e.ExposureTime)),
		ISO:          int(min(e.ISOSpeed, math.MaxInt32)),
		FocalLength:  round2(float64(e.FocalLength)),
	}
	return m
}

// captureTime picks DateTimeOriginal, else CreateDate (DateTimeDigitized),
// else DateTime, each with its own OffsetTime* tag. imagemeta parses the
// wall clock as UTC and, when the offset tag parses, moves it into a
// time.FixedZone with the same wall clock; so a Location other than
// time.UTC means the offset was present. Sub-seconds are dropped: imagemeta
// v0.3.1 reads SubSecTime "5" as 5 ms rather than 500 ms.
func captureTime(e exif2.Exif) (*time.Time, bool) {
	for _, t := range []time.Time{e.DateTimeOriginal(), e.CreateDate(), e.ModifyDate()} {
		if t.IsZero() || t.Year() < 1800 || t.Year() > 9999 {
			continue // absent, or "0000:00:00 00:00:00"
		}
		t = t.Truncate(time.Second)
		return &t, t.Location() != time.UTC
	}
	return nil, false
}

// cleanString trims the spaces and NULs cameras pad strings with.
func cleanString(s string) string {
	return strings.TrimSpace(strings.Trim(s, "\x00"))
}

// round2 rounds to 2 decimals (the float32 EXIF values read as 5.599999…)
// and turns NaN, infinities and negatives (from 0 denominators) into 0.
func round2(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		return 0
	}
	return math.Round(v*100) / 100
}

// formatExposure writes an exposure time the way cameras show it: "1/250"
// for fractions of a second that are close to 1/n, otherwise in seconds
// ("0.4", "2", "30").
func formatExposure(sec float64) string {
	if math.IsNaN(sec) || math.IsInf(sec, 0) || sec <= 0 {
		return ""
	}
	if sec < 1 {
		inv := 1 / sec
		n := math.Round(inv)
		if n >= 2 && math.Abs(inv-n)/inv < 0.03 {
			return "1/" + strconv.FormatFloat(n, 'f', 0, 64)
		}
	}
	return strconv.FormatFloat(math.Round(sec*10)/10, 'f', -1, 64)
}
