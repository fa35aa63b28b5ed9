package main

// Fixtures: camera-like JPEGs and a video, generated deterministically and cached.
//
// The picture generator follows media-perf.md §2.1: a gradient sky over ground, 160 large
// shapes with gradient fills and 4,000 small ones (edges and fine detail), an 8-octave
// value-noise texture modulating luma by up to ±60 %, and sensor noise (σ ≈ 8 of 255 per
// channel, Irwin-Hall). Flat test pictures (mediatest's quadrants) compress to a fraction
// of a real photo and decode faster; these land at 2.6-2.8 bits per pixel at quality 90
// (4:2:0), like a camera's "fine" JPEG (7.9 MB at 24 MP), so decode and upload costs are
// real. Generating one takes 3-20 s on 2 cores, hence the cache.
//
// Each base picture is encoded once with image/jpeg at quality 90 (4:2:0) and an Exif
// block from our own TIFF writer (Make, Model, Orientation, DateTimeOriginal,
// OffsetTimeOriginal, exposure, PixelX/YDimension, ImageUniqueID), and cached in
// $XDG_CACHE_HOME/gallerist-bench (or ~/.cache/gallerist-bench) under a name that holds
// the generator version, size, seed and orientation. Ingest needs hundreds of distinct
// files (the server refuses duplicate bytes), so Variant patches the ImageUniqueID and
// DateTimeOriginal of a base in place: the bytes (and SHA-256) differ, the pixels and so
// the decoding cost are the same.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

// genVersion names the generator in cache file names; bump it when the pictures change.
const genVersion = "g2"

// persistence is the amplitude ratio of successive noise octaves.
const persistence = 0.8

// nShapesSmall is the number of small shapes drawn over the 160 large ones.
const nShapesSmall = 4000

// Size is a camera resolution.
type Size struct {
	Name string // "24MP"
	W, H int
}

var (
	size12 = Size{"12MP", 4032, 3024}
	size24 = Size{"24MP", 6000, 4000}
	size45 = Size{"45MP", 8256, 5504}
)

// Fixture is one cached base JPEG.
type Fixture struct {
	Path        string
	Size        Size
	Seed        uint64
	Orientation int
	Bytes       int64
	// The strings Variant replaces, as written in the file.
	uniqueID, dateTime string
}

// baseSpec says which bases a size gets: three pictures, the second one rotated by the
// camera (EXIF orientation 6, or 8 for the 45 MP set), as in media-perf.md.
func baseSpecs(s Size, n int) []Fixture {
	orient := []int{1, 6, 1}
	if s == size45 {
		orient = []int{1, 8, 1}
	}
	var out []Fixture
	for i := range n {
		seed := uint64(s.W)*1000 + uint64(i) + 1
		out = append(out, Fixture{Size: s, Seed: seed, Orientation: orient[i%len(orient)]})
	}
	return out
}

