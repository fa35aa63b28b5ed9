// Command bench is Gallerist's benchmark suite: `make bench` (or `go run ./bench`).
//
// It prepares its own data (camera-like JPEGs of 12, 24 and 45 megapixels with Exif at
// quality 90, and a generated video; cached in ~/.cache/gallerist-bench), builds and
// starts the real server on loopback with temporary data folders, runs each scenario
// against Gallerist and against its reference back to back, prints a table and writes
// bench/results/latest.json with min/median/max over the repeated runs:
//
//  1. thumbnails: media.Probe + media.Derivatives in process vs vipsthumbnail;
//  2. ingest: multipart and chunked uploads until processed vs write+fsync of the bytes;
//  3. serving: guest thumbnails with wrk vs nginx static, and with X-Accel-Redirect;
//  4. listing: p50/p99 of the photo list at 100,000 photos, first and last page;
//  5. memory: peak RSS ingesting 45 MP photos, and across a 5 GB chunked upload.
//
// docs/performance.md explains the figures and what limits each one.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gallerist/gallerist/media"
)

// Results is what latest.json holds.
type Results struct {
	Started    time.Time         `json:"started"`
	Seconds    float64           `json:"seconds"`
	Mode       string            `json:"mode"`
	Machine    map[string]string `json:"machine"`
	Background map[string]string `json:"background_cpu_busy_before"` // other processes' CPU use before each scenario
	Thumbs     []*ThumbsResult   `json:"thumbnails,omitempty"`
	Quality    *QualityResult    `json:"quality,omitempty"`
	Ingest     *IngestResult     `json:"ingest,omitempty"`
	Serve      *ServeResult      `json:"serving,omitempty"`
	Listing    *ListResult       `json:"listing,omitempty"`
	ScaleServe *ScaleServeResult `json:"serving_by_event_size,omitempty"`
	Memory45   *IngestResult     `json:"memory_45mp_ingest,omitempty"`
	BigUpload  *BigUploadResult  `json:"memory_big_chunked_upload,omitempty"`
	Targets    []Target          `json:"targets"`
	Errors     map[string]string `json:"errors,omitempty"`
}

// Target is one goal of the issue, with its verdict.
type Target struct {
	Name     string `json:"name"`
	Goal     string `json:"goal"`
	Measured string `json:"measured"`
	Met      bool   `json:"met"`
}

type config struct {
	quick        bool
	only         map[string]bool
	thumbSizes   []Size
	thumbRepeat  int
	thumbRounds  int
	ingestBytes  int64
	ingestRounds int
	conns        int
	serveDur     time.Duration
	serveRounds  int
	serveConns   int
	listPhotos   int
	listPerCell  int
	listRounds   int
	mem45Bytes   int64
	bigBytes     int64
	quietBusyPct float64
	quietMaxWait time.Duration
}

