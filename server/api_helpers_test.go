package server_test

// Helpers shared by the HTTP API scenario tests (scopes, events, photos, files, tokens,
// settings, errors). They build on helpers_test.go: real server, real SQLite, real files.

import (
	"bytes"
	"database/sql"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/gallerist/gallerist/media/mediatest"
	"github.com/gallerist/gallerist/server"
)

// smallJPEG is a 64x48 JPEG whose bytes depend on seed.
func smallJPEG(seed int64) []byte { return mediatest.JPEG(64, 48, seed, nil) }

func pngFixture(seed int64) []byte { return mediatest.PNG(40, 30, seed) }
func gifFixture(seed int64) []byte { return mediatest.GIF(40, 30, seed) }

// padTo appends bytes after the JPEG's EOI marker until b is n bytes long. The result is
// still a JPEG (the type is decided from the leading bytes; decoders stop at EOI).
func padTo(t testing.TB, b []byte, n int, fill byte) []byte {
	t.Helper()
	if len(b) > n {
		t.Fatalf("padTo: file already has %d bytes, more than %d", len(b), n)
	}
	out := make([]byte, n)
	copy(out, b)
	for i := len(b); i < n; i++ {
		out[i] = fill + byte(i%7)
	}
	return out
}

// uploadOK uploads files and requires 201.
func (ts *testServer) uploadOK(t testing.TB, eventID int64, files []uploadFile, fields map[string]string) server.UploadPhotosResponse {
	t.Helper()
	resp, b := ts.upload(t, eventID, ts.Admin, files, fields)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	return decode[server.UploadPhotosResponse](t, b)
}

// uploadOne uploads one file that must be stored and returns its photo id.
func (ts *testServer) uploadOne(t testing.TB, eventID int64, name string, data []byte) int64 {
	t.Helper()
	out := ts.uploadOK(t, eventID, []uploadFile{{name, data}}, nil)
	if len(out.Uploaded) != 1 || len(out.Skipped) != 0 {
		t.Fatalf("upload %s: uploaded %d, skipped %+v", name, len(out.Uploaded), out.Skipped)
	}
	return out.Uploaded[0].ID
}

// getJSON GETs path with the admin token, requires 200 and decodes the body.
func getJSON[T any](t testing.TB, ts *testServer, path string) T {
	t.Helper()
	resp, b := ts.do(t, http.MethodGet, path, ts.Admin, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return decode[T](t, b)
}

func (ts *testServer) getEvent(t testing.TB, id int64) server.EventResponse {
	t.Helper()
	return getJSON[server.EventResponse](t, ts, fmt.Sprintf("/api/v1/events/%d", id))
}

func (ts *testServer) getPhoto(t testing.TB, id int64) server.PhotoResponse {
	t.Helper()
	return getJSON[server.PhotoResponse](t, ts, fmt.Sprintf("/api/v1/photos/%d", id))
}

func (ts *testServer) listPhotos(t testing.TB, eventID int64, query string) server.PhotoListResponse {
	t.Helper()
	return getJSON[server.PhotoListResponse](t, ts, fmt.Sprintf("/api/v1/events/%d/photos?%s", eventID, query))
}

// patchSettings changes the upload settings and requires 200.
func (ts *testServer) patchSettings(t testing.TB, body map[string]any) server.SettingsResponse {
	t.Helper()
	resp, b := ts.do(t, http.MethodPatch, "/api/v1/settings", ts.Admin, body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("patch settings: %d %s", resp.StatusCode, b)
	}
	return decode[server.SettingsResponse](t, b)
}

// raw sends a request with optional headers and an optional raw body (no Content-Type
// unless headers set one).
func (ts *testServer) raw(t testing.TB, method, path, token string, body []byte, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	var req *http.Request
	var err error
	if body != nil {
		req, err = http.NewRequest(method, ts.URL+path, bytes.NewReader(body))
	} else {
		req, err = http.NewRequest(method, ts.URL+path, nil)
	}
	if err != nil {
		t.Fatalf("new request %s: %v", path, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return ts.send(t, req)
}

// blobFiles lists the files under BlobDir/sub (relative to BlobDir), sorted.
func (ts *testServer) blobFiles(t testing.TB, sub string) []string {
	t.Helper()
	root := ts.Cfg.BlobDir()
	var out []string
	err := filepath.WalkDir(filepath.Join(root, sub), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if strings.HasPrefix(filepath.Base(rel), ".") {
			return nil
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatalf("walk blobs: %v", err)
	}
	sort.Strings(out)
	return out
}

// photoFiles are the blob files of a photo: original, display copy, thumbnail.
func (ts *testServer) photoFiles(p server.PhotoResponse) []string {
	root := ts.Cfg.BlobDir()
	stem := strings.TrimSuffix(p.StoredName, filepath.Ext(p.StoredName))
	return []string{
		filepath.Join(root, "originals", fmt.Sprint(p.EventID), p.StoredName),
		filepath.Join(root, "display", fmt.Sprint(p.EventID), stem+".jpg"),
		filepath.Join(root, "thumbs", fmt.Sprint(p.EventID), stem+".jpg"),
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// waitVariants waits until the photo's variants are made.
func (ts *testServer) waitVariants(t testing.TB, id int64) server.PhotoResponse {
	t.Helper()
	var p server.PhotoResponse
	waitFor(t, fmt.Sprintf("variants of photo %d", id), func() bool {
		p = ts.getPhoto(t, id)
		if p.VariantStatus == "failed" {
			t.Fatalf("variants of photo %d failed", id)
		}
		return p.VariantStatus == "ready"
	})
	return p
}

// sqlDB opens a second connection to the server's SQLite file, for the few states the
// API cannot produce (a row that lost its dimensions).
func (ts *testServer) sqlDB(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(ts.Cfg.DataDir, "gallerist.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func ids(items []server.PhotoResponse) []int64 {
	out := make([]int64, len(items))
	for i, p := range items {
		out[i] = p.ID
	}
	return out
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func ptr[T any](v T) *T { return &v }
