package server_test

// Chunked uploads (issue 3): sessions, chunks, completion, limits, expiry, ownership.
// Every test talks to a real server over loopback with a real SQLite file and real blob
// files; the chunk files on disk are checked under BlobDir/uploads/<upload_id>.

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gallerist/gallerist/media/mediatest"
	"github.com/gallerist/gallerist/server"
)

const mib = 1 << 20

// chunkMB sets the chunk size of new sessions; 1 MB (the smallest) keeps the tests' files
// small while still spanning several chunks.
func chunkMB(n int64) func(*server.Config) { return func(c *server.Config) { c.ChunkSizeMB = n } }

// chunkedSession is one upload session as a test drives it: the answer of create and the
// whole file, so that any chunk can be sent.
type chunkedSession struct {
	server.UploadResponse
	ts    *testServer
	token string
	data  []byte
}

// openChunked opens a session for data (size len(data)) and checks the answer. extra adds
// fields to the request (sha256).
func openChunked(t testing.TB, ts *testServer, token string, eventID int64, name, mime string, data []byte, extra map[string]any) *chunkedSession {
	t.Helper()
	body := map[string]any{"filename": name, "size": len(data), "mime_type": mime}
	for k, v := range extra {
		body[k] = v
	}
	resp, b := ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/events/%d/uploads", eventID), token, body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create upload: %d %s", resp.StatusCode, b)
	}
	up := decode[server.UploadResponse](t, b)
	size := int64(len(data))
	if up.UploadID == "" || up.EventID != eventID || up.Size != size || up.ChunkSize != ts.Cfg.ChunkSizeMB*mib ||
		up.ChunkCount != int((size+up.ChunkSize-1)/up.ChunkSize) || up.Status != "open" ||
		up.Received == nil || len(up.Received) != 0 || up.Chunks == nil || len(up.Chunks) != 0 || up.Filename != name {
		t.Fatalf("create upload answered %s", b)
	}
	return &chunkedSession{UploadResponse: up, ts: ts, token: token, data: data}
}

func (s *chunkedSession) path(suffix string) string { return "/api/v1/uploads/" + s.UploadID + suffix }

// chunk returns the bytes of chunk i of the file.
func (s *chunkedSession) chunk(i int) []byte {
	start := int64(i) * s.ChunkSize
	return s.data[start:min(start+s.ChunkSize, int64(len(s.data)))]
}

// put sends body as chunk index (anything printable: -1, "x").
func (s *chunkedSession) put(t testing.TB, index any, body []byte, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	if body == nil {
		body = []byte{}
	}
	return s.ts.raw(t, http.MethodPut, s.path(fmt.Sprintf("/chunks/%v", index)), s.token, body, headers)
}

// putOK sends chunk i of the file and requires 200.
func (s *chunkedSession) putOK(t testing.TB, i int) server.ChunkResponse {
	t.Helper()
	resp, b := s.put(t, i, s.chunk(i), map[string]string{"Content-Type": "application/octet-stream"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("put chunk %d: %d %s", i, resp.StatusCode, b)
	}
	cr := decode[server.ChunkResponse](t, b)
	if cr.Index != i || cr.ChunkCount != s.ChunkCount || cr.ReceivedChunks < 1 || cr.ReceivedChunks > s.ChunkCount {
		t.Fatalf("put chunk %d answered %s", i, b)
	}
	return cr
}

// putAll sends the given chunks in that order, or every chunk when none is given.
func (s *chunkedSession) putAll(t testing.TB, indexes ...int) {
	t.Helper()
	if len(indexes) == 0 {
		for i := range s.ChunkCount {
			indexes = append(indexes, i)
		}
	}
	for _, i := range indexes {
		s.putOK(t, i)
	}
}

func (s *chunkedSession) get(t testing.TB) (*http.Response, []byte) {
	t.Helper()
	return s.ts.do(t, http.MethodGet, s.path(""), s.token, nil)
}

// status is GET /api/v1/uploads/{id}, which must answer 200.
func (s *chunkedSession) status(t testing.TB) server.UploadResponse {
	t.Helper()
	resp, b := s.get(t)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get upload: %d %s", resp.StatusCode, b)
	}
	up := decode[server.UploadResponse](t, b)
	if up.UploadID != s.UploadID || up.Size != s.Size || up.ChunkCount != s.ChunkCount || len(up.Received) != len(up.Chunks) {
		t.Fatalf("get upload answered %s", b)
	}
	return up
}

func (s *chunkedSession) complete(t testing.TB) (*http.Response, []byte) {
	t.Helper()
	return s.ts.do(t, http.MethodPost, s.path("/complete"), s.token, nil)
}

// completeOK completes the session, requires 201 and checks the photo is the file.
func (s *chunkedSession) completeOK(t testing.TB) server.PhotoResponse {
	t.Helper()
	resp, b := s.complete(t)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("complete: %d %s", resp.StatusCode, b)
	}
	p := decode[server.PhotoResponse](t, b)
	if p.ID <= 0 || p.Size != int64(len(s.data)) || p.SHA256 != hexSHA256(s.data) || p.EventID != s.EventID {
		t.Fatalf("complete answered %s; want size %d sha256 %s", b, len(s.data), hexSHA256(s.data))
	}
	return p
}

func (s *chunkedSession) abort(t testing.TB) (*http.Response, []byte) {
	t.Helper()
	return s.ts.do(t, http.MethodDelete, s.path(""), s.token, nil)
}

// chunkFiles lists the session's chunk files on disk.
func (s *chunkedSession) chunkFiles(t testing.TB) []string {
	t.Helper()
	return s.ts.blobFiles(t, "uploads/"+s.UploadID)
}

// wantChunkFiles requires exactly the files of the given chunks on disk.
func (s *chunkedSession) wantChunkFiles(t testing.TB, indexes ...int) {
	t.Helper()
	want := []string{}
	for _, i := range indexes {
		want = append(want, fmt.Sprintf("uploads/%s/%06d", s.UploadID, i))
	}
	got := append([]string{}, s.chunkFiles(t)...)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("chunk files on disk = %v, want %v", got, want)
	}
	if len(indexes) == 0 {
		if _, err := os.Stat(filepath.Join(s.ts.Cfg.BlobDir(), "uploads", s.UploadID)); !os.IsNotExist(err) {
			t.Fatalf("the session's chunk folder is still there (%v)", err)
		}
	}
}

// wantReceived requires GET to list exactly these chunks, each with its size and the
// sha256 of the file's bytes.
func (s *chunkedSession) wantReceived(t testing.TB, indexes ...int) server.UploadResponse {
	t.Helper()
	up := s.status(t)
	want := append([]int{}, indexes...)
	if !reflect.DeepEqual(up.Received, want) {
		t.Fatalf("received = %v, want %v", up.Received, want)
	}
	for k, c := range up.Chunks {
		if c.Index != want[k] || c.Size != int64(len(s.chunk(c.Index))) || c.SHA256 != hexSHA256(s.chunk(c.Index)) {
			t.Fatalf("chunk %+v, want index %d size %d sha256 %s", c, want[k], len(s.chunk(c.Index)), hexSHA256(s.chunk(c.Index)))
		}
	}
	return up
}

// fetchOriginal GETs /api/v1/photos/{id}/download.
func fetchOriginal(t testing.TB, ts *testServer, id int64, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	return ts.raw(t, http.MethodGet, fmt.Sprintf("/api/v1/photos/%d/download", id), ts.Admin, nil, headers)
}

