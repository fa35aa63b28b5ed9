package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gallerist/gallerist/server"
)

// TestErrorEnvelope: unknown routes, wrong methods and every other error answer in the
// one envelope, with a request id.
func TestErrorEnvelope(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	cases := []struct {
		name   string
		method string
		path   string
		token  string
		status int
		code   string
	}{
		{"unknown route", "GET", "/api/v1/nothing-here", ts.Admin, 404, "route_not_found"},
		{"unknown route without a token", "GET", "/api/v2/events", "", 404, "route_not_found"},
		{"unknown top-level path", "GET", "/wp-login.php", "", 404, "route_not_found"},
		{"wrong method on events", "PUT", "/api/v1/events", ts.Admin, 405, "method_not_allowed"},
		{"wrong method on a photo", "POST", "/api/v1/photos/1", ts.Admin, 405, "method_not_allowed"},
		{"wrong method on settings", "DELETE", "/api/v1/settings", ts.Admin, 405, "method_not_allowed"},
		{"wrong method on healthz", "POST", "/healthz", "", 405, "method_not_allowed"},
		{"auth error", "GET", "/api/v1/events", "", 401, "missing_token"},
		{"validation error", "GET", "/api/v1/events?limit=0", ts.Admin, 400, "invalid_parameter"},
		{"not found", "GET", "/api/v1/events/424242", ts.Admin, 404, "event_not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := ts.do(t, tc.method, tc.path, tc.token, nil)
			wantError(t, resp, body, tc.status, tc.code)
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			if id := resp.Header.Get("X-Request-Id"); len(id) < 8 {
				t.Errorf("X-Request-Id %q", id)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("nosniff missing")
			}
			if want := server.Codes[tc.code].Status; want != tc.status {
				t.Errorf("catalog says %s is %d", tc.code, want)
			}
			// Only code, message and details; no internal cause.
			var raw map[string]map[string]any
			if err := json.Unmarshal(body, &raw); err != nil || len(raw) != 1 {
				t.Fatalf("envelope %s", body)
			}
			for k := range raw["error"] {
				if k != "code" && k != "message" && k != "details" {
					t.Errorf("unexpected error field %q", k)
				}
			}
		})
	}
	t.Run("JSON body over 1 MB", func(t *testing.T) {
		big := `{"name": "` + strings.Repeat("a", 2<<20) + `"}`
		resp, body := ts.do(t, http.MethodPost, "/api/v1/events", ts.Admin, big)
		wantError(t, resp, body, 413, "request_too_large")
	})
	t.Run("a sane request id is kept", func(t *testing.T) {
		resp, _ := ts.raw(t, "GET", "/api/v1/nothing", "", nil, map[string]string{"X-Request-Id": "proxy-abc-123"})
		if resp.Header.Get("X-Request-Id") != "proxy-abc-123" {
			t.Errorf("X-Request-Id %q", resp.Header.Get("X-Request-Id"))
		}
		resp, _ = ts.raw(t, "GET", "/api/v1/nothing", "", nil, map[string]string{"X-Request-Id": "bad id\twith spaces"})
		if id := resp.Header.Get("X-Request-Id"); id == "" || strings.ContainsAny(id, " \t") {
			t.Errorf("X-Request-Id %q", id)
		}
	})
	t.Run("every code of every route is in the catalog", func(t *testing.T) {
		for _, rt := range server.RouteTable() {
			for _, c := range rt.Errors {
				if _, ok := server.Codes[c]; !ok {
					t.Errorf("%s %s: %q not in the catalog", rt.Method, rt.Path, c)
				}
			}
		}
	})
}

func TestHealth(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	resp, body := ts.do(t, http.MethodGet, "/healthz", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("healthz: %d %s", resp.StatusCode, body)
	}
	if h := decode[server.HealthResponse](t, body); h.Status != "ok" || h.Version == "" {
		t.Errorf("healthz %+v", h)
	}
	resp, body = ts.do(t, http.MethodGet, "/readyz", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("readyz: %d %s", resp.StatusCode, body)
	}
	h := decode[server.HealthResponse](t, body)
	if h.Status != "ok" || h.Checks["database"] != "ok" || h.Checks["data_dir"] != "ok" || h.Checks["ffmpeg"] == "" {
		t.Errorf("readyz %+v", h)
	}
}

// metricValue sums the samples of a metric family in Prometheus text output, optionally
// only those whose labels contain every given fragment.
func metricValue(t *testing.T, text, name string, labels ...string) (float64, bool) {
	t.Helper()
	var sum float64
	found := false
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(rest, l) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
		found = true
	}
	return sum, found
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Metrics"})
	data := smallJPEG(1)
	id := ts.uploadOne(t, ev.ID, "m.jpg", data)
	ts.waitVariants(t, id)
	resp, body := ts.do(t, http.MethodGet, "/metrics", "", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	text := string(body)
	if v, ok := metricValue(t, text, "gallerist_http_requests_total", `route="/api/v1/events/:id/photos"`, `method="POST"`, `status="201"`); !ok || v < 1 {
		t.Errorf("gallerist_http_requests_total for the upload = %v (%v)", v, ok)
	}
	if v, ok := metricValue(t, text, "gallerist_upload_bytes_total"); !ok || v != float64(len(data)) {
		t.Errorf("gallerist_upload_bytes_total = %v (%v), want %d", v, ok, len(data))
	}
	if _, ok := metricValue(t, text, "gallerist_queue_depth"); !ok {
		t.Errorf("gallerist_queue_depth missing")
	}
	if v, ok := metricValue(t, text, "gallerist_thumbnail_duration_seconds_count"); !ok || v < 1 {
		t.Errorf("gallerist_thumbnail_duration_seconds_count = %v (%v)", v, ok)
	}
	// A refused batch stores nothing, so it adds no accepted bytes.
	capped := ts.createEvent(t, map[string]any{"name": "Metrics Cap", "photo_cap": 1})
	resp, body = ts.upload(t, capped.ID, ts.Admin, []uploadFile{{"x.jpg", smallJPEG(2)}, {"y.jpg", smallJPEG(3)}}, nil)
	wantError(t, resp, body, 400, "photo_cap_exceeded")
	_, body = ts.do(t, http.MethodGet, "/metrics", "", nil)
	if v, _ := metricValue(t, string(body), "gallerist_upload_bytes_total"); v != float64(len(data)) {
		t.Errorf("gallerist_upload_bytes_total = %v after a refused batch, want %d (only stored files count)", v, len(data))
	}
	// An unknown path is counted under one label, not under its raw path.
	ts.do(t, http.MethodGet, "/no/such/path/12345", "", nil)
	_, body = ts.do(t, http.MethodGet, "/metrics", "", nil)
	if strings.Contains(string(body), "12345") {
		t.Errorf("raw unknown paths leak into metric labels")
	}
}

