package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gallerist/gallerist/media/mediatest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// buildBinary compiles the real binary once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gallerist-e2e-*")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "gallerist")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// instance is a running gallerist process.
type instance struct {
	cmd    *exec.Cmd
	URL    string
	stderr *syncBuffer
	done   chan error
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var listenLine = regexp.MustCompile(`url=(http://127\.0\.0\.1:\d+)`)

// startServer runs `gallerist serve` on a free port with the data folder and extra
// environment, and waits for the URL it prints.
func startServer(t *testing.T, dataDir string, env ...string) *instance {
	t.Helper()
	cmd := exec.Command(buildBinary(t), "serve")
	cmd.Env = append(os.Environ(), "GALLERIST_LISTEN=127.0.0.1:0", "GALLERIST_DATA_DIR="+dataDir, "GALLERIST_LOG_LEVEL=debug")
	cmd.Env = append(cmd.Env, env...)
	pr, pw := io.Pipe()
	inst := &instance{cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = io.MultiWriter(pw, inst.stderr)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start server: %v", err)
	}
	go func() { inst.done <- cmd.Wait(); pw.Close() }()
	urlCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listenLine.FindStringSubmatch(sc.Text()); m != nil {
				urlCh <- m[1]
				break
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case inst.URL = <-urlCh:
	case err := <-inst.done:
		t.Fatalf("server exited before listening: %v\n%s", err, inst.stderr.String())
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("server did not print its URL:\n%s", inst.stderr.String())
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-inst.done
		}
	})
	return inst
}