// wantOriginal requires the stored original of photo id to be exactly data.
func wantOriginal(t testing.TB, ts *testServer, id int64, data []byte) {
	t.Helper()
	resp, b := fetchOriginal(t, ts, id, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(b, data) {
		t.Fatalf("original of photo %d: %d, %d bytes (sha256 %s), want %d bytes (sha256 %s)",
			id, resp.StatusCode, len(b), hexSHA256(b), len(data), hexSHA256(data))
	}
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// flipped returns a copy of b with the byte at i changed.
func flipped(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 0x5a
	return out
}

// detailNumber reads a number from an error's details.
func detailNumber(t testing.TB, e server.ErrorBody, key string) int64 {
	t.Helper()
	v, ok := e.Details[key].(float64)
	if !ok {
		t.Fatalf("details.%s = %#v (%v), want a number", key, e.Details[key], e.Details)
	}
	return int64(v)
}

// pollUntil polls cond for at most d (shorter than waitFor, for things that must happen
// within a few janitor passes).
func pollUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// jpegOf is a real JPEG padded after its EOI to exactly n bytes.
func jpegOf(t testing.TB, seed int64, n int) []byte {
	t.Helper()
	return padTo(t, smallJPEG(seed), n, byte(seed))
}

// TestChunkedUploadRoundTrip: out-of-order chunks of any content type, the session's
// state while it fills, and a completed photo whose original is byte-identical.
func TestChunkedUploadRoundTrip(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, chunkMB(1))
	ev := ts.createEvent(t, map[string]any{"name": "Chunked round trip"})
	data := jpegOf(t, 1, 2*mib+1234)
	before := time.Now()
	s := openChunked(t, ts, ts.Admin, ev.ID, "ceremony.jpg", "image/jpeg", data, nil)
	if s.ChunkCount != 3 || s.ChunkSize != mib {
		t.Fatalf("chunk_count %d chunk_size %d, want 3 of 1 MB", s.ChunkCount, s.ChunkSize)
	}
	if exp := before.Add(24 * time.Hour); s.ExpiresAt.Before(exp.Add(-time.Minute)) || s.ExpiresAt.After(exp.Add(time.Minute)) {
		t.Errorf("expires_at = %s, want about %s", s.ExpiresAt, exp)
	}
	// Any content type is taken, and none at all.
	for k, c := range []struct {
		index int
		ctype string
	}{{2, "application/json"}, {0, "text/plain"}, {1, ""}} {
		h := map[string]string{}
		if c.ctype != "" {
			h["Content-Type"] = c.ctype
		}
		resp, b := s.put(t, c.index, s.chunk(c.index), h)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("chunk %d as %q: %d %s", c.index, c.ctype, resp.StatusCode, b)
		}
		if got := decode[server.ChunkResponse](t, b); got != (server.ChunkResponse{Index: c.index, ReceivedChunks: k + 1, ChunkCount: 3}) {
			t.Fatalf("chunk %d answered %+v", c.index, got)
		}
		if k == 1 {
			up := s.wantReceived(t, 0, 2)
			if up.Status != "open" || up.PhotoID != nil || up.Filename != "ceremony.jpg" {
				t.Fatalf("half-way status %+v", up)
			}
			s.wantChunkFiles(t, 0, 2)
		}
	}
	p := s.completeOK(t)
	if p.Filename != "ceremony.jpg" || p.MediaType != "image" || p.MIMEType != "image/jpeg" ||
		p.Width == nil || *p.Width != 64 || p.Height == nil || *p.Height != 48 {
		t.Errorf("photo %+v", p)
	}
	wantOriginal(t, ts, p.ID, data)
	resp, _ := fetchOriginal(t, ts, p.ID, nil)
	if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, "ceremony.jpg") {
		t.Errorf("Content-Disposition = %q", cd)
	}
	if got := ts.getPhoto(t, p.ID); got.ID != p.ID || got.SHA256 != p.SHA256 {
		t.Errorf("GET photo %+v", got)
	}
	if e := ts.getEvent(t, ev.ID); e.PhotoCount != 1 {
		t.Errorf("photo_count = %d, want 1", e.PhotoCount)
	}
	up := s.status(t)
	if up.Status != "completed" || up.PhotoID == nil || *up.PhotoID != p.ID {
		t.Errorf("status after complete: %+v", up)
	}
	s.wantChunkFiles(t)
	ts.waitVariants(t, p.ID)
}

// TestChunkedUploadExpiresAtStable: a session's expires_at is one value: what create
// answers is what GET answers later (a client may compare them or store the first).
func TestChunkedUploadExpiresAtStable(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Expiry stable"})
	s := openChunked(t, ts, ts.Admin, ev.ID, "e.jpg", "image/jpeg", smallJPEG(27), nil)
	if up := s.status(t); !up.ExpiresAt.Equal(s.ExpiresAt) {
		t.Fatalf("create answered expires_at %s, GET answers %s", s.ExpiresAt.Format(time.RFC3339Nano), up.ExpiresAt.Format(time.RFC3339Nano))
	}
}

// TestChunkedUploadExpiryConfigurable: UploadExpiry (GALLERIST_UPLOAD_EXPIRY) sets how
// long new sessions live.
func TestChunkedUploadExpiryConfigurable(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(c *server.Config) { c.UploadExpiry = 90 * time.Minute })
	ev := ts.createEvent(t, map[string]any{"name": "Expiry config"})
	before := time.Now()
	s := openChunked(t, ts, ts.Admin, ev.ID, "e.jpg", "image/jpeg", smallJPEG(28), nil)
	after := time.Now()
	for _, got := range []time.Time{s.ExpiresAt, s.status(t).ExpiresAt} {
		if got.Before(before.Add(90*time.Minute).Add(-time.Second)) || got.After(after.Add(90*time.Minute)) {
			t.Fatalf("expires_at = %s, want created + 90 min (%s)", got, before.Add(90*time.Minute))
		}
	}
}

// TestChunkedUploadRefusesBeforeReading: a chunk whose size, index or session is wrong is
// refused from its headers alone: the answer comes while the client has sent no byte of
// the body (and no 100 Continue invites it to).
func TestChunkedUploadRefusesBeforeReading(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, chunkMB(1))
	ev := ts.createEvent(t, map[string]any{"name": "Headers only"})
	s := openChunked(t, ts, ts.Admin, ev.ID, "h.jpg", "image/jpeg", jpegOf(t, 29, 2*mib), nil)
	u, err := url.Parse(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		path   string
		length int
		status int
		code   string
	}{
		{"too long", s.path("/chunks/0"), mib + 1, 400, "chunk_size_mismatch"},
		{"too short", s.path("/chunks/1"), mib - 1, 400, "chunk_size_mismatch"},
		{"index out of range", s.path("/chunks/2"), mib, 400, "chunk_out_of_range"},
		{"unknown session", "/api/v1/uploads/up" + strings.Repeat("b", 24) + "/chunks/0", mib, 404, "upload_not_found"},
	} {
		for _, expect := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s expect-100=%v", c.name, expect), func(t *testing.T) {
				conn, err := net.Dial("tcp", u.Host)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				extra := ""
				if expect {
					extra = "Expect: 100-continue\r\n"
				}
				fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n%s\r\n",
					c.path, u.Host, ts.Admin, c.length, extra)
				conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil {
					t.Fatalf("no answer before the body was sent: %v", err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				wantError(t, resp, b, c.status, c.code)
			})
		}
	}
	s.wantReceived(t)
	s.wantChunkFiles(t)
}

// TestChunkedUploadCreateRules: the create route's refusals.
func TestChunkedUploadCreateRules(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Create rules"})
	path := fmt.Sprintf("/api/v1/events/%d/uploads", ev.ID)
	for _, c := range []struct {
		name   string
		path   string
		body   any
		status int
		code   string
		param  string
	}{
		{"unknown event", "/api/v1/events/999999/uploads", map[string]any{"filename": "a.mp4", "size": 10}, 404, "event_not_found", ""},
		{"zero size", path, map[string]any{"filename": "a.mp4", "size": 0}, 400, "invalid_parameter", "size"},
		{"negative size", path, map[string]any{"filename": "a.mp4", "size": -5}, 400, "invalid_parameter", "size"},
		{"no filename", path, map[string]any{"size": 10}, 400, "invalid_parameter", "filename"},
		{"blank filename", path, map[string]any{"filename": "  ", "size": 10}, 400, "invalid_parameter", "filename"},
		{"bad sha256", path, map[string]any{"filename": "a.mp4", "size": 10, "sha256": "xyz"}, 400, "invalid_parameter", "sha256"},
		{"short sha256", path, map[string]any{"filename": "a.mp4", "size": 10, "sha256": strings.Repeat("a", 63)}, 400, "invalid_parameter", "sha256"},
		{"unknown field", path, map[string]any{"filename": "a.mp4", "size": 10, "chunk_size": 5}, 400, "invalid_request", ""},
		{"size not a number", path, map[string]any{"filename": "a.mp4", "size": "ten"}, 400, "invalid_request", ""},
		{"empty body", path, "", 400, "invalid_request", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, b := ts.do(t, http.MethodPost, c.path, ts.Admin, c.body)
			e := wantError(t, resp, b, c.status, c.code)
			if c.param != "" && e.Details["parameter"] != c.param {
				t.Errorf("details.parameter = %v, want %s", e.Details["parameter"], c.param)
			}
		})
	}
	t.Run("archived event", func(t *testing.T) {
		arch := ts.createEvent(t, map[string]any{"name": "Archived for uploads"})
		if resp, b := ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/events/%d/archive", arch.ID), ts.Admin, nil); resp.StatusCode != 200 {
			t.Fatalf("archive: %d %s", resp.StatusCode, b)
		}
		resp, b := ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/events/%d/uploads", arch.ID), ts.Admin, map[string]any{"filename": "a.jpg", "size": 10})
		wantError(t, resp, b, 409, "event_archived")
	})
	t.Run("read-only token", func(t *testing.T) {
		resp, b := ts.do(t, http.MethodPost, path, ts.token(t, "photos.read", "events.write"), map[string]any{"filename": "a.jpg", "size": 10})
		e := wantError(t, resp, b, 403, "insufficient_scope")
		if e.Details["required"] != "photos.write" {
			t.Errorf("details.required = %v", e.Details["required"])
		}
	})
	if got := ts.blobFiles(t, "uploads"); len(got) != 0 {
		t.Errorf("refused creates left files: %v", got)
	}
}

