// Package connectorfake provides in-memory fake servers for the three
// platforms Gallerist's outbound connectors push photos to: BuildPass,
// Procore and Brilliant Directories. Each fake is an httptest.Server on
// loopback that enforces the platform's documented rules (see
// shared/research/connectors.md §6), logs every request and can inject
// faults (errors, hangs, writes that commit and then drop the connection).
//
// The package imports nothing from the Gallerist module so that both
// package tests and end-to-end tests can use it.
package connectorfake

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Fault describes an injected failure. A fault matches a request when
// Method, Path and Match all accept it; see the field comments.
type Fault struct {
	Method string // "" = any
	Path   string // matches when the request URL path ends with or contains this string ("" = any)
	Nth    int    // 1-based: fire only on the Nth matching request counted from when the fault was added; 0 = every matching request
	Times  int    // with Nth==0: fire at most this many times (0 = unlimited)
	// Action is one of:
	//   "status"            answer Status with Body (and Retry-After when RetryAfter is set)
	//   "429"               the platform's 429 with its headers
	//   "503"               503 (Procore always sends Retry-After; others only when RetryAfter is set)
	//   "hang"              hold the request until the client gives up (nothing applied) or Release
	//                       (then the request is served normally)
	//   "commit_then_reset" apply the request, then drop the connection without answering (TCP RST)
	//   "commit_then_status" apply the request, then answer Status with Body instead of the real answer
	//   "commit_then_hang"  apply, then hold the connection open without answering until Release or
	//                       Close, then drop it
	//   "delay"             sleep Delay, then serve normally
	Action     string
	Status     int
	Body       string
	RetryAfter string        // Retry-After header value for 429/503/status when set
	Delay      time.Duration // for "delay"
	// Match is an optional extra predicate; body is the raw request body
	// (for multipart, the raw bytes).
	Match func(r *http.Request, body []byte) bool
}

// Request is one logged request. Secrets are masked.
type Request struct {
	Time     time.Time
	Host     string // "api", "login", "storage" (Procore) or "" for single-host fakes
	Method   string
	Path     string
	RawQuery string
	Header   http.Header // Authorization, X-Api-Key, Cookie masked as "***"
	Body     []byte      // first 64 KiB; OAuth secrets (client_secret, refresh_token, code) masked
	Status   int         // 0 when the connection was dropped or the client gave up
}

type faultEntry struct {
	Fault
	seen, fired int
}

// base holds what every fake shares: the fault list, the request log, the
// write counter, the release channel and the fake clock.
type base struct {
	t       testing.TB
	mu      sync.Mutex
	faults  []*faultEntry
	reqs    []Request
	writes  int
	release chan struct{}
	closed  chan struct{}
	once    sync.Once
	offset  time.Duration
	servers []*httptest.Server

	// platform hooks for the "429" and "503" fault actions
	on429 func(w http.ResponseWriter, f Fault)
	on503 func(w http.ResponseWriter, f Fault)
}

func newBase(t testing.TB) *base {
	return &base{t: t, release: make(chan struct{}), closed: make(chan struct{})}
}

// handlerFunc is a fake's endpoint handler; body is the full request body.
type handlerFunc func(w http.ResponseWriter, r *http.Request, body []byte)

func (b *base) start(host string, h handlerFunc) *httptest.Server {
	s := httptest.NewServer(b.wrap(host, h))
	b.servers = append(b.servers, s)
	return s
}

// AddFault installs a fault. Faults are checked in the order added; the
// first one that fires wins, but every matching fault counts the request.
func (b *base) AddFault(f Fault) {
	b.mu.Lock()
	b.faults = append(b.faults, &faultEntry{Fault: f})
	b.mu.Unlock()
}

// ClearFaults removes every fault.
func (b *base) ClearFaults() {
	b.mu.Lock()
	b.faults = nil
	b.mu.Unlock()
}

// Release ends every held "hang" and "commit_then_hang".
func (b *base) Release() {
	b.mu.Lock()
	close(b.release)
	b.release = make(chan struct{})
	b.mu.Unlock()
}

// Requests returns a copy of the request log in arrival order.
func (b *base) Requests() []Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Request, len(b.reqs))
	copy(out, b.reqs)
	for i := range out {
		out[i].Header = out[i].Header.Clone()
		out[i].Body = append([]byte(nil), out[i].Body...)
	}
	return out
}

