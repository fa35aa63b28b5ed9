package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gallerist/gallerist/server"
)

// gstWarmThumb asks for a thumbnail twice with the credentials, so the second answer
// comes from the caches (verified token, thumbnail), and returns its bytes.
func gstWarmThumb(t *testing.T, ts *testServer, path, token string, headers map[string]string) []byte {
	t.Helper()
	_, first := gstGetOK(t, ts, path, token, headers)
	resp, again := gstGetOK(t, ts, path, token, headers)
	if ts.Cfg.AccelRedirect == "" && !bytes.Equal(first, again) {
		t.Fatalf("cached thumbnail differs from the first answer (%d vs %d bytes)", len(again), len(first))
	}
	if ts.Cfg.AccelRedirect != "" && resp.Header.Get("X-Accel-Redirect") == "" {
		t.Fatalf("no X-Accel-Redirect on the cached answer: %v", resp.Header)
	}
	if server.ThumbCacheLen() == 0 || server.GuestTokenCacheLen() == 0 && token+headers["Cookie"] != "" {
		t.Fatalf("caches not used: %d thumbnails, %d tokens", server.ThumbCacheLen(), server.GuestTokenCacheLen())
	}
	return again
}

// TestGuestCachesEndRevokedSessions: a guest session whose token and thumbnail are
// cached still ends at once when the password changes or the link is rotated, on the
// direct path and behind X-Accel-Redirect, by bearer token and by cookie.
func TestGuestCachesEndRevokedSessions(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"direct", "x-accel"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, func(c *server.Config) {
				if mode == "x-accel" {
					c.AccelRedirect = "/_files"
				}
			})
			t.Run("password change", func(t *testing.T) {
				g := gstNewGallery(t, ts, map[string]any{"name": "Cache PW " + mode, "password": "old"}, uploadFile{"a.jpg", smallJPEG(41)})
				thumb := g.Photos[0].ThumbnailURL
				tok := gstPassword(t, ts, g.Ev.Slug, "old")
				cookie := map[string]string{"Cookie": gstCookieName(g.Ev.Slug) + "=" + tok}
				gstWarmThumb(t, ts, thumb, tok, nil)
				gstWarmThumb(t, ts, thumb, "", cookie)

				gstPatchEvent(t, ts, g.Ev.ID, map[string]any{"password": "new"})
				for name, h := range map[string]map[string]string{"bearer": nil, "cookie": cookie} {
					tk := tok
					if h != nil {
						tk = ""
					}
					resp, b := ts.raw(t, http.MethodGet, thumb, tk, nil, h)
					wantError(t, resp, b, 401, "gallery_auth_required")
					if len(b) > 0 && bytes.HasPrefix(b, []byte{0xff, 0xd8}) {
						t.Errorf("%s: JPEG bytes after the password change", name)
					}
				}
				gstGetOK(t, ts, thumb, gstPassword(t, ts, g.Ev.Slug, "new"), nil)
			})
			t.Run("link rotation", func(t *testing.T) {
				g := gstNewGallery(t, ts, map[string]any{"name": "Cache Rotate " + mode}, uploadFile{"a.jpg", smallJPEG(42)})
				thumb := g.Photos[0].ThumbnailURL
				key := gstShareLink(t, ts, g.Ev.ID).Key
				tok := gstSignIn(t, ts, g.Ev.Slug, map[string]string{"key": key}).Token
				cookie := map[string]string{"Cookie": gstCookieName(g.Ev.Slug) + "=" + tok}
				gstWarmThumb(t, ts, thumb, tok, nil)
				gstWarmThumb(t, ts, thumb, "", cookie)
				gstWarmThumb(t, ts, thumb, "", map[string]string{"X-Gallery-Key": key})

				gstRotate(t, ts, g.Ev.ID)
				resp, b := ts.raw(t, http.MethodGet, thumb, tok, nil, nil)
				wantError(t, resp, b, 401, "gallery_auth_required")
				resp, b = ts.raw(t, http.MethodGet, thumb, "", nil, cookie)
				wantError(t, resp, b, 401, "gallery_auth_required")
				resp, b = ts.raw(t, http.MethodGet, thumb, "", nil, map[string]string{"X-Gallery-Key": key})
				wantError(t, resp, b, 401, "gallery_auth_required")
			})
		})
	}
}

