package server

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gallerist/gallerist/storage"
)

// HealthResponse answers /healthz and /readyz.
type HealthResponse struct {
	Status  string            `json:"status" required:"true" enum:"ok,unavailable"`
	Version string            `json:"version" required:"true"`
	Checks  map[string]string `json:"checks,omitempty" description:"Each part and its state (ok, or the problem)."`
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, HealthResponse{Status: "ok", Version: Version})
}

// readyz checks the parts a request needs: the database answers and the data folder
// takes writes. ffmpeg is optional (videos only) and reported, not required.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 5*time.Second)
	defer cancel()
	checks := map[string]string{}
	ready := true
	if err := s.db.Ping(ctx); err != nil {
		checks["database"], ready = err.Error(), false
	} else {
		checks["database"] = "ok"
	}
	if err := probeWritable(s.cfg.TempDir()); err != nil {
		checks["data_dir"], ready = err.Error(), false
	} else {
		checks["data_dir"] = "ok"
	}
	for name, bin := range map[string]string{"ffmpeg": s.cfg.FFmpegPath, "ffprobe": s.cfg.FFprobePath} {
		if _, err := exec.LookPath(bin); err != nil {
			checks[name] = "missing: video processing is off (apt-get install ffmpeg)"
		} else {
			checks[name] = "ok"
		}
	}
	if !ready {
		return apiError("unavailable", "the server is not ready").withDetails("checks", checks)
	}
	return c.JSON(http.StatusOK, HealthResponse{Status: "ok", Version: Version, Checks: checks})
}

func probeWritable(dir string) error {
	f, err := os.CreateTemp(dir, "ready-*")
	if err != nil {
		return err
	}
	name := f.Name()
	err = errors.Join(f.Close(), os.Remove(name))
	if err != nil {
		return err
	}
	_, err = os.Stat(filepath.Dir(name))
	return err
}

// jobJanitor is the queue kind of the cleanup job.
const jobJanitor = "janitor"

// scheduleJanitor enqueues the cleanup job at start and then every JanitorInterval;
// with several processes on one database, at most one such job waits at a time.
func (s *Server) scheduleJanitor(ctx context.Context) {
	t := time.NewTicker(s.cfg.JanitorInterval)
	defer t.Stop()
	for {
		if queued, err := s.db.EnqueueJobOnce(ctx, jobJanitor, struct{}{}, time.Now()); err != nil && ctx.Err() == nil {
			s.log.Error("schedule janitor", "error", err)
		} else if queued {
			s.queue.Notify()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// runJanitorJob is the queue handler of the cleanup job.
func (s *Server) runJanitorJob(ctx context.Context, _ *storage.Job) error {
	_, err := s.Janitor(ctx)
	return err
}

// JanitorReport tells what one janitor pass removed.
type JanitorReport struct {
	Blobs     int
	TempFiles int
	Uploads   int // expired upload sessions removed with their chunks
}

// Janitor removes what crashes and failures leave behind: blobs in the GC ledger whose
// time has come (never one a photo row points at), expired upload sessions with their
// chunks, and temporary files older than BlobGrace.
func (s *Server) Janitor(ctx context.Context) (JanitorReport, error) {
	var rep JanitorReport
	now := time.Now()
	for {
		keys, err := s.db.DueBlobGC(ctx, now, 500)
		if err != nil {
			return rep, err
		}
		if len(keys) == 0 {
			break
		}
		var gone []string
		for _, k := range keys {
			if err := s.blobs.Delete(ctx, k); err != nil {
				s.log.Warn("janitor: remove blob", "key", k, "error", err)
				continue
			}
			gone = append(gone, k)
		}
		if err := s.db.RemoveBlobGC(ctx, gone...); err != nil {
			return rep, err
		}
		rep.Blobs += len(gone)
		if len(gone) < len(keys) {
			break // some failed; try again next pass
		}
	}
	expired, err := s.db.FindExpiredUploads(ctx, now, 200)
	if err != nil {
		return rep, err
	}
	for _, u := range expired {
		s.removeChunks(ctx, u)
		if err := s.db.DeleteUpload(ctx, u.ID); err != nil {
			return rep, err
		}
		rep.Uploads++
	}
	for _, dir := range []string{s.cfg.TempDir(), filepath.Join(s.blobs.Root(), ".tmp")} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, de := range entries {
			info, err := de.Info()
			if err != nil || de.IsDir() || now.Sub(info.ModTime()) < s.cfg.BlobGrace {
				continue
			}
			if os.Remove(filepath.Join(dir, de.Name())) == nil {
				rep.TempFiles++
			}
		}
	}
	if rep.Blobs > 0 || rep.TempFiles > 0 || rep.Uploads > 0 {
		s.log.Info("janitor removed leftovers", "blobs", rep.Blobs, "temp_files", rep.TempFiles, "expired_uploads", rep.Uploads)
	}
	return rep, nil
}