// TestChunkedUploadOwnership: a session is visible only to the token that opened it;
// anyone else, an admin token included, gets exactly the 404 of an unknown id on every
// route, and the session is untouched by their attempts.
func TestChunkedUploadOwnership(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, chunkMB(1))
	ev := ts.createEvent(t, map[string]any{"name": "Ownership"})
	tokenA := ts.token(t, "photos.write")
	tokenB := ts.token(t, "photos.write")
	data := jpegOf(t, 2, mib+500)
	s := openChunked(t, ts, tokenA, ev.ID, "mine.jpg", "image/jpeg", data, nil)
	s.putOK(t, 0)

	unknown := "up" + strings.Repeat("a", 24) // the shape of a real id
	type call struct {
		name   string
		method string
		path   func(id string) string
		body   []byte
	}
	calls := []call{
		{"get", http.MethodGet, func(id string) string { return "/api/v1/uploads/" + id }, nil},
		{"put chunk", http.MethodPut, func(id string) string { return "/api/v1/uploads/" + id + "/chunks/1" }, s.chunk(1)},
		{"complete", http.MethodPost, func(id string) string { return "/api/v1/uploads/" + id + "/complete" }, nil},
		{"delete", http.MethodDelete, func(id string) string { return "/api/v1/uploads/" + id }, nil},
	}
	for _, who := range []struct{ name, token string }{{"other token", tokenB}, {"admin token", ts.Admin}} {
		for _, c := range calls {
			t.Run(who.name+" "+c.name, func(t *testing.T) {
				resp, b := ts.raw(t, c.method, c.path(s.UploadID), who.token, c.body, nil)
				foreign := wantError(t, resp, b, 404, "upload_not_found")
				resp, b = ts.raw(t, c.method, c.path(unknown), who.token, c.body, nil)
				unknownErr := wantError(t, resp, b, 404, "upload_not_found")
				// Nothing tells a foreign session from an unknown one but the id itself.
				if strings.ReplaceAll(foreign.Message, s.UploadID, "ID") != strings.ReplaceAll(unknownErr.Message, unknown, "ID") ||
					!reflect.DeepEqual(foreign.Details, unknownErr.Details) {
					t.Errorf("foreign session %+v differs from unknown id %+v", foreign, unknownErr)
				}
			})
		}
	}
	for _, id := range []string{"nope", "UPAAAAAAAAAAAAAAAAAAAAAAAA", unknown + "a", strings.Repeat("u", 300), "up..%2f..%2fevents"} {
		for _, c := range calls {
			resp, b := ts.raw(t, c.method, c.path(id), tokenA, c.body, nil)
			wantError(t, resp, b, 404, "upload_not_found")
		}
	}
	// A token without photos.write is refused before any lookup.
	resp, b := ts.do(t, http.MethodGet, s.path(""), ts.token(t, "photos.read"), nil)
	wantError(t, resp, b, 403, "insufficient_scope")

	// The owner's session went through all that unchanged.
	s.wantReceived(t, 0)
	s.wantChunkFiles(t, 0)
	if up := s.status(t); up.Status != "open" {
		t.Fatalf("status %q after foreign attempts", up.Status)
	}
	s.putOK(t, 1)
	p := s.completeOK(t)
	wantOriginal(t, ts, p.ID, data)
	// A completed session is still nobody else's business.
	resp, b = ts.do(t, http.MethodPost, s.path("/complete"), tokenB, nil)
	wantError(t, resp, b, 404, "upload_not_found")
	resp, b = ts.do(t, http.MethodGet, s.path(""), ts.Admin, nil)
	wantError(t, resp, b, 404, "upload_not_found")
}

// TestChunkedUploadChunkIndex: indexes outside 0..chunk_count-1 and non-numbers are 400
// chunk_out_of_range, and store nothing.
func TestChunkedUploadChunkIndex(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, chunkMB(1))
	ev := ts.createEvent(t, map[string]any{"name": "Indexes"})
	s := openChunked(t, ts, ts.Admin, ev.ID, "i.jpg", "image/jpeg", jpegOf(t, 3, 2*mib+10), nil)
	for _, idx := range []string{"-1", "3", "4", "x", "1.0", "99999999999999999999", "%20"} {
		resp, b := s.put(t, idx, s.chunk(0), nil)
		e := wantError(t, resp, b, 400, "chunk_out_of_range")
		if n := detailNumber(t, e, "chunk_count"); n != 3 {
			t.Errorf("index %s: details.chunk_count = %d, want 3", idx, n)
		}
	}
	s.wantReceived(t)
	s.wantChunkFiles(t)
}

// TestChunkedUploadChunkSizes: every chunk but the last is exactly chunk_size, the last
// exactly the remainder; anything else is 400 chunk_size_mismatch naming the expected
// size, and nothing is stored.
func TestChunkedUploadChunkSizes(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, chunkMB(1))
	ev := ts.createEvent(t, map[string]any{"name": "Sizes"})
	data := jpegOf(t, 4, mib+100)
	s := openChunked(t, ts, ts.Admin, ev.ID, "s.jpg", "image/jpeg", data, nil)
	if s.ChunkCount != 2 {
		t.Fatalf("chunk_count = %d, want 2", s.ChunkCount)
	}
	for _, c := range []struct {
		name     string
		index    int
		size     int
		expected int64
	}{
		{"first chunk one byte short", 0, mib - 1, mib},
		{"first chunk one byte long", 0, mib + 1, mib},
		{"first chunk empty", 0, 0, mib},
		{"first chunk of the remainder's size", 0, 100, mib},
		{"last chunk of chunk_size", 1, mib, 100},
		{"last chunk one byte short", 1, 99, 100},
		{"last chunk one byte long", 1, 101, 100},
		{"last chunk empty", 1, 0, 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := bytes.Repeat([]byte{7}, c.size)
			resp, b := s.put(t, c.index, body, nil)
			e := wantError(t, resp, b, 400, "chunk_size_mismatch")
			if got := detailNumber(t, e, "expected"); got != c.expected {
				t.Errorf("details.expected = %d, want %d", got, c.expected)
			}
			if got := detailNumber(t, e, "received"); got != int64(c.size) {
				t.Errorf("details.received = %d, want %d", got, c.size)
			}
		})
	}
	s.wantReceived(t)
	s.wantChunkFiles(t)
	if tmp := ts.blobFiles(t, ".tmp"); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
	if cr := s.putOK(t, 1); cr.ReceivedChunks != 1 {
		t.Errorf("received_chunks = %d", cr.ReceivedChunks)
	}
	s.putOK(t, 0)
	wantOriginal(t, ts, s.completeOK(t).ID, data)
}

// TestChunkedUploadLengthRequired: a chunk without Content-Length (chunked transfer
// encoding) is 411 length_required.
func TestChunkedUploadLengthRequired(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, chunkMB(1))
	ev := ts.createEvent(t, map[string]any{"name": "Length"})
	s := openChunked(t, ts, ts.Admin, ev.ID, "l.jpg", "image/jpeg", jpegOf(t, 5, mib+10), nil)
	for _, index := range []int{0, 1} {
		pr, pw := io.Pipe()
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			chunk := s.chunk(index)
			for off := 0; off < len(chunk); off += 16 << 10 {
				if _, err := pw.Write(chunk[off:min(off+16<<10, len(chunk))]); err != nil {
					return
				}
			}
			pw.Close()
		}()
		req, _ := http.NewRequest(http.MethodPut, ts.URL+s.path(fmt.Sprintf("/chunks/%d", index)), pr)
		req.Header.Set("Authorization", "Bearer "+ts.Admin)
		if req.ContentLength != -1 && req.ContentLength != 0 {
			t.Fatalf("request has a length %d", req.ContentLength)
		}
		req.ContentLength = -1
		resp, err := http.DefaultClient.Do(req)
		pr.CloseWithError(io.ErrClosedPipe)
		wg.Wait()
		if err != nil {
			t.Fatalf("chunked transfer: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantError(t, resp, b, 411, "length_required")
	}
	s.wantReceived(t)
	s.wantChunkFiles(t)
}

