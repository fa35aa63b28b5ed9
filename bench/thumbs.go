package main

// Scenario 1: thumbnail throughput. Gallerist's own pipeline (media.Probe +
// media.Derivatives, the functions the server's variant jobs call) in this process, vs
// vipsthumbnail from libvips-tools making the same two sizes from the same files in
// batch processes (shrink-on-load, lanczos3, auto-rotate). Per core: CPU time per photo
// (display 2048 + thumbnail 400), our side with GOMAXPROCS=1 and one worker, vips with
// VIPS_CONCURRENCY=1. Throughput: 2 workers vs 2 parallel vipsthumbnail processes, wall
// clock. Rounds alternate ours and vips so both see the same machine.

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/image/draw"

	"github.com/gallerist/gallerist/media"
)

// ThumbsResult is scenario 1 for one size.
type ThumbsResult struct {
	Size           string  `json:"size"`
	JPEGCodec      string  `json:"jpeg_codec"` // media.JPEGCodec() of the benchmark's build
	Pixels         string  `json:"pixels"`
	Files          int     `json:"files_per_round"`
	MeanFileMB     float64 `json:"mean_file_mb"`
	OursCPUms      Stat    `json:"ours_cpu_ms_per_photo"`
	VipsCPUms      Stat    `json:"vips_cpu_ms_per_photo"`
	PerCoreRatio   Stat    `json:"per_core_ratio"` // vips CPU / ours CPU = ours photos/s/core ÷ vips photos/s/core
	Ours2Rate      Stat    `json:"ours_2_workers_photos_per_s"`
	Vips2Rate      Stat    `json:"vips_2_procs_photos_per_s"`
	TwoCoreRatio   Stat    `json:"two_core_ratio"`
	Ours1Rate      Stat    `json:"ours_1_worker_photos_per_s"`
	OursLatencyMs  Stat    `json:"ours_1_worker_latency_ms"` // per photo, wall, GOMAXPROCS=1
	SizesChecked   bool    `json:"sizes_checked"`
	SizeCheckNotes string  `json:"size_check_notes,omitempty"`
}

// QualityResult is the PSNR check on one 24 MP picture.
type QualityResult struct {
	Reference     string  `json:"reference"`
	OursDB        float64 `json:"ours_psnr_db"`
	VipsDB        float64 `json:"vipsthumbnail_psnr_db"`
	RefQ85DB      float64 `json:"reference_reencoded_psnr_db"` // the ceiling
	Quality       int     `json:"jpeg_quality"`
	Metric        string  `json:"metric"`
	AliasedDB     float64 `json:"aliased_control_psnr_db"`
	AliasedMethod string  `json:"aliased_control"`
	FloorDB       float64 `json:"floor_db"`
	Pass          bool    `json:"pass"`
}

type derivOut struct {
	dw, dh, tw, th int
	display        []byte
}

// oursOne runs the server's pipeline on one file into memory.
func oursOne(ctx context.Context, cfg media.Config, path string) (derivOut, error) {
	info, err := media.Probe(ctx, cfg, path)
	if err != nil {
		return derivOut{}, err
	}
	var disp, thumb bytes.Buffer
	sz, err := media.Derivatives(ctx, cfg, path, info, &disp, &thumb)
	if err != nil {
		return derivOut{}, err
	}
	// Check what was written, not only what was reported.
	dc, err := jpeg.DecodeConfig(bytes.NewReader(disp.Bytes()))
	if err != nil {
		return derivOut{}, fmt.Errorf("display of %s: %w", path, err)
	}
	tc, err := jpeg.DecodeConfig(bytes.NewReader(thumb.Bytes()))
	if err != nil {
		return derivOut{}, fmt.Errorf("thumbnail of %s: %w", path, err)
	}
	if dc.Width != sz.DisplayWidth || dc.Height != sz.DisplayHeight || tc.Width != sz.ThumbWidth || tc.Height != sz.ThumbHeight {
		return derivOut{}, fmt.Errorf("%s: reported sizes %+v differ from the JPEGs %dx%d, %dx%d", path, sz, dc.Width, dc.Height, tc.Width, tc.Height)
	}
	return derivOut{dc.Width, dc.Height, tc.Width, tc.Height, disp.Bytes()}, nil
}

