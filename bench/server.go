package main

// Starting the built gallerist binary on loopback with a data folder, as
// cmd/gallerist/e2e_test.go does, and talking to its API.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/gallerist/gallerist/media"
)

// buildBinary builds ./cmd/gallerist much as `make build` does (nodynamic, trimpath), with
// or without cgo as the benchmark was built.
func buildBinary(dir string) (string, error) {
	bin := filepath.Join(dir, "gallerist")
	cmd := exec.Command("go", "build", "-tags", "nodynamic", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./cmd/gallerist")
	// The server gets the JPEG codec the benchmark itself was built with (libjpeg-turbo
	// through cgo, or image/jpeg), so scenario 1 and the server measure the same pipeline.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if media.JPEGCodec() == "libjpeg-turbo" {
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/gallerist: %v\n%s", err, out)
	}
	return bin, nil
}

var listenLine = regexp.MustCompile(`url=(http://127\.0\.0\.1:\d+)`)

// instance is a running gallerist.
type instance struct {
	cmd     *exec.Cmd
	URL     string
	DataDir string
	logPath string
	done    chan error
}

// freePort picks a loopback port that is free now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServer runs `gallerist serve` on listen (127.0.0.1:0 for any port) with the data
// folder and extra environment, waits for the URL it logs and for /readyz. Its log goes
// straight to logPath (no pipe through this process, which would cost CPU under load).
func startServer(bin, dataDir, listen, logPath string, env ...string) (*instance, error) {
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "GALLERIST_LISTEN="+listen, "GALLERIST_DATA_DIR="+dataDir)
	cmd.Env = append(cmd.Env, env...)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	st, _ := logf.Stat()
	from := st.Size()
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	logf.Close()
	if err != nil {
		return nil, fmt.Errorf("start gallerist: %w", err)
	}
	inst := &instance{cmd: cmd, DataDir: dataDir, logPath: logPath, done: make(chan error, 1)}
	go func() { inst.done <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for inst.URL == "" {
		if b, err := os.ReadFile(logPath); err == nil && int64(len(b)) > from {
			if m := listenLine.FindSubmatch(b[from:]); m != nil {
				inst.URL = string(m[1])
				break
			}
		}
		select {
		case err := <-inst.done:
			return nil, fmt.Errorf("gallerist exited before listening: %v (log: %s)", err, logPath)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return nil, fmt.Errorf("gallerist did not log its URL in 60 s (log: %s)", logPath)
		}
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(inst.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return inst, nil
			}
		}
		if time.Now().After(deadline) {
			inst.Stop()
			return nil, fmt.Errorf("gallerist /readyz not 200 after 30 s (log: %s)", logPath)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *instance) PID() int { return s.cmd.Process.Pid }

// Stop sends SIGTERM and waits (SIGKILL after 60 s).
func (s *instance) Stop() {
	if s == nil || s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// cliToken makes an admin token with `gallerist token create` on the data folder.
func cliToken(bin, dataDir string) (string, error) {
	cmd := exec.Command(bin, "token", "create", "--name", "bench", "--scopes", "admin")
	cmd.Env = append(os.Environ(), "GALLERIST_DATA_DIR="+dataDir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("gallerist token create: %v\n%s", err, stderr.String())
	}
	tok := strings.TrimSpace(string(out))
	if !strings.HasPrefix(tok, "glr_") {
		return "", fmt.Errorf("gallerist token create printed %q", tok)
	}
	return tok, nil
}

// api is a client of one server with a token.
type api struct {
	base  string
	token string
	hc    *http.Client
}

func newAPI(base, token string) *api {
	tr := &http.Transport{MaxIdleConns: 128, MaxIdleConnsPerHost: 128, IdleConnTimeout: 90 * time.Second,
		DisableCompression: true, WriteBufferSize: 256 << 10, ReadBufferSize: 64 << 10}
	return &api{base: base, token: token, hc: &http.Client{Transport: tr}}
}

type apiErr struct {
	Status int
	Body   string
}

func (e *apiErr) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body) }

// do sends a request and decodes a JSON answer into out (when not nil). body may be an
// io.Reader, a []byte or a value to encode as JSON.
func (a *api) do(ctx context.Context, method, path string, body any, contentType string, out any, want ...int) error {
	var r io.Reader
	var length int64 = -1
	switch b := body.(type) {
	case nil:
	case []byte:
		r, length = bytes.NewReader(b), int64(len(b))
	case io.Reader:
		r = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return err
		}
		r, length = bytes.NewReader(j), int64(len(j))
		contentType = "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, r)
	if err != nil {
		return err
	}
	if length >= 0 {
		req.ContentLength = length
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	ok := len(want) == 0 && resp.StatusCode < 300
	for _, w := range want {
		ok = ok || resp.StatusCode == w
	}
	if !ok {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return &apiErr{resp.StatusCode, strings.TrimSpace(string(b))}
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

type eventAnswer struct {
	ID   int64  `json:"id"`
	Slug string `json:"slug"`
}

func (a *api) createEvent(ctx context.Context, name string) (eventAnswer, error) {
	var e eventAnswer
	err := a.do(ctx, "POST", "/api/v1/events", map[string]any{"name": name}, "", &e, 201)
	return e, err
}

type photoItem struct {
	ID            int64  `json:"id"`
	StoredName    string `json:"stored_name"`
	ThumbnailURL  string `json:"thumbnail_url"`
	VariantStatus string `json:"variant_status"`
	Size          int64  `json:"size"`
}

type photoPage struct {
	Items []photoItem `json:"items"`
	Total int         `json:"total"`
}

// allPhotos lists every photo of an event, 200 at a time.
func (a *api) allPhotos(ctx context.Context, eventID int64) ([]photoItem, error) {
	var all []photoItem
	for off := 0; ; off += 200 {
		var p photoPage
		if err := a.do(ctx, "GET", fmt.Sprintf("/api/v1/events/%d/photos?limit=200&offset=%d&sort=upload_date_asc", eventID, off), nil, "", &p); err != nil {
			return nil, err
		}
		all = append(all, p.Items...)
		if len(p.Items) < 200 || len(all) >= p.Total {
			return all, nil
		}
	}
}

// waitProcessed polls until want photos of the event exist and none is pending. It
// returns when the last one became ready (to within the poll interval).
func (a *api) waitProcessed(ctx context.Context, eventID int64, want int, every time.Duration) (time.Time, error) {
	for {
		photos, err := a.allPhotos(ctx, eventID)
		if err != nil {
			return time.Time{}, err
		}
		ready, failed := 0, 0
		for _, p := range photos {
			switch p.VariantStatus {
			case "ready":
				ready++
			case "failed":
				failed++
			}
		}
		if failed > 0 {
			return time.Time{}, fmt.Errorf("event %d: %d photos failed processing", eventID, failed)
		}
		if len(photos) >= want && ready == len(photos) {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("event %d: %d of %d photos ready: %w", eventID, ready, want, ctx.Err())
		case <-time.After(every):
		}
	}
}

// withLog adds the server's error lines (the last few) to err.
func (s *instance) withLog(err error) error {
	if err == nil || s == nil {
		return err
	}
	b, rerr := os.ReadFile(s.logPath)
	if rerr != nil {
		return err
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "level=ERROR") || strings.Contains(l, "status=5") {
			lines = append(lines, l)
		}
	}
	if len(lines) > 6 {
		lines = lines[len(lines)-6:]
	}
	if len(lines) == 0 {
		return err
	}
	return fmt.Errorf("%w\nserver log:\n%s", err, strings.Join(lines, "\n"))
}