// TestOpenAPIServed: /api/openapi.json is OpenAPI 3.1 and documents every route that is
// not hidden, with its method.
func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	resp, body := ts.do(t, http.MethodGet, "/api/openapi.json", "", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("openapi: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q", doc.OpenAPI)
	}
	param := regexp.MustCompile(`:([a-z_]+)`)
	for _, rt := range server.RouteTable() {
		if rt.Hidden {
			continue
		}
		p := param.ReplaceAllString(rt.Path, "{$1}")
		ops, ok := doc.Paths[p]
		if !ok {
			t.Errorf("path %s missing from openapi.json", p)
			continue
		}
		if _, ok := ops[strings.ToLower(rt.Method)]; !ok {
			t.Errorf("%s %s missing from openapi.json", rt.Method, p)
		}
	}
	spec, err := server.Spec()
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	json.Unmarshal(spec, &a)
	json.Unmarshal(body, &b)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Errorf("served document differs from Spec()")
	}
}

// TestConcurrentUploadsRespectCap: eight parallel single-photo uploads into an event
// with photo_cap 5: exactly five are stored.
func TestConcurrentUploadsRespectCap(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Race", "photo_cap": 5})
	const n = 8
	statuses := make([]int, n)
	bodies := make([][]byte, n)
	resps := make([]*http.Response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resps[i], bodies[i] = ts.upload(t, ev.ID, ts.Admin, []uploadFile{{fmt.Sprintf("r%d.jpg", i), smallJPEG(int64(1000 + i))}}, nil)
			statuses[i] = resps[i].StatusCode
		}()
	}
	close(start)
	wg.Wait()
	created, refused := 0, 0
	for i := range n {
		switch statuses[i] {
		case 201:
			created++
			if out := decode[server.UploadPhotosResponse](t, bodies[i]); len(out.Uploaded) != 1 {
				t.Errorf("upload %d: %+v", i, out)
			}
		default:
			refused++
			wantError(t, resps[i], bodies[i], 400, "photo_cap_exceeded")
		}
	}
	if created != 5 || refused != 3 {
		t.Errorf("%d stored, %d refused; want 5 and 3", created, refused)
	}
	if e := ts.getEvent(t, ev.ID); e.PhotoCount != 5 {
		t.Errorf("photo_count = %d, want 5", e.PhotoCount)
	}
	if l := ts.listPhotos(t, ev.ID, ""); l.Total != 5 {
		t.Errorf("listed %d", l.Total)
	}
	if files := ts.blobFiles(t, "originals"); len(files) != 5 {
		t.Errorf("%d originals on disk, want 5", len(files))
	}
}

// TestConcurrentDuplicateUploads: four parallel uploads of the same bytes store one.
func TestConcurrentDuplicateUploads(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Same Bytes"})
	data := smallJPEG(77)
	const n = 4
	outs := make([]server.UploadPhotosResponse, n)
	codes := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, body := ts.upload(t, ev.ID, ts.Admin, []uploadFile{{fmt.Sprintf("same%d.jpg", i), data}}, nil)
			codes[i] = resp.StatusCode
			if resp.StatusCode == 201 {
				outs[i] = decode[server.UploadPhotosResponse](t, body)
			}
		}()
	}
	close(start)
	wg.Wait()
	stored, dup := 0, 0
	var storedID int64
	for i := range n {
		if codes[i] != 201 {
			t.Errorf("upload %d: status %d", i, codes[i])
			continue
		}
		stored += len(outs[i].Uploaded)
		if len(outs[i].Uploaded) == 1 {
			storedID = outs[i].Uploaded[0].ID
		}
		for _, s := range outs[i].Skipped {
			if s.Code == "duplicate" {
				dup++
			} else {
				t.Errorf("skipped with %q", s.Code)
			}
		}
	}
	if stored != 1 || dup != 3 {
		t.Errorf("%d stored, %d duplicates; want 1 and 3", stored, dup)
	}
	for i := range n {
		for _, s := range outs[i].Skipped {
			if s.PhotoID != nil && *s.PhotoID != storedID {
				t.Errorf("duplicate points at %d, stored %d", *s.PhotoID, storedID)
			}
		}
	}
	if e := ts.getEvent(t, ev.ID); e.PhotoCount != 1 || e.TotalSize != int64(len(data)) {
		t.Errorf("photo_count %d total_size %d", e.PhotoCount, e.TotalSize)
	}
	waitFor(t, "orphaned duplicate blobs to be removed", func() bool { return len(ts.blobFiles(t, "originals")) == 1 })
}