// TestGuestCachedTokenExpires: a token whose signature is cached is refused as soon as
// it expires, and a token altered from a cached one is never accepted.
func TestGuestCachedTokenExpires(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	g := gstNewGallery(t, ts, map[string]any{"name": "Cache Expiry", "password": "pw"}, uploadFile{"a.jpg", smallJPEG(43)})
	thumb := g.Photos[0].ThumbnailURL
	ev, err := ts.DB.FindEventBySlug(context.Background(), g.Ev.Slug)
	if err != nil {
		t.Fatal(err)
	}
	expires := time.Now().Add(2 * time.Second)
	tok, err := server.SignGuestTokenForTest(context.Background(), ts.Srv, ev.ID, ev.GuestEpoch, expires)
	if err != nil {
		t.Fatal(err)
	}
	gstWarmThumb(t, ts, thumb, tok, nil)

	// A token that differs from the cached one in its signature, or its claims, is not it.
	payload, sig, _ := strings.Cut(tok, ".")
	forged := payload + "." + strings.Map(func(r rune) rune {
		if r == 'A' {
			return 'B'
		}
		return 'A'
	}, sig)
	resp, b := ts.raw(t, http.MethodGet, thumb, forged, nil, nil)
	wantError(t, resp, b, 401, "gallery_auth_required")

	time.Sleep(time.Until(time.Unix(expires.Unix(), 0)) + 50*time.Millisecond)
	resp, b = ts.raw(t, http.MethodGet, thumb, tok, nil, nil)
	wantError(t, resp, b, 401, "gallery_auth_required")
	resp, b = ts.raw(t, http.MethodGet, thumb, "", nil, map[string]string{"Cookie": gstCookieName(g.Ev.Slug) + "=" + tok})
	wantError(t, resp, b, 401, "gallery_auth_required")
}

// TestGuestCachedThumbnailHiddenOrDeleted: a thumbnail served from the cache is 404 to
// the guest as soon as its photo is hidden or deleted, directly and behind
// X-Accel-Redirect, while the gallery's other thumbnails keep being served.
func TestGuestCachedThumbnailHiddenOrDeleted(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"direct", "x-accel"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, func(c *server.Config) {
				if mode == "x-accel" {
					c.AccelRedirect = "/_files"
				}
			})
			g := gstNewGallery(t, ts, map[string]any{"name": "Cache Hidden " + mode, "password": "pw"},
				uploadFile{"a.jpg", smallJPEG(44)}, uploadFile{"b.jpg", smallJPEG(45)}, uploadFile{"c.jpg", smallJPEG(46)})
			tok := gstPassword(t, ts, g.Ev.Slug, "pw")
			for _, p := range g.Photos {
				gstWarmThumb(t, ts, p.ThumbnailURL, tok, nil)
			}

			gstHide(t, ts, g.Photos[0].ID)
			resp, b := ts.raw(t, http.MethodGet, g.Photos[0].ThumbnailURL, tok, nil, nil)
			wantError(t, resp, b, 404, "file_not_found")
			resp, b = ts.raw(t, http.MethodHead, g.Photos[0].ThumbnailURL, tok, nil, nil)
			if resp.StatusCode != 404 {
				t.Errorf("HEAD of a hidden photo's cached thumbnail: %d", resp.StatusCode)
			}

			resp, b = ts.do(t, http.MethodDelete, fmt.Sprintf("/api/v1/photos/%d", g.Photos[1].ID), ts.Admin, nil)
			if resp.StatusCode/100 != 2 {
				t.Fatalf("delete photo: %d %s", resp.StatusCode, b)
			}
			resp, b = ts.raw(t, http.MethodGet, g.Photos[1].ThumbnailURL, tok, nil, nil)
			wantError(t, resp, b, 404, "file_not_found")

			// The admin still sees the hidden photo's thumbnail; the guest the third photo's.
			gstGetOK(t, ts, g.Photos[0].ThumbnailURL, ts.Admin, nil)
			gstGetOK(t, ts, g.Photos[2].ThumbnailURL, tok, nil)
		})
	}
}

// TestGuestCachedThumbnailOtherGallery: a guest of one gallery is refused another
// gallery's thumbnail that is in the cache.
func TestGuestCachedThumbnailOtherGallery(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	a := gstNewGallery(t, ts, map[string]any{"name": "Cache Gallery A", "password": "pa"}, uploadFile{"a.jpg", smallJPEG(47)})
	b := gstNewGallery(t, ts, map[string]any{"name": "Cache Gallery B", "password": "pb"}, uploadFile{"b.jpg", smallJPEG(48)})
	ta, tb := gstPassword(t, ts, a.Ev.Slug, "pa"), gstPassword(t, ts, b.Ev.Slug, "pb")
	gstWarmThumb(t, ts, b.Photos[0].ThumbnailURL, tb, nil)

	resp, body := ts.raw(t, http.MethodGet, b.Photos[0].ThumbnailURL, ta, nil, nil)
	wantError(t, resp, body, 401, "gallery_auth_required")
	// B's thumbnail name under A's slug is not A's file.
	stem := b.Photos[0].ThumbnailURL[strings.LastIndex(b.Photos[0].ThumbnailURL, "/"):]
	resp, body = ts.raw(t, http.MethodGet, "/thumbnails/"+a.Ev.Slug+stem, ta, nil, nil)
	wantError(t, resp, body, 404, "file_not_found")
}

