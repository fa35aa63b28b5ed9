package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gallerist/gallerist/server"
	"github.com/gallerist/gallerist/storage"
	"github.com/gallerist/gallerist/storage/blob"
)

// testServer is a real server over loopback HTTP, on a real SQLite file and a real blob
// folder in t.TempDir(), with its job workers running.
type testServer struct {
	URL   string
	Srv   *server.Server
	DB    *storage.DB
	Blobs *blob.Local
	Cfg   server.Config
	Admin string // a token with the admin scope
	t     testing.TB
	close func() // stops the server; safe to call twice
}

// newTestServer starts a server; opts adjust the configuration first.
func newTestServer(t testing.TB, opts ...func(*server.Config)) *testServer {
	t.Helper()
	return newTestServerAt(t, t.TempDir(), opts...)
}

// restartTestServer stops ts (as a clean shutdown would) and starts a new server on the
// same data folder, keeping ts's admin token.
func restartTestServer(t testing.TB, ts *testServer, opts ...func(*server.Config)) *testServer {
	t.Helper()
	ts.close()
	next := newTestServerAt(t, ts.Cfg.DataDir, opts...)
	next.Admin = ts.Admin
	return next
}

// newTestServerAt starts a server on an existing or new data folder.
func newTestServerAt(t testing.TB, dir string, opts ...func(*server.Config)) *testServer {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.DataDir = dir
	cfg.Listen = "127.0.0.1:0"
	cfg.MediaWorkers = 2
	for _, o := range opts {
		o(&cfg)
	}
	ctx := context.Background()
	db, err := storage.Open(ctx, storage.Config{Path: filepath.Join(dir, "gallerist.db")})
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	blobs, err := blob.NewLocal(cfg.BlobDir())
	if err != nil {
		t.Fatalf("open blob store: %v", err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := server.New(cfg, server.Deps{DB: db, Blobs: blobs, Logger: log})
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	stop := srv.StartBackground(ctx)
	ts := &testServer{URL: hs.URL, Srv: srv, DB: db, Blobs: blobs, Cfg: cfg, t: t}
	ts.close = sync.OnceFunc(func() {
		hs.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		stop(sctx)
		db.Close()
	})
	t.Cleanup(ts.close)
	ts.Admin = ts.token(t, "admin")
	return ts
}

type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// token creates an API token with the given scopes.
func (ts *testServer) token(t testing.TB, scopes ...string) string {
	t.Helper()
	_, secret, err := server.CreateToken(context.Background(), ts.DB, "test "+strings.Join(scopes, ","), scopes, nil)
	if err != nil {
		t.Fatalf("create token: %v", err)
	}
	return secret
}

// do sends a request with an optional JSON body (a string is sent as is) and returns the
// response with its body read.
func (ts *testServer) do(t testing.TB, method, path, token string, body any) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encode body: %v", err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, ts.URL+path, r)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return ts.send(t, req)
}

func (ts *testServer) send(t testing.TB, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s %s: %v", req.Method, req.URL.Path, err)
	}
	return resp, b
}

// uploadFile is one part of a multipart upload.
type uploadFile struct {
	Name string
	Data []byte
}

// upload posts files (field "photos") and extra fields to the event's upload route.
func (ts *testServer) upload(t testing.TB, eventID int64, token string, files []uploadFile, fields map[string]string) (*http.Response, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range files {
		w, err := mw.CreateFormFile("photos", f.Name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(f.Data)
	}
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/api/v1/events/%d/photos", ts.URL, eventID), &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return ts.send(t, req)
}

// createEvent makes an event through the API and returns it.
func (ts *testServer) createEvent(t testing.TB, body map[string]any) server.EventResponse {
	t.Helper()
	resp, b := ts.do(t, http.MethodPost, "/api/v1/events", ts.Admin, body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create event: %d %s", resp.StatusCode, b)
	}
	return decode[server.EventResponse](t, b)
}

// decode unmarshals a JSON body.
func decode[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %T from %s: %v", v, b, err)
	}
	return v
}

// wantError checks an error answer: its status and its code, in the one envelope.
func wantError(t testing.TB, resp *http.Response, body []byte, status int, code string) server.ErrorBody {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d (%s)", resp.StatusCode, status, body)
	}
	var e server.ErrorResponse
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body is not the envelope: %s", body)
	}
	if e.Error.Code != code {
		t.Fatalf("code = %q, want %q (%s)", e.Error.Code, code, body)
	}
	if e.Error.Message == "" {
		t.Fatalf("error without a message: %s", body)
	}
	return e.Error
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}