// sendTruncated sends a PUT whose Content-Length promises declared bytes but whose body
// has only len(body), over a raw connection. halfClose ends the request with a FIN and
// reads the answer; otherwise the connection is closed at once.
func sendTruncated(t testing.TB, ts *testServer, token, path string, declared int, body []byte, halfClose bool) (*http.Response, []byte) {
	t.Helper()
	u, err := url.Parse(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n",
		path, u.Host, token, declared)
	if _, err := conn.Write(body); err != nil {
		t.Fatalf("write partial body: %v", err)
	}
	if !halfClose {
		return nil, nil
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a cut-off chunk: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestChunkedUploadTruncatedChunk: a client that sends fewer bytes than its
// Content-Length and goes away stores nothing, and never destroys a good earlier copy.
func TestChunkedUploadTruncatedChunk(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, chunkMB(1))
	ev := ts.createEvent(t, map[string]any{"name": "Truncated"})
	data := jpegOf(t, 6, 2*mib+300)
	s := openChunked(t, ts, ts.Admin, ev.ID, "t.jpg", "image/jpeg", data, nil)
	chunkPath := func(i int) string { return s.path(fmt.Sprintf("/chunks/%d", i)) }
	noTemp := func() bool { return len(ts.blobFiles(t, ".tmp")) == 0 }

	// Half-closed: the server sees the end of the body early and says so.
	resp, b := sendTruncated(t, ts, ts.Admin, chunkPath(0), mib, s.chunk(0)[:300<<10], true)
	wantError(t, resp, b, 499, "client_closed_request")
	s.wantReceived(t)
	s.wantChunkFiles(t)
	pollUntil(t, 5*time.Second, "temporary files of the cut-off chunk are still there", noTemp)

	// Closed outright, on the last chunk.
	sendTruncated(t, ts, ts.Admin, chunkPath(2), 300, s.chunk(2)[:100], false)
	pollUntil(t, 5*time.Second, "temporary files of the cut-off chunk are still there", noTemp)
	s.wantReceived(t)
	s.wantChunkFiles(t)

	// A good copy survives a cut-off re-send with other bytes.
	s.putOK(t, 0)
	resp, b = sendTruncated(t, ts, ts.Admin, chunkPath(0), mib, bytes.Repeat([]byte{1}, 512<<10), true)
	wantError(t, resp, b, 499, "client_closed_request")
	sendTruncated(t, ts, ts.Admin, chunkPath(0), mib, bytes.Repeat([]byte{2}, 700<<10), false)
	pollUntil(t, 5*time.Second, "temporary files of the cut-off chunk are still there", noTemp)
	s.wantReceived(t, 0)
	onDisk, err := os.ReadFile(filepath.Join(ts.Cfg.BlobDir(), "uploads", s.UploadID, "000000"))
	if err != nil || !bytes.Equal(onDisk, s.chunk(0)) {
		t.Fatalf("chunk 0 on disk changed by a cut-off re-send (%v)", err)
	}
	s.putAll(t, 1, 2)
	wantOriginal(t, ts, s.completeOK(t).ID, data)
}

// TestChunkedUploadChunkDigests: a chunk whose Content-MD5, Repr-Digest or Digest does
// not match its bytes is 400 checksum_mismatch and is not stored; an earlier good copy
// stays; malformed headers are 400 invalid_parameter.
func TestChunkedUploadChunkDigests(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, chunkMB(1))
	ev := ts.createEvent(t, map[string]any{"name": "Digests"})
	data := jpegOf(t, 7, 2*mib+mib/2)
	s := openChunked(t, ts, ts.Admin, ev.ID, "d.jpg", "image/jpeg", data, nil)
	reprDigest := func(b []byte) string {
		h := sha256.Sum256(b)
		return "sha-256=:" + base64.StdEncoding.EncodeToString(h[:]) + ":"
	}
	digest := func(b []byte) string {
		h := sha256.Sum256(b)
		return "SHA-256=" + base64.StdEncoding.EncodeToString(h[:])
	}
	contentMD5 := func(b []byte) string { h := md5.Sum(b); return base64.StdEncoding.EncodeToString(h[:]) }
	headers := map[string]func([]byte) string{"Repr-Digest": reprDigest, "Digest": digest, "Content-MD5": contentMD5}
	good0 := s.chunk(0)
	bad0 := flipped(good0, len(good0)/2)

	// The first copy of chunk 0 is corrupted in transit: refused, nothing kept.
	for name, sum := range headers {
		resp, b := s.put(t, 0, bad0, map[string]string{name: sum(good0)})
		wantError(t, resp, b, 400, "checksum_mismatch")
	}
	s.wantReceived(t)
	s.wantChunkFiles(t)

	// A good copy with a matching header is stored.
	resp, b := s.put(t, 0, good0, map[string]string{"Repr-Digest": reprDigest(good0)})
	if resp.StatusCode != 200 {
		t.Fatalf("good chunk with Repr-Digest: %d %s", resp.StatusCode, b)
	}
	// A corrupted re-send is refused and the good copy kept, whichever header caught it.
	for name, sum := range headers {
		resp, b := s.put(t, 0, bad0, map[string]string{name: sum(good0)})
		wantError(t, resp, b, 400, "checksum_mismatch")
		s.wantReceived(t, 0)
	}
	onDisk, err := os.ReadFile(filepath.Join(ts.Cfg.BlobDir(), "uploads", s.UploadID, "000000"))
	if err != nil || !bytes.Equal(onDisk, good0) {
		t.Fatalf("chunk 0 on disk is not the good copy (%v)", err)
	}
	// Repr-Digest may list several algorithms; the sha-256 one is checked.
	resp, b = s.put(t, 1, s.chunk(1), map[string]string{"Repr-Digest": "sha-512=:AAAA:, " + reprDigest(s.chunk(1))})
	if resp.StatusCode != 200 {
		t.Fatalf("chunk 1 with two digests: %d %s", resp.StatusCode, b)
	}
	resp, b = s.put(t, 2, s.chunk(2), map[string]string{"Content-MD5": contentMD5(s.chunk(2))})
	if resp.StatusCode != 200 {
		t.Fatalf("chunk 2 with Content-MD5: %d %s", resp.StatusCode, b)
	}
	resp, b = s.put(t, 2, s.chunk(2), map[string]string{"Digest": digest(s.chunk(2))})
	if resp.StatusCode != 200 {
		t.Fatalf("chunk 2 again with Digest: %d %s", resp.StatusCode, b)
	}
	// Malformed or unsupported headers.
	for _, c := range []struct{ header, value string }{
		{"Content-MD5", "not base64!"},
		{"Content-MD5", base64.StdEncoding.EncodeToString([]byte("short"))},
		{"Repr-Digest", "md5=:" + contentMD5(good0) + ":"},
		{"Repr-Digest", "sha-256=:AAAA:"},
		{"Digest", "MD5=" + contentMD5(good0)},
		{"Digest", "SHA-256=@@@"},
	} {
		resp, b := s.put(t, 1, s.chunk(1), map[string]string{c.header: c.value})
		e := wantError(t, resp, b, 400, "invalid_parameter")
		if e.Details["parameter"] != c.header {
			t.Errorf("%s: %q: details.parameter = %v", c.header, c.value, e.Details["parameter"])
		}
	}
	s.wantReceived(t, 0, 1, 2)
	if tmp := ts.blobFiles(t, ".tmp"); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
	wantOriginal(t, ts, s.completeOK(t).ID, data)
}

// TestChunkedUploadCorruptChunkResent: without an integrity header a corrupted chunk is
// stored (the server cannot know); GET shows its sha256, a re-send replaces it (the
// count does not change: re-sending is idempotent) and the final file is right.
func TestChunkedUploadCorruptChunkResent(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, chunkMB(1))
	ev := ts.createEvent(t, map[string]any{"name": "Corrupt resent"})
	data := jpegOf(t, 8, 3*mib-7)
	s := openChunked(t, ts, ts.Admin, ev.ID, "c.jpg", "image/jpeg", data, nil)
	bad := flipped(s.chunk(1), 12345)
	resp, b := s.put(t, 1, bad, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("corrupt chunk without header: %d %s", resp.StatusCode, b)
	}
	s.putAll(t, 0, 2)
	up := s.status(t)
	if len(up.Chunks) != 3 || up.Chunks[1].SHA256 != hexSHA256(bad) || up.Chunks[0].SHA256 != hexSHA256(s.chunk(0)) {
		t.Fatalf("chunks %+v; want chunk 1 with the corrupt sha256 %s", up.Chunks, hexSHA256(bad))
	}
	for range 2 {
		if cr := s.putOK(t, 1); cr.ReceivedChunks != 3 {
			t.Fatalf("re-send: received_chunks = %d, want 3", cr.ReceivedChunks)
		}
	}
	s.wantReceived(t, 0, 1, 2)
	s.wantChunkFiles(t, 0, 1, 2)
	p := s.completeOK(t)
	wantOriginal(t, ts, p.ID, data)
}

