package main

// Scenario 2 (ingest) and 5 (memory). The same set of photos goes up as multipart
// batches and as chunked uploads over loopback, and the clock stops when every photo is
// fully processed (variant_status "ready": display copy and thumbnail written). The
// reference writes and fsyncs the same bytes as files on the same file system, with the
// same number of parallel writers, back to back with each upload run.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime/multipart"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// photoSet is count distinct photos cycling over the bases of one size.
type photoSet struct {
	fx     []*Fixture
	bases  [][]byte
	count  int
	total  int64
	offset int // variant numbers start here, so runs never repeat bytes
}

func newPhotoSet(fx []*Fixture, targetBytes int64, minCount int) (*photoSet, error) {
	s := &photoSet{fx: fx}
	for _, f := range fx {
		b, err := os.ReadFile(f.Path)
		if err != nil {
			return nil, err
		}
		s.bases = append(s.bases, b)
	}
	for s.total < targetBytes || s.count < minCount {
		s.total += int64(len(s.bases[s.count%len(s.bases)]))
		s.count++
	}
	return s, nil
}

// file returns photo i of the set.
func (s *photoSet) file(i int) (name string, b []byte, err error) {
	k := i % len(s.bases)
	n := s.offset + i/len(s.bases) + 1
	b, err = s.fx[k].Variant(s.bases[k], n)
	return fmt.Sprintf("DSC_%05d.jpg", s.offset+i), b, err
}

func (s *photoSet) size(i int) int64 { return int64(len(s.bases[i%len(s.bases)])) }

// IngestMode is one way of uploading.
type IngestMode struct {
	AcceptedMBs        Stat `json:"accepted_mb_per_s"`  // bytes / time until the last upload answered
	ProcessedMBs       Stat `json:"processed_mb_per_s"` // bytes / time until every photo was ready
	PhotosPerS         Stat `json:"processed_photos_per_s"`
	RatioProcessed     Stat `json:"processed_ratio_vs_fsync"`
	RatioAccepted      Stat `json:"accepted_ratio_vs_fsync"`
	PeakRSSMB          Stat `json:"server_peak_rss_mib"`
	ServerCPUmsPerFile Stat `json:"server_cpu_ms_per_photo"`
	// ChunkRetries counts chunk PUTs answered 5xx and sent again (a resumable client
	// retries; see docs/uploads.md), over all runs.
	ChunkRetries   int64  `json:"chunk_retries_after_5xx"`
	LastRetryCause string `json:"last_retry_cause,omitempty"`
}

// IngestResult is scenario 2 (or 5a) for one set of photos.
type IngestResult struct {
	Size      string      `json:"size"`
	Photos    int         `json:"photos"`
	MB        float64     `json:"mb"`
	Conns     int         `json:"connections"`
	Workers   string      `json:"media_workers"`
	FsyncMBs  Stat        `json:"fsync_reference_mb_per_s"`
	Multipart *IngestMode `json:"multipart"`
	Chunked   *IngestMode `json:"chunked"`
	VmHWMMB   float64     `json:"server_vmhwm_mib,omitempty"`
}

func newMode() *IngestMode {
	return &IngestMode{AcceptedMBs: Stat{Unit: "MB/s"}, ProcessedMBs: Stat{Unit: "MB/s"}, PhotosPerS: Stat{Unit: "photos/s"},
		PeakRSSMB: Stat{Unit: "MiB"}, ServerCPUmsPerFile: Stat{Unit: "ms"}}
}

// fsyncReference writes every file of the set into dir with conns parallel writers, each
// file written, fsynced and closed, then the directory fsynced. It returns MB/s.
func fsyncReference(set *photoSet, dir string, conns int) (float64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	t0 := time.Now()
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= set.count {
					return
				}
				name, b, err := set.file(i)
				if err == nil {
					err = writeSync(filepath.Join(dir, name), b)
				}
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	d, err := os.Open(dir)
	if err != nil {
		return 0, err
	}
	err = d.Sync()
	d.Close()
	return float64(set.total) / 1e6 / time.Since(t0).Seconds(), err
}