func main() {
	quick := flag.Bool("quick", false, "a smaller run: 12 and 24 MP thumbnails, 200 MB ingest, 1 GB big upload, fewer rounds (about 6 minutes)")
	binFlag := flag.String("bin", "", "a built gallerist binary (default: build ./cmd/gallerist into the temp folder)")
	out := flag.String("out", "bench/results/latest.json", "where to write the results JSON")
	only := flag.String("only", "", "comma-separated scenarios to run: thumbs,ingest,serve,listing,memory (default all; serve needs ingest)")
	tmpBase := flag.String("tmp", "", "folder for temporary data (default $TMPDIR); the fsync reference and the server's data go there")
	keep := flag.Bool("keep", false, "keep the temporary folder")
	conns := flag.Int("conns", 2, "parallel upload connections")
	busy := flag.Float64("quiet", 30, "before each scenario, wait (up to 2 minutes) until other processes use less than this % of the CPUs")
	flag.Parse()

	cfg := config{quick: *quick, conns: *conns, quietBusyPct: *busy, quietMaxWait: 2 * time.Minute, serveConns: 64}
	if *quick {
		cfg.thumbSizes = []Size{size12, size24}
		cfg.thumbRepeat, cfg.thumbRounds = 1, 2
		cfg.ingestBytes, cfg.ingestRounds = 200e6, 2
		cfg.serveDur, cfg.serveRounds = 5*time.Second, 2
		cfg.listPhotos, cfg.listPerCell, cfg.listRounds = 100_000, 30, 2
		cfg.mem45Bytes, cfg.bigBytes = 150e6, 1e9
	} else {
		cfg.thumbSizes = []Size{size12, size24, size45}
		cfg.thumbRepeat, cfg.thumbRounds = 2, 3
		cfg.ingestBytes, cfg.ingestRounds = 1e9, 3
		cfg.serveDur, cfg.serveRounds = 10*time.Second, 3
		cfg.listPhotos, cfg.listPerCell, cfg.listRounds = 100_000, 40, 3
		cfg.mem45Bytes, cfg.bigBytes = 500e6, 5e9
	}
	cfg.only = map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.only[s] = true
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, *binFlag, *out, *tmpBase, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func (c config) want(s string) bool { return len(c.only) == 0 || c.only[s] }

func run(ctx context.Context, cfg config, bin, out, tmpBase string, keep bool) error {
	start := time.Now()
	logf := func(f string, a ...any) {
		fmt.Fprintf(os.Stderr, "[%5.0fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(f, a...))
	}
	if _, err := os.Stat("cmd/gallerist"); err != nil {
		return fmt.Errorf("run from the repository root (cmd/gallerist not found)")
	}
	for _, tool := range []string{"vipsthumbnail", "vips", "wrk", "ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is not installed: run bench/install-deps (or make bench)", tool)
		}
	}
	if _, err := exec.LookPath("nginx"); err != nil {
		if _, err := os.Stat("/usr/sbin/nginx"); err != nil {
			return fmt.Errorf("nginx is not installed: run bench/install-deps (or make bench)")
		}
	}
	tmp, err := os.MkdirTemp(tmpBase, "gallerist-bench-*")
	if err != nil {
		return err
	}
	if keep {
		logf("temporary folder: %s (kept)", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	mode := "full"
	if cfg.quick {
		mode = "quick"
	}
	res := &Results{Started: start.UTC(), Mode: mode, Machine: machineInfo(tmp), Background: map[string]string{}, Errors: map[string]string{}}

	if bin == "" {
		logf("building ./cmd/gallerist")
		if bin, err = buildBinary(tmp); err != nil {
			return err
		}
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return err
	}

	// Fixtures.
	var sizes []Size
	if cfg.want("thumbs") {
		sizes = append(sizes, cfg.thumbSizes...)
	}
	if cfg.want("ingest") || cfg.want("serve") {
		sizes = appendSize(sizes, size24)
	}
	if cfg.want("memory") {
		sizes = appendSize(sizes, size45)
	}
	logf("fixtures (cached in the user cache folder; first run generates them)")
	fx, err := ensureFixtures(sizes, 3, logf)
	if err != nil {
		return err
	}
	video, err := ensureVideo(logf)
	if err != nil {
		return err
	}

	quiet := func(name string) {
		res.Background[name] = waitQuiet(cfg.quietBusyPct, cfg.quietMaxWait, logf)
	}
	fail := func(name string, err error) {
		logf("%s: FAILED: %v", name, err)
		res.Errors[name] = err.Error()
	}

	// 1. Thumbnails.
	if cfg.want("thumbs") {
		for _, s := range cfg.thumbSizes {
			quiet("thumbs " + s.Name)
			r, err := benchThumbs(ctx, fx[s.Name], cfg.thumbRepeat, cfg.thumbRounds, tmp, logf)
			if err != nil {
				fail("thumbs "+s.Name, err)
				continue
			}
			res.Thumbs = append(res.Thumbs, r)
		}
		if q, err := benchQuality(ctx, fx[size24.Name][0], tmp, media.DefaultConfig().JPEGQuality); err != nil {
			fail("quality", err)
		} else {
			res.Quality = q
			logf("quality: ours %.2f dB, vipsthumbnail %.2f, reference re-encoded %.2f, aliased control %.2f; floor %.2f",
				q.OursDB, q.VipsDB, q.RefQ85DB, q.AliasedDB, q.FloorDB)
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}

	// 4. Listing (its own data folder).
	if cfg.want("listing") {
		quiet("listing")
		if err := runListing(ctx, cfg, bin, tmp, res, logf); err != nil {
			fail("listing", err)
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}

	// 2. Ingest, then 3. serving from the photos it stored.
	if cfg.want("ingest") || cfg.want("serve") {
		quiet("ingest")
		if err := runIngestServe(ctx, cfg, bin, tmp, fx[size24.Name], res, logf); err != nil {
			fail("ingest/serve", err)
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}

	// 5. Memory.
	if cfg.want("memory") {
		quiet("memory")
		if err := runMemory(ctx, cfg, bin, tmp, fx[size45.Name], video, res, logf); err != nil {
			fail("memory", err)
		}
	}

	res.Seconds = time.Since(start).Seconds()
	res.Targets = evaluate(res)
	if len(res.Errors) == 0 {
		res.Errors = nil
	}
	printTable(os.Stdout, res)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
		return err
	}
	logf("wrote %s (%.1f minutes)", out, res.Seconds/60)
	if len(res.Errors) > 0 {
		return fmt.Errorf("%d scenario(s) failed: see errors in %s", len(res.Errors), out)
	}
	return nil
}

func appendSize(s []Size, x Size) []Size {
	for _, v := range s {
		if v == x {
			return s
		}
	}
	return append(s, x)
}

func runListing(ctx context.Context, cfg config, bin, tmp string, res *Results, logf func(string, ...any)) error {
	data := filepath.Join(tmp, "data-listing")
	thumb, err := generateJPEG(400, 267, 99, 1, fmt.Sprintf("%032x", 99), "2026:05:12 15:23:11")
	if err != nil {
		return err
	}
	d, err := prepareListing(ctx, data, cfg.listPhotos, thumb, logf)
	if err != nil {
		return err
	}
	token, err := cliToken(bin, data)
	if err != nil {
		return err
	}
	inst, err := startServer(bin, data, "127.0.0.1:0", filepath.Join(tmp, "listing.log"))
	if err != nil {
		return err
	}
	defer inst.Stop()
	a := newAPI(inst.URL, token)
	r, err := benchListing(ctx, a, d.big.ID, cfg.listPhotos, d.small.ID, cfg.listPerCell, cfg.listRounds, logf)
	if err != nil {
		return err
	}
	r.InsertSeconds = d.insertS
	if st, err := os.Stat(filepath.Join(data, "gallerist.db")); err == nil {
		r.DBMB = float64(st.Size()) / 1e6
	}
	res.Listing = r
	sr, err := benchScaleServe(ctx, a, d, tmp, 16, cfg.serveDur, logf)
	if err != nil {
		return fmt.Errorf("guest thumbnails at scale: %w", err)
	}
	res.ScaleServe = sr
	return nil
}

func runIngestServe(ctx context.Context, cfg config, bin, tmp string, fx24 []*Fixture, res *Results, logf func(string, ...any)) error {
	data := filepath.Join(tmp, "data-ingest")
	token, err := cliToken(bin, data)
	if err != nil {
		return err
	}
	inst, err := startServer(bin, data, "127.0.0.1:0", filepath.Join(tmp, "ingest.log"))
	if err != nil {
		return err
	}
	a := newAPI(inst.URL, token)
	set, err := newPhotoSet(fx24, cfg.ingestBytes, 1)
	if err != nil {
		inst.Stop()
		return err
	}
	rounds := cfg.ingestRounds
	if !cfg.want("ingest") {
		rounds = 1 // only to have photos to serve
	}
	ir, ev, err := benchIngest(ctx, inst, a, set, cfg.conns, rounds, filepath.Join(tmp, "fsync-ref"), "24MP", logf)
	if err != nil {
		inst.Stop()
		return err
	}
	ir.Workers = "default (GOMAXPROCS = " + strconv.Itoa(runtime.NumCPU()) + ")"
	if cfg.want("ingest") {
		res.Ingest = ir
	}
	if !cfg.want("serve") {
		inst.Stop()
		return nil
	}
	cookie, err := guestCookie(ctx, a, ev)
	if err != nil {
		inst.Stop()
		return err
	}
	photos, err := a.allPhotos(ctx, ev.ID)
	inst.Stop()
	if err != nil {
		return err
	}
	st := serveSetup{bin: bin, dataDir: data, tmp: tmp, ev: ev, cookie: cookie}
	for _, p := range photos {
		stem := strings.TrimSuffix(p.StoredName, filepath.Ext(p.StoredName))
		b, err := os.ReadFile(filepath.Join(data, "blobs", "thumbs", strconv.FormatInt(ev.ID, 10), stem+".jpg"))
		if err != nil {
			return fmt.Errorf("thumbnail of photo %d: %w", p.ID, err)
		}
		st.stems = append(st.stems, stem)
		st.thumbs = append(st.thumbs, b)
	}
	quiet := waitQuiet(cfg.quietBusyPct, cfg.quietMaxWait, logf)
	res.Background["serve"] = quiet
	sr, err := benchServe(ctx, st, cfg.serveConns, cfg.serveRounds, cfg.serveDur, logf)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	res.Serve = sr
	return nil
}

func runMemory(ctx context.Context, cfg config, bin, tmp string, fx45 []*Fixture, video string, res *Results, logf func(string, ...any)) error {
	// 5a: 45 MP photos, multipart then chunked, default workers, a fresh server.
	data := filepath.Join(tmp, "data-memory45")
	token, err := cliToken(bin, data)
	if err != nil {
		return err
	}
	inst, err := startServer(bin, data, "127.0.0.1:0", filepath.Join(tmp, "memory45.log"))
	if err != nil {
		return err
	}
	set, err := newPhotoSet(fx45, cfg.mem45Bytes, 6)
	if err != nil {
		inst.Stop()
		return err
	}
	mr, _, err := benchIngest(ctx, inst, newAPI(inst.URL, token), set, cfg.conns, 1, filepath.Join(tmp, "fsync-ref45"), "45MP", logf)
	if err == nil {
		if hwm, e := procStatusKB(inst.PID(), "VmHWM"); e == nil {
			mr.VmHWMMB = float64(hwm) / 1024
		}
		mr.Workers = "default (GOMAXPROCS = " + strconv.Itoa(runtime.NumCPU()) + ")"
		res.Memory45 = mr
	}
	inst.Stop()
	if err != nil {
		return fmt.Errorf("45 MP ingest: %w", err)
	}
	_ = os.RemoveAll(data)

	// 5b: one big chunked upload, a fresh server.
	data = filepath.Join(tmp, "data-big")
	if token, err = cliToken(bin, data); err != nil {
		return err
	}
	if inst, err = startServer(bin, data, "127.0.0.1:0", filepath.Join(tmp, "big.log")); err != nil {
		return err
	}
	defer inst.Stop()
	br, err := benchBigUpload(ctx, inst, newAPI(inst.URL, token), video, cfg.bigBytes, cfg.conns, logf)
	if err != nil {
		return fmt.Errorf("big upload: %w", err)
	}
	res.BigUpload = br
	return nil
}

// ---------------------------------------------------------------- machine and noise

func machineInfo(tmp string) map[string]string {
	m := map[string]string{"cpus": strconv.Itoa(runtime.NumCPU()), "go": runtime.Version(), "goarch": runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				m["cpu"] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m["memory"] = strings.Join(strings.Fields(strings.SplitN(string(b), "\n", 2)[0])[1:], " ")
	}
	if out, err := exec.Command("uname", "-r").Output(); err == nil {
		m["kernel"] = strings.TrimSpace(string(out))
	}
	if b, err := os.ReadFile("/etc/debian_version"); err == nil {
		m["debian"] = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("vips", "--version").Output(); err == nil {
		m["vips"] = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("/usr/sbin/nginx", "-v").CombinedOutput(); err == nil {
		m["nginx"] = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("df", "--output=source,fstype", tmp).Output(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		m["temp_filesystem"] = strings.Join(strings.Fields(lines[len(lines)-1]), " ")
	}
	if out, err := exec.Command("git", "describe", "--tags", "--always", "--dirty").Output(); err == nil {
		m["commit"] = strings.TrimSpace(string(out))
	}
	return m
}

// cpuBusy is the share of all CPUs that were busy over d, in percent.
func cpuBusy(d time.Duration) float64 {
	read := func() (busy, total uint64) {
		b, _ := os.ReadFile("/proc/stat")
		f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
		for i, v := range f[1:] {
			n, _ := strconv.ParseUint(v, 10, 64)
			total += n
			if i != 3 && i != 4 { // idle, iowait
				busy += n
			}
		}
		return
	}
	b0, t0 := read()
	time.Sleep(d)
	b1, t1 := read()
	if t1 == t0 {
		return 0
	}
	return 100 * float64(b1-b0) / float64(t1-t0)
}

// waitQuiet waits until the machine is quiet (this process idle meanwhile) or maxWait
// has passed, and says how busy it was.
func waitQuiet(pct float64, maxWait time.Duration, logf func(string, ...any)) string {
	deadline := time.Now().Add(maxWait)
	first := true
	for {
		b := cpuBusy(2 * time.Second)
		if b <= pct {
			return fmt.Sprintf("%.0f%%", b)
		}
		if time.Now().After(deadline) {
			logf("the machine stays busy (%.0f%% of the CPUs used by other processes): measuring anyway; figures are noisy", b)
			return fmt.Sprintf("%.0f%% (busy)", b)
		}
		if first {
			logf("other processes use %.0f%% of the CPUs: waiting up to %s for quiet", b, maxWait)
			first = false
		}
	}
}

// ---------------------------------------------------------------- verdicts and table

func evaluate(r *Results) []Target {
	var t []Target
	for _, th := range r.Thumbs {
		if th.Size != size24.Name {
			continue
		}
		ok := th.PerCoreRatio.Median >= 1.0 && th.SizesChecked && r.Quality != nil && r.Quality.Pass
		q := "no quality check"
		if r.Quality != nil {
			q = fmt.Sprintf("PSNR %.2f dB (floor %.2f)", r.Quality.OursDB, r.Quality.FloorDB)
		}
		t = append(t, Target{"thumbnails", "≥ 1.0x vipsthumbnail per core (CPU per photo, display + thumbnail) at 24 MP, sizes checked, PSNR floor",
			fmt.Sprintf("%.2fx (%.0f vs %.0f ms CPU/photo), sizes %s, %s", th.PerCoreRatio.Median, th.OursCPUms.Median, th.VipsCPUms.Median, okWord(th.SizesChecked), q), ok})
	}
	if in := r.Ingest; in != nil {
		t = append(t, Target{"ingest chunked", "≥ 0.8x the write+fsync rate, until every photo is processed",
			fmt.Sprintf("%.2fx (%.1f vs %.0f MB/s); bytes accepted: %.2fx", in.Chunked.RatioProcessed.Median, in.Chunked.ProcessedMBs.Median, in.FsyncMBs.Median, in.Chunked.RatioAccepted.Median),
			in.Chunked.RatioProcessed.Median >= 0.8})
		t = append(t, Target{"ingest multipart", "close to chunked (≥ 0.7x the write+fsync rate), until processed",
			fmt.Sprintf("%.2fx (%.1f MB/s); bytes accepted: %.2fx", in.Multipart.RatioProcessed.Median, in.Multipart.ProcessedMBs.Median, in.Multipart.RatioAccepted.Median),
			in.Multipart.RatioProcessed.Median >= 0.7})
	}
	if s := r.Serve; s != nil {
		t = append(t, Target{"serving", "≥ 0.8x nginx static, with guest authorisation",
			fmt.Sprintf("%.2fx (%.0f vs %.0f req/s)", s.RatioDirect.Median, s.Gallerist.Median, s.Nginx.Median), s.RatioDirect.Median >= 0.8 && s.ServeFailures == ""})
		t = append(t, Target{"serving x-accel", "equal to nginx static (≥ 0.95x) with X-Accel-Redirect",
			fmt.Sprintf("%.2fx (%.0f req/s)", s.RatioAccel.Median, s.Accel.Median), s.RatioAccel.Median >= 0.95 && s.ServeFailures == ""})
	}
	if l := r.Listing; l != nil {
		t = append(t, Target{"listing first page", fmt.Sprintf("p99 < 10 ms for every sort at %d photos", l.Photos),
			fmt.Sprintf("worst p99 %.1f ms", l.WorstFirstP99), l.WorstFirstP99 < 10})
		how := "by offset; the server offers no cursor"
		if l.Cursor {
			how = fmt.Sprintf("by next_cursor; by offset the p99 reaches %.1f ms", l.WorstOffsetP99)
		}
		t = append(t, Target{"listing deep page", "p99 ≤ 2x the first page's, every sort",
			fmt.Sprintf("worst %.1fx (p99 up to %.1f ms at photo %d, %s)", l.WorstDeepRate, l.WorstDeepP99, l.Photos-l.Limit, how), l.WorstDeepRate <= 2})
	}
	if m := r.Memory45; m != nil {
		peak := max(m.Multipart.PeakRSSMB.Max, m.Chunked.PeakRSSMB.Max, m.VmHWMMB)
		t = append(t, Target{"memory 45 MP", "peak RSS < 400 MiB ingesting 45 MP photos with default workers",
			fmt.Sprintf("%.0f MiB (VmHWM)", peak), peak < 400})
	}
	if b := r.BigUpload; b != nil {
		t = append(t, Target{"memory big upload", fmt.Sprintf("RSS flat within 50 MiB across a %.0f GB chunked upload", b.GB),
			fmt.Sprintf("+%.0f MiB over idle (%.0f → %.0f), drift after the first tenth %.0f MiB", b.GrowthMB, b.BaselineRSSMB, b.PeakRSSMB, b.DriftMB), b.GrowthMB <= 50})
	}
	return t
}

func okWord(b bool) string {
	if b {
		return "ok"
	}
	return "WRONG"
}

func f1(s Stat) string { return fmt.Sprintf("%.1f", s.Median) }

func span(s Stat, prec int) string {
	if len(s.Runs) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.*f (%.*f–%.*f)", prec, s.Median, prec, s.Min, prec, s.Max)
}

// printTable prints the results as Markdown tables: median (min–max) over the runs.
func printTable(w io.Writer, r *Results) {
	fmt.Fprintf(w, "\n## Gallerist benchmark (%s run, %s, %s CPUs, %s)\n\n", r.Mode, r.Machine["cpu"], r.Machine["cpus"], r.Started.Format("2006-01-02"))
	fmt.Fprintln(w, "Median (min–max) over the runs. Ratio = Gallerist / reference, run by run.")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	row := func(cols ...string) { fmt.Fprintln(tw, "| "+strings.Join(cols, "\t| ")+"\t|") }
	row("scenario", "Gallerist", "reference", "ratio", "unit")
	row("---", "---", "---", "---", "---")
	for _, th := range r.Thumbs {
		row(fmt.Sprintf("1. thumbs %s (%.1f MB, %s) CPU/photo, 1 core", th.Size, th.MeanFileMB, th.JPEGCodec), span(th.OursCPUms, 0), span(th.VipsCPUms, 0)+" vipsthumbnail", span(th.PerCoreRatio, 2), "ms (ratio: photos/s/core)")
		row(fmt.Sprintf("1. thumbs %s, 2 workers / 2 processes", th.Size), span(th.Ours2Rate, 2), span(th.Vips2Rate, 2), span(th.TwoCoreRatio, 2), "photos/s")
	}
	if q := r.Quality; q != nil {
		row(fmt.Sprintf("1. display luma PSNR vs Lanczos-3 reference (24 MP, q%d)", q.Quality), fmt.Sprintf("%.2f", q.OursDB), fmt.Sprintf("%.2f vipsthumbnail; %.2f ceiling; %.2f aliased", q.VipsDB, q.RefQ85DB, q.AliasedDB), fmt.Sprintf("floor %.2f", q.FloorDB), "dB")
	}
	if in := r.Ingest; in != nil {
		lbl := fmt.Sprintf("%d × %s, %.0f MB, %d conns", in.Photos, in.Size, in.MB, in.Conns)
		row("2. ingest multipart until processed ("+lbl+")", span(in.Multipart.ProcessedMBs, 1), span(in.FsyncMBs, 0)+" write+fsync", span(in.Multipart.RatioProcessed, 3), "MB/s")
		row("2. ingest chunked until processed", span(in.Chunked.ProcessedMBs, 1), span(in.FsyncMBs, 0), span(in.Chunked.RatioProcessed, 3), "MB/s")
		row("2. ingest multipart, bytes accepted", span(in.Multipart.AcceptedMBs, 1), span(in.FsyncMBs, 0), span(in.Multipart.RatioAccepted, 3), "MB/s")
		row("2. ingest chunked, bytes accepted", span(in.Chunked.AcceptedMBs, 1), span(in.FsyncMBs, 0), span(in.Chunked.RatioAccepted, 3), "MB/s")
		row("2. photos processed per second (multipart / chunked)", span(in.Multipart.PhotosPerS, 2)+" / "+span(in.Chunked.PhotosPerS, 2), "PicPeak 2.5–2.7", "", "photos/s")
		row("2. server CPU per photo (multipart / chunked)", span(in.Multipart.ServerCPUmsPerFile, 0)+" / "+span(in.Chunked.ServerCPUmsPerFile, 0), "", "", "ms")
		row("2. peak server RSS (multipart / chunked)", span(in.Multipart.PeakRSSMB, 0)+" / "+span(in.Chunked.PeakRSSMB, 0), "PicPeak 270", "", "MiB")
		if in.Chunked.ChunkRetries > 0 {
			row("2. chunk PUTs answered 5xx, sent again", fmt.Sprint(in.Chunked.ChunkRetries), "", "", "requests")
		}
	}
	if s := r.Serve; s != nil {
		lbl := fmt.Sprintf("%d thumbs of %.0f KB, %d conns", s.Thumbnails, s.MeanThumbKB, s.Conns)
		row("3. serve guest thumbnails ("+lbl+")", span(s.Gallerist, 0), span(s.Nginx, 0)+" nginx static", span(s.RatioDirect, 2), "req/s")
		row("3. serve via nginx X-Accel-Redirect", span(s.Accel, 0), span(s.Nginx, 0), span(s.RatioAccel, 2), "req/s")
		row("3. p99 latency (direct / x-accel / nginx)", f1(s.GalleristP99)+" / "+f1(s.AccelP99), f1(s.NginxP99), "", "ms")
		row("3. Gallerist CPU per request (direct)", span(s.GalleristCPU, 0), "", "", "µs")
		row("3. Gallerist CPU per request (x-accel)", span(s.AccelCPU, 0), "", "", "µs")
	}
	if l := r.Listing; l != nil {
		for i := 0; i < len(l.Cells); {
			j := i + 1
			for j < len(l.Cells) && l.Cells[j].Sort == l.Cells[i].Sort {
				j++
			}
			var names, p50s, p99s []string
			for _, c := range l.Cells[i:j] {
				names = append(names, c.Page)
				p50s = append(p50s, f1(c.P50))
				p99s = append(p99s, f1(c.P99))
			}
			last := l.Cells[j-1]
			row(fmt.Sprintf("4. list %s (%d photos) p50: %s", l.Cells[i].Sort, l.Photos, strings.Join(names, " / ")), strings.Join(p50s, " / "), "", "", "ms")
			row(fmt.Sprintf("4. list %s p99: %s", l.Cells[i].Sort, strings.Join(names, " / ")), strings.Join(p99s, " / "), "",
				fmt.Sprintf("%s/first %.2f", last.Page, last.P99.Median/l.Cells[i].P99.Median), "ms")
			i = j
		}
		row("4. read 1,000 photos (5 pages of 200): p50 / p99", f1(l.All1000P50)+" / "+f1(l.All1000P99), "PicPeak 27 / 67 (one unpaginated list)", "", "ms")
	}
	if s := r.ScaleServe; s != nil {
		row(fmt.Sprintf("4. guest thumbnails, %d conns: %d-photo event / %d-photo event", s.Conns, s.SmallPhotos, s.LargePhotos),
			fmt.Sprintf("%.0f / %.1f (p50 %.1f / %.0f ms, p99 %.0f)", s.SmallRPS, s.LargeRPS, s.SmallP50, s.LargeP50, s.LargeP99), "", fmt.Sprintf("%.3f", s.LargeRPS/s.SmallRPS), "req/s")
	}
	if m := r.Memory45; m != nil {
		row(fmt.Sprintf("5. peak RSS ingesting %d × 45 MP (multipart / chunked)", m.Photos), fmt.Sprintf("%.0f / %.0f (VmHWM %.0f)", m.Multipart.PeakRSSMB.Max, m.Chunked.PeakRSSMB.Max, m.VmHWMMB), "PicPeak 270 (24 MP)", "", "MiB")
		row("5. 45 MP processed (multipart / chunked)", span(m.Multipart.PhotosPerS, 2)+" / "+span(m.Chunked.PhotosPerS, 2), "", "", "photos/s")
	}
	if b := r.BigUpload; b != nil {
		row(fmt.Sprintf("5. RSS across a %.0f GB chunked upload: idle → peak", b.GB), fmt.Sprintf("%.0f → %.0f (+%.0f; drift %.0f)", b.BaselineRSSMB, b.PeakRSSMB, b.GrowthMB, b.DriftMB), "", "", "MiB")
		if b.ChunkRetries > 0 {
			row("5. chunk PUTs answered 5xx, sent again", fmt.Sprint(b.ChunkRetries), "", "", "requests")
		}
		row(fmt.Sprintf("5. %.0f GB chunked: chunks / incl. complete", b.GB), fmt.Sprintf("%.0f / %.0f (complete %.1f s)", b.ChunksMBs, b.AcceptedMBs, b.CompleteS), "", "", "MB/s")
	}
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Targets:")
	for _, t := range r.Targets {
		mark := "NOT MET"
		if t.Met {
			mark = "met"
		}
		fmt.Fprintf(w, "- %s: %s — %s: %s\n", t.Name, t.Goal, mark, t.Measured)
	}
	for k, v := range r.Errors {
		fmt.Fprintf(w, "- ERROR %s: %s\n", k, v)
	}
	fmt.Fprintln(w)
}