// cli runs a gallerist subcommand on the data folder and returns its stdout.
func cli(t *testing.T, dataDir string, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(buildBinary(t), args...)
	cmd.Env = append(os.Environ(), "GALLERIST_DATA_DIR="+dataDir)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gallerist %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

func request(t *testing.T, method, url, token string, body io.Reader, contentType string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func multipartBody(files map[string][]byte) (*bytes.Buffer, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for name, data := range files {
		w, _ := mw.CreateFormFile("photos", name)
		w.Write(data)
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

type uploadAnswer struct {
	Uploaded []struct {
		ID           int64  `json:"id"`
		Filename     string `json:"filename"`
		URL          string `json:"url"`
		ThumbnailURL string `json:"thumbnail_url"`
	} `json:"uploaded"`
}

// TestEndToEnd drives the built binary as an operator and a client would: CLI token,
// event, upload, list, thumbnail, delete, then a clean SIGTERM stop.
func TestEndToEnd(t *testing.T) {
	data := t.TempDir()
	if out := cli(t, data, "correct horse battery\n", "admin", "create", "--email", "Owner@Example.com", "--password-stdin"); !strings.Contains(out, "owner@example.com") {
		t.Fatalf("admin create said %q", out)
	}
	token := cli(t, data, "", "token", "create", "--name", "e2e", "--scopes", "events.write,photos.write")
	if !strings.HasPrefix(token, "glr_") || strings.Contains(token, "\n") {
		t.Fatalf("token create printed %q, want only the token", token)
	}
	if list := cli(t, data, "", "token", "list"); !strings.Contains(list, "e2e") || strings.Contains(list, token) {
		t.Fatalf("token list must name the token and never show its secret:\n%s", list)
	}
	srv := startServer(t, data)

	resp, b := request(t, "POST", srv.URL+"/api/v1/events", token, strings.NewReader(`{"name":"Site walk 12"}`), "")
	if resp.StatusCode != 201 {
		t.Fatalf("create event: %d %s", resp.StatusCode, b)
	}
	var ev struct {
		ID   int64  `json:"id"`
		Slug string `json:"slug"`
	}
	json.Unmarshal(b, &ev)

	photo := mediatest.JPEG(640, 480, 7, &mediatest.EXIF{Orientation: 1, DateTimeOriginal: "2026:05:12 15:23:11", OffsetTimeOriginal: "+02:00"})
	body, ct := multipartBody(map[string][]byte{"DSC_2031.jpg": photo})
	resp, b = request(t, "POST", fmt.Sprintf("%s/api/v1/events/%d/photos", srv.URL, ev.ID), token, body, ct)
	if resp.StatusCode != 201 {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	var up uploadAnswer
	json.Unmarshal(b, &up)
	if len(up.Uploaded) != 1 || up.Uploaded[0].Filename != "DSC_2031.jpg" {
		t.Fatalf("upload answer %s", b)
	}
	resp, b = request(t, "GET", srv.URL+up.Uploaded[0].ThumbnailURL, token, nil, "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" || len(b) < 100 {
		t.Fatalf("thumbnail: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, b = request(t, "GET", srv.URL+up.Uploaded[0].URL, token, nil, "")
	if resp.StatusCode != 200 || sha(b) != sha(photo) {
		t.Fatalf("original: %d, bytes differ", resp.StatusCode)
	}
	resp, b = request(t, "GET", fmt.Sprintf("%s/api/v1/events/%d/photos?sort=capture_date_asc", srv.URL, ev.ID), token, nil, "")
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"captured_at":"2026-05-12T15:23:11+02:00"`) {
		t.Fatalf("list: %d %s", resp.StatusCode, b)
	}
	resp, _ = request(t, "DELETE", fmt.Sprintf("%s/api/v1/photos/%d", srv.URL, up.Uploaded[0].ID), token, nil, "")
	if resp.StatusCode != 204 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if n := countFiles(t, filepath.Join(data, "blobs", "originals")); n != 0 {
		t.Fatalf("%d originals left after delete", n)
	}

	srv.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-srv.done:
		if err != nil {
			t.Fatalf("server exit after SIGTERM: %v\n%s", err, srv.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop on SIGTERM")
	}
	if !strings.Contains(srv.stderr.String(), "stopped") {
		t.Fatalf("no clean stop logged:\n%s", srv.stderr.String())
	}
}

// TestGracefulShutdownFinishesUploads sends SIGTERM while an upload is on the wire; the
// upload must complete with 201 and the process exit cleanly.
func TestGracefulShutdownFinishesUploads(t *testing.T) {
	data := t.TempDir()
	token := cli(t, data, "", "token", "create", "--name", "g", "--scopes", "admin")
	srv := startServer(t, data)
	resp, b := request(t, "POST", srv.URL+"/api/v1/events", token, strings.NewReader(`{"name":"Slow"}`), "")
	if resp.StatusCode != 201 {
		t.Fatalf("create event: %d %s", resp.StatusCode, b)
	}
	photo := mediatest.JPEG(320, 240, 3, nil)
	body, ct := multipartBody(map[string][]byte{"slow.jpg": photo})
	full := body.Bytes()
	pr, pw := io.Pipe()
	go func() {
		// Send half, let the signal arrive, then the rest.
		pw.Write(full[:len(full)/2])
		time.Sleep(700 * time.Millisecond)
		pw.Write(full[len(full)/2:])
		pw.Close()
	}()
	go func() {
		time.Sleep(300 * time.Millisecond)
		srv.cmd.Process.Signal(syscall.SIGTERM)
	}()
	resp, b = request(t, "POST", srv.URL+"/api/v1/events/1/photos", token, pr, ct)
	if resp.StatusCode != 201 {
		t.Fatalf("upload during shutdown: %d %s", resp.StatusCode, b)
	}
	select {
	case err := <-srv.done:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop")
	}
	// The photo is really there after a restart.
	srv2 := startServer(t, data)
	resp, b = request(t, "GET", srv2.URL+"/api/v1/events/1/photos", token, nil, "")
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"total":1`) {
		t.Fatalf("after restart: %d %s", resp.StatusCode, b)
	}
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// contextDone is a tiny helper for loops bounded in time.
func contextDone(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	default:
		return false
	}
}