// expectedSizes is what a correct pipeline writes for a fixture: long edges 2048 and 400,
// upright (orientations 5-8 swap the stored width and height).
func expectedSizes(f *Fixture) (dw, dh, tw, th int) {
	w, h := f.Size.W, f.Size.H
	if f.Orientation >= 5 {
		w, h = h, w
	}
	fit := func(long int) (int, int) {
		if w >= h {
			return long, int(math.Round(float64(h) * float64(long) / float64(w)))
		}
		return int(math.Round(float64(w) * float64(long) / float64(h))), long
	}
	dw, dh = fit(2048)
	// The thumbnail is made from the display copy.
	if dw >= dh {
		tw, th = 400, int(math.Round(float64(dh)*400/float64(dw)))
	} else {
		tw, th = int(math.Round(float64(dw)*400/float64(dh))), 400
	}
	return
}

func sizeOK(gotW, gotH, wantW, wantH int) bool {
	// vips rounds some edges differently: accept ±1 on the short edge only.
	return (gotW == wantW && abs(gotH-wantH) <= 1) || (gotH == wantH && abs(gotW-wantW) <= 1)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// runOurs processes files with the given workers and GOMAXPROCS; it returns the wall
// time, the CPU time of this process, and per-photo wall latencies.
func runOurs(ctx context.Context, files []*Fixture, workers, procs int) (wall, cpu time.Duration, lat []time.Duration, outs []derivOut, err error) {
	old := runtime.GOMAXPROCS(procs)
	defer runtime.GOMAXPROCS(old)
	runtime.GC()
	cfg := media.DefaultConfig()
	outs = make([]derivOut, len(files))
	lat = make([]time.Duration, len(files))
	jobs := make(chan int, len(files))
	for i := range files {
		jobs <- i
	}
	close(jobs)
	var mu sync.Mutex
	var firstErr error
	c0, t0 := cpuTime(), time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				s := time.Now()
				o, e := oursOne(ctx, cfg, files[i].Path)
				lat[i] = time.Since(s)
				mu.Lock()
				if e != nil && firstErr == nil {
					firstErr = e
				}
				outs[i] = o
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return time.Since(t0), cpuTime() - c0, lat, outs, firstErr
}

// runVips makes display copies then thumbnails of files with vipsthumbnail in procs
// parallel batch processes (VIPS_CONCURRENCY=1 each); it returns the wall time and the
// CPU time of the processes.
func runVips(files []*Fixture, procs int, outDir string) (wall, cpu time.Duration, err error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return 0, 0, err
	}
	run := func(args []string) (time.Duration, error) {
		cmd := exec.Command("vipsthumbnail", args...)
		cmd.Env = append(os.Environ(), "VIPS_CONCURRENCY=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("vipsthumbnail: %v\n%s", err, out)
		}
		return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
	}
	parts := make([][]string, procs)
	for i, f := range files {
		parts[i%procs] = append(parts[i%procs], f.Path)
	}
	var mu sync.Mutex
	var firstErr error
	t0 := time.Now()
	var wg sync.WaitGroup
	for _, part := range parts {
		if len(part) == 0 {
			continue
		}
		wg.Go(func() {
			// Display copies, then thumbnails from them: the same cascade as ours.
			c1, e := run(append(slicesClone(part), "-s", "2048", "-o", outDir+"/%s_2048.jpg[Q=85,strip]"))
			var c2 time.Duration
			if e == nil {
				var disp []string
				for _, p := range part {
					disp = append(disp, filepath.Join(outDir, strings.TrimSuffix(filepath.Base(p), ".jpg")+"_2048.jpg"))
				}
				c2, e = run(append(disp, "-s", "400", "-o", outDir+"/%s_400.jpg[Q=85,strip]"))
			}
			mu.Lock()
			cpu += c1 + c2
			if e != nil && firstErr == nil {
				firstErr = e
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return time.Since(t0), cpu, firstErr
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// benchThumbs runs scenario 1 for one size: rounds of ours(1 worker, 1 proc), vips(1),
// ours(2 workers, 2 procs), vips(2 processes).
func benchThumbs(ctx context.Context, fx []*Fixture, repeat, rounds int, tmp string, logf func(string, ...any)) (*ThumbsResult, error) {
	var files []*Fixture
	for range repeat {
		files = append(files, fx...)
	}
	n := float64(len(files))
	var mean float64
	for _, f := range fx {
		mean += float64(f.Bytes) / 1e6 / float64(len(fx))
	}
	res := &ThumbsResult{Size: fx[0].Size.Name, JPEGCodec: media.JPEGCodec(), Pixels: fmt.Sprintf("%dx%d", fx[0].Size.W, fx[0].Size.H), Files: len(files), MeanFileMB: mean,
		OursCPUms: Stat{Unit: "ms"}, VipsCPUms: Stat{Unit: "ms"}, Ours2Rate: Stat{Unit: "photos/s"}, Vips2Rate: Stat{Unit: "photos/s"},
		Ours1Rate: Stat{Unit: "photos/s"}, OursLatencyMs: Stat{Unit: "ms"}, SizesChecked: true}
	vipsDir := filepath.Join(tmp, "vips-"+res.Size)

	// Untimed warm-up: page cache, code paths.
	if _, _, _, _, err := runOurs(ctx, fx[:1], 1, 1); err != nil {
		return nil, err
	}
	if _, _, err := runVips(fx[:1], 1, vipsDir); err != nil {
		return nil, err
	}
	var notes []string
	for r := range rounds {
		wall, cpu, lat, outs, err := runOurs(ctx, files, 1, 1)
		if err != nil {
			return nil, err
		}
		res.OursCPUms.add(ms(cpu) / n)
		res.Ours1Rate.add(n / wall.Seconds())
		var sum time.Duration
		for _, l := range lat {
			sum += l
		}
		res.OursLatencyMs.add(ms(sum) / n)
		if r == 0 {
			for i, o := range outs {
				dw, dh, tw, th := expectedSizes(files[i])
				if !sizeOK(o.dw, o.dh, dw, dh) || !sizeOK(o.tw, o.th, tw, th) {
					res.SizesChecked = false
					notes = append(notes, fmt.Sprintf("ours %s: %dx%d/%dx%d, want %dx%d/%dx%d", filepath.Base(files[i].Path), o.dw, o.dh, o.tw, o.th, dw, dh, tw, th))
				}
			}
		}

		_, vcpu, err := runVips(files, 1, vipsDir)
		if err != nil {
			return nil, err
		}
		res.VipsCPUms.add(ms(vcpu) / n)
		if r == 0 {
			for _, f := range fx {
				stem := strings.TrimSuffix(filepath.Base(f.Path), ".jpg")
				dw, dh, tw, th := expectedSizes(f)
				gd, e1 := jpegSize(filepath.Join(vipsDir, stem+"_2048.jpg"))
				gt, e2 := jpegSize(filepath.Join(vipsDir, stem+"_2048_400.jpg"))
				if e1 != nil || e2 != nil || !sizeOK(gd.X, gd.Y, dw, dh) || !sizeOK(gt.X, gt.Y, tw, th) {
					res.SizesChecked = false
					notes = append(notes, fmt.Sprintf("vips %s: %v/%v, want %dx%d/%dx%d (%v %v)", stem, gd, gt, dw, dh, tw, th, e1, e2))
				}
			}
		}

		wall2, _, _, _, err := runOurs(ctx, files, 2, 2)
		if err != nil {
			return nil, err
		}
		res.Ours2Rate.add(n / wall2.Seconds())
		vwall2, _, err := runVips(files, 2, vipsDir)
		if err != nil {
			return nil, err
		}
		res.Vips2Rate.add(n / vwall2.Seconds())
		logf("thumbs %s round %d: ours %.0f ms CPU/photo, vips %.0f; 2 workers %.2f vs %.2f photos/s (load %s)",
			res.Size, r+1, res.OursCPUms.Runs[r], res.VipsCPUms.Runs[r], res.Ours2Rate.Runs[r], res.Vips2Rate.Runs[r], loadAvg())
	}
	res.PerCoreRatio = invRatioStat(res.OursCPUms, res.VipsCPUms)
	res.TwoCoreRatio = ratioStat(res.Ours2Rate, res.Vips2Rate)
	res.SizeCheckNotes = strings.Join(notes, "; ")
	return res, nil
}

func jpegSize(path string) (image.Point, error) {
	f, err := os.Open(path)
	if err != nil {
		return image.Point{}, err
	}
	defer f.Close()
	c, err := jpeg.DecodeConfig(f)
	return image.Point{c.Width, c.Height}, err
}

// ---------------------------------------------------------------- quality

// psnr is the PSNR of the luma (BT.601 Y) of two images of the same size. Luma, because
// image/jpeg always subsamples chroma 4:2:0 while libvips keeps full chroma at high
// qualities; on colourful fine detail that difference alone would swamp the resampling
// error this check is about.
func psnr(a, b image.Image) (float64, error) {
	ab, bb := a.Bounds(), b.Bounds()
	if ab.Dx() != bb.Dx() || ab.Dy() != bb.Dy() {
		return 0, fmt.Errorf("sizes differ: %v vs %v", ab, bb)
	}
	ra, rb := toRGBA(a), toRGBA(b)
	luma := func(p []uint8) float64 { return 0.299*float64(p[0]) + 0.587*float64(p[1]) + 0.114*float64(p[2]) }
	var se float64
	for y := range ab.Dy() {
		pa := ra.Pix[y*ra.Stride : y*ra.Stride+4*ab.Dx()]
		pb := rb.Pix[y*rb.Stride : y*rb.Stride+4*ab.Dx()]
		for i := 0; i < len(pa); i += 4 {
			d := luma(pa[i:]) - luma(pb[i:])
			se += d * d
		}
	}
	mse := se / float64(ab.Dx()*ab.Dy())
	if mse == 0 {
		return math.Inf(1), nil
	}
	return 10 * math.Log10(255*255/mse), nil
}

func toRGBA(img image.Image) *image.RGBA {
	if r, ok := img.(*image.RGBA); ok && r.Rect.Min == (image.Point{}) {
		return r
	}
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Rect, img, b.Min, draw.Src)
	return out
}

func decodeJPEGBytes(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) }

func reencode(img image.Image, q int) (image.Image, error) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
		return nil, err
	}
	return jpeg.Decode(&buf)
}

// qualityMarginDB sets the floor: our 2048 px display copy, at the shipped JPEG quality,
// must reach the luma PSNR of the reference itself re-encoded at that quality (the
// ceiling) minus this margin, against a Lanczos-3 reference made from the full-resolution
// picture. Measured on the 24 MP fixture (docs/performance.md): vipsthumbnail sits at the
// ceiling, our linear filter about 1.4 dB under it, and a resizer without a low-pass
// filter (the aliased control: x/image/draw ApproxBiLinear straight from full size, a
// 2.9x step) about 5.4 dB under it. 3 dB (twice the error energy of the best possible
// result) lies between the filtered resizers and the aliased one, so an aliasing
// shortcut cannot pass while any proper filter does.
const qualityMarginDB = 3.0

// benchQuality makes the reference with `vips resize --kernel lanczos3` (no shrink-on-load:
// the full image is decoded and filtered) to exactly our display size, and compares our
// display copy, vipsthumbnail's and an aliased control with it.
func benchQuality(ctx context.Context, f *Fixture, tmp string, quality int) (*QualityResult, error) {
	cfg := media.DefaultConfig()
	cfg.JPEGQuality = quality
	o, err := oursOne(ctx, cfg, f.Path)
	if err != nil {
		return nil, err
	}
	ours, err := decodeJPEGBytes(o.display)
	if err != nil {
		return nil, err
	}
	refPath := filepath.Join(tmp, "lanczos-ref.png")
	hs := float64(o.dw) / float64(f.Size.W)
	vs := float64(o.dh) / float64(f.Size.H)
	cmd := exec.Command("vips", "resize", f.Path, refPath, fmt.Sprintf("%.10f", hs), "--vscale", fmt.Sprintf("%.10f", vs), "--kernel", "lanczos3")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("vips resize: %v\n%s", err, out)
	}
	rf, err := os.Open(refPath)
	if err != nil {
		return nil, err
	}
	ref, err := png.Decode(rf)
	rf.Close()
	if err != nil {
		return nil, err
	}
	if ref.Bounds().Dx() != o.dw || ref.Bounds().Dy() != o.dh {
		return nil, fmt.Errorf("reference is %v, ours %dx%d", ref.Bounds(), o.dw, o.dh)
	}
	res := &QualityResult{Quality: quality, Metric: "PSNR of luma (BT.601 Y)", Reference: fmt.Sprintf("vips resize --kernel lanczos3 of the full %dx%d image to %dx%d, PNG", f.Size.W, f.Size.H, o.dw, o.dh),
		AliasedMethod: fmt.Sprintf("image/jpeg full decode + x/image/draw ApproxBiLinear to 2048, q%d", quality)}
	if res.OursDB, err = psnr(ours, ref); err != nil {
		return nil, err
	}
	refq, err := reencode(ref, quality)
	if err != nil {
		return nil, err
	}
	if res.RefQ85DB, err = psnr(refq, ref); err != nil {
		return nil, err
	}
	// vipsthumbnail's display copy of the same file (exact size forced).
	vdir := filepath.Join(tmp, "vips-quality")
	_ = os.MkdirAll(vdir, 0o755)
	cmd = exec.Command("vipsthumbnail", f.Path, "-s", fmt.Sprintf("%dx%d!", o.dw, o.dh), "-o", vdir+fmt.Sprintf("/%%s.jpg[Q=%d,strip]", quality))
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("vipsthumbnail: %v\n%s", err, out)
	}
	vb, err := os.ReadFile(filepath.Join(vdir, strings.TrimSuffix(filepath.Base(f.Path), ".jpg")+".jpg"))
	if err != nil {
		return nil, err
	}
	vimg, err := decodeJPEGBytes(vb)
	if err != nil {
		return nil, err
	}
	if res.VipsDB, err = psnr(vimg, ref); err != nil {
		return nil, err
	}
	// The aliased control: what a resizer without a low-pass filter gives.
	src, err := os.ReadFile(f.Path)
	if err != nil {
		return nil, err
	}
	full, err := decodeJPEGBytes(src)
	if err != nil {
		return nil, err
	}
	al := image.NewRGBA(image.Rect(0, 0, o.dw, o.dh))
	draw.ApproxBiLinear.Scale(al, al.Rect, full, full.Bounds(), draw.Src, nil)
	alq, err := reencode(al, quality)
	if err != nil {
		return nil, err
	}
	if res.AliasedDB, err = psnr(alq, ref); err != nil {
		return nil, err
	}
	res.FloorDB = math.Round((res.RefQ85DB-qualityMarginDB)*100) / 100
	res.Pass = res.OursDB >= res.FloorDB
	return res, nil
}
