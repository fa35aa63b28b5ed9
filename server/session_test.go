package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gallerist/gallerist/server"
	"github.com/gallerist/gallerist/storage"
)

// browser is an HTTP client with a cookie jar that never follows redirects, like a
// browser tab seen from the server.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request; csrf adds the session's token; headers are name, value pairs.
func (b *browser) do(method, path string, body any, csrf bool, headers ...string) (*http.Response, []byte) {
	b.t.Helper()
	var r io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.base+path, r)
	if err != nil {
		b.t.Fatal(err)
	}
	if csrf {
		req.Header.Set(server.CSRFHeader, b.csrf)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, out
}

func sessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == server.SessionCookie {
			return c
		}
	}
	return nil
}

// TestSessionSetupLoginCSRFLogout walks the web session's life: first-run setup, sign
// in, cookie-authenticated reads, CSRF-checked changes, sign out.
func TestSessionSetupLoginCSRFLogout(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	b := newBrowser(t, ts.URL)

	// No admin yet: the pages send everyone to setup, and the API says so.
	resp, _ := b.do("GET", "/admin", nil, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/setup" {
		t.Fatalf("GET /admin with no admin: %d to %q, want 303 to /setup", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := b.do("GET", "/api/v1/session", nil, false)
	e := wantError(t, resp, body, 401, "session_required")
	if e.Details["setup_required"] != true {
		t.Errorf("setup_required = %v, want true", e.Details["setup_required"])
	}
	resp, body = b.do("POST", "/api/v1/setup", map[string]string{"email": "studio@example.com", "password": "short"}, false)
	wantError(t, resp, body, 400, "invalid_parameter")

	resp, body = b.do("POST", "/api/v1/setup", map[string]string{"email": "Studio@Example.com", "password": "long enough"}, false)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("setup: %d %s", resp.StatusCode, body)
	}
	ck := sessionCookie(resp)
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure || ck.Path != "/" {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/, not Secure over plain HTTP", ck)
	}
	sess := decode[server.SessionResponse](t, body)
	if sess.CSRFToken == "" || sess.Admin.Email != "studio@example.com" {
		t.Fatalf("setup answer %+v", sess)
	}
	b.csrf = sess.CSRFToken

	// Setup happens once.
	other := newBrowser(t, ts.URL)
	resp, body = other.do("POST", "/api/v1/setup", map[string]string{"email": "intruder@example.com", "password": "long enough"}, false)
	wantError(t, resp, body, 409, "setup_done")

	// The cookie reads like an admin token...
	resp, body = b.do("GET", "/api/v1/settings", nil, false)
	if resp.StatusCode != 200 {
		t.Fatalf("GET settings with the session: %d %s", resp.StatusCode, body)
	}
	// ...but changes need the CSRF token.
	resp, body = b.do("POST", "/api/v1/events", map[string]string{"name": "Forged"}, false)
	wantError(t, resp, body, 403, "csrf_failed")
	b.csrf = "wrong"
	resp, body = b.do("POST", "/api/v1/events", map[string]string{"name": "Forged"}, true)
	wantError(t, resp, body, 403, "csrf_failed")
	b.csrf = sess.CSRFToken
	resp, body = b.do("POST", "/api/v1/events", map[string]string{"name": "Anna & Ben"}, true)
	if resp.StatusCode != 201 {
		t.Fatalf("create event with the session and token: %d %s", resp.StatusCode, body)
	}
	if n := len(getJSON[server.EventListResponse](t, ts, "/api/v1/events").Items); n != 1 {
		t.Errorf("%d events, want 1 (the forged requests must not have created any)", n)
	}
	// A bearer token never needs the CSRF token, even next to a cookie.
	resp, body = b.do("POST", "/api/v1/events", map[string]string{"name": "Script"}, false, "Authorization", "Bearer "+ts.Admin)
	if resp.StatusCode != 201 {
		t.Errorf("bearer POST without CSRF: %d %s", resp.StatusCode, body)
	}

	// GET /api/v1/session gives the same token back (a reloaded page needs it).
	resp, body = b.do("GET", "/api/v1/session", nil, false)
	if got := decode[server.SessionResponse](t, body); resp.StatusCode != 200 || got.CSRFToken != sess.CSRFToken {
		t.Errorf("GET session: %d %s", resp.StatusCode, body)
	}

	// Pages render for the signed-in admin.
	for _, p := range []string{"/admin", "/admin?archived=1", "/admin/events/1", "/admin/events/1/edit", "/admin/settings"} {
		resp, body = b.do("GET", p, nil, false)
		if resp.StatusCode != 200 || !strings.Contains(string(body), sess.CSRFToken) || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Errorf("GET %s: %d, csrf in page %v, CSP %q", p, resp.StatusCode, strings.Contains(string(body), sess.CSRFToken), resp.Header.Get("Content-Security-Policy"))
		}
	}
	resp, body = b.do("GET", "/admin/events/999", nil, false)
	wantError(t, resp, body, 404, "event_not_found")

	// Sign out needs the token too; then the cookie is worth nothing.
	resp, body = b.do("DELETE", "/api/v1/session", nil, false)
	wantError(t, resp, body, 403, "csrf_failed")
	resp, _ = b.do("DELETE", "/api/v1/session", nil, true)
	if resp.StatusCode != 204 || sessionCookie(resp) == nil || sessionCookie(resp).MaxAge >= 0 {
		t.Fatalf("logout: %d, cookie %+v; want 204 clearing the cookie", resp.StatusCode, sessionCookie(resp))
	}
	replay := newBrowser(t, ts.URL)
	resp, body = replay.do("GET", "/api/v1/settings", nil, false, "Cookie", server.SessionCookie+"="+ck.Value)
	wantError(t, resp, body, 401, "missing_token")
	resp, _ = b.do("GET", "/admin/settings", nil, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Fadmin%2Fsettings" {
		t.Errorf("GET /admin/settings after logout: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestSessionLoginRateLimitAndSecureCookie checks wrong passwords, the attempt limit and
// the Secure flag behind a trusted HTTPS proxy.
func TestSessionLoginRateLimitAndSecureCookie(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(c *server.Config) { c.TrustedProxies = []string{"127.0.0.1/32"} })
	hash, err := server.HashPassword("the right one")
	if err != nil {
		t.Fatal(err)
	}
	createAdmin(t, ts, "studio@example.com", hash)
	b := newBrowser(t, ts.URL)

	// Another site's page cannot sign the browser in (login CSRF).
	resp, body := b.do("POST", "/api/v1/session", map[string]string{"email": "studio@example.com", "password": "the right one"}, false,
		"Origin", "https://evil.example")
	wantError(t, resp, body, 403, "csrf_failed")
	resp, body = b.do("POST", "/api/v1/session", map[string]string{"email": "nobody@example.com", "password": "the right one"}, false,
		"Origin", ts.URL)
	wantError(t, resp, body, 401, "invalid_credentials")
	resp, body = b.do("POST", "/api/v1/session", map[string]string{"email": "nobody@example.com", "password": "the right one"}, false)
	wantError(t, resp, body, 401, "invalid_credentials")
	resp, body = b.do("POST", "/api/v1/session", map[string]string{"email": "studio@example.com", "password": "wrong"}, false)
	wantError(t, resp, body, 401, "invalid_credentials")
	resp, body = b.do("POST", "/api/v1/session", map[string]string{"email": "studio@example.com", "password": "the right one"}, false,
		"X-Forwarded-Proto", "https")
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	if ck := sessionCookie(resp); ck == nil || !ck.Secure {
		t.Errorf("cookie over HTTPS through a trusted proxy: %+v, want Secure", ck)
	}
	// The login page sends a signed-in admin on.
	resp, _ = b.do("GET", "/login", nil, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin" {
		t.Errorf("GET /login while signed in: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	for i := 0; i < 3; i++ {
		b.do("POST", "/api/v1/session", map[string]string{"email": "studio@example.com", "password": "wrong"}, false)
	}
	resp, body = b.do("POST", "/api/v1/session", map[string]string{"email": "studio@example.com", "password": "the right one"}, false)
	wantError(t, resp, body, 429, "too_many_attempts")
	if resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

// TestPagesStaticAndGuestLink checks the static files' caching and the guest page's
// share-link and password paths.
func TestPagesStaticAndGuestLink(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	b := newBrowser(t, ts.URL)

	resp, body := b.do("GET", "/login", nil, false)
	if resp.StatusCode != http.StatusSeeOther { // no admin yet: setup first
		t.Fatalf("GET /login with no admin: %d", resp.StatusCode)
	}
	resp, body = b.do("GET", "/setup", nil, false)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /setup: %d", resp.StatusCode)
	}
	m := strings.Split(strings.Split(string(body), `href="/static/css/app.css?v=`)[1], `"`)[0]
	resp, css := b.do("GET", "/static/css/app.css?v="+m, nil, false)
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") || !bytes.Contains(css, []byte("prefers-color-scheme: dark")) {
		t.Errorf("hashed CSS: %d %q %q", resp.StatusCode, resp.Header.Get("Cache-Control"), resp.Header.Get("Content-Type"))
	}
	resp, _ = b.do("GET", "/static/css/app.css", nil, false, "If-None-Match", resp.Header.Get("ETag"))
	if resp.StatusCode != http.StatusNotModified || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("revalidated CSS: %d %q, want 304 no-cache", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	resp, _ = b.do("GET", "/static/js/gallery.js", nil, false)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("JS module: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, body = b.do("GET", "/static/../web.go", nil, false)
	if resp.StatusCode != 404 {
		t.Errorf("a path outside static/: %d %s", resp.StatusCode, body)
	}

	open := ts.createEvent(t, map[string]any{"name": "Open Day"})
	ts.uploadOne(t, open.ID, "a.jpg", smallJPEG(1))
	locked := ts.createEvent(t, map[string]any{"name": "Locked", "password": "confetti"})

	// A share link with its key: a guest session cookie, then the clean address.
	guest := newBrowser(t, ts.URL)
	u := open.ShareURL[strings.Index(open.ShareURL, "/g/"):]
	resp, _ = guest.do("GET", u, nil, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/g/open-day" {
		t.Fatalf("GET %s: %d to %q, want 303 to /g/open-day", u, resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body = guest.do("GET", "/g/open-day", nil, false)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `id="page-data"`) || !strings.Contains(string(body), "/thumbnails/open-day/") {
		t.Errorf("gallery page: %d, want the first photos in the HTML", resp.StatusCode)
	}
	resp, body = guest.do("GET", "/api/gallery/open-day/photos", nil, false)
	if resp.StatusCode != 200 {
		t.Errorf("the guest's cookie does not open the API: %d %s", resp.StatusCode, body)
	}
	// A wrong key, no key, and a password gallery get the password page; no photo leaks.
	for _, p := range []string{"/g/open-day?key=wrong", "/g/" + locked.Slug, "/g/" + locked.Slug + "?key=" + strings.Split(open.ShareURL, "key=")[1], "/g/no-such-gallery"} {
		resp, body = newBrowser(t, ts.URL).do("GET", p, nil, false)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `id="g-auth"`) || strings.Contains(string(body), "/thumbnails/") {
			t.Errorf("GET %s: %d, want 401 with the password form and no photo", p, resp.StatusCode)
		}
	}
	// An archived gallery says so to a guest who could enter.
	if resp, body := ts.do(t, "POST", "/api/v1/events/"+itoa(open.ID)+"/archive", ts.Admin, nil); resp.StatusCode != 200 {
		t.Fatalf("archive: %d %s", resp.StatusCode, body)
	}
	resp, body = guest.do("GET", "/g/open-day", nil, false)
	if resp.StatusCode != 404 || !strings.Contains(string(body), "not available") {
		t.Errorf("archived gallery page: %d", resp.StatusCode)
	}
}

func createAdmin(t *testing.T, ts *testServer, email, hash string) {
	t.Helper()
	if err := ts.DB.CreateAdmin(context.Background(), &storage.Admin{Email: email, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestSessionUploadOwnership: a chunked upload opened in one web session can be resumed
// from another session of the same account, and no other account or token sees it.
func TestSessionUploadOwnership(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	signIn := func(email, password string, setup bool) *browser {
		b := newBrowser(t, ts.URL)
		path := "/api/v1/session"
		if setup {
			path = "/api/v1/setup"
		}
		resp, body := b.do("POST", path, map[string]string{"email": email, "password": password}, false)
		if resp.StatusCode >= 300 {
			t.Fatalf("sign in %s: %d %s", email, resp.StatusCode, body)
		}
		b.csrf = decode[server.SessionResponse](t, body).CSRFToken
		return b
	}
	first := signIn("owner@example.com", "long enough", true)
	ev := ts.createEvent(t, map[string]any{"name": "Owned"})
	resp, body := first.do("POST", fmt.Sprintf("/api/v1/events/%d/uploads", ev.ID), map[string]any{"filename": "a.jpg", "size": 1000}, true)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("open upload: %d %s", resp.StatusCode, body)
	}
	id := decode[server.UploadResponse](t, body).UploadID
	second := signIn("owner@example.com", "long enough", false)
	if resp, body := second.do("GET", "/api/v1/uploads/"+id, nil, false); resp.StatusCode != http.StatusOK {
		t.Fatalf("the same account's other session: %d %s", resp.StatusCode, body)
	}
	hash, err := server.HashPassword("long enough too")
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.DB.CreateAdmin(context.Background(), &storage.Admin{Email: "other@example.com", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	other := signIn("other@example.com", "long enough too", false)
	resp, body = other.do("GET", "/api/v1/uploads/"+id, nil, false)
	wantError(t, resp, body, http.StatusNotFound, "upload_not_found")
	resp, body = ts.do(t, "GET", "/api/v1/uploads/"+id, ts.Admin, nil)
	wantError(t, resp, body, http.StatusNotFound, "upload_not_found")
}

// TestEventsPagePages: the events list shows 60 events a page with newer/older links.
func TestEventsPagePages(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	b := newBrowser(t, ts.URL)
	if resp, body := b.do("POST", "/api/v1/setup", map[string]string{"email": "pages@example.com", "password": "long enough"}, false); resp.StatusCode != http.StatusCreated {
		t.Fatalf("setup: %d %s", resp.StatusCode, body)
	}
	for i := range 61 {
		ts.createEvent(t, map[string]any{"name": fmt.Sprintf("Shoot %02d", i)})
	}
	_, first := b.do("GET", "/admin", nil, false)
	if n := strings.Count(string(first), `class="event-card"`); n != 60 || !strings.Contains(string(first), "Page 1 of 2") ||
		!strings.Contains(string(first), `href="/admin?page=2"`) || !strings.Contains(string(first), "Shoot 60") {
		t.Fatalf("first page: %d cards; pager or newest event missing", n)
	}
	_, second := b.do("GET", "/admin?page=2", nil, false)
	if n := strings.Count(string(second), `class="event-card"`); n != 1 || !strings.Contains(string(second), "Shoot 00") ||
		!strings.Contains(string(second), `href="/admin?page=1"`) {
		t.Fatalf("second page: %d cards, want the oldest event and a link back", n)
	}
}

// TestLoginLimitHoldsUnderParallelGuesses: wrong passwords sent all at once still get
// only five tries per client; the rest wait (429).
func TestLoginLimitHoldsUnderParallelGuesses(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	b := newBrowser(t, ts.URL)
	if resp, body := b.do("POST", "/api/v1/setup", map[string]string{"email": "race@example.com", "password": "long enough"}, false); resp.StatusCode != http.StatusCreated {
		t.Fatalf("setup: %d %s", resp.StatusCode, body)
	}
	var wrong, limited atomic.Int32
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := newBrowser(t, ts.URL).do("POST", "/api/v1/session", map[string]string{"email": "race@example.com", "password": fmt.Sprintf("guess %d!", i)}, false)
			switch resp.StatusCode {
			case http.StatusUnauthorized:
				wrong.Add(1)
			case http.StatusTooManyRequests:
				limited.Add(1)
			}
		}()
	}
	wg.Wait()
	if wrong.Load() != 5 || limited.Load() != 7 {
		t.Fatalf("12 parallel guesses: %d checked, %d limited; want 5 and 7", wrong.Load(), limited.Load())
	}
}
