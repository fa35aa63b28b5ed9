package server_test

// Guest gallery API: sign-in with a password or a share link, the gallery cookie,
// lockout, share links, closed galleries, guest sessions ending, the guest photo list
// and guest feedback. Real HTTP over loopback, real SQLite and files; see
// guests_files_test.go for the three file paths.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gallerist/gallerist/server"
)

// ---- helpers (prefixed gst to stay clear of the other test files) ----

// gstAuth posts a body to POST /api/gallery/{slug}/auth with optional extra headers.
func gstAuth(t testing.TB, ts *testServer, slug string, body any, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	h := map[string]string{"Content-Type": "application/json"}
	for k, v := range headers {
		h[k] = v
	}
	return ts.raw(t, http.MethodPost, "/api/gallery/"+slug+"/auth", "", raw, h)
}

// gstSignIn signs in to a gallery and requires 200 with a gallery token.
func gstSignIn(t testing.TB, ts *testServer, slug string, body map[string]string) server.GalleryAuthResponse {
	t.Helper()
	resp, b := gstAuth(t, ts, slug, body, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign in to %s with %v: %d %s", slug, body, resp.StatusCode, b)
	}
	a := decode[server.GalleryAuthResponse](t, b)
	if !strings.HasPrefix(a.Token, "gg_") {
		t.Fatalf("gallery token %q lacks the gg_ prefix", a.Token)
	}
	if a.Gallery.Slug != slug {
		t.Fatalf("auth answer names gallery %q, want %q", a.Gallery.Slug, slug)
	}
	return a
}

// gstPassword signs in with a password and returns the gallery token.
func gstPassword(t testing.TB, ts *testServer, slug, password string) string {
	t.Helper()
	return gstSignIn(t, ts, slug, map[string]string{"password": password}).Token
}

// gstCookie returns the Set-Cookie of the answer with this name.
func gstCookie(t testing.TB, resp *http.Response, name string) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no Set-Cookie %q in %q", name, resp.Header.Values("Set-Cookie"))
	return nil
}

func gstCookieName(slug string) string { return "gallerist_gallery_" + slug }

// gstPatchEvent PATCHes an event with the admin token and requires 200.
func gstPatchEvent(t testing.TB, ts *testServer, id int64, body map[string]any) server.EventResponse {
	t.Helper()
	resp, b := ts.do(t, http.MethodPatch, fmt.Sprintf("/api/v1/events/%d", id), ts.Admin, body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("patch event %d with %v: %d %s", id, body, resp.StatusCode, b)
	}
	return decode[server.EventResponse](t, b)
}

// gstPost POSTs with the admin token and requires the status.
func gstPost(t testing.TB, ts *testServer, path string, body any, status int) []byte {
	t.Helper()
	resp, b := ts.do(t, http.MethodPost, path, ts.Admin, body)
	if resp.StatusCode != status {
		t.Fatalf("POST %s: %d %s, want %d", path, resp.StatusCode, b, status)
	}
	return b
}

func gstShareLink(t testing.TB, ts *testServer, id int64) server.ShareLinkResponse {
	t.Helper()
	return getJSON[server.ShareLinkResponse](t, ts, fmt.Sprintf("/api/v1/events/%d/share-link", id))
}

func gstRotate(t testing.TB, ts *testServer, id int64) server.ShareLinkResponse {
	t.Helper()
	return decode[server.ShareLinkResponse](t, gstPost(t, ts, fmt.Sprintf("/api/v1/events/%d/share-link/rotate", id), nil, 200))
}

// gstHide hides a photo from guests.
func gstHide(t testing.TB, ts *testServer, photoID int64) {
	t.Helper()
	resp, b := ts.do(t, http.MethodPatch, fmt.Sprintf("/api/v1/photos/%d", photoID), ts.Admin, map[string]any{"is_hidden": true})
	if resp.StatusCode != 200 {
		t.Fatalf("hide photo %d: %d %s", photoID, resp.StatusCode, b)
	}
}

func gstSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// gstJPEGSize decodes a JPEG's header and returns its size; it fails on anything else.
func gstJPEGSize(t testing.TB, b []byte) (int, int) {
	t.Helper()
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil || format != "jpeg" {
		t.Fatalf("not a JPEG (%d bytes, format %q): %v", len(b), format, err)
	}
	return cfg.Width, cfg.Height
}

// gstGallery is an event with uploaded photos (variants ready).
type gstGallery struct {
	Ev     server.EventResponse
	Photos []server.PhotoResponse
	Data   [][]byte
}

// gstNewGallery creates an event and uploads files into it.
func gstNewGallery(t testing.TB, ts *testServer, body map[string]any, files ...uploadFile) gstGallery {
	t.Helper()
	g := gstGallery{Ev: ts.createEvent(t, body)}
	for _, f := range files {
		id := ts.uploadOne(t, g.Ev.ID, f.Name, f.Data)
		g.Photos = append(g.Photos, ts.waitVariants(t, id))
		g.Data = append(g.Data, f.Data)
	}
	return g
}

// gstPaths are the guest JSON routes and the three file paths of a photo of a gallery.
func gstPaths(slug string, p server.PhotoResponse) map[string]string {
	return map[string]string{
		"gallery":   "/api/gallery/" + slug,
		"photos":    "/api/gallery/" + slug + "/photos",
		"original":  p.URL,
		"thumbnail": p.ThumbnailURL,
		"view":      fmt.Sprintf("/api/gallery/%s/photo/%d", slug, p.ID),
	}
}

// gstWithQuery adds a query parameter to a path.
func gstWithQuery(path, k, v string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + url.QueryEscape(k) + "=" + url.QueryEscape(v)
}

// gstWantOpen requires 200 on every path with the credentials.
func gstWantOpen(t *testing.T, ts *testServer, paths map[string]string, token string, headers map[string]string) {
	t.Helper()
	for name, p := range paths {
		resp, b := ts.raw(t, http.MethodGet, p, token, nil, headers)
		if resp.StatusCode != 200 {
			t.Errorf("%s (%s): %d %s, want 200", name, p, resp.StatusCode, b)
		}
	}
}