// TestChunkedUploadChecksumAtComplete: with a declared sha256, a chunk still corrupted at
// complete makes it 400 checksum_mismatch with the sha256 the server got; the session
// stays open with its chunks, GET's chunk hashes find the bad one, and after a re-send
// complete succeeds.
func TestChunkedUploadChecksumAtComplete(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, chunkMB(1))
	ev := ts.createEvent(t, map[string]any{"name": "Whole-file hash"})
	data := jpegOf(t, 9, 3*mib-11)
	s := openChunked(t, ts, ts.Admin, ev.ID, "h.jpg", "image/jpeg", data, map[string]any{"sha256": hexSHA256(data)})
	s.putAll(t, 0, 2)
	if resp, b := s.put(t, 1, flipped(s.chunk(1), 77), nil); resp.StatusCode != 200 {
		t.Fatalf("corrupt chunk: %d %s", resp.StatusCode, b)
	}
	for range 2 { // and again: the failed complete left the session as it was
		resp, b := s.complete(t)
		e := wantError(t, resp, b, 400, "checksum_mismatch")
		if want := hexSHA256(flipped(data, int(s.ChunkSize)+77)); e.Details["sha256"] != want {
			t.Fatalf("details.sha256 = %v, want the assembled file's %s", e.Details["sha256"], want)
		}
		up := s.status(t)
		if up.Status != "open" || up.PhotoID != nil {
			t.Fatalf("status after checksum_mismatch: %+v", up)
		}
		var bad []int
		for _, c := range up.Chunks {
			if c.SHA256 != hexSHA256(s.chunk(c.Index)) {
				bad = append(bad, c.Index)
			}
		}
		if !reflect.DeepEqual(bad, []int{1}) || !reflect.DeepEqual(up.Received, []int{0, 1, 2}) {
			t.Fatalf("chunks whose sha256 differs: %v (received %v), want [1]", bad, up.Received)
		}
		s.wantChunkFiles(t, 0, 1, 2)
	}
	if e := ts.getEvent(t, ev.ID); e.PhotoCount != 0 {
		t.Fatalf("photo_count = %d after checksum_mismatch", e.PhotoCount)
	}
	s.putOK(t, 1)
	p := s.completeOK(t)
	wantOriginal(t, ts, p.ID, data)
	if resp, b := s.complete(t); resp.StatusCode != 201 || decode[server.PhotoResponse](t, b).ID != p.ID {
		t.Fatalf("repeated complete: %d %s", resp.StatusCode, b)
	}
}

// TestChunkedUploadChecksumBeforeType: with a declared sha256, a corrupted chunk is a
// checksum_mismatch wherever the corruption is, even in the file's first bytes where the
// type is read: the server holds bytes that are not the client's file, so it must say
// so and keep the session open, not judge (and throw away) the wrong bytes.
func TestChunkedUploadChecksumBeforeType(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, chunkMB(1))
	ev := ts.createEvent(t, map[string]any{"name": "Hash before type"})
	data := jpegOf(t, 10, 2*mib+5)
	s := openChunked(t, ts, ts.Admin, ev.ID, "f.jpg", "image/jpeg", data, map[string]any{"sha256": hexSHA256(data)})
	s.putAll(t, 1, 2)
	if resp, b := s.put(t, 0, flipped(s.chunk(0), 0), nil); resp.StatusCode != 200 { // 0xFF of the JPEG SOI
		t.Fatalf("corrupt first chunk: %d %s", resp.StatusCode, b)
	}
	resp, b := s.complete(t)
	e := wantError(t, resp, b, 400, "checksum_mismatch")
	if want := hexSHA256(flipped(data, 0)); e.Details["sha256"] != want {
		t.Errorf("details.sha256 = %v, want %s", e.Details["sha256"], want)
	}
	if up := s.status(t); up.Status != "open" {
		t.Fatalf("status %q after a corrupted first chunk, want open", up.Status)
	}
	s.wantChunkFiles(t, 0, 1, 2)
	s.putOK(t, 0)
	wantOriginal(t, ts, s.completeOK(t).ID, data)
}

// TestChunkedUploadSizeCaps: the per-file caps at create (declared size) and at complete
// (the type read from the bytes); refused bytes abort the session and remove its chunks.
func TestChunkedUploadSizeCaps(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, chunkMB(1))
	ev := ts.createEvent(t, map[string]any{"name": "Caps"})
	create := func(body map[string]any) (*http.Response, []byte) {
		return ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/events/%d/uploads", ev.ID), ts.Admin, body)
	}
	ts.patchSettings(t, map[string]any{"general_max_file_size_mb": 1})

	t.Run("image over the image cap at create", func(t *testing.T) {
		resp, b := create(map[string]any{"filename": "big.jpg", "size": mib + 1, "mime_type": "image/jpeg"})
		e := wantError(t, resp, b, 413, "file_too_large")
		if got := detailNumber(t, e, "max_bytes"); got != mib {
			t.Errorf("details.max_bytes = %d, want %d", got, mib)
		}
		// Exactly at the cap is fine.
		s := openChunked(t, ts, ts.Admin, ev.ID, "edge.jpg", "image/jpeg", jpegOf(t, 11, mib), nil)
		if resp, b := s.abort(t); resp.StatusCode != 204 {
			t.Fatalf("abort: %d %s", resp.StatusCode, b)
		}
	})
	t.Run("over every cap at create", func(t *testing.T) {
		for _, mime := range []string{"video/mp4", "", "application/octet-stream"} {
			resp, b := create(map[string]any{"filename": "huge.bin", "size": int64(10240)*mib + 1, "mime_type": mime})
			e := wantError(t, resp, b, 413, "file_too_large")
			if got := detailNumber(t, e, "max_bytes"); got != 10240*mib {
				t.Errorf("%q: details.max_bytes = %d, want %d", mime, got, int64(10240)*mib)
			}
		}
	})
	t.Run("more chunks than a session may have", func(t *testing.T) {
		ts.patchSettings(t, map[string]any{"general_max_video_size_mb": 1048576})
		defer ts.patchSettings(t, map[string]any{"general_max_video_size_mb": 10240})
		resp, b := create(map[string]any{"filename": "huge.mp4", "size": int64(200_001) * mib, "mime_type": "video/mp4"})
		wantError(t, resp, b, 413, "file_too_large")
	})
	// refused completes a session whose bytes must be refused with status/code, and
	// checks the session is aborted with its chunks gone.
	refused := func(t *testing.T, name, mime string, data []byte, status int, code string) {
		t.Helper()
		s := openChunked(t, ts, ts.Admin, ev.ID, name, mime, data, nil)
		s.putAll(t)
		resp, b := s.complete(t)
		wantError(t, resp, b, status, code)
		if up := s.status(t); up.Status != "aborted" || up.PhotoID != nil {
			t.Fatalf("status after %s: %+v", code, up)
		}
		s.wantChunkFiles(t)
		// Sending the bytes again cannot help: the session is closed.
		resp, b = s.put(t, 0, s.chunk(0), nil)
		e := wantError(t, resp, b, 409, "upload_closed")
		if e.Details["status"] != "aborted" {
			t.Errorf("details.status = %v", e.Details["status"])
		}
		resp, b = s.complete(t)
		wantError(t, resp, b, 409, "upload_closed")
		s.wantChunkFiles(t)
	}
	t.Run("declared a video, bytes a JPEG over the image cap", func(t *testing.T) {
		refused(t, "not-a-video.mp4", "video/mp4", jpegOf(t, 12, mib+mib/2), 413, "file_too_large")
	})
	t.Run("a real video over the video cap", func(t *testing.T) {
		clip, err := os.ReadFile(mediatest.Video(t, t.TempDir(), "mp4", 1, 160, 120))
		if err != nil {
			t.Fatal(err)
		}
		// Images may be larger than videos here, so only the video cap can refuse it.
		ts.patchSettings(t, map[string]any{"general_max_video_size_mb": 1, "general_max_file_size_mb": 50})
		defer ts.patchSettings(t, map[string]any{"general_max_video_size_mb": 10240, "general_max_file_size_mb": 1})
		// Declared without a video MIME type or name, so only the bytes can tell.
		refused(t, "long.bin", "application/octet-stream", mp4WithFreeBox(t, clip, 2*mib), 413, "file_too_large")
	})
	t.Run("text", func(t *testing.T) {
		refused(t, "notes.mp4", "video/mp4", bytes.Repeat([]byte("just some text\n"), 200), 415, "file_type_not_allowed")
	})
	t.Run("type not allowed", func(t *testing.T) {
		ts.patchSettings(t, map[string]any{"general_allowed_file_types": []string{"jpg", "mp4"}})
		defer ts.patchSettings(t, map[string]any{"general_allowed_file_types": []string{"jpg", "jpeg", "png", "gif", "webp", "heic", "heif", "mp4", "webm", "mov", "avi"}})
		refused(t, "p.png", "image/png", pngFixture(13), 415, "file_type_not_allowed")
	})
	t.Run("unreadable", func(t *testing.T) {
		junk := append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte{0x13}, 5000)...)
		refused(t, "broken.jpg", "image/jpeg", junk, 422, "unreadable_media")
	})
	if e := ts.getEvent(t, ev.ID); e.PhotoCount != 0 {
		t.Errorf("photo_count = %d, want 0", e.PhotoCount)
	}
	if got := ts.blobFiles(t, "originals"); len(got) != 0 {
		t.Errorf("refused uploads left originals: %v", got)
	}
}

