package media_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gallerist/gallerist/media"
)

// corpusDir is the shared real-camera corpus (ianare/exif-samples), next to
// the repository when CI provides it. It is never copied into the project.
const corpusDir = "../../shared/testdata/exif-samples/jpg"

// TestCorpus runs Probe and Derivatives on every JPEG of the corpus: neither
// may panic, and failures must be this package's own errors. The files in
// orientation/ must come out with their displayed shape (landscape_N wider
// than tall, portrait_N taller than wide) and the same picture as sample 1.
func TestCorpus(t *testing.T) {
	if _, err := os.Stat(corpusDir); err != nil {
		t.Logf("corpus absent (%s): only generated fixtures were tested", corpusDir)
		return
	}
	var files []string
	err := filepath.WalkDir(corpusDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ext := strings.ToLower(filepath.Ext(p)); !d.IsDir() && (ext == ".jpg" || ext == ".jpeg") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("corpus %s holds no JPEGs", corpusDir)
	}

	ctx := context.Background()
	cfg := media.DefaultConfig()
	thumbs := map[string]image.Image{}
	ok := 0
	for _, p := range files {
		rel, _ := filepath.Rel(corpusDir, p)
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s: panic: %v", rel, r)
				}
			}()
			info, err := media.Probe(ctx, cfg, p)
			if err != nil {
				if !errors.Is(err, media.ErrCorruptFile) && !errors.Is(err, media.ErrUnsupportedFormat) {
					t.Errorf("%s: Probe error outside the catalogue: %v", rel, err)
				}
				t.Logf("%s: refused: %v", rel, err)
				return
			}
			var display, thumb bytes.Buffer
			sizes, err := media.Derivatives(ctx, cfg, p, info, &display, &thumb)
			if err != nil {
				if !errors.Is(err, media.ErrCorruptFile) {
					t.Errorf("%s: Derivatives error outside the catalogue: %v", rel, err)
				}
				t.Logf("%s: no derivatives: %v", rel, err)
				return
			}
			ok++
			checkPlainJPEG(t, rel+" display", display.Bytes())
			// Probe's oriented shape and the derivative's must agree.
			if (info.Width > info.Height) != (sizes.DisplayWidth > sizes.DisplayHeight) {
				t.Errorf("%s: Probe says %s but display is %s", rel, dims(info.Width, info.Height), dims(sizes.DisplayWidth, sizes.DisplayHeight))
			}
			if dir, name := filepath.Split(rel); filepath.Base(dir) == "orientation" {
				landscape := strings.HasPrefix(name, "landscape_")
				if (info.Width > info.Height) != landscape || (sizes.DisplayWidth > sizes.DisplayHeight) != landscape {
					t.Errorf("%s: orientation %d, Probe %s, display %s; want landscape=%v",
						rel, info.Orientation, dims(info.Width, info.Height), dims(sizes.DisplayWidth, sizes.DisplayHeight), landscape)
				}
				thumbs[name] = decodeJPEG(t, thumb.Bytes())
			}
		}()
	}
	t.Logf("corpus: %d files, %d with derivatives", len(files), ok)
	if ok < len(files)/2 {
		t.Errorf("only %d of %d corpus files gave derivatives", ok, len(files))
	}

	// Each oriented sample shows the same scene as sample 1, apart from a
	// digit drawn on it: the mean difference stays small (about 15 of 255),
	// while a wrongly turned copy differs by about 50.
	for _, shape := range []string{"landscape", "portrait"} {
		ref := thumbs[shape+"_1.jpg"]
		if ref == nil {
			continue
		}
		for n := 2; n <= 8; n++ {
			name := shape + "_" + string(rune('0'+n)) + ".jpg"
			img := thumbs[name]
			if img == nil {
				continue
			}
			if d := meanDiff(ref, img); d > 30 {
				t.Errorf("%s: differs from %s_1 by %.1f of 255: not upright", name, shape, d)
			}
		}
	}
}

// meanDiff is the mean absolute difference per channel of two images of the
// same size, or 255 when the sizes differ.
func meanDiff(a, b image.Image) float64 {
	if a.Bounds().Size() != b.Bounds().Size() {
		return 255
	}
	var sum, n float64
	for y := 0; y < a.Bounds().Dy(); y++ {
		for x := 0; x < a.Bounds().Dx(); x++ {
			r1, g1, b1, _ := a.At(a.Bounds().Min.X+x, a.Bounds().Min.Y+y).RGBA()
			r2, g2, b2, _ := b.At(b.Bounds().Min.X+x, b.Bounds().Min.Y+y).RGBA()
			sum += absDiff(r1, r2) + absDiff(g1, g2) + absDiff(b1, b2)
			n += 3
		}
	}
	return sum / n / 257
}

func absDiff(a, b uint32) float64 {
	if a > b {
		return float64(a - b)
	}
	return float64(b - a)
}