// gstWantRefused requires the error on every path with the credentials.
func gstWantRefused(t *testing.T, ts *testServer, paths map[string]string, token string, headers map[string]string, status int, code string) {
	t.Helper()
	for name, p := range paths {
		t.Run(name, func(t *testing.T) {
			resp, b := ts.raw(t, http.MethodGet, p, token, nil, headers)
			wantError(t, resp, b, status, code)
			if status == 401 && !strings.Contains(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a WWW-Authenticate challenge: %q", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

// ---- sign-in ----

// TestGuestPasswordFlow: a password gallery is closed without credentials, refuses a
// wrong password, and with the right one answers a gg_ token, its expiry, the gallery
// and an HttpOnly, SameSite=Lax cookie carrying the same session; the password is
// stored only as a hash.
func TestGuestPasswordFlow(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	g := gstNewGallery(t, ts, map[string]any{"name": "Password Flow", "password": "open sesame", "date": "2026-05-12"},
		uploadFile{"a.jpg", smallJPEG(1)})
	slug := g.Ev.Slug
	if !g.Ev.HasPassword || strings.Contains(g.Ev.ShareURL, "key=") {
		t.Errorf("event: has_password %v share_url %q (a password gallery's link must not carry the key)", g.Ev.HasPassword, g.Ev.ShareURL)
	}
	paths := gstPaths(slug, g.Photos[0])

	t.Run("no credentials", func(t *testing.T) {
		gstWantRefused(t, ts, paths, "", nil, 401, "gallery_auth_required")
	})
	t.Run("wrong password", func(t *testing.T) {
		resp, b := gstAuth(t, ts, slug, map[string]string{"password": "open sesame "}, nil)
		wantError(t, resp, b, 401, "invalid_password")
		if sc := resp.Header.Values("Set-Cookie"); len(sc) != 0 {
			t.Errorf("a refused sign-in sets cookies: %q", sc)
		}
		resp, b = gstAuth(t, ts, slug, nil, nil)
		wantError(t, resp, b, 401, "invalid_password")
		resp, b = gstAuth(t, ts, slug, "{not json", nil)
		wantError(t, resp, b, 400, "invalid_request")
	})

	before := time.Now()
	resp, b := gstAuth(t, ts, slug, map[string]string{"password": "open sesame"}, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("sign in: %d %s", resp.StatusCode, b)
	}
	a := decode[server.GalleryAuthResponse](t, b)
	if !strings.HasPrefix(a.Token, "gg_") || len(a.Token) < 20 {
		t.Errorf("token %q", a.Token)
	}
	if a.ExpiresAt.Before(before.Add(24*time.Hour)) || a.ExpiresAt.After(time.Now().Add(31*24*time.Hour)) {
		t.Errorf("expires_at %v is not a session of about 30 days", a.ExpiresAt)
	}
	if a.Gallery.Name != "Password Flow" || a.Gallery.Slug != slug || a.Gallery.PhotoCount != 1 || a.Gallery.Date == nil || *a.Gallery.Date != "2026-05-12" ||
		!a.Gallery.AllowDownloads || a.Gallery.ProtectionLevel != "basic" {
		t.Errorf("gallery in the auth answer: %+v", a.Gallery)
	}
	ck := gstCookie(t, resp, gstCookieName(slug))
	if ck.Value != a.Token || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure {
		t.Errorf("cookie %q: value matches token %v, HttpOnly %v, SameSite %v, Path %q, Secure %v",
			ck.Raw, ck.Value == a.Token, ck.HttpOnly, ck.SameSite, ck.Path, ck.Secure)
	}
	if d := ck.Expires.Sub(a.ExpiresAt); d < -2*time.Second || d > 2*time.Second {
		t.Errorf("cookie expires %v, session expires %v", ck.Expires, a.ExpiresAt)
	}
	t.Run("token opens the gallery", func(t *testing.T) {
		gstWantOpen(t, ts, paths, a.Token, nil)
		resp, b := ts.raw(t, http.MethodGet, "/api/gallery/"+slug, a.Token, nil, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		if gr := decode[server.GalleryResponse](t, b); gr.Slug != slug || gr.PhotoCount != 1 {
			t.Errorf("gallery %+v", gr)
		}
	})
	t.Run("garbled token", func(t *testing.T) {
		gstWantRefused(t, ts, map[string]string{"gallery": paths["gallery"], "original": paths["original"]},
			a.Token[:len(a.Token)-2]+"xx", nil, 401, "gallery_auth_required")
	})
	t.Run("password stored as a hash", func(t *testing.T) {
		var hash string
		if err := ts.sqlDB(t).QueryRow(`SELECT password_hash FROM events WHERE id = ?`, g.Ev.ID).Scan(&hash); err != nil {
			t.Fatal(err)
		}
		if hash == "" || strings.Contains(hash, "open sesame") || !strings.HasPrefix(hash, "$2") {
			t.Errorf("password_hash %q is not a bcrypt hash", hash)
		}
		_, evBody := ts.do(t, http.MethodGet, fmt.Sprintf("/api/v1/events/%d", g.Ev.ID), ts.Admin, nil)
		if strings.Contains(string(evBody), "open sesame") || strings.Contains(string(evBody), hash) {
			t.Errorf("the event answer shows the password or its hash: %s", evBody)
		}
	})
}

// TestGuestCookieAlone: a browser sends only the cookie of the auth answer; it opens the
// JSON API and the three file paths. The cookie of another gallery, under either name,
// opens nothing.
func TestGuestCookieAlone(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	a := gstNewGallery(t, ts, map[string]any{"name": "Cookie A", "password": "pa"}, uploadFile{"a.jpg", smallJPEG(1)})
	b := gstNewGallery(t, ts, map[string]any{"name": "Cookie B", "password": "pb"}, uploadFile{"b.jpg", smallJPEG(2)})
	resp, body := gstAuth(t, ts, a.Ev.Slug, map[string]string{"password": "pa"}, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("sign in: %d %s", resp.StatusCode, body)
	}
	ck := gstCookie(t, resp, gstCookieName(a.Ev.Slug))
	t.Run("own gallery", func(t *testing.T) {
		gstWantOpen(t, ts, gstPaths(a.Ev.Slug, a.Photos[0]), "", map[string]string{"Cookie": ck.Name + "=" + ck.Value})
	})
	t.Run("A's cookie on B", func(t *testing.T) {
		gstWantRefused(t, ts, gstPaths(b.Ev.Slug, b.Photos[0]), "", map[string]string{"Cookie": ck.Name + "=" + ck.Value}, 401, "gallery_auth_required")
	})
	t.Run("A's session under B's cookie name", func(t *testing.T) {
		gstWantRefused(t, ts, gstPaths(b.Ev.Slug, b.Photos[0]), "", map[string]string{"Cookie": gstCookieName(b.Ev.Slug) + "=" + ck.Value}, 401, "gallery_auth_required")
	})
}

// TestGuestLogout: logout answers 204 and clears the gallery cookie (empty value,
// Max-Age=0), with the same attributes.
func TestGuestLogout(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	g := gstNewGallery(t, ts, map[string]any{"name": "Logout", "password": "pw"})
	gstPassword(t, ts, g.Ev.Slug, "pw")
	resp, b := ts.raw(t, http.MethodPost, "/api/gallery/"+g.Ev.Slug+"/logout", "", nil, nil)
	if resp.StatusCode != http.StatusNoContent || len(b) != 0 {
		t.Fatalf("logout: %d %s", resp.StatusCode, b)
	}
	ck := gstCookie(t, resp, gstCookieName(g.Ev.Slug))
	if ck.Value != "" || ck.MaxAge >= 0 || !strings.Contains(ck.Raw, "Max-Age=0") || !ck.HttpOnly || ck.Path != "/" || ck.SameSite != http.SameSiteLaxMode {
		t.Errorf("logout cookie %q does not clear the session cookie", ck.Raw)
	}
	if !ck.Expires.IsZero() && ck.Expires.After(time.Now()) {
		t.Errorf("logout cookie expires in the future: %v", ck.Expires)
	}
}

// TestGuestCookieSecure: the cookie is Secure only when the client came over HTTPS: here
// through a trusted proxy saying X-Forwarded-Proto: https. The same header from a peer
// that is not a trusted proxy is ignored.
func TestGuestCookieSecure(t *testing.T) {
	t.Parallel()
	plain := newTestServer(t)
	trusted := newTestServer(t, func(c *server.Config) { c.TrustedProxies = []string{"127.0.0.1"} })
	cases := []struct {
		name       string
		ts         *testServer
		headers    map[string]string
		wantSecure bool
	}{
		{"plain HTTP", plain, nil, false},
		{"X-Forwarded-Proto https from an untrusted peer", plain, map[string]string{"X-Forwarded-Proto": "https"}, false},
		{"trusted proxy without X-Forwarded-Proto", trusted, nil, false},
		{"trusted proxy, X-Forwarded-Proto http", trusted, map[string]string{"X-Forwarded-Proto": "http"}, false},
		{"trusted proxy, X-Forwarded-Proto https", trusted, map[string]string{"X-Forwarded-Proto": "https"}, true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.ts.createEvent(t, map[string]any{"name": fmt.Sprintf("Secure %d", i), "password": "pw"})
			resp, b := gstAuth(t, tc.ts, ev.Slug, map[string]string{"password": "pw"}, tc.headers)
			if resp.StatusCode != 200 {
				t.Fatalf("sign in: %d %s", resp.StatusCode, b)
			}
			ck := gstCookie(t, resp, gstCookieName(ev.Slug))
			if ck.Secure != tc.wantSecure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
				t.Errorf("auth cookie %q: Secure %v, want %v", ck.Raw, ck.Secure, tc.wantSecure)
			}
			resp, _ = tc.ts.raw(t, http.MethodPost, "/api/gallery/"+ev.Slug+"/logout", "", nil, tc.headers)
			if ck := gstCookie(t, resp, gstCookieName(ev.Slug)); ck.Secure != tc.wantSecure {
				t.Errorf("logout cookie %q: Secure %v, want %v", ck.Raw, ck.Secure, tc.wantSecure)
			}
		})
	}
}

// gstWantLocked requires 429 too_many_attempts with Retry-After and details.retry_after.
func gstWantLocked(t testing.TB, resp *http.Response, b []byte) {
	t.Helper()
	e := wantError(t, resp, b, http.StatusTooManyRequests, "too_many_attempts")
	ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || ra <= 0 || ra > 15*60+1 {
		t.Errorf("Retry-After %q, want seconds in 1..901", resp.Header.Get("Retry-After"))
	}
	v, ok := e.Details["retry_after"].(float64)
	if !ok || v <= 0 || int(v) != ra {
		t.Errorf("details.retry_after %#v, want the Retry-After %d", e.Details["retry_after"], ra)
	}
}

// TestGuestWrongPasswordLockout: five wrong passwords from a client lock that client out
// of that gallery for a while (even with the right password), not out of another gallery.
// X-Forwarded-For from an untrusted peer does not make a new client.
func TestGuestWrongPasswordLockout(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	a := ts.createEvent(t, map[string]any{"name": "Lock A", "password": "right-a"})
	b := ts.createEvent(t, map[string]any{"name": "Lock B", "password": "right-b"})
	for i := 1; i <= 5; i++ {
		resp, body := gstAuth(t, ts, a.Slug, map[string]string{"password": fmt.Sprintf("wrong %d", i)}, nil)
		wantError(t, resp, body, 401, "invalid_password")
	}
	resp, body := gstAuth(t, ts, a.Slug, map[string]string{"password": "wrong 6"}, nil)
	gstWantLocked(t, resp, body)
	resp, body = gstAuth(t, ts, a.Slug, map[string]string{"password": "right-a"}, nil)
	gstWantLocked(t, resp, body)
	resp, body = gstAuth(t, ts, a.Slug, map[string]string{"password": "right-a"}, map[string]string{"X-Forwarded-For": "198.51.100.77"})
	gstWantLocked(t, resp, body)

	// The same client is not locked out of another gallery.
	resp, body = gstAuth(t, ts, b.Slug, map[string]string{"password": "wrong"}, nil)
	wantError(t, resp, body, 401, "invalid_password")
	gstPassword(t, ts, b.Slug, "right-b")
}

// TestGuestLockoutPerClientAndPerGallery: behind a trusted proxy each X-Forwarded-For
// client has its own five attempts; fifty wrong attempts on one gallery from any
// clients close it to every client for a while, but not the other galleries.
func TestGuestLockoutPerClientAndPerGallery(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(c *server.Config) { c.TrustedProxies = []string{"127.0.0.1"} })
	a := ts.createEvent(t, map[string]any{"name": "Per Client", "password": "right"})
	c := ts.createEvent(t, map[string]any{"name": "Per Gallery", "password": "right"})
	from := func(ip string) map[string]string { return map[string]string{"X-Forwarded-For": ip} }

	for i := 0; i < 5; i++ {
		resp, body := gstAuth(t, ts, a.Slug, map[string]string{"password": "nope"}, from("203.0.113.1"))
		wantError(t, resp, body, 401, "invalid_password")
	}
	resp, body := gstAuth(t, ts, a.Slug, map[string]string{"password": "right"}, from("203.0.113.1"))
	gstWantLocked(t, resp, body)
	// Another client is not locked.
	resp, body = gstAuth(t, ts, a.Slug, map[string]string{"password": "nope"}, from("203.0.113.2"))
	wantError(t, resp, body, 401, "invalid_password")
	resp, body = gstAuth(t, ts, a.Slug, map[string]string{"password": "right"}, from("203.0.113.2"))
	if resp.StatusCode != 200 {
		t.Fatalf("another client with the right password: %d %s", resp.StatusCode, body)
	}

	// 50 wrong attempts on gallery c, five from each of ten clients.
	var wg sync.WaitGroup
	statuses := make(chan int, 50)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func(ip string) {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				req, _ := http.NewRequest(http.MethodPost, ts.URL+"/api/gallery/"+c.Slug+"/auth", strings.NewReader(`{"password":"nope"}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Forwarded-For", ip)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					statuses <- -1
					continue
				}
				resp.Body.Close()
				statuses <- resp.StatusCode
			}
		}(fmt.Sprintf("192.0.2.%d", 10+i))
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != 401 {
			t.Errorf("one of the first 50 wrong attempts answered %d, want 401", s)
		}
	}
	resp, body = gstAuth(t, ts, c.Slug, map[string]string{"password": "right"}, from("192.0.2.200"))
	gstWantLocked(t, resp, body)
	// The other gallery still opens for a fresh client.
	resp, body = gstAuth(t, ts, a.Slug, map[string]string{"password": "right"}, from("192.0.2.201"))
	if resp.StatusCode != 200 {
		t.Fatalf("other gallery: %d %s", resp.StatusCode, body)
	}
}

// TestGuestUnknownSlugLikeWrongPassword: an unknown gallery, an archived or unpublished
// one, and a wrong password or share key all get the same answer, so that nobody can
// find out which galleries exist.
func TestGuestUnknownSlugLikeWrongPassword(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	pw := ts.createEvent(t, map[string]any{"name": "Exists With Password", "password": "secret"})
	open := ts.createEvent(t, map[string]any{"name": "Exists Without Password"})
	archived := ts.createEvent(t, map[string]any{"name": "Exists Archived", "password": "secret"})
	gstPost(t, ts, fmt.Sprintf("/api/v1/events/%d/archive", archived.ID), nil, 200)
	hidden := ts.createEvent(t, map[string]any{"name": "Exists Unpublished", "password": "secret", "is_published": false})

	type answer struct {
		status int
		body   server.ErrorBody
		cookie bool
	}
	try := func(t *testing.T, slug string, body map[string]string) answer {
		resp, b := gstAuth(t, ts, slug, body, nil)
		e := wantError(t, resp, b, 401, "invalid_password")
		return answer{resp.StatusCode, e, len(resp.Header.Values("Set-Cookie")) > 0}
	}
	cases := []struct {
		name string
		slug string
		body map[string]string
	}{
		{"wrong password", pw.Slug, map[string]string{"password": "guess"}},
		{"unknown slug", "no-such-gallery", map[string]string{"password": "guess"}},
		{"unknown slug, not even a slug", "No_Such", map[string]string{"password": "guess"}},
		{"archived gallery, right password", archived.Slug, map[string]string{"password": "secret"}},
		{"unpublished gallery, right password", hidden.Slug, map[string]string{"password": "secret"}},
		{"passwordless gallery, wrong password", open.Slug, map[string]string{"password": "guess"}},
	}
	answers := map[string]answer{}
	for _, tc := range cases {
		t.Run("status and code/"+tc.name, func(t *testing.T) {
			answers[tc.name] = try(t, tc.slug, tc.body)
		})
	}
	t.Run("indistinguishable", func(t *testing.T) {
		ref := answers["wrong password"]
		for _, tc := range cases[1:] {
			got, ok := answers[tc.name]
			if !ok {
				continue
			}
			if got.status != ref.status || got.body.Code != ref.body.Code || got.body.Message != ref.body.Message ||
				fmt.Sprint(got.body.Details) != fmt.Sprint(ref.body.Details) || got.cookie != ref.cookie {
				t.Errorf("%s answers %d %q %q %v, a wrong password %d %q %q %v: the answer tells that the gallery exists",
					tc.name, got.status, got.body.Code, got.body.Message, got.body.Details, ref.status, ref.body.Code, ref.body.Message, ref.body.Details)
			}
		}
	})
}

// ---- share links ----

// TestGuestShareLinkWithoutPassword: a gallery without a password opens with its share
// key alone: in ?key= or X-Gallery-Key on every guest route, or traded for a gallery
// token at /auth. The key comes from the event answer and the share-link route.
func TestGuestShareLinkWithoutPassword(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	g := gstNewGallery(t, ts, map[string]any{"name": "Open Link"}, uploadFile{"a.jpg", smallJPEG(1)})
	other := gstNewGallery(t, ts, map[string]any{"name": "Open Other"}, uploadFile{"b.jpg", smallJPEG(2)})
	link := gstShareLink(t, ts, g.Ev.ID)
	if link.HasPassword || link.Key == "" || link.URL != g.Ev.ShareURL {
		t.Fatalf("share link %+v, event share_url %q", link, g.Ev.ShareURL)
	}
	u, err := url.Parse(link.URL)
	if err != nil || u.Path != "/g/"+g.Ev.Slug || u.Query().Get("key") != link.Key || u.Scheme != "http" {
		t.Fatalf("share URL %q: path, key or scheme wrong", link.URL)
	}
	if got := ts.getEvent(t, g.Ev.ID).ShareURL; got != link.URL {
		t.Errorf("GET event share_url %q, share-link %q", got, link.URL)
	}
	paths := gstPaths(g.Ev.Slug, g.Photos[0])

	t.Run("?key=", func(t *testing.T) {
		withKey := map[string]string{}
		for k, p := range paths {
			withKey[k] = gstWithQuery(p, "key", link.Key)
		}
		gstWantOpen(t, ts, withKey, "", nil)
	})
	t.Run("X-Gallery-Key", func(t *testing.T) {
		gstWantOpen(t, ts, paths, "", map[string]string{"X-Gallery-Key": link.Key})
	})
	t.Run("wrong key", func(t *testing.T) {
		gstWantRefused(t, ts, paths, "", map[string]string{"X-Gallery-Key": link.Key + "x"}, 401, "gallery_auth_required")
		resp, b := ts.raw(t, http.MethodGet, gstWithQuery(paths["photos"], "key", "nope"), "", nil, nil)
		wantError(t, resp, b, 401, "gallery_auth_required")
	})
	t.Run("no credentials", func(t *testing.T) {
		gstWantRefused(t, ts, paths, "", nil, 401, "gallery_auth_required")
	})
	t.Run("key of another gallery", func(t *testing.T) {
		gstWantRefused(t, ts, gstPaths(other.Ev.Slug, other.Photos[0]), "", map[string]string{"X-Gallery-Key": link.Key}, 401, "gallery_auth_required")
		resp, b := gstAuth(t, ts, other.Ev.Slug, map[string]string{"key": link.Key}, nil)
		wantError(t, resp, b, 401, "invalid_password")
	})
	t.Run("auth with the key", func(t *testing.T) {
		a := gstSignIn(t, ts, g.Ev.Slug, map[string]string{"key": link.Key})
		gstWantOpen(t, ts, paths, a.Token, nil)
		resp, b := gstAuth(t, ts, g.Ev.Slug, map[string]string{"key": "wrong"}, nil)
		wantError(t, resp, b, 401, "invalid_password")
		resp, b = gstAuth(t, ts, g.Ev.Slug, map[string]string{}, nil)
		wantError(t, resp, b, 401, "invalid_password")
	})
}

// TestGuestShareLinkWithPassword: a share link never replaces a password: the key
// neither signs in nor opens guest routes of a gallery with a password.
func TestGuestShareLinkWithPassword(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	g := gstNewGallery(t, ts, map[string]any{"name": "Locked Link", "password": "pw1"}, uploadFile{"a.jpg", smallJPEG(1)})
	link := gstShareLink(t, ts, g.Ev.ID)
	if !link.HasPassword || link.Key == "" || strings.Contains(link.URL, "key=") || link.URL != g.Ev.ShareURL {
		t.Fatalf("share link %+v of a password gallery (event share_url %q)", link, g.Ev.ShareURL)
	}
	if u, err := url.Parse(link.URL); err != nil || u.Path != "/g/"+g.Ev.Slug {
		t.Fatalf("share URL %q", link.URL)
	}
	paths := gstPaths(g.Ev.Slug, g.Photos[0])

	resp, b := gstAuth(t, ts, g.Ev.Slug, map[string]string{"key": link.Key}, nil)
	wantError(t, resp, b, 401, "invalid_password")
	t.Run("?key= refused", func(t *testing.T) {
		withKey := map[string]string{}
		for k, p := range paths {
			withKey[k] = gstWithQuery(p, "key", link.Key)
		}
		gstWantRefused(t, ts, withKey, "", nil, 401, "gallery_auth_required")
	})
	t.Run("X-Gallery-Key refused", func(t *testing.T) {
		gstWantRefused(t, ts, paths, "", map[string]string{"X-Gallery-Key": link.Key}, 401, "gallery_auth_required")
	})
	t.Run("password opens", func(t *testing.T) {
		gstWantOpen(t, ts, paths, gstPassword(t, ts, g.Ev.Slug, "pw1"), nil)
	})
}

// TestGuestTokenOfOtherGallery: a gallery token opens its own gallery only: on another
// gallery the JSON API, the three file paths and both download routes answer 401
// gallery_auth_required; another gallery's files under its own slug do not exist.
func TestGuestTokenOfOtherGallery(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	a := gstNewGallery(t, ts, map[string]any{"name": "Gallery A", "password": "pa"}, uploadFile{"a.jpg", smallJPEG(1)})
	b := gstNewGallery(t, ts, map[string]any{"name": "Gallery B", "password": "pb"}, uploadFile{"b.jpg", smallJPEG(2)})
	open := gstNewGallery(t, ts, map[string]any{"name": "Gallery Open"}, uploadFile{"c.jpg", smallJPEG(3)})
	tokA := gstPassword(t, ts, a.Ev.Slug, "pa")
	tokB := gstPassword(t, ts, b.Ev.Slug, "pb")
	tokOpen := gstSignIn(t, ts, open.Ev.Slug, map[string]string{"key": open.Ev.ShareURL[strings.Index(open.Ev.ShareURL, "key=")+4:]}).Token

	bPaths := gstPaths(b.Ev.Slug, b.Photos[0])
	bPaths["download"] = fmt.Sprintf("/api/gallery/%s/photos/%d/download", b.Ev.Slug, b.Photos[0].ID)
	bPaths["zip"] = "/api/gallery/" + b.Ev.Slug + "/download"
	t.Run("B's token on B", func(t *testing.T) { gstWantOpen(t, ts, bPaths, tokB, nil) })
	t.Run("A's token on B", func(t *testing.T) {
		gstWantRefused(t, ts, bPaths, tokA, nil, 401, "gallery_auth_required")
	})
	t.Run("a passwordless gallery's token on B", func(t *testing.T) {
		gstWantRefused(t, ts, bPaths, tokOpen, nil, 401, "gallery_auth_required")
	})
	t.Run("B's photo under A's slug", func(t *testing.T) {
		for _, tc := range []struct {
			path   string
			status int
			code   string
		}{
			{"/photos/" + a.Ev.Slug + "/" + b.Photos[0].StoredName, 404, "file_not_found"},
			{"/thumbnails/" + a.Ev.Slug + "/" + strings.TrimPrefix(b.Photos[0].ThumbnailURL, "/thumbnails/"+b.Ev.Slug+"/"), 404, "file_not_found"},
			{fmt.Sprintf("/api/gallery/%s/photo/%d", a.Ev.Slug, b.Photos[0].ID), 404, "photo_not_found"},
			{fmt.Sprintf("/api/gallery/%s/photos/%d/download", a.Ev.Slug, b.Photos[0].ID), 404, "photo_not_found"},
		} {
			resp, body := ts.raw(t, http.MethodGet, tc.path, tokA, nil, nil)
			wantError(t, resp, body, tc.status, tc.code)
		}
		// A ZIP of A never packs B's photo.
		resp, body := ts.raw(t, http.MethodGet, fmt.Sprintf("/api/gallery/%s/download?ids=%d", a.Ev.Slug, b.Photos[0].ID), tokA, nil, nil)
		if resp.StatusCode == 200 && strings.Contains(string(body), "b.jpg") {
			t.Errorf("A's ZIP packs B's photo")
		}
	})
	t.Run("unknown slug", func(t *testing.T) {
		gstWantRefused(t, ts, map[string]string{
			"gallery":  "/api/gallery/no-such-gallery",
			"photos":   "/api/gallery/no-such-gallery/photos",
			"original": "/photos/no-such-gallery/" + a.Photos[0].StoredName,
			"view":     fmt.Sprintf("/api/gallery/no-such-gallery/photo/%d", a.Photos[0].ID),
		}, tokA, nil, 401, "gallery_auth_required")
	})
}

// TestGuestAPITokenOnGuestRoutes: an API token with photos.read opens the guest routes;
// one without it is refused with the API's own codes.
func TestGuestAPITokenOnGuestRoutes(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	g := gstNewGallery(t, ts, map[string]any{"name": "API Token", "password": "pw"}, uploadFile{"a.jpg", smallJPEG(1)})
	paths := gstPaths(g.Ev.Slug, g.Photos[0])
	t.Run("photos.read", func(t *testing.T) { gstWantOpen(t, ts, paths, ts.token(t, "photos.read"), nil) })
	t.Run("admin", func(t *testing.T) { gstWantOpen(t, ts, paths, ts.Admin, nil) })
	t.Run("events.read only", func(t *testing.T) {
		gstWantRefused(t, ts, paths, ts.token(t, "events.read"), nil, 403, "insufficient_scope")
	})
	t.Run("unknown API token", func(t *testing.T) {
		gstWantRefused(t, ts, paths, "glr_notatokenatall", nil, 401, "invalid_token")
	})
}

// TestGuestSessionsEnd: a new password, or a rotated share link, ends every earlier guest
// session (token and cookie); a new sign-in works. Other changes keep sessions.
func TestGuestSessionsEnd(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)

	t.Run("password change", func(t *testing.T) {
		g := gstNewGallery(t, ts, map[string]any{"name": "Epoch Password", "password": "old"}, uploadFile{"a.jpg", smallJPEG(1)})
		paths := gstPaths(g.Ev.Slug, g.Photos[0])
		resp, b := gstAuth(t, ts, g.Ev.Slug, map[string]string{"password": "old"}, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		old := decode[server.GalleryAuthResponse](t, b).Token
		cookie := map[string]string{"Cookie": gstCookieName(g.Ev.Slug) + "=" + old}
		gstPatchEvent(t, ts, g.Ev.ID, map[string]any{"name": "Epoch Password Renamed", "allow_downloads": true})
		gstWantOpen(t, ts, paths, old, nil) // other changes keep sessions

		gstPatchEvent(t, ts, g.Ev.ID, map[string]any{"password": "new"})
		gstWantRefused(t, ts, paths, old, nil, 401, "gallery_auth_required")
		t.Run("cookie", func(t *testing.T) { gstWantRefused(t, ts, paths, "", cookie, 401, "gallery_auth_required") })
		resp, b = gstAuth(t, ts, g.Ev.Slug, map[string]string{"password": "old"}, nil)
		wantError(t, resp, b, 401, "invalid_password")
		gstWantOpen(t, ts, paths, gstPassword(t, ts, g.Ev.Slug, "new"), nil)
	})

	t.Run("link rotation with a password", func(t *testing.T) {
		g := gstNewGallery(t, ts, map[string]any{"name": "Epoch Rotate PW", "password": "pw"}, uploadFile{"a.jpg", smallJPEG(2)})
		paths := gstPaths(g.Ev.Slug, g.Photos[0])
		old := gstPassword(t, ts, g.Ev.Slug, "pw")
		before := gstShareLink(t, ts, g.Ev.ID)
		after := gstRotate(t, ts, g.Ev.ID)
		if after.Key == before.Key || after.Key == "" || !after.HasPassword {
			t.Errorf("rotation: key %q -> %q", before.Key, after.Key)
		}
		gstWantRefused(t, ts, paths, old, nil, 401, "gallery_auth_required")
		gstWantOpen(t, ts, paths, gstPassword(t, ts, g.Ev.Slug, "pw"), nil)
	})

	t.Run("link rotation without a password", func(t *testing.T) {
		g := gstNewGallery(t, ts, map[string]any{"name": "Epoch Rotate Open"}, uploadFile{"a.jpg", smallJPEG(3)})
		paths := gstPaths(g.Ev.Slug, g.Photos[0])
		before := gstShareLink(t, ts, g.Ev.ID)
		old := gstSignIn(t, ts, g.Ev.Slug, map[string]string{"key": before.Key}).Token
		after := gstRotate(t, ts, g.Ev.ID)
		if after.Key == before.Key || !strings.Contains(after.URL, "key="+after.Key) {
			t.Fatalf("rotation: %+v -> %+v", before, after)
		}
		if got := ts.getEvent(t, g.Ev.ID).ShareURL; got != after.URL {
			t.Errorf("event share_url %q after rotation, want %q", got, after.URL)
		}
		gstWantRefused(t, ts, paths, old, nil, 401, "gallery_auth_required")
		t.Run("old key", func(t *testing.T) {
			gstWantRefused(t, ts, paths, "", map[string]string{"X-Gallery-Key": before.Key}, 401, "gallery_auth_required")
			resp, b := gstAuth(t, ts, g.Ev.Slug, map[string]string{"key": before.Key}, nil)
			wantError(t, resp, b, 401, "invalid_password")
		})
		gstWantOpen(t, ts, paths, "", map[string]string{"X-Gallery-Key": after.Key})
		gstWantOpen(t, ts, paths, gstSignIn(t, ts, g.Ev.Slug, map[string]string{"key": after.Key}).Token, nil)
	})
}

// ---- closed galleries ----

// TestGalleryClosed: archived and unpublished galleries are closed to guests holding a
// valid session (404 gallery_not_found) and refuse sign-ins like a wrong password; an
// expired gallery answers 410 gallery_expired. Admin API tokens still see them.
func TestGalleryClosed(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)

	t.Run("archived", func(t *testing.T) {
		g := gstNewGallery(t, ts, map[string]any{"name": "Closed Archived", "password": "pw"}, uploadFile{"a.jpg", smallJPEG(1)})
		paths := gstPaths(g.Ev.Slug, g.Photos[0])
		tok := gstPassword(t, ts, g.Ev.Slug, "pw")
		gstPost(t, ts, fmt.Sprintf("/api/v1/events/%d/archive", g.Ev.ID), nil, 200)
		gstWantRefused(t, ts, paths, tok, nil, 404, "gallery_not_found")
		resp, b := gstAuth(t, ts, g.Ev.Slug, map[string]string{"password": "pw"}, nil)
		wantError(t, resp, b, 401, "invalid_password")
		gstWantOpen(t, ts, paths, ts.Admin, nil)
		gstPost(t, ts, fmt.Sprintf("/api/v1/events/%d/restore", g.Ev.ID), nil, 200)
		gstWantOpen(t, ts, paths, tok, nil)
	})

	t.Run("unpublished", func(t *testing.T) {
		g := gstNewGallery(t, ts, map[string]any{"name": "Closed Unpublished", "password": "pw"}, uploadFile{"a.jpg", smallJPEG(2)})
		paths := gstPaths(g.Ev.Slug, g.Photos[0])
		tok := gstPassword(t, ts, g.Ev.Slug, "pw")
		if ev := gstPatchEvent(t, ts, g.Ev.ID, map[string]any{"is_published": false}); ev.IsPublished {
			t.Fatalf("is_published still true")
		}
		gstWantRefused(t, ts, paths, tok, nil, 404, "gallery_not_found")
		resp, b := gstAuth(t, ts, g.Ev.Slug, map[string]string{"password": "pw"}, nil)
		wantError(t, resp, b, 401, "invalid_password")
		gstPatchEvent(t, ts, g.Ev.ID, map[string]any{"is_published": true})
		gstWantOpen(t, ts, paths, tok, nil)
	})

	t.Run("created unpublished, without a password", func(t *testing.T) {
		g := gstNewGallery(t, ts, map[string]any{"name": "Closed Draft", "is_published": false}, uploadFile{"a.jpg", smallJPEG(3)})
		key := gstShareLink(t, ts, g.Ev.ID).Key
		resp, b := gstAuth(t, ts, g.Ev.Slug, map[string]string{"key": key}, nil)
		wantError(t, resp, b, 401, "invalid_password")
		gstWantRefused(t, ts, gstPaths(g.Ev.Slug, g.Photos[0]), "", map[string]string{"X-Gallery-Key": key}, 404, "gallery_not_found")
	})

	t.Run("expired", func(t *testing.T) {
		past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		g := gstNewGallery(t, ts, map[string]any{"name": "Closed Expired", "password": "pw", "expires_at": past})
		resp, b := gstAuth(t, ts, g.Ev.Slug, map[string]string{"password": "pw"}, nil)
		wantError(t, resp, b, 410, "gallery_expired")
		if sc := resp.Header.Values("Set-Cookie"); len(sc) != 0 {
			t.Errorf("an expired gallery sets cookies: %q", sc)
		}
		resp, b = gstAuth(t, ts, g.Ev.Slug, map[string]string{"password": "wrong"}, nil)
		wantError(t, resp, b, 401, "invalid_password")
	})

	t.Run("expires after sign-in", func(t *testing.T) {
		expiry := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
		g := gstNewGallery(t, ts, map[string]any{"name": "Closed Later", "password": "pw", "expires_at": expiry.Format(time.RFC3339)},
			uploadFile{"a.jpg", smallJPEG(4)})
		a := gstSignIn(t, ts, g.Ev.Slug, map[string]string{"password": "pw"})
		if a.ExpiresAt.After(expiry) {
			t.Errorf("session expires %v, after the gallery (%v)", a.ExpiresAt, expiry)
		}
		if a.Gallery.ExpiresAt == nil || !a.Gallery.ExpiresAt.Equal(expiry) {
			t.Errorf("gallery expires_at %v, want %v", a.Gallery.ExpiresAt, expiry)
		}
		paths := gstPaths(g.Ev.Slug, g.Photos[0])
		gstWantOpen(t, ts, paths, a.Token, nil)
		gstPatchEvent(t, ts, g.Ev.ID, map[string]any{"expires_at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)})
		gstWantRefused(t, ts, paths, a.Token, nil, 410, "gallery_expired")
		gstWantOpen(t, ts, paths, ts.Admin, nil)
	})

	t.Run("expired, without a password", func(t *testing.T) {
		g := gstNewGallery(t, ts, map[string]any{"name": "Closed Expired Open", "expires_at": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)},
			uploadFile{"a.jpg", smallJPEG(5)})
		key := gstShareLink(t, ts, g.Ev.ID).Key
		gstWantRefused(t, ts, gstPaths(g.Ev.Slug, g.Photos[0]), "", map[string]string{"X-Gallery-Key": key}, 410, "gallery_expired")
		resp, b := gstAuth(t, ts, g.Ev.Slug, map[string]string{"key": key}, nil)
		wantError(t, resp, b, 410, "gallery_expired")
	})
}

// ---- the gallery and its photo list ----

// TestGalleryInfo: what a guest may know of a gallery: name, date, cover (the first
// visible photo in the manual order), categories, switches; hidden photos are counted
// nowhere, not in the gallery and not in its categories.
func TestGalleryInfo(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Info Gallery", "password": "pw", "date": "2026-06-01",
		"allow_downloads": false, "feedback_enabled": true, "protection_level": "standard"})
	cat := decode[server.CategoryResponse](t, gstPost(t, ts, fmt.Sprintf("/api/v1/events/%d/categories", ev.ID), map[string]any{"name": "Ceremony"}, 201))
	first := ts.uploadOK(t, ev.ID, []uploadFile{{"first.jpg", smallJPEG(1)}}, map[string]string{"category_id": cat.Slug}).Uploaded[0].ID
	second := ts.uploadOK(t, ev.ID, []uploadFile{{"second.jpg", smallJPEG(2)}}, map[string]string{"category_id": cat.Slug}).Uploaded[0].ID
	ts.uploadOne(t, ev.ID, "third.jpg", smallJPEG(3))
	gstHide(t, ts, first)
	tok := gstPassword(t, ts, ev.Slug, "pw")

	resp, b := ts.raw(t, http.MethodGet, "/api/gallery/"+ev.Slug, tok, nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	g := decode[server.GalleryResponse](t, b)
	if g.Name != "Info Gallery" || g.Slug != ev.Slug || g.Date == nil || *g.Date != "2026-06-01" || g.AllowDownloads ||
		!g.FeedbackEnabled || g.ProtectionLevel != "standard" || g.ExpiresAt != nil {
		t.Errorf("gallery %+v", g)
	}
	if g.PhotoCount != 2 {
		t.Errorf("photo_count %d, want 2 (the hidden photo is not counted)", g.PhotoCount)
	}
	wantCover := ts.getPhoto(t, second).ThumbnailURL
	if g.CoverURL == nil || *g.CoverURL != wantCover {
		t.Errorf("cover_url %v, want the first visible photo's thumbnail %q", g.CoverURL, wantCover)
	}
	if len(g.Categories) != 1 || g.Categories[0].ID != cat.ID || g.Categories[0].Name != "Ceremony" {
		t.Fatalf("categories %+v", g.Categories)
	}
	if g.Categories[0].PhotoCount != 1 {
		t.Errorf("category photo_count %d for a guest, want 1: the hidden photo is counted", g.Categories[0].PhotoCount)
	}
	for _, leak := range []string{"password", "share_key", "\"key\"", "watermark"} {
		if strings.Contains(string(b), leak) {
			t.Errorf("the guest gallery answer mentions %s: %s", leak, b)
		}
	}
}

// TestGuestPhotoList: the guest list is the envelope of visible photos with the seed's
// sort keys, the category filter and paging; items carry url, thumbnail_url,
// dimensions, media type and a download_url only when downloads are allowed.
func TestGuestPhotoList(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Guest List", "password": "pw"})
	cat := decode[server.CategoryResponse](t, gstPost(t, ts, fmt.Sprintf("/api/v1/events/%d/categories", ev.ID), map[string]any{"name": "Party"}, 201))
	// Names, sizes and upload order disagree, so every sort key has its own order.
	idC := ts.uploadOK(t, ev.ID, []uploadFile{{"c.jpg", padTo(t, smallJPEG(1), 9000, 1)}}, map[string]string{"category_id": fmt.Sprint(cat.ID)}).Uploaded[0].ID
	idA := ts.uploadOne(t, ev.ID, "a.jpg", padTo(t, smallJPEG(2), 7000, 2))
	idH := ts.uploadOK(t, ev.ID, []uploadFile{{"0-hidden.jpg", padTo(t, smallJPEG(3), 6000, 3)}}, map[string]string{"category_id": cat.Slug}).Uploaded[0].ID
	idB := ts.uploadOK(t, ev.ID, []uploadFile{{"b.jpg", padTo(t, smallJPEG(4), 8000, 4)}}, map[string]string{"category_id": cat.Slug}).Uploaded[0].ID
	gstHide(t, ts, idH)
	tok := gstPassword(t, ts, ev.Slug, "pw")

	list := func(t *testing.T, query string) (server.GalleryPhotoListResponse, []byte) {
		t.Helper()
		resp, b := ts.raw(t, http.MethodGet, "/api/gallery/"+ev.Slug+"/photos?"+query, tok, nil, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("list ?%s: %d %s", query, resp.StatusCode, b)
		}
		return decode[server.GalleryPhotoListResponse](t, b), b
	}
	idsOf := func(l server.GalleryPhotoListResponse) []int64 {
		out := []int64{}
		for _, it := range l.Items {
			out = append(out, it.ID)
		}
		return out
	}

	t.Run("envelope and items", func(t *testing.T) {
		l, raw := list(t, "")
		if l.Total != 3 || l.Limit != 50 || l.Offset != 0 || len(l.Items) != 3 {
			t.Fatalf("envelope total %d limit %d offset %d items %d, want 3/50/0/3", l.Total, l.Limit, l.Offset, len(l.Items))
		}
		for _, it := range l.Items {
			p := ts.getPhoto(t, it.ID)
			if it.ID == idH {
				t.Errorf("hidden photo listed")
			}
			if it.URL != fmt.Sprintf("/api/gallery/%s/photo/%d", ev.Slug, it.ID) || it.ThumbnailURL != p.ThumbnailURL ||
				it.Filename != p.Filename || it.MediaType != "image" || it.Width == nil || it.Height == nil || *it.Width != 64 || *it.Height != 48 {
				t.Errorf("item %+v (photo %+v)", it, p)
			}
			if it.DownloadURL == nil || *it.DownloadURL != fmt.Sprintf("/api/gallery/%s/photos/%d/download", ev.Slug, it.ID) {
				t.Errorf("download_url %v", it.DownloadURL)
			}
			for _, u := range []string{it.URL, it.ThumbnailURL, *it.DownloadURL} {
				if resp, b := ts.raw(t, http.MethodGet, u, tok, nil, nil); resp.StatusCode != 200 {
					t.Errorf("item link %s: %d %s", u, resp.StatusCode, b)
				}
			}
		}
		if strings.Contains(string(raw), "0-hidden") {
			t.Errorf("the hidden photo's name is in the list")
		}
	})

	t.Run("sort keys", func(t *testing.T) {
		explicit := map[string][]int64{
			"filename_asc":  {idA, idB, idC},
			"filename_desc": {idC, idB, idA},
			"size_asc":      {idA, idB, idC},
			"size_desc":     {idC, idB, idA},
			"position_asc":  {idC, idA, idB},
			"position_desc": {idB, idA, idC},
		}
		for _, key := range []string{"upload_date_asc", "upload_date_desc", "capture_date_asc", "capture_date_desc", "filename_asc",
			"filename_desc", "size_asc", "size_desc", "rating_asc", "rating_desc", "position_asc", "position_desc"} {
			l, _ := list(t, "sort="+key)
			got := idsOf(l)
			admin := ids(ts.listPhotos(t, ev.ID, "is_hidden=false&limit=200&sort="+key).Items)
			if !equalIDs(got, admin) {
				t.Errorf("sort=%s: guest %v, admin (visible) %v", key, got, admin)
			}
			if want, ok := explicit[key]; ok && !equalIDs(got, want) {
				t.Errorf("sort=%s: %v, want %v", key, got, want)
			}
		}
		l, _ := list(t, "")
		if !equalIDs(idsOf(l), []int64{idC, idA, idB}) {
			t.Errorf("default order %v, want the manual order %v", idsOf(l), []int64{idC, idA, idB})
		}
	})

	t.Run("category filter", func(t *testing.T) {
		for _, ref := range []string{fmt.Sprint(cat.ID), cat.Slug} {
			l, _ := list(t, "category_id="+ref+"&sort=filename_asc")
			if l.Total != 2 || !equalIDs(idsOf(l), []int64{idB, idC}) {
				t.Errorf("category %s: total %d ids %v, want 2 [%d %d]", ref, l.Total, idsOf(l), idB, idC)
			}
			for _, it := range l.Items {
				if it.CategoryID == nil || *it.CategoryID != cat.ID {
					t.Errorf("item %d category %v", it.ID, it.CategoryID)
				}
			}
		}
		l, _ := list(t, "media_type=image")
		if l.Total != 3 {
			t.Errorf("media_type=image total %d", l.Total)
		}
		if l, _ := list(t, "media_type=video"); l.Total != 0 || len(l.Items) != 0 {
			t.Errorf("media_type=video total %d", l.Total)
		}
	})

	t.Run("paging", func(t *testing.T) {
		all, _ := list(t, "sort=filename_asc")
		p1, _ := list(t, "sort=filename_asc&limit=2")
		p2, _ := list(t, "sort=filename_asc&limit=2&offset=2")
		p3, _ := list(t, "sort=filename_asc&limit=2&offset=10")
		if p1.Total != 3 || p1.Limit != 2 || p1.Offset != 0 || !equalIDs(idsOf(p1), idsOf(all)[:2]) {
			t.Errorf("page 1: %+v", p1)
		}
		if p2.Total != 3 || p2.Offset != 2 || !equalIDs(idsOf(p2), idsOf(all)[2:]) {
			t.Errorf("page 2: %+v", p2)
		}
		if p3.Total != 3 || len(p3.Items) != 0 || p3.Items == nil {
			t.Errorf("past the end: %+v", p3)
		}
	})

	t.Run("bad parameters", func(t *testing.T) {
		for _, tc := range []struct {
			query, param string
		}{
			{"sort=name_asc", "sort"},
			{"sort=size", "sort"},
			{"limit=0", "limit"},
			{"limit=201", "limit"},
			{"limit=x", "limit"},
			{"offset=-1", "offset"},
			{"media_type=audio", "media_type"},
		} {
			resp, b := ts.raw(t, http.MethodGet, "/api/gallery/"+ev.Slug+"/photos?"+tc.query, tok, nil, nil)
			e := wantError(t, resp, b, 400, "invalid_parameter")
			if e.Details["parameter"] != tc.param {
				t.Errorf("?%s: details.parameter %v, want %q", tc.query, e.Details["parameter"], tc.param)
			}
		}
		resp, b := ts.raw(t, http.MethodGet, "/api/gallery/"+ev.Slug+"/photos?category_id=nope", tok, nil, nil)
		wantError(t, resp, b, 404, "category_not_found")
	})

	t.Run("downloads off", func(t *testing.T) {
		gstPatchEvent(t, ts, ev.ID, map[string]any{"allow_downloads": false})
		defer gstPatchEvent(t, ts, ev.ID, map[string]any{"allow_downloads": true})
		_, raw := list(t, "")
		var generic struct {
			Items []map[string]any `json:"items"`
		}
		if err := json.Unmarshal(raw, &generic); err != nil {
			t.Fatal(err)
		}
		for _, it := range generic.Items {
			v, present := it["download_url"]
			if !present || v != nil {
				t.Errorf("item %v: download_url %v (present %v), want null", it["id"], v, present)
			}
		}
	})
}

// ---- feedback ----

// gstFeedback sends a feedback request with a guest token and requires 200.
func gstFeedback(t testing.TB, ts *testServer, method, path, token string, body any) server.GuestFeedbackResponse {
	t.Helper()
	resp, b := ts.do(t, method, path, token, body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return decode[server.GuestFeedbackResponse](t, b)
}

// TestGuestFeedback: two guests (two sign-ins) like, rate and comment; their own part and
// the aggregates answer each call, and the aggregates feed GET /api/v1/photos/{id} and
// the guest list. Likes and ratings are one per guest and can be taken back.
func TestGuestFeedback(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	g := gstNewGallery(t, ts, map[string]any{"name": "Feedback", "password": "pw", "feedback_enabled": true},
		uploadFile{"a.jpg", smallJPEG(1)}, uploadFile{"b.jpg", smallJPEG(2)})
	p := g.Photos[0]
	base := fmt.Sprintf("/api/gallery/%s/photos/%d", g.Ev.Slug, p.ID)
	g1 := gstPassword(t, ts, g.Ev.Slug, "pw")
	g2 := gstPassword(t, ts, g.Ev.Slug, "pw")

	f := gstFeedback(t, ts, http.MethodPut, base+"/like", g1, nil)
	if f.Likes != 1 || !f.Liked {
		t.Errorf("first like: %+v", f)
	}
	f = gstFeedback(t, ts, http.MethodPut, base+"/like", g1, nil) // idempotent
	if f.Likes != 1 || !f.Liked {
		t.Errorf("same guest likes again: %+v", f)
	}
	f = gstFeedback(t, ts, http.MethodPut, base+"/like", g2, nil)
	if f.Likes != 2 || !f.Liked {
		t.Errorf("second guest's like: %+v", f)
	}
	f = gstFeedback(t, ts, http.MethodPut, base+"/rating", g1, map[string]any{"rating": 5})
	if f.Ratings != 1 || f.AverageRating != 5 || f.MyRating != 5 {
		t.Errorf("first rating: %+v", f)
	}
	f = gstFeedback(t, ts, http.MethodPut, base+"/rating", g2, map[string]any{"rating": 2})
	f = gstFeedback(t, ts, http.MethodPut, base+"/rating", g2, map[string]any{"rating": 3}) // a guest changes their rating
	if f.Ratings != 2 || f.AverageRating != 4 || f.MyRating != 3 || f.Likes != 2 || !f.Liked {
		t.Errorf("second rating: %+v, want 2 ratings averaging 4", f)
	}

	for i, c := range []struct{ tok, name, text string }{{g1, " Anna ", "Lovely!"}, {g2, "Ben", " Wow \n"}} {
		resp, b := ts.do(t, http.MethodPost, base+"/comments", c.tok, map[string]string{"name": c.name, "text": c.text})
		if resp.StatusCode != 201 {
			t.Fatalf("comment %d: %d %s", i, resp.StatusCode, b)
		}
		cm := decode[server.CommentResponse](t, b)
		if cm.ID == 0 || cm.Name != strings.TrimSpace(c.name) || cm.Text != strings.TrimSpace(c.text) || cm.CreatedAt.IsZero() {
			t.Errorf("comment answer %+v", cm)
		}
	}
	resp, b := ts.raw(t, http.MethodGet, base+"/comments", g2, nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("comments: %d %s", resp.StatusCode, b)
	}
	cl := decode[server.CommentListResponse](t, b)
	if cl.Total != 2 || len(cl.Items) != 2 || cl.Items[0].Name != "Anna" || cl.Items[1].Text != "Wow" || cl.Items[0].ID >= cl.Items[1].ID {
		t.Errorf("comments %+v, want Anna's then Ben's", cl)
	}
	if resp, b := ts.raw(t, http.MethodGet, base+"/comments?limit=1&offset=1", g1, nil, nil); resp.StatusCode != 200 {
		t.Errorf("comments page: %d %s", resp.StatusCode, b)
	} else if cl := decode[server.CommentListResponse](t, b); cl.Total != 2 || len(cl.Items) != 1 || cl.Items[0].Name != "Ben" || cl.Limit != 1 || cl.Offset != 1 {
		t.Errorf("comments page %+v", cl)
	}

	want := server.FeedbackAggregate{Likes: 2, AverageRating: 4, Ratings: 2, Comments: 2}
	if got := ts.getPhoto(t, p.ID).Feedback; got != want {
		t.Errorf("GET /api/v1/photos/%d feedback %+v, want %+v", p.ID, got, want)
	}
	if got := ts.getPhoto(t, g.Photos[1].ID).Feedback; got != (server.FeedbackAggregate{}) {
		t.Errorf("the other photo has feedback %+v", got)
	}
	resp, b = ts.raw(t, http.MethodGet, "/api/gallery/"+g.Ev.Slug+"/photos", g1, nil, nil)
	for _, it := range decode[server.GalleryPhotoListResponse](t, b).Items {
		if it.ID == p.ID && (it.Feedback == nil || *it.Feedback != want) {
			t.Errorf("guest list feedback %+v, want %+v", it.Feedback, want)
		}
	}

	// Taking back.
	f = gstFeedback(t, ts, http.MethodDelete, base+"/like", g1, nil)
	if f.Likes != 1 || f.Liked || f.MyRating != 5 {
		t.Errorf("unlike: %+v", f)
	}
	f = gstFeedback(t, ts, http.MethodDelete, base+"/rating", g2, nil)
	if f.Ratings != 1 || f.AverageRating != 5 || f.MyRating != 0 || !f.Liked {
		t.Errorf("unrate: %+v", f)
	}
	want = server.FeedbackAggregate{Likes: 1, AverageRating: 5, Ratings: 1, Comments: 2}
	if got := ts.getPhoto(t, p.ID).Feedback; got != want {
		t.Errorf("after taking back: %+v, want %+v", got, want)
	}
	// The cookie alone is a guest session too (the same guest as its token).
	resp, b = ts.raw(t, http.MethodPut, base+"/like", "", nil, map[string]string{"Cookie": gstCookieName(g.Ev.Slug) + "=" + g1})
	if resp.StatusCode != 200 {
		t.Fatalf("like with the cookie: %d %s", resp.StatusCode, b)
	}
	if f := decode[server.GuestFeedbackResponse](t, b); f.Likes != 2 || !f.Liked || f.MyRating != 5 {
		t.Errorf("like with the cookie: %+v", f)
	}
}

// TestGuestFeedbackRules: validation, feedback_enabled, guest sessions only, hidden and
// unknown photos.
func TestGuestFeedbackRules(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	g := gstNewGallery(t, ts, map[string]any{"name": "Feedback Rules", "password": "pw", "feedback_enabled": true},
		uploadFile{"a.jpg", smallJPEG(1)}, uploadFile{"h.jpg", smallJPEG(2)})
	off := gstNewGallery(t, ts, map[string]any{"name": "Feedback Off", "password": "pw"}, uploadFile{"o.jpg", smallJPEG(3)})
	open := gstNewGallery(t, ts, map[string]any{"name": "Feedback Open", "feedback_enabled": true}, uploadFile{"k.jpg", smallJPEG(4)})
	gstHide(t, ts, g.Photos[1].ID)
	tok := gstPassword(t, ts, g.Ev.Slug, "pw")
	base := fmt.Sprintf("/api/gallery/%s/photos/%d", g.Ev.Slug, g.Photos[0].ID)

	t.Run("validation", func(t *testing.T) {
		for _, tc := range []struct {
			method, path string
			body         any
			status       int
			code, param  string
		}{
			{http.MethodPut, "/rating", map[string]any{"rating": 0}, 400, "invalid_parameter", "rating"},
			{http.MethodPut, "/rating", map[string]any{"rating": 6}, 400, "invalid_parameter", "rating"},
			{http.MethodPut, "/rating", map[string]any{"rating": -1}, 400, "invalid_parameter", "rating"},
			{http.MethodPut, "/rating", map[string]any{}, 400, "invalid_parameter", "rating"},
			{http.MethodPut, "/rating", map[string]any{"rating": "5"}, 400, "invalid_request", ""},
			{http.MethodPut, "/rating", map[string]any{"rating": 5, "extra": 1}, 400, "invalid_request", ""},
			{http.MethodPost, "/comments", map[string]any{"name": "Anna", "text": ""}, 400, "invalid_parameter", "text"},
			{http.MethodPost, "/comments", map[string]any{"name": "Anna", "text": "   "}, 400, "invalid_parameter", "text"},
			{http.MethodPost, "/comments", map[string]any{"name": "Anna", "text": strings.Repeat("x", 2001)}, 400, "invalid_parameter", "text"},
			{http.MethodPost, "/comments", map[string]any{"name": "", "text": "hi"}, 400, "invalid_parameter", "name"},
			{http.MethodPost, "/comments", map[string]any{"name": strings.Repeat("n", 81), "text": "hi"}, 400, "invalid_parameter", "name"},
			{http.MethodPost, "/comments", "{", 400, "invalid_request", ""},
		} {
			resp, b := ts.do(t, tc.method, base+tc.path, tok, tc.body)
			e := wantError(t, resp, b, tc.status, tc.code)
			if tc.param != "" && e.Details["parameter"] != tc.param {
				t.Errorf("%s %s %v: details.parameter %v, want %q", tc.method, tc.path, tc.body, e.Details["parameter"], tc.param)
			}
		}
		if got := ts.getPhoto(t, g.Photos[0].ID).Feedback; got != (server.FeedbackAggregate{}) {
			t.Errorf("refused feedback was recorded: %+v", got)
		}
		// The longest name and text are fine.
		resp, b := ts.do(t, http.MethodPost, base+"/comments", tok, map[string]any{"name": strings.Repeat("n", 80), "text": strings.Repeat("ü", 2000)})
		if resp.StatusCode != 201 {
			t.Errorf("longest comment: %d %s", resp.StatusCode, b)
		}
	})

	t.Run("feedback disabled", func(t *testing.T) {
		offTok := gstPassword(t, ts, off.Ev.Slug, "pw")
		ob := fmt.Sprintf("/api/gallery/%s/photos/%d", off.Ev.Slug, off.Photos[0].ID)
		for _, tc := range []struct {
			method, path string
			body         any
		}{
			{http.MethodPut, "/like", nil}, {http.MethodDelete, "/like", nil},
			{http.MethodPut, "/rating", map[string]any{"rating": 4}}, {http.MethodDelete, "/rating", nil},
			{http.MethodPost, "/comments", map[string]any{"name": "A", "text": "B"}}, {http.MethodGet, "/comments", nil},
		} {
			resp, b := ts.do(t, tc.method, ob+tc.path, offTok, tc.body)
			wantError(t, resp, b, 403, "feedback_disabled")
		}
		resp, b := ts.raw(t, http.MethodGet, "/api/gallery/"+off.Ev.Slug+"/photos", offTok, nil, nil)
		if resp.StatusCode != 200 || strings.Contains(string(b), `"feedback"`) {
			t.Errorf("a gallery without feedback shows feedback in its list: %s", b)
		}
	})

	t.Run("guest session required", func(t *testing.T) {
		for _, tc := range []struct {
			name, method, path, token string
			headers                   map[string]string
			body                      any
		}{
			{"admin token like", http.MethodPut, base + "/like", ts.Admin, nil, nil},
			{"admin token rating", http.MethodPut, base + "/rating", ts.Admin, nil, map[string]any{"rating": 3}},
			{"admin token comment", http.MethodPost, base + "/comments", ts.Admin, nil, map[string]any{"name": "A", "text": "B"}},
			{"share key like", http.MethodPut, fmt.Sprintf("/api/gallery/%s/photos/%d/like", open.Ev.Slug, open.Photos[0].ID), "",
				map[string]string{"X-Gallery-Key": gstShareLink(t, ts, open.Ev.ID).Key}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var raw []byte
				h := map[string]string{}
				for k, v := range tc.headers {
					h[k] = v
				}
				if tc.body != nil {
					raw, _ = json.Marshal(tc.body)
					h["Content-Type"] = "application/json"
				}
				resp, b := ts.raw(t, tc.method, tc.path, tc.token, raw, h)
				wantError(t, resp, b, 403, "guest_session_required")
			})
		}
		// A session opened with the share key may give feedback.
		okTok := gstSignIn(t, ts, open.Ev.Slug, map[string]string{"key": gstShareLink(t, ts, open.Ev.ID).Key}).Token
		gstFeedback(t, ts, http.MethodPut, fmt.Sprintf("/api/gallery/%s/photos/%d/like", open.Ev.Slug, open.Photos[0].ID), okTok, nil)
		// An admin token may read comments.
		if resp, b := ts.raw(t, http.MethodGet, base+"/comments", ts.Admin, nil, nil); resp.StatusCode != 200 {
			t.Errorf("admin reads comments: %d %s", resp.StatusCode, b)
		}
	})

	t.Run("hidden, unknown and foreign photos", func(t *testing.T) {
		hb := fmt.Sprintf("/api/gallery/%s/photos/%d", g.Ev.Slug, g.Photos[1].ID)
		unknown := fmt.Sprintf("/api/gallery/%s/photos/999999", g.Ev.Slug)
		foreign := fmt.Sprintf("/api/gallery/%s/photos/%d", g.Ev.Slug, off.Photos[0].ID)
		for _, b := range []string{hb, unknown, foreign} {
			for _, tc := range []struct {
				method, path string
				body         any
			}{
				{http.MethodPut, "/like", nil}, {http.MethodDelete, "/like", nil},
				{http.MethodPut, "/rating", map[string]any{"rating": 3}}, {http.MethodDelete, "/rating", nil},
				{http.MethodPost, "/comments", map[string]any{"name": "A", "text": "B"}}, {http.MethodGet, "/comments", nil},
			} {
				resp, body := ts.do(t, tc.method, b+tc.path, tok, tc.body)
				wantError(t, resp, body, 404, "photo_not_found")
			}
		}
		resp, b := ts.raw(t, http.MethodGet, hb+"/comments", tok, nil, nil)
		wantError(t, resp, b, 404, "photo_not_found")
		resp, b = ts.do(t, http.MethodPut, fmt.Sprintf("/api/gallery/%s/photos/abc/like", g.Ev.Slug), tok, nil)
		wantError(t, resp, b, 400, "invalid_parameter")
		if got := ts.getPhoto(t, g.Photos[1].ID).Feedback; got != (server.FeedbackAggregate{}) {
			t.Errorf("hidden photo got feedback %+v", got)
		}
	})

	t.Run("no credentials", func(t *testing.T) {
		resp, b := ts.do(t, http.MethodPut, base+"/like", "", nil)
		wantError(t, resp, b, 401, "gallery_auth_required")
	})
}