// Writes returns the number of applied state-changing API requests; each
// fake documents exactly what counts.
func (b *base) Writes() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.writes
}

// Advance moves the fake's clock forward (token, key and upload expiry,
// rate windows).
func (b *base) Advance(d time.Duration) {
	b.mu.Lock()
	b.offset += d
	b.mu.Unlock()
}

func (b *base) now() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.nowLocked()
}

func (b *base) nowLocked() time.Time { return time.Now().Add(b.offset) }

// Close releases held requests and shuts the servers down. Safe to call twice.
func (b *base) Close() {
	b.once.Do(func() {
		close(b.closed)
		b.Release()
		for _, s := range b.servers {
			s.Close()
		}
	})
}

// countWriteLocked counts one applied write; b.mu must be held.
func (b *base) countWriteLocked() { b.writes++ }

var secretPart = regexp.MustCompile(`(name="(?:client_secret|refresh_token|code|access_token)"\r?\n(?:[^\r\n]+\r?\n)*\r?\n)[^\r\n]*`)

var secretBody = regexp.MustCompile(`("?(?:client_secret|refresh_token|code|access_token)"?\s*[=:]\s*"?)([^"&,}\s]*)`)

func (b *base) logRequest(host string, r *http.Request, body []byte) int {
	h := r.Header.Clone()
	for _, k := range []string{"Authorization", "X-Api-Key", "Cookie"} {
		if h.Get(k) != "" {
			h.Set(k, "***")
		}
	}
	lb := body
	if len(lb) > 64<<10 {
		lb = lb[:64<<10]
	}
	lb = append([]byte(nil), lb...)
	if strings.Contains(r.URL.Path, "/oauth/") {
		lb = secretPart.ReplaceAll(lb, []byte("${1}***"))
		lb = secretBody.ReplaceAll(lb, []byte("${1}***"))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reqs = append(b.reqs, Request{Time: time.Now(), Host: host, Method: r.Method, Path: r.URL.Path,
		RawQuery: r.URL.RawQuery, Header: h, Body: lb})
	return len(b.reqs) - 1
}

func (b *base) setStatus(i, status int) {
	b.mu.Lock()
	b.reqs[i].Status = status
	b.mu.Unlock()
}

func (b *base) matchFault(r *http.Request, body []byte) *Fault {
	b.mu.Lock()
	defer b.mu.Unlock()
	var hit *Fault
	for _, f := range b.faults {
		if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
			continue
		}
		if f.Path != "" && !strings.Contains(r.URL.Path, f.Path) {
			continue
		}
		if f.Match != nil && !f.Match(r, body) {
			continue
		}
		f.seen++
		fire := false
		if f.Nth > 0 {
			fire = f.seen == f.Nth
		} else {
			fire = f.Times == 0 || f.fired < f.Times
		}
		if fire && hit == nil {
			f.fired++
			ff := f.Fault
			hit = &ff
		}
	}
	return hit
}

// recWriter records the status and supports hijacking.
type recWriter struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

func (w *recWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
	w.ResponseWriter.WriteHeader(s)
}

func (w *recWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *recWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *recWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.hijacked = true
	return w.ResponseWriter.(http.Hijacker).Hijack()
}

// dropConn closes the client connection without an HTTP answer (a TCP
// reset). It is a no-op on writers that cannot be hijacked.
func dropConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

