package connectorfake

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// jpegBytes is enough of a JPEG for magic-byte checks.
var jpegBytes = append([]byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F'}, bytes.Repeat([]byte{7}, 100)...)

type hdr map[string]string

// call performs a request and returns status, headers and body; err is a
// transport error (e.g. a dropped connection).
func call(t *testing.T, method, url string, h hdr, ctype string, body []byte) (int, http.Header, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, nil
}

func mustCall(t *testing.T, method, url string, h hdr, ctype string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	st, hd, b, err := call(t, method, url, h, ctype, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return st, hd, b
}

func jsonBody(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return m
}

type part struct {
	name, filename, ctype string
	data                  []byte
}

func multipartBody(t *testing.T, parts ...part) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		if p.filename == "" {
			if err := mw.WriteField(p.name, string(p.data)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		h := make(map[string][]string)
		h["Content-Disposition"] = []string{`form-data; name="` + p.name + `"; filename="` + p.filename + `"`}
		ct := p.ctype
		if ct == "" {
			ct = "application/octet-stream"
		}
		h["Content-Type"] = []string{ct}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(p.data)
	}
	_ = mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFaultNthAndTimes(t *testing.T) {
	b := newBase(t)
	b.AddFault(Fault{Path: "/x", Nth: 2, Action: "status", Status: 500})
	b.AddFault(Fault{Method: "POST", Times: 1, Action: "status", Status: 502})
	r1, _ := http.NewRequest("GET", "http://h/a/x", nil)
	r2, _ := http.NewRequest("POST", "http://h/a/x", nil)
	if f := b.matchFault(r1, nil); f != nil {
		t.Fatalf("first GET matched %+v", f)
	}
	if f := b.matchFault(r2, nil); f == nil || f.Status != 500 {
		t.Fatalf("second /x request should fire Nth=2, got %+v", f)
	}
	if f := b.matchFault(r2, nil); f == nil || f.Status != 502 {
		t.Fatalf("POST should fire Times=1 once, got %+v", f)
	}
	if f := b.matchFault(r2, nil); f != nil {
		t.Fatalf("faults exhausted, got %+v", f)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