// TestChunkedUploadVideoCapAtCreate: a session declared as a video is held to
// general_max_video_size_mb when it is opened, as an image is held to the image cap, so a
// client learns before sending gigabytes that the server will not take them.
func TestChunkedUploadVideoCapAtCreate(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, chunkMB(1))
	ev := ts.createEvent(t, map[string]any{"name": "Video cap"})
	ts.patchSettings(t, map[string]any{"general_max_video_size_mb": 1}) // images keep their 50 MB
	for _, mime := range []string{"video/mp4", "video/webm", "video/quicktime"} {
		resp, b := ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/events/%d/uploads", ev.ID), ts.Admin,
			map[string]any{"filename": "film", "size": 2 * mib, "mime_type": mime})
		e := wantError(t, resp, b, 413, "file_too_large")
		if got := detailNumber(t, e, "max_bytes"); got != mib {
			t.Errorf("%s: details.max_bytes = %d, want %d", mime, got, mib)
		}
	}
}

// mp4WithFreeBox appends an MP4 'free' box to clip so that the file is n bytes; it stays
// a valid MP4 (readers skip free boxes).
func mp4WithFreeBox(t testing.TB, clip []byte, n int) []byte {
	t.Helper()
	pad := n - len(clip)
	if pad < 8 {
		t.Fatalf("mp4WithFreeBox: clip of %d bytes does not fit in %d", len(clip), n)
	}
	out := make([]byte, n)
	copy(out, clip)
	box := out[len(clip):]
	box[0], box[1], box[2], box[3] = byte(pad>>24), byte(pad>>16), byte(pad>>8), byte(pad)
	copy(box[4:], "free")
	for i := 8; i < len(box); i++ {
		box[i] = byte(i * 31)
	}
	return out
}

// TestChunkedUploadExpired: a session past its expiry answers 410 upload_expired on every
// route (to its owner; others still get 404); a janitor pass removes it with its chunk
// files, and leaves live sessions alone.
func TestChunkedUploadExpired(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, chunkMB(1))
	ev := ts.createEvent(t, map[string]any{"name": "Expiry"})
	data := jpegOf(t, 14, 2*mib+1)
	old := openChunked(t, ts, ts.Admin, ev.ID, "old.jpg", "image/jpeg", data, nil)
	live := openChunked(t, ts, ts.Admin, ev.ID, "live.jpg", "image/jpeg", jpegOf(t, 15, 2*mib+1), nil)
	old.putAll(t, 0, 2)
	live.putAll(t, 0)
	db := ts.sqlDB(t)
	expire := func(id string) {
		t.Helper()
		res, err := db.Exec(`UPDATE uploads SET expires_at = '2000-01-01T00:00:00.000000Z' WHERE id = ?`, id)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			t.Fatalf("expire %s: %d rows", id, n)
		}
	}
	rows := func(id string) (sessions, chunks int) {
		t.Helper()
		if err := db.QueryRow(`SELECT COUNT(*) FROM uploads WHERE id = ?`, id).Scan(&sessions); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(`SELECT COUNT(*) FROM upload_chunks WHERE upload_id = ?`, id).Scan(&chunks); err != nil {
			t.Fatal(err)
		}
		return
	}
	expire(old.UploadID)

	resp, b := old.get(t)
	wantError(t, resp, b, 410, "upload_expired")
	resp, b = old.put(t, 1, old.chunk(1), nil)
	wantError(t, resp, b, 410, "upload_expired")
	resp, b = old.complete(t)
	wantError(t, resp, b, 410, "upload_expired")
	resp, b = old.abort(t)
	wantError(t, resp, b, 410, "upload_expired")
	// Expiry tells nothing to someone else.
	resp, b = ts.do(t, http.MethodGet, old.path(""), ts.token(t, "photos.write"), nil)
	wantError(t, resp, b, 404, "upload_not_found")
	old.wantChunkFiles(t, 0, 2)
	if e := ts.getEvent(t, ev.ID); e.PhotoCount != 0 {
		t.Fatalf("photo_count = %d", e.PhotoCount)
	}

	// A restarted server runs the janitor at start and then every 200 ms.
	ts = restartTestServer(t, ts, chunkMB(1), func(c *server.Config) { c.JanitorInterval = 200 * time.Millisecond })
	old.ts, live.ts = ts, ts
	// The janitor removes the chunk files, then the row.
	pollUntil(t, 10*time.Second, "the janitor did not remove the expired session", func() bool {
		resp, _ := old.get(t)
		return resp.StatusCode == 404
	})
	resp, b = old.get(t)
	wantError(t, resp, b, 404, "upload_not_found")
	old.wantChunkFiles(t)
	if s, c := rows(old.UploadID); s != 0 || c != 0 {
		t.Fatalf("rows left of the expired session: %d uploads, %d chunks", s, c)
	}
	live.wantReceived(t, 0)
	live.wantChunkFiles(t, 0)

	// The running janitor catches a session that expires while the server runs.
	live.putOK(t, 1)
	expire(live.UploadID)
	pollUntil(t, 10*time.Second, "the janitor did not remove the expired session", func() bool {
		resp, _ := live.get(t)
		return resp.StatusCode == 404
	})
	resp, b = live.get(t)
	wantError(t, resp, b, 404, "upload_not_found")
	pollUntil(t, 5*time.Second, "the expired session's chunk files are still on disk", func() bool { return len(live.chunkFiles(t)) == 0 })
	live.wantChunkFiles(t)
	if s, c := rows(live.UploadID); s != 0 || c != 0 {
		t.Fatalf("rows left of the expired session: %d uploads, %d chunks", s, c)
	}
	if got := ts.blobFiles(t, "uploads"); len(got) != 0 {
		t.Errorf("chunk files left: %v", got)
	}
}

// completeResult is one answer of a concurrent complete.
type completeResult struct {
	status int
	body   []byte
	err    error
}

// completeConcurrently calls complete on every session n times at once (goroutines
// released together) and returns the answers per session.
func completeConcurrently(ts *testServer, sessions []*chunkedSession, n int) [][]completeResult {
	out := make([][]completeResult, len(sessions))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for si, s := range sessions {
		out[si] = make([]completeResult, n)
		for k := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest(http.MethodPost, ts.URL+s.path("/complete"), nil)
				req.Header.Set("Authorization", "Bearer "+s.token)
				<-start
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					out[si][k] = completeResult{err: err}
					return
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				out[si][k] = completeResult{status: resp.StatusCode, body: b, err: err}
			}()
		}
	}
	close(start)
	wg.Wait()
	return out
}

// TestChunkedUploadConcurrentComplete: eight completes at once make one photo and all
// answer it; a later complete answers it again; the closed session takes no chunks.
func TestChunkedUploadConcurrentComplete(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, chunkMB(1))
	ev := ts.createEvent(t, map[string]any{"name": "Single flight"})
	data := jpegOf(t, 16, 3*mib+3)
	s := openChunked(t, ts, ts.Admin, ev.ID, "once.jpg", "image/jpeg", data, nil)
	s.putAll(t)
	var photoID int64
	for k, r := range completeConcurrently(ts, []*chunkedSession{s}, 8)[0] {
		if r.err != nil || r.status != http.StatusCreated {
			t.Fatalf("complete #%d: %d %v %s", k, r.status, r.err, r.body)
		}
		p := decode[server.PhotoResponse](t, r.body)
		if photoID == 0 {
			photoID = p.ID
		}
		if p.ID != photoID || p.SHA256 != hexSHA256(data) {
			t.Fatalf("complete #%d answered photo %d (%s), others %d", k, p.ID, p.SHA256, photoID)
		}
	}
	if e := ts.getEvent(t, ev.ID); e.PhotoCount != 1 {
		t.Fatalf("photo_count = %d, want 1", e.PhotoCount)
	}
	if l := ts.listPhotos(t, ev.ID, ""); l.Total != 1 || len(l.Items) != 1 || l.Items[0].ID != photoID {
		t.Fatalf("photos listed: %+v", ids(l.Items))
	}
	if got := ts.blobFiles(t, fmt.Sprintf("originals/%d", ev.ID)); len(got) != 1 {
		t.Fatalf("originals on disk: %v", got)
	}
	if p := s.completeOK(t); p.ID != photoID {
		t.Fatalf("later complete answered photo %d, want %d", p.ID, photoID)
	}
	resp, b := s.put(t, 0, s.chunk(0), nil)
	e := wantError(t, resp, b, 409, "upload_closed")
	if e.Details["status"] != "completed" || detailNumber(t, e, "photo_id") != photoID {
		t.Errorf("upload_closed details %v", e.Details)
	}
	up := s.status(t)
	if up.Status != "completed" || up.PhotoID == nil || *up.PhotoID != photoID {
		t.Fatalf("status %+v", up)
	}
	s.wantChunkFiles(t)
	wantOriginal(t, ts, photoID, data)
	// Forgetting a finished session keeps its photo.
	if resp, b := s.abort(t); resp.StatusCode != 204 {
		t.Fatalf("delete completed session: %d %s", resp.StatusCode, b)
	}
	resp, b = s.get(t)
	wantError(t, resp, b, 404, "upload_not_found")
	wantOriginal(t, ts, photoID, data)
}