// TestGuestCachedThumbnailHTTPSemantics: a cached thumbnail answers conditional and range
// requests like a file.
func TestGuestCachedThumbnailHTTPSemantics(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	g := gstNewGallery(t, ts, map[string]any{"name": "Cache Semantics", "password": "pw"}, uploadFile{"a.jpg", smallJPEG(49)})
	tok := gstPassword(t, ts, g.Ev.Slug, "pw")
	thumb := g.Photos[0].ThumbnailURL
	full := gstWarmThumb(t, ts, thumb, tok, nil)
	resp, _ := gstGetOK(t, ts, thumb, tok, nil)
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Last-Modified") == "" || resp.Header.Get("Content-Type") != "image/jpeg" ||
		resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Cache-Control") != "private, max-age=604800" ||
		resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("X-Request-Id") == "" ||
		resp.Header.Get("Accept-Ranges") != "bytes" || resp.Header.Get("Content-Length") != fmt.Sprint(len(full)) {
		t.Errorf("headers of a cached thumbnail: %v", resp.Header)
	}
	again, _ := gstGetOK(t, ts, thumb, tok, nil)
	if a, b := resp.Header.Get("X-Request-Id"), again.Header.Get("X-Request-Id"); a == b || len(a) != 16 || strings.Trim(a, "0123456789abcdef") != "" {
		t.Errorf("request ids %q and %q: want 16 hex digits, different for each request", a, b)
	}
	resp, b := ts.raw(t, http.MethodHead, thumb, tok, nil, nil)
	if resp.StatusCode != 200 || len(b) != 0 || resp.Header.Get("Content-Length") != fmt.Sprint(len(full)) {
		t.Errorf("HEAD: %d, %d bytes, Content-Length %q", resp.StatusCode, len(b), resp.Header.Get("Content-Length"))
	}
	resp, b = ts.raw(t, http.MethodGet, thumb, tok, nil, map[string]string{"If-None-Match": etag})
	if resp.StatusCode != 304 || len(b) != 0 {
		t.Errorf("If-None-Match: %d with %d bytes", resp.StatusCode, len(b))
	}
	resp, b = ts.raw(t, http.MethodGet, thumb, tok, nil, map[string]string{"Range": "bytes=2-9"})
	if resp.StatusCode != 206 || !bytes.Equal(b, full[2:10]) {
		t.Errorf("Range: %d %q", resp.StatusCode, b)
	}
	resp, b = ts.raw(t, http.MethodGet, thumb, tok, nil, map[string]string{"Range": fmt.Sprintf("bytes=%d-", len(full)+10)})
	wantError(t, resp, b, 416, "range_not_satisfiable")
}

// TestGuestCachesRevokeUnderLoad: while guests keep asking for a cached thumbnail from
// several connections at once (so requests share reads of the database's version), every
// request sent after a password change has been answered is refused.
func TestGuestCachesRevokeUnderLoad(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	g := gstNewGallery(t, ts, map[string]any{"name": "Cache Load", "password": "old"}, uploadFile{"a.jpg", smallJPEG(50)})
	thumb := g.Photos[0].ThumbnailURL
	tok := gstPassword(t, ts, g.Ev.Slug, "old")
	gstWarmThumb(t, ts, thumb, tok, nil)

	var changed atomic.Bool
	stop := make(chan struct{})
	errs := make(chan string, 16)
	var wg sync.WaitGroup
	var okBefore, refusedAfter atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				after := changed.Load()
				req, _ := http.NewRequest(http.MethodGet, ts.URL+thumb, nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err.Error()
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch {
				case after && resp.StatusCode != 401:
					errs <- fmt.Sprintf("a request sent after the password change got %d", resp.StatusCode)
					return
				case after:
					refusedAfter.Add(1)
				case resp.StatusCode == 200:
					okBefore.Add(1)
				}
			}
		}()
	}
	time.Sleep(150 * time.Millisecond)
	gstPatchEvent(t, ts, g.Ev.ID, map[string]any{"password": "new"})
	changed.Store(true)
	time.Sleep(150 * time.Millisecond)
	close(stop)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if okBefore.Load() == 0 || refusedAfter.Load() == 0 {
		t.Errorf("%d answers before the change, %d refusals after: the test did not exercise both", okBefore.Load(), refusedAfter.Load())
	}
}