func cacheDir() (string, error) {
	if d := os.Getenv("GALLERIST_BENCH_CACHE"); d != "" {
		return d, os.MkdirAll(d, 0o755)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	d := filepath.Join(base, "gallerist-bench")
	return d, os.MkdirAll(d, 0o755)
}

// ensureFixtures returns the bases for each size, generating the missing ones.
func ensureFixtures(sizes []Size, perSize int, logf func(string, ...any)) (map[string][]*Fixture, error) {
	dir, err := cacheDir()
	if err != nil {
		return nil, err
	}
	out := map[string][]*Fixture{}
	for _, s := range sizes {
		for _, spec := range baseSpecs(s, perSize) {
			f := spec
			f.uniqueID = fmt.Sprintf("%016x%016x", f.Seed, 0)
			f.dateTime = "2026:05:12 15:23:11"
			f.Path = filepath.Join(dir, fmt.Sprintf("%s-%dx%d-s%d-o%d.jpg", genVersion, s.W, s.H, f.Seed, f.Orientation))
			st, err := os.Stat(f.Path)
			if err != nil {
				t0 := time.Now()
				b, err := generateJPEG(s.W, s.H, f.Seed, f.Orientation, f.uniqueID, f.dateTime)
				if err != nil {
					return nil, err
				}
				tmp := f.Path + ".tmp"
				if err := os.WriteFile(tmp, b, 0o644); err != nil {
					return nil, err
				}
				if err := os.Rename(tmp, f.Path); err != nil {
					return nil, err
				}
				logf("generated %s (%s, %.1f MB, %.1f bits/pixel) in %.1fs", filepath.Base(f.Path), s.Name,
					float64(len(b))/1e6, float64(len(b))*8/float64(s.W*s.H), time.Since(t0).Seconds())
				st, _ = os.Stat(f.Path)
			}
			f.Bytes = st.Size()
			out[s.Name] = append(out[s.Name], &f)
		}
	}
	return out, nil
}

// Variant returns the base's bytes with its ImageUniqueID and DateTimeOriginal changed
// for variant n (n = 0 gives the base itself): distinct bytes, the same pixels.
func (f *Fixture) Variant(base []byte, n int) ([]byte, error) {
	b := bytes.Clone(base)
	if n == 0 {
		return b, nil
	}
	head := b[:min(len(b), 8192)]
	i := bytes.Index(head, []byte(f.uniqueID))
	j := bytes.Index(head, []byte(f.dateTime))
	if i < 0 || j < 0 {
		return nil, fmt.Errorf("%s: Exif fields to vary not found", f.Path)
	}
	copy(b[i:], fmt.Sprintf("%016x%016x", f.Seed, n))
	t, _ := time.Parse("2006:01:02 15:04:05", f.dateTime)
	copy(b[j:], t.Add(time.Duration(n)*3*time.Second).Format("2006:01:02 15:04:05"))
	return b, nil
}

// ---------------------------------------------------------------- picture generator

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// lattice is a value in [-1, 1] at an integer point of one octave.
func lattice(seed uint64, oct, x, y int) float32 {
	h := splitmix(seed ^ uint64(oct)<<56 ^ uint64(uint32(x))<<28 ^ uint64(uint32(y)))
	return float32(h>>40)/float32(1<<23) - 1
}

type shape struct {
	circle         bool
	x0, y0, x1, y1 int     // bounding box
	cx, cy, r2     float32 // circle
	c0, c1         [3]float32
	gx, gy         float32 // gradient direction, normalised over the box
}

// generateJPEG draws the picture and returns it as a quality-90 JPEG with Exif.
func generateJPEG(w, h int, seed uint64, orientation int, uniqueID, dateTime string) ([]byte, error) {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	img := image.NewRGBA(image.Rect(0, 0, w, h))

	sky0 := [3]float32{60 + 80*rng.Float32(), 110 + 60*rng.Float32(), 170 + 70*rng.Float32()}
	sky1 := [3]float32{200 + 40*rng.Float32(), 190 + 40*rng.Float32(), 160 + 60*rng.Float32()}
	horizon := int(float32(h) * (0.35 + 0.2*rng.Float32()))
	ground0 := [3]float32{70 + 60*rng.Float32(), 60 + 50*rng.Float32(), 30 + 40*rng.Float32()}
	ground1 := [3]float32{30 + 30*rng.Float32(), 40 + 30*rng.Float32(), 20 + 20*rng.Float32()}

	// 160 large shapes, then nShapesSmall small ones (edges and detail, like foliage,
	// windows or print at a distance).
	shapes := make([]shape, 160+nShapesSmall)
	short := float32(min(w, h))
	for i := range shapes {
		s := &shapes[i]
		s.circle = rng.IntN(2) == 0
		size := short * (0.02 + 0.25*rng.Float32()*rng.Float32())
		if i >= 160 {
			size = short * (0.002 + 0.012*rng.Float32())
		}
		cx, cy := rng.Float32()*float32(w), float32(horizon)*0.6+rng.Float32()*float32(h-horizon)
		if s.circle {
			s.cx, s.cy, s.r2 = cx, cy, size*size
			s.x0, s.y0, s.x1, s.y1 = int(cx-size), int(cy-size), int(cx+size)+1, int(cy+size)+1
		} else {
			aw := size * (0.5 + 1.5*rng.Float32())
			s.x0, s.y0, s.x1, s.y1 = int(cx-aw), int(cy-size), int(cx+aw)+1, int(cy+size)+1
		}
		for c := range 3 {
			s.c0[c] = 20 + 220*rng.Float32()
			s.c1[c] = 20 + 220*rng.Float32()
		}
		a := rng.Float32() * 2 * math.Pi
		span := float32(max(s.x1-s.x0, s.y1-s.y0, 1))
		s.gx, s.gy = float32(math.Cos(float64(a)))/span, float32(math.Sin(float64(a)))/span
	}

	// Octave periods from a fifth of the short edge down to 2 pixels.
	var periods []float32
	p := short / 5
	for range 8 {
		periods = append(periods, p)
		p = max(p/2.6, 2)
	}

	workers := runtime.GOMAXPROCS(0)
	rows := make(chan int, h)
	for y := range h {
		rows <- y
	}
	close(rows)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			line := make([][3]float32, w)
			for y := range rows {
				// Sky above the horizon, ground below.
				for x := range w {
					if y < horizon {
						t := float32(y) / float32(horizon)
						for c := range 3 {
							line[x][c] = sky0[c] + (sky1[c]-sky0[c])*t
						}
					} else {
						t := float32(y-horizon) / float32(h-horizon)
						for c := range 3 {
							line[x][c] = ground0[c] + (ground1[c]-ground0[c])*t
						}
					}
				}
				fy := float32(y)
				for i := range shapes {
					s := &shapes[i]
					if y < s.y0 || y >= s.y1 {
						continue
					}
					x0, x1 := max(s.x0, 0), min(s.x1, w)
					for x := x0; x < x1; x++ {
						fx := float32(x)
						if s.circle {
							dx, dy := fx-s.cx, fy-s.cy
							if dx*dx+dy*dy > s.r2 {
								continue
							}
						}
						t := (fx-float32(s.x0))*s.gx + (fy-float32(s.y0))*s.gy
						t = min(max(t+0.5, 0), 1)
						for c := range 3 {
							line[x][c] = s.c0[c] + (s.c1[c]-s.c0[c])*t
						}
					}
				}
				// Value noise (texture) on luma, then sensor noise per channel.
				row := img.Pix[y*img.Stride:]
				for x := range w {
					var n, amp, total float32 = 0, 1, 0
					for o, per := range periods {
						u, v := float32(x)/per, fy/per
						ix, iy := int(u), int(v)
						fu, fv := u-float32(ix), v-float32(iy)
						fu, fv = fu*fu*(3-2*fu), fv*fv*(3-2*fv)
						a := lattice(seed, o, ix, iy)
						b := lattice(seed, o, ix+1, iy)
						c := lattice(seed, o, ix, iy+1)
						d := lattice(seed, o, ix+1, iy+1)
						n += amp * (a + (b-a)*fu + (c-a)*fv + (a-b-c+d)*fu*fv)
						total += amp
						amp *= persistence
					}
					mod := 1 + 0.6*n/total
					r := splitmix(seed ^ uint64(y)<<32 ^ uint64(x))
					r2 := splitmix(r)
					for c := range 3 {
						// Irwin-Hall of 4 bytes: mean 510, σ ≈ 147.2; scaled to σ 8.
						var s uint64
						if c < 2 {
							s = (r >> (32 * c)) & 0xffffffff
						} else {
							s = r2 & 0xffffffff
						}
						sum := float32(s&0xff + s>>8&0xff + s>>16&0xff + s>>24&0xff)
						v := line[x][c]*mod + (sum-510)*(8/147.2)
						row[4*x+c] = uint8(min(max(v+0.5, 0), 255))
					}
					row[4*x+3] = 255
				}
			}
		})
	}
	wg.Wait()

	var enc bytes.Buffer
	if err := jpeg.Encode(&enc, img, &jpeg.Options{Quality: 90}); err != nil {
		return nil, err
	}
	jb := enc.Bytes()
	app1 := exifSegment(w, h, orientation, uniqueID, dateTime)
	out := make([]byte, 0, len(jb)+len(app1))
	out = append(out, jb[:2]...) // SOI
	out = append(out, app1...)
	out = append(out, jb[2:]...)
	return out, nil
}