// TestChunkedUploadConcurrentSameBytes: two sessions with the same bytes completed at
// once store one photo; the other is a duplicate of it, and stays one.
func TestChunkedUploadConcurrentSameBytes(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, chunkMB(1))
	ev := ts.createEvent(t, map[string]any{"name": "Same bytes"})
	data := jpegOf(t, 17, 2*mib+17)
	a := openChunked(t, ts, ts.token(t, "photos.write"), ev.ID, "a.jpg", "image/jpeg", data, nil)
	b := openChunked(t, ts, ts.token(t, "photos.write"), ev.ID, "b.jpg", "image/jpeg", data, nil)
	a.putAll(t)
	b.putAll(t)
	res := completeConcurrently(ts, []*chunkedSession{a, b}, 2)
	var winner int64
	var loser *chunkedSession
	for si, s := range []*chunkedSession{a, b} {
		for _, r := range res[si] {
			if r.err != nil {
				t.Fatal(r.err)
			}
		}
		if res[si][0].status == 201 {
			winner = decode[server.PhotoResponse](t, res[si][0].body).ID
		} else {
			loser = s
		}
	}
	if winner == 0 || loser == nil {
		t.Fatalf("want one 201 and one duplicate: %d %s / %d %s", res[0][0].status, res[0][0].body, res[1][0].status, res[1][0].body)
	}
	for si, s := range []*chunkedSession{a, b} {
		for _, r := range res[si] {
			if s == loser {
				e := decode[server.ErrorResponse](t, r.body).Error
				if r.status != 409 || e.Code != "duplicate" || detailNumber(t, e, "photo_id") != winner {
					t.Fatalf("loser: %d %s, want 409 duplicate of photo %d", r.status, r.body, winner)
				}
			} else if r.status != 201 || decode[server.PhotoResponse](t, r.body).ID != winner {
				t.Fatalf("winner: %d %s", r.status, r.body)
			}
		}
	}
	resp, body := loser.complete(t)
	e := wantError(t, resp, body, 409, "duplicate")
	if detailNumber(t, e, "photo_id") != winner {
		t.Errorf("repeated complete names %v", e.Details["photo_id"])
	}
	if up := loser.status(t); up.Status != "duplicate" || up.PhotoID == nil || *up.PhotoID != winner {
		t.Errorf("loser status %+v", up)
	}
	loser.wantChunkFiles(t)
	if e := ts.getEvent(t, ev.ID); e.PhotoCount != 1 {
		t.Fatalf("photo_count = %d, want 1", e.PhotoCount)
	}
	if got := ts.blobFiles(t, fmt.Sprintf("originals/%d", ev.ID)); len(got) != 1 {
		t.Fatalf("originals on disk: %v", got)
	}
}

// TestChunkedUploadMissingChunks: complete names exactly the chunks that have not arrived
// and leaves the session open; once they are sent it succeeds.
func TestChunkedUploadMissingChunks(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, chunkMB(1))
	ev := ts.createEvent(t, map[string]any{"name": "Missing"})
	data := jpegOf(t, 18, 4*mib+10)
	s := openChunked(t, ts, ts.Admin, ev.ID, "m.jpg", "image/jpeg", data, nil)
	missing := func(want ...int) {
		t.Helper()
		resp, b := s.complete(t)
		e := wantError(t, resp, b, 409, "missing_chunks")
		var got []int
		list, ok := e.Details["missing"].([]any)
		if !ok {
			t.Fatalf("details.missing = %#v", e.Details["missing"])
		}
		for _, v := range list {
			got = append(got, int(v.(float64)))
		}
		if !reflect.DeepEqual(got, want) || detailNumber(t, e, "missing_count") != int64(len(want)) {
			t.Fatalf("missing %v (count %v), want %v", got, e.Details["missing_count"], want)
		}
		if up := s.status(t); up.Status != "open" {
			t.Fatalf("status %q after missing_chunks", up.Status)
		}
	}
	missing(0, 1, 2, 3, 4)
	s.putAll(t, 4, 0, 2)
	missing(1, 3)
	s.wantReceived(t, 0, 2, 4)
	s.wantChunkFiles(t, 0, 2, 4)
	s.putAll(t, 3)
	missing(1)
	s.putAll(t, 1)
	p := s.completeOK(t)
	wantOriginal(t, ts, p.ID, data)
	s.wantChunkFiles(t)
}

// TestChunkedUploadDuplicate: a chunked upload of bytes already in the event is 409
// duplicate naming the photo, again on a repeated complete; in another event it is a new
// photo.
func TestChunkedUploadDuplicate(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, chunkMB(1))
	ev := ts.createEvent(t, map[string]any{"name": "Dup"})
	data := jpegOf(t, 19, 2*mib+19)
	first := ts.uploadOne(t, ev.ID, "first.jpg", data)
	s := openChunked(t, ts, ts.Admin, ev.ID, "again.jpg", "image/jpeg", data, nil)
	s.putAll(t)
	for range 2 {
		resp, b := s.complete(t)
		e := wantError(t, resp, b, 409, "duplicate")
		if detailNumber(t, e, "photo_id") != first {
			t.Fatalf("duplicate names %v, want %d", e.Details["photo_id"], first)
		}
	}
	if up := s.status(t); up.Status != "duplicate" || up.PhotoID == nil || *up.PhotoID != first {
		t.Fatalf("status %+v", up)
	}
	s.wantChunkFiles(t)
	resp, b := s.put(t, 0, s.chunk(0), nil)
	wantError(t, resp, b, 409, "upload_closed")
	if e := ts.getEvent(t, ev.ID); e.PhotoCount != 1 {
		t.Fatalf("photo_count = %d", e.PhotoCount)
	}
	other := ts.createEvent(t, map[string]any{"name": "Dup elsewhere"})
	s2 := openChunked(t, ts, ts.Admin, other.ID, "again.jpg", "image/jpeg", data, nil)
	s2.putAll(t)
	if p := s2.completeOK(t); p.ID == first {
		t.Fatalf("another event got the same photo")
	}
}

// TestChunkedUploadPhotoCap: a full event refuses new sessions, and a session opened
// before the event filled up is refused at complete but stays open for later.
func TestChunkedUploadPhotoCap(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, chunkMB(1))
	ev := ts.createEvent(t, map[string]any{"name": "Capped", "photo_cap": 1})
	data := jpegOf(t, 20, mib+20)
	s := openChunked(t, ts, ts.Admin, ev.ID, "late.jpg", "image/jpeg", data, nil)
	s.putAll(t)
	filler := ts.uploadOne(t, ev.ID, "filler.jpg", smallJPEG(21))

	resp, b := ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/events/%d/uploads", ev.ID), ts.Admin, map[string]any{"filename": "x.jpg", "size": 100})
	e := wantError(t, resp, b, 400, "photo_cap_exceeded")
	if detailNumber(t, e, "photo_cap") != 1 {
		t.Errorf("details %v", e.Details)
	}
	resp, b = s.complete(t)
	wantError(t, resp, b, 400, "photo_cap_exceeded")
	if up := s.status(t); up.Status != "open" {
		t.Fatalf("status %q after photo_cap_exceeded", up.Status)
	}
	s.wantChunkFiles(t, 0, 1)
	if e := ts.getEvent(t, ev.ID); e.PhotoCount != 1 {
		t.Fatalf("photo_count = %d", e.PhotoCount)
	}
	if got := ts.blobFiles(t, fmt.Sprintf("originals/%d", ev.ID)); len(got) != 1 {
		t.Fatalf("originals on disk: %v", got)
	}
	if resp, b := ts.do(t, http.MethodDelete, fmt.Sprintf("/api/v1/photos/%d", filler), ts.Admin, nil); resp.StatusCode != 204 {
		t.Fatalf("delete filler: %d %s", resp.StatusCode, b)
	}
	wantOriginal(t, ts, s.completeOK(t).ID, data)
}