func (b *base) wrap(host string, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rw := &recWriter{ResponseWriter: w}
		idx := b.logRequest(host, r, body)
		defer func() {
			st := rw.status
			if rw.hijacked {
				st = 0
			} else if st == 0 && r.Context().Err() == nil {
				st = http.StatusOK
			}
			b.setStatus(idx, st)
		}()
		f := b.matchFault(r, body)
		if f == nil {
			h(rw, r, body)
			return
		}
		reset := func() { r.Body = io.NopCloser(bytes.NewReader(body)) }
		switch f.Action {
		case "status":
			if f.RetryAfter != "" {
				rw.Header().Set("Retry-After", f.RetryAfter)
			}
			if strings.HasPrefix(strings.TrimSpace(f.Body), "{") || strings.HasPrefix(strings.TrimSpace(f.Body), "[") {
				rw.Header().Set("Content-Type", "application/json")
			}
			st := f.Status
			if st == 0 {
				st = http.StatusInternalServerError
			}
			rw.WriteHeader(st)
			_, _ = io.WriteString(rw, f.Body)
		case "429":
			b.on429(rw, *f)
		case "503":
			b.on503(rw, *f)
		case "hang":
			if b.hold(r) {
				reset()
				h(rw, r, body)
			}
		case "delay":
			select {
			case <-time.After(f.Delay):
				h(rw, r, body)
			case <-r.Context().Done():
			case <-b.closed:
			}
		case "commit_then_reset":
			h(httptest.NewRecorder(), r, body)
			dropConn(rw)
		case "commit_then_status":
			h(httptest.NewRecorder(), r, body)
			st := f.Status
			if st == 0 {
				st = http.StatusInternalServerError
			}
			if f.RetryAfter != "" {
				rw.Header().Set("Retry-After", f.RetryAfter)
			}
			rw.WriteHeader(st)
			_, _ = io.WriteString(rw, f.Body)
		case "commit_then_hang":
			h(httptest.NewRecorder(), r, body)
			b.hold(r)
			dropConn(rw)
		default:
			b.t.Errorf("connectorfake: unknown fault action %q", f.Action)
			h(rw, r, body)
		}
	})
}

// hold blocks until Release (true), or the client gives up or the fake
// closes (false).
func (b *base) hold(r *http.Request) bool {
	b.mu.Lock()
	ch := b.release
	b.mu.Unlock()
	select {
	case <-ch:
		return true
	case <-r.Context().Done():
		return false
	case <-b.closed:
		return false
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// window is a sliding rate-limit window. A limit < 0 means unlimited.
type window struct {
	limit int
	span  time.Duration
	hits  []time.Time
}

func (w *window) prune(now time.Time) {
	i := 0
	for i < len(w.hits) && !w.hits[i].After(now.Add(-w.span)) {
		i++
	}
	w.hits = w.hits[i:]
}

// take records one request; false means the window is full.
func (w *window) take(now time.Time) bool {
	if w.limit < 0 {
		return true
	}
	w.prune(now)
	if len(w.hits) >= w.limit {
		return false
	}
	w.hits = append(w.hits, now)
	return true
}

func (w *window) remaining(now time.Time) int {
	if w.limit < 0 {
		return 1 << 30
	}
	w.prune(now)
	if n := w.limit - len(w.hits); n > 0 {
		return n
	}
	return 0
}

// reset is when the oldest hit leaves the window (now+span when empty).
func (w *window) reset(now time.Time) time.Time {
	w.prune(now)
	if len(w.hits) == 0 {
		return now.Add(w.span)
	}
	return w.hits[0].Add(w.span)
}

func isJSON(r *http.Request) bool {
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	return strings.HasPrefix(ct, "application/json") || strings.HasPrefix(ct, "application/") && strings.Contains(ct, "+json")
}

func bearer(r *http.Request) string {
	a := r.Header.Get("Authorization")
	if len(a) > 7 && strings.EqualFold(a[:7], "Bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

// oauthParams reads token-endpoint parameters from a JSON, form or
// multipart body, plus HTTP Basic credentials.
func oauthParams(r *http.Request, body []byte) map[string]string {
	p := map[string]string{}
	if isJSON(r) {
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		for k, v := range m {
			if s, ok := v.(string); ok {
				p[k] = s
			}
		}
	} else if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
		if err := r.ParseMultipartForm(1 << 20); err == nil {
			for k, v := range r.MultipartForm.Value {
				if len(v) > 0 {
					p[k] = v[0]
				}
			}
		}
	} else {
		_ = r.ParseForm()
		for k, v := range r.PostForm {
			if len(v) > 0 {
				p[k] = v[0]
			}
		}
	}
	if u, pw, ok := r.BasicAuth(); ok {
		p["client_id"], p["client_secret"] = u, pw
	}
	return p
}

// copies returns copies of the records keep accepts (all when keep is nil), taken under
// mu, so a test reads a fake's state without racing its handlers.
func copies[T any](mu *sync.Mutex, records []*T, keep func(*T) bool) []T {
	mu.Lock()
	defer mu.Unlock()
	out := make([]T, 0, len(records))
	for _, r := range records {
		if keep == nil || keep(r) {
			out = append(out, *r)
		}
	}
	return out
}