// ---------------------------------------------------------------- Exif writer

type tiffEntry struct {
	tag, typ uint16
	count    uint32
	data     []byte
}

func asciiEntry(tag uint16, s string) tiffEntry {
	return tiffEntry{tag, 2, uint32(len(s) + 1), append([]byte(s), 0)}
}

func shortEntry(tag uint16, v uint16) tiffEntry {
	return tiffEntry{tag, 3, 1, binary.BigEndian.AppendUint16(nil, v)}
}

func longEntry(tag uint16, v uint32) tiffEntry {
	return tiffEntry{tag, 4, 1, binary.BigEndian.AppendUint32(nil, v)}
}

func rationalEntry(tag uint16, num, den uint32) tiffEntry {
	return tiffEntry{tag, 5, 1, binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, num), den)}
}

// writeIFD appends an IFD (entries sorted by tag) at offset off of the TIFF data, its
// out-of-line values after it, and returns the TIFF data.
func writeIFD(tiff []byte, entries []tiffEntry) []byte {
	off := uint32(len(tiff))
	dataOff := off + 2 + 12*uint32(len(entries)) + 4
	var data []byte
	tiff = binary.BigEndian.AppendUint16(tiff, uint16(len(entries)))
	for _, e := range entries {
		tiff = binary.BigEndian.AppendUint16(tiff, e.tag)
		tiff = binary.BigEndian.AppendUint16(tiff, e.typ)
		tiff = binary.BigEndian.AppendUint32(tiff, e.count)
		if len(e.data) <= 4 {
			v := make([]byte, 4)
			copy(v, e.data)
			tiff = append(tiff, v...)
		} else {
			tiff = binary.BigEndian.AppendUint32(tiff, dataOff+uint32(len(data)))
			data = append(data, e.data...)
			if len(data)%2 == 1 {
				data = append(data, 0)
			}
		}
	}
	tiff = binary.BigEndian.AppendUint32(tiff, 0) // no next IFD
	return append(tiff, data...)
}