// TestChunkedUploadArchivedEvent: a session whose event was archived cannot complete
// (409 event_archived) but stays open; after restore it completes.
func TestChunkedUploadArchivedEvent(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, chunkMB(1))
	ev := ts.createEvent(t, map[string]any{"name": "Archive later"})
	data := jpegOf(t, 22, mib+22)
	s := openChunked(t, ts, ts.Admin, ev.ID, "a.jpg", "image/jpeg", data, nil)
	s.putAll(t)
	if resp, b := ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/events/%d/archive", ev.ID), ts.Admin, nil); resp.StatusCode != 200 {
		t.Fatalf("archive: %d %s", resp.StatusCode, b)
	}
	resp, b := s.complete(t)
	wantError(t, resp, b, 409, "event_archived")
	if up := s.status(t); up.Status != "open" {
		t.Fatalf("status %q", up.Status)
	}
	if resp, b := ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/events/%d/restore", ev.ID), ts.Admin, nil); resp.StatusCode != 200 {
		t.Fatalf("restore: %d %s", resp.StatusCode, b)
	}
	wantOriginal(t, ts, s.completeOK(t).ID, data)
}

// TestChunkedUploadAbort: DELETE ends a session: 204, its chunk files are gone, and the
// id is then unknown everywhere.
func TestChunkedUploadAbort(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, chunkMB(1))
	ev := ts.createEvent(t, map[string]any{"name": "Abort"})
	s := openChunked(t, ts, ts.Admin, ev.ID, "gone.jpg", "image/jpeg", jpegOf(t, 23, 2*mib+23), nil)
	s.putAll(t, 0, 2)
	s.wantChunkFiles(t, 0, 2)
	resp, b := s.abort(t)
	if resp.StatusCode != http.StatusNoContent || len(b) != 0 {
		t.Fatalf("delete: %d %s", resp.StatusCode, b)
	}
	s.wantChunkFiles(t)
	resp, b = s.get(t)
	wantError(t, resp, b, 404, "upload_not_found")
	resp, b = s.put(t, 1, s.chunk(1), nil)
	wantError(t, resp, b, 404, "upload_not_found")
	resp, b = s.complete(t)
	wantError(t, resp, b, 404, "upload_not_found")
	resp, b = s.abort(t)
	wantError(t, resp, b, 404, "upload_not_found")
	s.wantChunkFiles(t)
	if e := ts.getEvent(t, ev.ID); e.PhotoCount != 0 {
		t.Errorf("photo_count = %d", e.PhotoCount)
	}
}

// TestChunkedUploadEventDeleted: deleting an event removes its open sessions with their
// chunk files (at the latest at the next janitor pass): no row and no blob is left.
func TestChunkedUploadEventDeleted(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, chunkMB(1))
	ev := ts.createEvent(t, map[string]any{"name": "Deleted with sessions"})
	s := openChunked(t, ts, ts.Admin, ev.ID, "orphan.jpg", "image/jpeg", jpegOf(t, 24, 2*mib+24), nil)
	s.putAll(t, 0, 1)
	if resp, b := ts.do(t, http.MethodDelete, fmt.Sprintf("/api/v1/events/%d", ev.ID), ts.Admin, nil); resp.StatusCode != 204 {
		t.Fatalf("delete event: %d %s", resp.StatusCode, b)
	}
	resp, b := s.get(t)
	wantError(t, resp, b, 404, "upload_not_found")
	// The janitor runs at start and then every 200 ms.
	ts = restartTestServer(t, ts, chunkMB(1), func(c *server.Config) { c.JanitorInterval = 200 * time.Millisecond })
	s.ts = ts
	pollUntil(t, 5*time.Second, fmt.Sprintf("chunk files of a deleted event's session are never removed: %v", s.chunkFiles(t)),
		func() bool { return len(s.chunkFiles(t)) == 0 })
}

// TestChunkedUploadResumeAfterRestart: a session survives a restart; GET tells exactly
// which chunks arrived, the client sends the rest and completes; after another restart a
// repeated complete still answers the same photo.
func TestChunkedUploadResumeAfterRestart(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, chunkMB(1))
	ev := ts.createEvent(t, map[string]any{"name": "Resume"})
	data := jpegOf(t, 25, 4*mib-25)
	s := openChunked(t, ts, ts.Admin, ev.ID, "resume.jpg", "image/jpeg", data, nil)
	s.putAll(t, 3, 1)
	ts = restartTestServer(t, ts, chunkMB(1))
	s.ts = ts
	up := s.wantReceived(t, 1, 3)
	if up.Status != "open" || up.ExpiresAt.Sub(s.ExpiresAt).Abs() > time.Millisecond {
		t.Fatalf("after restart: %+v (expires_at was %s)", up, s.ExpiresAt)
	}
	s.wantChunkFiles(t, 1, 3)
	for _, i := range []int{0, 2} {
		if cr := s.putOK(t, i); cr.ReceivedChunks != 3+i/2 {
			t.Fatalf("chunk %d: received_chunks = %d", i, cr.ReceivedChunks)
		}
	}
	p := s.completeOK(t)
	wantOriginal(t, ts, p.ID, data)
	ts = restartTestServer(t, ts, chunkMB(1))
	s.ts = ts
	if again := s.completeOK(t); again.ID != p.ID {
		t.Fatalf("complete after restart answered photo %d, want %d", again.ID, p.ID)
	}
	if e := ts.getEvent(t, ev.ID); e.PhotoCount != 1 {
		t.Fatalf("photo_count = %d", e.PhotoCount)
	}
}

// TestChunkedRouteNamedByBatchLimit: the multipart route refuses a request over
// MaxBatchMB with 413 batch_too_large whose message and details name the chunked route,
// and the same file goes through that route.
func TestChunkedRouteNamedByBatchLimit(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, chunkMB(1), func(c *server.Config) { c.MaxBatchMB = 1 })
	ev := ts.createEvent(t, map[string]any{"name": "Batch limit"})
	data := jpegOf(t, 26, 2*mib)
	resp, b := ts.upload(t, ev.ID, ts.Admin, []uploadFile{{"big.jpg", data}}, nil)
	e := wantError(t, resp, b, 413, "batch_too_large")
	const route = "/api/v1/events/{id}/uploads"
	if !strings.Contains(e.Message, route) {
		t.Errorf("message %q does not name %s", e.Message, route)
	}
	if e.Details["chunked_upload"] != route || detailNumber(t, e, "max_bytes") != mib {
		t.Errorf("details %v, want chunked_upload %s and max_bytes %d", e.Details, route, mib)
	}
	if got := ts.blobFiles(t, "originals"); len(got) != 0 {
		t.Fatalf("refused batch left %v", got)
	}
	s := openChunked(t, ts, ts.Admin, ev.ID, "big.jpg", "image/jpeg", data, nil)
	s.putAll(t)
	wantOriginal(t, ts, s.completeOK(t).ID, data)
}

// TestChunkedUploadCompletingLease: a session left "completing" by a process that died
// mid-assembly (set here in the database) answers 409 upload_in_progress with
// Retry-After while its lease runs, to complete and to chunks alike; once the lease has
// run out, a complete takes it over and stores the file.
func TestChunkedUploadCompletingLease(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, chunkMB(1))
	ev := ts.createEvent(t, map[string]any{"name": "Lease"})
	data := jpegOf(t, 30, 2*mib+30)
	s := openChunked(t, ts, ts.Admin, ev.ID, "lease.jpg", "image/jpeg", data, nil)
	s.putAll(t)
	db := ts.sqlDB(t)
	lease := func(until time.Time) {
		t.Helper()
		if _, err := db.Exec(`UPDATE uploads SET status = 'completing', completing_until = ? WHERE id = ?`,
			until.UTC().Format("2006-01-02T15:04:05.000000Z"), s.UploadID); err != nil {
			t.Fatal(err)
		}
	}
	lease(time.Now().Add(10 * time.Minute))
	if up := s.status(t); up.Status != "completing" {
		t.Fatalf("status %q", up.Status)
	}
	resp, b := s.complete(t)
	wantError(t, resp, b, 409, "upload_in_progress")
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("upload_in_progress without Retry-After")
	}
	resp, b = s.put(t, 0, s.chunk(0), nil)
	wantError(t, resp, b, 409, "upload_in_progress")
	s.wantChunkFiles(t, 0, 1, 2)

	lease(time.Now().Add(-time.Second))
	p := s.completeOK(t)
	wantOriginal(t, ts, p.ID, data)
	if up := s.status(t); up.Status != "completed" || up.PhotoID == nil || *up.PhotoID != p.ID {
		t.Fatalf("status %+v", up)
	}
}