func writeSync(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

type uploadAnswer struct {
	Uploaded []struct {
		ID int64 `json:"id"`
	} `json:"uploaded"`
	Skipped []struct {
		Filename string `json:"filename"`
		Code     string `json:"code"`
	} `json:"skipped"`
}

// uploadMultipart sends the set as multipart batches of at most 10 files and 95 MB,
// conns requests at a time.
func uploadMultipart(ctx context.Context, a *api, eventID int64, set *photoSet, conns int) error {
	var batches [][]int
	var cur []int
	var curBytes int64
	for i := range set.count {
		if len(cur) > 0 && (len(cur) == 10 || curBytes+set.size(i) > 95<<20) {
			batches = append(batches, cur)
			cur, curBytes = nil, 0
		}
		cur = append(cur, i)
		curBytes += set.size(i)
	}
	batches = append(batches, cur)
	return parallel(conns, len(batches), func(bi int) error {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, i := range batches[bi] {
			name, b, err := set.file(i)
			if err != nil {
				return err
			}
			w, err := mw.CreateFormFile("photos", name)
			if err != nil {
				return err
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		if err := mw.Close(); err != nil {
			return err
		}
		var ans uploadAnswer
		if err := a.do(ctx, "POST", fmt.Sprintf("/api/v1/events/%d/photos", eventID), buf.Bytes(), mw.FormDataContentType(), &ans, 201); err != nil {
			return fmt.Errorf("multipart batch %d: %w", bi, err)
		}
		if len(ans.Uploaded) != len(batches[bi]) {
			return fmt.Errorf("multipart batch %d: %d of %d stored, skipped %+v", bi, len(ans.Uploaded), len(batches[bi]), ans.Skipped)
		}
		return nil
	})
}

type uploadSession struct {
	UploadID   string `json:"upload_id"`
	ChunkSize  int64  `json:"chunk_size"`
	ChunkCount int    `json:"chunk_count"`
}

// uploadChunked sends each photo as a chunked upload session (open, chunks in order,
// complete), conns photos at a time.
func uploadChunked(ctx context.Context, a *api, eventID int64, set *photoSet, conns int, rt *retrier) error {
	return parallel(conns, set.count, func(i int) error {
		name, b, err := set.file(i)
		if err != nil {
			return err
		}
		var s uploadSession
		if err := a.do(ctx, "POST", fmt.Sprintf("/api/v1/events/%d/uploads", eventID),
			map[string]any{"filename": name, "size": len(b), "mime_type": "image/jpeg"}, "", &s, 201); err != nil {
			return fmt.Errorf("open upload of %s: %w", name, err)
		}
		for c := 0; c < s.ChunkCount; c++ {
			lo := int64(c) * s.ChunkSize
			hi := min(lo+s.ChunkSize, int64(len(b)))
			if err := rt.put(ctx, a, fmt.Sprintf("/api/v1/uploads/%s/chunks/%d", s.UploadID, c), b[lo:hi]); err != nil {
				return fmt.Errorf("chunk %d of %s: %w", c, name, err)
			}
		}
		if err := a.do(ctx, "POST", "/api/v1/uploads/"+s.UploadID+"/complete", nil, "", nil, 201); err != nil {
			return fmt.Errorf("complete %s: %w", name, err)
		}
		return nil
	})
}

// retrier sends chunks again after a 5xx answer, as a resumable client does.
type retrier struct {
	count atomic.Int64
	mu    sync.Mutex
	last  string
}

func (r *retrier) put(ctx context.Context, a *api, path string, body []byte) error {
	for try := 1; ; try++ {
		err := a.do(ctx, "PUT", path, body, "application/octet-stream", nil, 200)
		var ae *apiErr
		if err == nil || try == 4 || !errors.As(err, &ae) || ae.Status < 500 {
			return err
		}
		r.count.Add(1)
		r.mu.Lock()
		r.last = err.Error()
		r.mu.Unlock()
		time.Sleep(time.Duration(try) * 100 * time.Millisecond)
	}
}

// parallel runs f(0..n-1) on conns goroutines and returns the first error.
func parallel(conns, n int, f func(int) error) error {
	var next atomic.Int64
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				mu.Lock()
				stop := firstErr != nil
				mu.Unlock()
				if stop {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

// ingestRun uploads the set into a new event in one mode and waits until it is
// processed. It returns the event.
func ingestRun(ctx context.Context, inst *instance, a *api, set *photoSet, mode string, conns int, m *IngestMode, label string) (eventAnswer, error) {
	ev, err := a.createEvent(ctx, fmt.Sprintf("Ingest %s %s", label, mode))
	if err != nil {
		return ev, err
	}
	rss := sampleRSS(inst.PID(), 50*time.Millisecond)
	cpu0 := procCPU(inst.PID())
	t0 := time.Now()
	if mode == "multipart" {
		err = uploadMultipart(ctx, a, ev.ID, set, conns)
	} else {
		var rt retrier
		err = uploadChunked(ctx, a, ev.ID, set, conns, &rt)
		m.ChunkRetries += rt.count.Load()
		if rt.last != "" {
			m.LastRetryCause = inst.withLog(errors.New(rt.last)).Error()
		}
	}
	accepted := time.Since(t0)
	if err != nil {
		rss.Stop()
		return ev, inst.withLog(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	done, err := a.waitProcessed(wctx, ev.ID, set.count, 100*time.Millisecond)
	cancel()
	peak := rss.Stop()
	if err != nil {
		return ev, inst.withLog(err)
	}
	processed := done.Sub(t0)
	mb := float64(set.total) / 1e6
	m.AcceptedMBs.add(mb / accepted.Seconds())
	m.ProcessedMBs.add(mb / processed.Seconds())
	m.PhotosPerS.add(float64(set.count) / processed.Seconds())
	m.PeakRSSMB.add(peak)
	m.ServerCPUmsPerFile.add(ms(procCPU(inst.PID())-cpu0) / float64(set.count))
	return ev, nil
}

// benchIngest runs rounds of: fsync reference, multipart, chunked. It keeps the last
// multipart event (for the serving scenario) and deletes the others.
func benchIngest(ctx context.Context, inst *instance, a *api, set *photoSet, conns, rounds int, refDir, label string, logf func(string, ...any)) (*IngestResult, eventAnswer, error) {
	res := &IngestResult{Size: set.fx[0].Size.Name, Photos: set.count, MB: float64(set.total) / 1e6, Conns: conns,
		FsyncMBs: Stat{Unit: "MB/s"}, Multipart: newMode(), Chunked: newMode()}
	var keep eventAnswer
	for r := range rounds {
		fs, err := fsyncReference(set, refDir, conns)
		if err != nil {
			return nil, keep, fmt.Errorf("fsync reference: %w", err)
		}
		res.FsyncMBs.add(fs)
		for _, mode := range []string{"multipart", "chunked"} {
			m := res.Multipart
			if mode == "chunked" {
				m = res.Chunked
			}
			set.offset += set.count
			ev, err := ingestRun(ctx, inst, a, set, mode, conns, m, label)
			if err != nil {
				return nil, keep, fmt.Errorf("%s ingest: %w", mode, err)
			}
			logf("ingest %s %s round %d: %d photos %.0f MB, accepted %.1f MB/s, processed %.1f MB/s (%.2f photos/s), fsync ref %.0f MB/s, peak RSS %.0f MiB (load %s)",
				label, mode, r+1, set.count, res.MB, m.AcceptedMBs.Runs[r], m.ProcessedMBs.Runs[r], m.PhotosPerS.Runs[r], fs, m.PeakRSSMB.Runs[r], loadAvg())
			if mode == "multipart" && r == rounds-1 {
				keep = ev
				continue
			}
			if err := a.do(ctx, "DELETE", fmt.Sprintf("/api/v1/events/%d", ev.ID), nil, "", nil, 204); err != nil {
				logf("delete event %d: %v", ev.ID, err)
			}
		}
	}
	for _, m := range []*IngestMode{res.Multipart, res.Chunked} {
		m.RatioProcessed = ratioStat(m.ProcessedMBs, res.FsyncMBs)
		m.RatioAccepted = ratioStat(m.AcceptedMBs, res.FsyncMBs)
	}
	return res, keep, nil
}

// BigUploadResult is scenario 5b: one large file through the chunked route.
type BigUploadResult struct {
	GB            float64   `json:"gb"`
	Conns         int       `json:"connections"`
	ChunkMB       float64   `json:"chunk_mb"`
	BaselineRSSMB float64   `json:"baseline_rss_mib"`
	PeakRSSMB     float64   `json:"peak_rss_mib"`
	GrowthMB      float64   `json:"growth_mib"`                  // peak - idle baseline
	DriftMB       float64   `json:"drift_after_first_tenth_mib"` // max over tenths 2..10 - tenth 1
	RSSByTenth    []float64 `json:"rss_mib_at_each_tenth"`
	ChunksMBs     float64   `json:"chunks_mb_per_s"`
	CompleteS     float64   `json:"complete_s"`
	AcceptedMBs   float64   `json:"accepted_mb_per_s"`
	ProcessedS    float64   `json:"until_processed_s"`
	VmHWMMB       float64   `json:"server_vmhwm_mib"`
	ChunkRetries  int64     `json:"chunk_retries_after_5xx"`
}

// benchBigUpload sends one padded video of total bytes as a chunked upload, with conns
// chunks in flight, sampling the server's RSS, then waits for its poster.
func benchBigUpload(ctx context.Context, inst *instance, a *api, videoPath string, total int64, conns int, logf func(string, ...any)) (*BigUploadResult, error) {
	video, err := os.ReadFile(videoPath)
	if err != nil {
		return nil, err
	}
	pv := newPaddedVideo(video, total, uint64(time.Now().UnixNano()))
	ev, err := a.createEvent(ctx, "Big upload")
	if err != nil {
		return nil, err
	}
	var s uploadSession
	if err := a.do(ctx, "POST", fmt.Sprintf("/api/v1/events/%d/uploads", ev.ID),
		map[string]any{"filename": "ceremony.mp4", "size": total, "mime_type": "video/mp4"}, "", &s, 201); err != nil {
		return nil, err
	}
	runtime.GC()
	time.Sleep(500 * time.Millisecond)
	base, _ := procStatusKB(inst.PID(), "VmRSS")
	res := &BigUploadResult{GB: float64(total) / 1e9, Conns: conns, ChunkMB: float64(s.ChunkSize) / (1 << 20), BaselineRSSMB: float64(base) / 1024}
	rss := sampleRSS(inst.PID(), 50*time.Millisecond)
	var sent atomic.Int64
	var tenthMu sync.Mutex
	nextTenth := int64(1)
	var rt retrier
	t0 := time.Now()
	bufs := make(chan []byte, conns)
	for range conns {
		bufs <- make([]byte, s.ChunkSize)
	}
	err = parallel(conns, s.ChunkCount, func(c int) error {
		buf := <-bufs
		defer func() { bufs <- buf }()
		lo := int64(c) * s.ChunkSize
		n := min(s.ChunkSize, total-lo)
		pv.ReadAt(buf[:n], lo)
		if err := rt.put(ctx, a, fmt.Sprintf("/api/v1/uploads/%s/chunks/%d", s.UploadID, c), buf[:n]); err != nil {
			return fmt.Errorf("chunk %d: %w", c, err)
		}
		done := sent.Add(n)
		tenthMu.Lock()
		for nextTenth <= 10 && done*10 >= total*nextTenth {
			res.RSSByTenth = append(res.RSSByTenth, rss.Current())
			nextTenth++
		}
		tenthMu.Unlock()
		return nil
	})
	chunksDone := time.Since(t0)
	if err != nil {
		rss.Stop()
		return nil, inst.withLog(err)
	}
	tc := time.Now()
	if err := a.do(ctx, "POST", "/api/v1/uploads/"+s.UploadID+"/complete", nil, "", nil, 201); err != nil {
		rss.Stop()
		return nil, inst.withLog(fmt.Errorf("complete: %w", err))
	}
	res.CompleteS = time.Since(tc).Seconds()
	accepted := time.Since(t0)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	doneAt, err := a.waitProcessed(wctx, ev.ID, 1, 200*time.Millisecond)
	cancel()
	res.PeakRSSMB = rss.Stop()
	if err != nil {
		return nil, err
	}
	res.ChunkRetries = rt.count.Load()
	res.GrowthMB = res.PeakRSSMB - res.BaselineRSSMB
	if len(res.RSSByTenth) > 1 {
		for _, v := range res.RSSByTenth[1:] {
			res.DriftMB = max(res.DriftMB, v-res.RSSByTenth[0])
		}
	}
	res.ChunksMBs = float64(total) / 1e6 / chunksDone.Seconds()
	res.AcceptedMBs = float64(total) / 1e6 / accepted.Seconds()
	res.ProcessedS = doneAt.Sub(t0).Seconds()
	if hwm, err := procStatusKB(inst.PID(), "VmHWM"); err == nil {
		res.VmHWMMB = float64(hwm) / 1024
	}
	logf("big upload %.1f GB: chunks %.0f MB/s, complete %.1fs, RSS %.0f → peak %.0f MiB (+%.0f), processed after %.1fs",
		res.GB, res.ChunksMBs, res.CompleteS, res.BaselineRSSMB, res.PeakRSSMB, res.GrowthMB, res.ProcessedS)
	// Free the disk: 2 × total bytes were written.
	if err := a.do(ctx, "DELETE", fmt.Sprintf("/api/v1/events/%d", ev.ID), nil, "", nil, 204); err != nil {
		logf("delete event %d: %v", ev.ID, err)
	}
	return res, nil
}