func ifdSize(entries []tiffEntry) int {
	n := 2 + 12*len(entries) + 4
	for _, e := range entries {
		if len(e.data) > 4 {
			n += len(e.data) + len(e.data)%2
		}
	}
	return n
}

// exifSegment returns an APP1 Exif segment (marker included).
func exifSegment(w, h, orientation int, uniqueID, dateTime string) []byte {
	exif := []tiffEntry{
		rationalEntry(0x829A, 1, 250), // ExposureTime
		rationalEntry(0x829D, 56, 10), // FNumber
		shortEntry(0x8827, 400),       // ISO
		asciiEntry(0x9003, dateTime),  // DateTimeOriginal
		asciiEntry(0x9011, "+02:00"),  // OffsetTimeOriginal
		rationalEntry(0x920A, 50, 1),  // FocalLength
		longEntry(0xA002, uint32(w)),  // PixelXDimension
		longEntry(0xA003, uint32(h)),  // PixelYDimension
		asciiEntry(0xA420, uniqueID),  // ImageUniqueID
	}
	ifd0 := []tiffEntry{
		asciiEntry(0x010F, "SynthCam"),
		asciiEntry(0x0110, fmt.Sprintf("Bench %dMP", (w*h+500_000)/1_000_000)),
		shortEntry(0x0112, uint16(orientation)),
		asciiEntry(0x0132, dateTime),
		longEntry(0x8769, 0), // Exif IFD offset, set below
	}
	ifd0[4].data = binary.BigEndian.AppendUint32(nil, uint32(8+ifdSize(ifd0)))
	tiff := []byte("MM\x00\x2a\x00\x00\x00\x08")
	tiff = writeIFD(tiff, ifd0)
	tiff = writeIFD(tiff, exif)
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1}
	seg = binary.BigEndian.AppendUint16(seg, uint16(len(payload)+2))
	return append(seg, payload...)
}

// ---------------------------------------------------------------- video

// ensureVideo returns a cached 10 s 1080p H.264 MP4 (ffmpeg's testsrc2, moov first).
func ensureVideo(logf func(string, ...any)) (string, error) {
	dir, err := cacheDir()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, genVersion+"-testsrc2-1080p-10s.mp4")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		return "", fmt.Errorf("ffmpeg is not installed (apt-get install ffmpeg): %w", err)
	}
	tmp := path + ".tmp.mp4"
	cmd := exec.Command(ffmpeg, "-y", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=25",
		"-t", "10", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("ffmpeg: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	logf("generated %s", filepath.Base(path))
	return path, nil
}

// paddedVideo is a virtual file of total bytes: the video, then one ISO BMFF "free" box
// (64-bit size) filling the rest. Players and ffprobe skip free boxes, so it is a valid
// MP4 of any size without encoding gigabytes of video. marker makes its bytes unique.
type paddedVideo struct {
	video  []byte
	header []byte // the free box header with the marker
	total  int64
}

func newPaddedVideo(video []byte, total int64, marker uint64) *paddedVideo {
	hdr := binary.BigEndian.AppendUint32(nil, 1)
	hdr = append(hdr, "free"...)
	hdr = binary.BigEndian.AppendUint64(hdr, uint64(total-int64(len(video))))
	hdr = binary.BigEndian.AppendUint64(hdr, marker)
	return &paddedVideo{video: video, header: hdr, total: total}
}

// pattern is one period (1 MiB) of the padding bytes.
var pattern = func() []byte {
	b := make([]byte, 1<<20)
	for i := range b {
		b[i] = byte(i>>12) ^ byte(i)
	}
	return b
}()

// ReadAt fills p with the bytes at off; the padding after the header repeats pattern.
func (v *paddedVideo) ReadAt(p []byte, off int64) {
	for len(p) > 0 {
		var n int
		switch {
		case off < int64(len(v.video)):
			n = copy(p, v.video[off:])
		case off < int64(len(v.video)+len(v.header)):
			n = copy(p, v.header[off-int64(len(v.video)):])
		default:
			i := off % int64(len(pattern))
			n = copy(p, pattern[i:])
		}
		p, off = p[n:], off+int64(n)
	}
}
