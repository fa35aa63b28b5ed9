package server_test

// The three file paths as a guest sees them (/photos/{slug}/{filename},
// /thumbnails/{slug}/{filename}, /api/gallery/{slug}/photo/{id}) and the guest download
// routes: hidden photos, protection levels, the download switch, view and download
// counts, and the HTTP semantics of a good static server.

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gallerist/gallerist/media/mediatest"
	"github.com/gallerist/gallerist/server"
)

// gstGetOK GETs a path and requires 200.
func gstGetOK(t testing.TB, ts *testServer, path, token string, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	resp, b := ts.raw(t, http.MethodGet, path, token, nil, headers)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return resp, b
}

// gstUnzip reads a ZIP answer into name → bytes.
func gstUnzip(t testing.TB, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("not a zip (%d bytes): %v", len(b), err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name] = data
	}
	return out
}

func gstReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGuestHiddenPhotos: a hidden photo is not listed, not counted and not served to a
// guest (JSON, the three file paths, both downloads, HEAD), but is served to an admin
// API token.
func TestGuestHiddenPhotos(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	g := gstNewGallery(t, ts, map[string]any{"name": "Hidden", "password": "pw"},
		uploadFile{"visible.jpg", smallJPEG(1)}, uploadFile{"hidden.jpg", smallJPEG(2)})
	vis, hid := g.Photos[0], g.Photos[1]
	gstHide(t, ts, hid.ID)
	tok := gstPassword(t, ts, g.Ev.Slug, "pw")
	slug := g.Ev.Slug

	t.Run("not listed or counted", func(t *testing.T) {
		_, b := gstGetOK(t, ts, "/api/gallery/"+slug+"/photos", tok, nil)
		l := decode[server.GalleryPhotoListResponse](t, b)
		if l.Total != 1 || len(l.Items) != 1 || l.Items[0].ID != vis.ID {
			t.Errorf("list total %d items %+v, want only photo %d", l.Total, l.Items, vis.ID)
		}
		_, b = gstGetOK(t, ts, "/api/gallery/"+slug, tok, nil)
		if gr := decode[server.GalleryResponse](t, b); gr.PhotoCount != 1 {
			t.Errorf("gallery photo_count %d, want 1", gr.PhotoCount)
		}
		_, b = gstGetOK(t, ts, "/api/gallery/"+slug+"/photos?sort=filename_asc&offset=1", tok, nil)
		if l := decode[server.GalleryPhotoListResponse](t, b); l.Total != 1 || len(l.Items) != 0 {
			t.Errorf("offset 1: total %d items %d", l.Total, len(l.Items))
		}
	})

	guestRefusals := []struct {
		name, method, path string
		status             int
		code               string
	}{
		{"original", http.MethodGet, hid.URL, 404, "file_not_found"},
		{"original HEAD", http.MethodHead, hid.URL, 404, ""},
		{"thumbnail", http.MethodGet, hid.ThumbnailURL, 404, "file_not_found"},
		{"thumbnail HEAD", http.MethodHead, hid.ThumbnailURL, 404, ""},
		{"view", http.MethodGet, fmt.Sprintf("/api/gallery/%s/photo/%d", slug, hid.ID), 404, "photo_not_found"},
		{"download", http.MethodGet, fmt.Sprintf("/api/gallery/%s/photos/%d/download", slug, hid.ID), 404, "photo_not_found"},
	}
	for _, tc := range guestRefusals {
		t.Run("guest "+tc.name, func(t *testing.T) {
			resp, b := ts.raw(t, tc.method, tc.path, tok, nil, nil)
			if tc.method == http.MethodHead {
				if resp.StatusCode != tc.status || len(b) != 0 {
					t.Errorf("HEAD %s: %d with %d bytes, want %d", tc.path, resp.StatusCode, len(b), tc.status)
				}
				return
			}
			wantError(t, resp, b, tc.status, tc.code)
		})
	}
	t.Run("guest ZIP", func(t *testing.T) {
		for _, q := range []string{"", fmt.Sprintf("?ids=%d", hid.ID), fmt.Sprintf("?ids=%d,%d", vis.ID, hid.ID)} {
			_, b := gstGetOK(t, ts, "/api/gallery/"+slug+"/download"+q, tok, nil)
			entries := gstUnzip(t, b)
			if _, ok := entries["hidden.jpg"]; ok {
				t.Errorf("ZIP%s packs the hidden photo", q)
			}
			if q != fmt.Sprintf("?ids=%d", hid.ID) && !bytes.Equal(entries["visible.jpg"], g.Data[0]) {
				t.Errorf("ZIP%s lacks the visible photo: %v", q, len(entries))
			}
		}
		if p := ts.getPhoto(t, hid.ID); p.DownloadCount != 0 {
			t.Errorf("hidden photo download_count %d", p.DownloadCount)
		}
	})
	t.Run("admin", func(t *testing.T) {
		for _, path := range []string{hid.URL, hid.ThumbnailURL, fmt.Sprintf("/api/gallery/%s/photo/%d", slug, hid.ID),
			fmt.Sprintf("/api/gallery/%s/photos/%d/download", slug, hid.ID)} {
			resp, b := gstGetOK(t, ts, path, ts.Admin, nil)
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), "image/") || len(b) == 0 {
				t.Errorf("%s for the admin: %q, %d bytes", path, resp.Header.Get("Content-Type"), len(b))
			}
		}
		_, b := gstGetOK(t, ts, hid.URL, ts.Admin, nil)
		if !bytes.Equal(b, g.Data[1]) {
			t.Errorf("hidden original for the admin differs from the upload")
		}
	})
}

// TestGuestProtectionLevels: basic and standard serve the display copy at the view path;
// enhanced and maximum serve a watermarked JPEG capped at 1600 / 1200 px whose bytes
// differ from the display copy, made once and cached, and a new watermark text makes a
// new variant. The original is never altered.
func TestGuestProtectionLevels(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	orig := mediatest.JPEG(3000, 2000, 7, nil)
	g := gstNewGallery(t, ts, map[string]any{"name": "Protected", "password": "pw", "protection_level": "basic"},
		uploadFile{"big.jpg", orig})
	p := g.Photos[0]
	tok := gstPassword(t, ts, g.Ev.Slug, "pw")
	view := fmt.Sprintf("/api/gallery/%s/photo/%d", g.Ev.Slug, p.ID)
	files := ts.photoFiles(p)
	display := gstReadFile(t, files[1])

	get := func(t *testing.T) (*http.Response, []byte) {
		t.Helper()
		resp, b := gstGetOK(t, ts, view, tok, nil)
		if resp.Header.Get("Content-Type") != "image/jpeg" || resp.Header.Get("Cache-Control") != "private, max-age=86400" {
			t.Errorf("view headers: type %q cache %q", resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
		}
		return resp, b
	}
	longEdge := func(t *testing.T, b []byte) int {
		w, h := gstJPEGSize(t, b)
		return max(w, h)
	}

	etags := map[string]string{}
	for _, level := range []string{"basic", "standard"} {
		t.Run(level, func(t *testing.T) {
			gstPatchEvent(t, ts, g.Ev.ID, map[string]any{"protection_level": level})
			resp, b := get(t)
			if le := longEdge(t, b); le != 2048 {
				t.Errorf("display copy long edge %d, want 2048", le)
			}
			if !bytes.Equal(b, display) {
				t.Errorf("%s serves %d bytes, not the display copy (%d bytes)", level, len(b), len(display))
			}
			etags[level] = resp.Header.Get("ETag")
		})
	}
	if len(ts.blobFiles(t, "protected")) != 0 {
		t.Errorf("protected variants made at basic/standard: %v", ts.blobFiles(t, "protected"))
	}
	variants := map[string][]byte{}
	for _, tc := range []struct {
		level string
		cap   int
	}{{"enhanced", 1600}, {"maximum", 1200}} {
		t.Run(tc.level, func(t *testing.T) {
			gstPatchEvent(t, ts, g.Ev.ID, map[string]any{"protection_level": tc.level})
			resp, b := get(t)
			if le := longEdge(t, b); le > tc.cap || le < tc.cap-1 {
				t.Errorf("%s long edge %d, want %d", tc.level, le, tc.cap)
			}
			if bytes.Equal(b, display) || bytes.Equal(b, orig) {
				t.Errorf("%s serves the display copy or the original", tc.level)
			}
			etag := resp.Header.Get("ETag")
			if etag == "" || etag == etags["basic"] {
				t.Errorf("%s ETag %q, basic's %q", tc.level, etag, etags["basic"])
			}
			// Made once: the same bytes and ETag again, no new file.
			before := ts.blobFiles(t, "protected")
			resp2, b2 := get(t)
			if !bytes.Equal(b, b2) || resp2.Header.Get("ETag") != etag || len(ts.blobFiles(t, "protected")) != len(before) {
				t.Errorf("%s variant not cached: same bytes %v, ETag %q then %q, files %d then %d", tc.level, bytes.Equal(b, b2),
					etag, resp2.Header.Get("ETag"), len(before), len(ts.blobFiles(t, "protected")))
			}
			resp3, _ := ts.raw(t, http.MethodGet, view, tok, nil, map[string]string{"If-None-Match": etag})
			if resp3.StatusCode != http.StatusNotModified {
				t.Errorf("If-None-Match on the variant: %d", resp3.StatusCode)
			}
			variants[tc.level] = b
			etags[tc.level] = etag
		})
	}
	if bytes.Equal(variants["enhanced"], variants["maximum"]) || etags["enhanced"] == etags["maximum"] {
		t.Errorf("enhanced and maximum serve the same variant")
	}
	t.Run("new watermark text", func(t *testing.T) {
		gstPatchEvent(t, ts, g.Ev.ID, map[string]any{"watermark_text": "© Studio Nord"})
		resp, b := get(t)
		if bytes.Equal(b, variants["maximum"]) || resp.Header.Get("ETag") == etags["maximum"] {
			t.Errorf("a new watermark text serves the old variant (ETag %q)", resp.Header.Get("ETag"))
		}
		if le := longEdge(t, b); le > 1200 {
			t.Errorf("long edge %d", le)
		}
		if n := len(ts.blobFiles(t, "protected")); n != 3 {
			t.Errorf("%d protected variants on disk, want 3 (enhanced, maximum, maximum with the new text)", n)
		}
	})
	t.Run("original unaltered", func(t *testing.T) {
		if got := gstSHA(gstReadFile(t, files[0])); got != gstSHA(orig) || got != p.SHA256 {
			t.Errorf("original on disk sha256 %s, upload %s, photo %s", got, gstSHA(orig), p.SHA256)
		}
		// Downloads are on: the guest's /photos/... path gives the untouched original.
		_, b := gstGetOK(t, ts, p.URL, tok, nil)
		if !bytes.Equal(b, orig) {
			t.Errorf("/photos/... serves %d bytes, not the original (%d)", len(b), len(orig))
		}
		_, b = gstGetOK(t, ts, fmt.Sprintf("/api/gallery/%s/photos/%d/download", g.Ev.Slug, p.ID), tok, nil)
		if !bytes.Equal(b, orig) {
			t.Errorf("guest download is not the original")
		}
		if ph := ts.getPhoto(t, p.ID); ph.SHA256 != gstSHA(orig) || ph.Size != int64(len(orig)) {
			t.Errorf("photo metadata changed: %s %d", ph.SHA256, ph.Size)
		}
	})
}

// TestGuestDownloadSwitch: allow_downloads=false refuses originals to guests on
// /photos/... and both download routes, while thumbnails and the view path still work
// and API tokens still get originals.
func TestGuestDownloadSwitch(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	g := gstNewGallery(t, ts, map[string]any{"name": "No Downloads", "password": "pw", "allow_downloads": false},
		uploadFile{"a.jpg", smallJPEG(1)})
	p := g.Photos[0]
	tok := gstPassword(t, ts, g.Ev.Slug, "pw")
	dl := fmt.Sprintf("/api/gallery/%s/photos/%d/download", g.Ev.Slug, p.ID)
	zipPath := "/api/gallery/" + g.Ev.Slug + "/download"

	for _, path := range []string{p.URL, dl, zipPath, zipPath + fmt.Sprintf("?ids=%d", p.ID)} {
		resp, b := ts.raw(t, http.MethodGet, path, tok, nil, nil)
		wantError(t, resp, b, 403, "download_not_allowed")
		if resp.Header.Get("Content-Disposition") != "" || resp.Header.Get("ETag") != "" {
			t.Errorf("%s: refusal carries file headers %v", path, resp.Header)
		}
	}
	if resp, b := ts.raw(t, http.MethodHead, p.URL, tok, nil, nil); resp.StatusCode != 403 || len(b) != 0 {
		t.Errorf("HEAD original: %d", resp.StatusCode)
	}
	resp, b := ts.raw(t, http.MethodGet, p.URL, "", nil, map[string]string{"Cookie": gstCookieName(g.Ev.Slug) + "=" + tok})
	wantError(t, resp, b, 403, "download_not_allowed")
	for _, path := range []string{p.ThumbnailURL, fmt.Sprintf("/api/gallery/%s/photo/%d", g.Ev.Slug, p.ID)} {
		resp, b := gstGetOK(t, ts, path, tok, nil)
		if resp.Header.Get("Content-Type") != "image/jpeg" || len(b) == 0 {
			t.Errorf("%s: %q", path, resp.Header.Get("Content-Type"))
		}
	}
	for _, path := range []string{p.URL, dl, zipPath} {
		gstGetOK(t, ts, path, ts.Admin, nil)
	}
	if got := ts.getPhoto(t, p.ID).DownloadCount; got != 0 {
		t.Errorf("download_count %d after refused guest downloads and admin downloads", got)
	}

	gstPatchEvent(t, ts, g.Ev.ID, map[string]any{"allow_downloads": true})
	if _, b := gstGetOK(t, ts, p.URL, tok, nil); !bytes.Equal(b, g.Data[0]) {
		t.Errorf("original after switching downloads on differs")
	}
	if _, b := gstGetOK(t, ts, dl, tok, nil); !bytes.Equal(b, g.Data[0]) {
		t.Errorf("download after switching downloads on differs")
	}
}

// TestGuestDownloadCounts: guest downloads (single and ZIP) count per photo and in the
// event's total_downloads; API-token downloads and range requests do not.
func TestGuestDownloadCounts(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	g := gstNewGallery(t, ts, map[string]any{"name": "Counts", "password": "pw"},
		uploadFile{"Grüße aus Köln.jpg", smallJPEG(1)}, uploadFile{"b.jpg", smallJPEG(2)}, uploadFile{"h.jpg", smallJPEG(3)})
	p1, p2, ph := g.Photos[0], g.Photos[1], g.Photos[2]
	gstHide(t, ts, ph.ID)
	tok := gstPassword(t, ts, g.Ev.Slug, "pw")
	dl := fmt.Sprintf("/api/gallery/%s/photos/%d/download", g.Ev.Slug, p1.ID)
	counts := func(t *testing.T, want1, want2, wantH int, wantTotal int64) {
		t.Helper()
		if c1, c2, cH := ts.getPhoto(t, p1.ID).DownloadCount, ts.getPhoto(t, p2.ID).DownloadCount, ts.getPhoto(t, ph.ID).DownloadCount; c1 != want1 || c2 != want2 || cH != wantH {
			t.Errorf("download_count %d %d %d, want %d %d %d", c1, c2, cH, want1, want2, wantH)
		}
		if tot := ts.getEvent(t, g.Ev.ID).TotalDownloads; tot != wantTotal {
			t.Errorf("total_downloads %d, want %d", tot, wantTotal)
		}
	}
	counts(t, 0, 0, 0, 0)

	resp, b := gstGetOK(t, ts, dl, tok, nil)
	if !bytes.Equal(b, g.Data[0]) {
		t.Errorf("guest download bytes differ")
	}
	cd := resp.Header.Get("Content-Disposition")
	disp, params, err := mime.ParseMediaType(cd)
	if err != nil || disp != "attachment" || params["filename"] != "Grüße aus Köln.jpg" ||
		!strings.Contains(cd, "filename*=UTF-8''Gr%C3%BC%C3%9Fe%20aus%20K%C3%B6ln.jpg") {
		t.Errorf("Content-Disposition %q (parsed %q %v %v)", cd, disp, params, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "image/jpeg" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("download Content-Type %q nosniff %q", ct, resp.Header.Get("X-Content-Type-Options"))
	}
	counts(t, 1, 0, 0, 1)

	// API tokens do not count, on the guest route or the API's own.
	gstGetOK(t, ts, dl, ts.Admin, nil)
	gstGetOK(t, ts, fmt.Sprintf("/api/v1/photos/%d/download", p1.ID), ts.Admin, nil)
	gstGetOK(t, ts, fmt.Sprintf("/api/v1/events/%d/photos/download", g.Ev.ID), ts.Admin, nil)
	gstGetOK(t, ts, "/api/gallery/"+g.Ev.Slug+"/download", ts.Admin, nil)
	counts(t, 1, 0, 0, 1)

	// A range request resumes a download; it is not a new one.
	resp, b = ts.raw(t, http.MethodGet, dl, tok, nil, map[string]string{"Range": "bytes=10-19"})
	if resp.StatusCode != 206 || !bytes.Equal(b, g.Data[0][10:20]) {
		t.Errorf("range download: %d %d bytes", resp.StatusCode, len(b))
	}
	counts(t, 1, 0, 0, 1)

	// A guest ZIP of everything counts each visible photo once.
	resp, b = gstGetOK(t, ts, "/api/gallery/"+g.Ev.Slug+"/download", tok, nil)
	if resp.Header.Get("Content-Type") != "application/zip" {
		t.Errorf("ZIP Content-Type %q", resp.Header.Get("Content-Type"))
	}
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err != nil || params["filename"] != g.Ev.Slug+".zip" {
		t.Errorf("ZIP Content-Disposition %q", resp.Header.Get("Content-Disposition"))
	}
	entries := gstUnzip(t, b)
	if len(entries) != 2 || !bytes.Equal(entries["Grüße aus Köln.jpg"], g.Data[0]) || !bytes.Equal(entries["b.jpg"], g.Data[1]) {
		t.Errorf("ZIP entries %d", len(entries))
	}
	counts(t, 2, 1, 0, 3)
	// A chosen subset counts only those.
	_, b = gstGetOK(t, ts, fmt.Sprintf("/api/gallery/%s/download?ids=%d", g.Ev.Slug, p2.ID), tok, nil)
	if e := gstUnzip(t, b); len(e) != 1 {
		t.Errorf("subset ZIP entries %d", len(e))
	}
	counts(t, 2, 2, 0, 4)
	resp, b = ts.raw(t, http.MethodGet, "/api/gallery/"+g.Ev.Slug+"/download?ids=x", tok, nil, nil)
	wantError(t, resp, b, 400, "invalid_parameter")
	counts(t, 2, 2, 0, 4)
}

// TestGuestViewCounts: a guest's full view of the view path counts; a Range request, a
// 304 on If-None-Match and API-token views do not.
func TestGuestViewCounts(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	g := gstNewGallery(t, ts, map[string]any{"name": "Views", "password": "pw"}, uploadFile{"a.jpg", smallJPEG(1)})
	p := g.Photos[0]
	tok := gstPassword(t, ts, g.Ev.Slug, "pw")
	view := fmt.Sprintf("/api/gallery/%s/photo/%d", g.Ev.Slug, p.ID)
	views := func(t *testing.T, want int) {
		t.Helper()
		if got := ts.getPhoto(t, p.ID).ViewCount; got != want {
			t.Errorf("view_count %d, want %d", got, want)
		}
	}
	views(t, 0)
	resp, _ := gstGetOK(t, ts, view, tok, nil)
	etag := resp.Header.Get("ETag")
	views(t, 1)
	if resp, _ := ts.raw(t, http.MethodGet, view, tok, nil, map[string]string{"If-None-Match": etag}); resp.StatusCode != 304 {
		t.Errorf("If-None-Match: %d", resp.StatusCode)
	}
	views(t, 1)
	if resp, _ := ts.raw(t, http.MethodGet, view, tok, nil, map[string]string{"Range": "bytes=0-99"}); resp.StatusCode != 206 {
		t.Errorf("Range: %d", resp.StatusCode)
	}
	views(t, 1)
	gstGetOK(t, ts, view, ts.Admin, nil)
	views(t, 1)
	gstGetOK(t, ts, view, "", map[string]string{"Cookie": gstCookieName(g.Ev.Slug) + "=" + tok})
	views(t, 2)
	// Thumbnails and originals are not views.
	gstGetOK(t, ts, p.ThumbnailURL, tok, nil)
	gstGetOK(t, ts, p.URL, tok, nil)
	views(t, 2)
}

// TestGuestViewCountConditionalRequests: every 304 is a revalidation, not a view,
// whichever validator produced it (If-Modified-Since, a weak or listed If-None-Match).
func TestGuestViewCountConditionalRequests(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	g := gstNewGallery(t, ts, map[string]any{"name": "Views Conditional", "password": "pw"}, uploadFile{"a.jpg", smallJPEG(1)})
	p := g.Photos[0]
	tok := gstPassword(t, ts, g.Ev.Slug, "pw")
	view := fmt.Sprintf("/api/gallery/%s/photo/%d", g.Ev.Slug, p.ID)
	resp, _ := gstGetOK(t, ts, view, tok, nil)
	etag, lastMod := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	if lastMod == "" {
		t.Fatalf("no Last-Modified on the view path")
	}
	for _, h := range []map[string]string{
		{"If-Modified-Since": lastMod},
		{"If-None-Match": "W/" + etag},
		{"If-None-Match": `"other", ` + etag},
		{"If-None-Match": "*"},
	} {
		before := ts.getPhoto(t, p.ID).ViewCount
		resp, b := ts.raw(t, http.MethodGet, view, tok, nil, h)
		if resp.StatusCode != http.StatusNotModified || len(b) != 0 {
			t.Errorf("%v: %d with %d bytes, want 304", h, resp.StatusCode, len(b))
		}
		if after := ts.getPhoto(t, p.ID).ViewCount; after != before {
			t.Errorf("%v: a 304 counted as a view (view_count %d -> %d)", h, before, after)
		}
	}
}

// gstCheckFile checks the full answer of a file path and returns the body.
func gstCheckFile(t *testing.T, resp *http.Response, b []byte, mimePrefix, cache string) {
	t.Helper()
	h := resp.Header
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, mimePrefix) {
		t.Errorf("Content-Type %q, want %s*", ct, mimePrefix)
	}
	if h.Get("Cache-Control") != cache {
		t.Errorf("Cache-Control %q, want %q", h.Get("Cache-Control"), cache)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", h.Get("X-Content-Type-Options"))
	}
	if e := h.Get("ETag"); len(e) < 3 || !strings.HasPrefix(e, `"`) || !strings.HasSuffix(e, `"`) {
		t.Errorf("ETag %q is not a strong quoted tag", e)
	}
	if _, err := http.ParseTime(h.Get("Last-Modified")); err != nil {
		t.Errorf("Last-Modified %q: %v", h.Get("Last-Modified"), err)
	}
	if h.Get("Accept-Ranges") != "bytes" {
		t.Errorf("Accept-Ranges %q", h.Get("Accept-Ranges"))
	}
	if h.Get("Content-Length") != strconv.Itoa(len(b)) {
		t.Errorf("Content-Length %q for %d bytes", h.Get("Content-Length"), len(b))
	}
}

// TestGuestFileHTTPSemantics: on each of the three paths, with a guest token: headers,
// ETag + If-None-Match → 304, Range → 206 (plain, open, suffix, multi-range), a range
// past the end → 416 in the envelope, HEAD.
func TestGuestFileHTTPSemantics(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	g := gstNewGallery(t, ts, map[string]any{"name": "Semantics", "password": "pw"}, uploadFile{"a.jpg", mediatest.JPEG(800, 600, 3, nil)})
	p := g.Photos[0]
	tok := gstPassword(t, ts, g.Ev.Slug, "pw")
	kinds := []struct {
		name, path, cache string
	}{
		{"original", p.URL, "private, max-age=86400"},
		{"thumbnail", p.ThumbnailURL, "private, max-age=604800"},
		{"view", fmt.Sprintf("/api/gallery/%s/photo/%d", g.Ev.Slug, p.ID), "private, max-age=86400"},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			resp, body := gstGetOK(t, ts, k.path, tok, nil)
			gstCheckFile(t, resp, body, "image/jpeg", k.cache)
			gstJPEGSize(t, body)
			if k.name == "original" && !bytes.Equal(body, g.Data[0]) {
				t.Errorf("original bytes differ")
			}
			etag, n := resp.Header.Get("ETag"), len(body)

			t.Run("304", func(t *testing.T) {
				resp, b := ts.raw(t, http.MethodGet, k.path, tok, nil, map[string]string{"If-None-Match": etag})
				if resp.StatusCode != http.StatusNotModified || len(b) != 0 || resp.Header.Get("ETag") != etag {
					t.Errorf("If-None-Match: %d, %d bytes, ETag %q", resp.StatusCode, len(b), resp.Header.Get("ETag"))
				}
				resp, b = ts.raw(t, http.MethodGet, k.path, tok, nil, map[string]string{"If-None-Match": `"not-it"`})
				if resp.StatusCode != 200 || len(b) != n {
					t.Errorf("other ETag: %d, %d bytes", resp.StatusCode, len(b))
				}
			})
			t.Run("206", func(t *testing.T) {
				for _, tc := range []struct {
					rng        string
					start, end int // inclusive
				}{
					{"bytes=0-99", 0, 99},
					{"bytes=100-", 100, n - 1},
					{"bytes=-100", n - 100, n - 1},
					{fmt.Sprintf("bytes=%d-%d", n-1, n+500), n - 1, n - 1},
				} {
					resp, b := ts.raw(t, http.MethodGet, k.path, tok, nil, map[string]string{"Range": tc.rng})
					if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(b, body[tc.start:tc.end+1]) {
						t.Errorf("%s: %d with %d bytes", tc.rng, resp.StatusCode, len(b))
						continue
					}
					if cr := resp.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes %d-%d/%d", tc.start, tc.end, n) {
						t.Errorf("%s: Content-Range %q", tc.rng, cr)
					}
					if resp.Header.Get("Content-Type") != "image/jpeg" || resp.Header.Get("Cache-Control") != k.cache ||
						resp.Header.Get("ETag") != etag || resp.Header.Get("Content-Length") != strconv.Itoa(len(b)) {
						t.Errorf("%s: headers %v", tc.rng, resp.Header)
					}
				}
				// If-Range with the current ETag honours the range, with another ETag sends everything.
				resp, b := ts.raw(t, http.MethodGet, k.path, tok, nil, map[string]string{"Range": "bytes=0-9", "If-Range": etag})
				if resp.StatusCode != 206 || len(b) != 10 {
					t.Errorf("If-Range current: %d %d bytes", resp.StatusCode, len(b))
				}
				resp, b = ts.raw(t, http.MethodGet, k.path, tok, nil, map[string]string{"Range": "bytes=0-9", "If-Range": `"old"`})
				if resp.StatusCode != 200 || len(b) != n {
					t.Errorf("If-Range stale: %d %d bytes", resp.StatusCode, len(b))
				}
			})
			t.Run("multi-range", func(t *testing.T) {
				resp, b := ts.raw(t, http.MethodGet, k.path, tok, nil, map[string]string{"Range": "bytes=0-9,20-29"})
				switch resp.StatusCode {
				case http.StatusPartialContent:
					mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
					if err != nil || mt != "multipart/byteranges" || params["boundary"] == "" {
						t.Fatalf("multi-range 206 Content-Type %q (%v)", resp.Header.Get("Content-Type"), err)
					}
					if resp.Header.Get("Content-Length") != strconv.Itoa(len(b)) {
						t.Errorf("Content-Length %q for %d bytes", resp.Header.Get("Content-Length"), len(b))
					}
					mr := multipart.NewReader(bytes.NewReader(b), params["boundary"])
					want := [][2]int{{0, 9}, {20, 29}}
					i := 0
					for ; ; i++ {
						part, err := mr.NextPart()
						if err == io.EOF {
							break
						}
						if err != nil {
							t.Fatalf("part %d: %v", i, err)
						}
						data, _ := io.ReadAll(part)
						if i >= len(want) {
							t.Errorf("extra part %d", i)
							continue
						}
						s, e := want[i][0], want[i][1]
						if cr := part.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes %d-%d/%d", s, e, n) {
							t.Errorf("part %d Content-Range %q", i, cr)
						}
						if ct := part.Header.Get("Content-Type"); ct != "image/jpeg" {
							t.Errorf("part %d Content-Type %q", i, ct)
						}
						if !bytes.Equal(data, body[s:e+1]) {
							t.Errorf("part %d bytes differ", i)
						}
					}
					if i != len(want) {
						t.Errorf("%d parts, want %d", i, len(want))
					}
				case http.StatusRequestedRangeNotSatisfiable:
					wantError(t, resp, b, 416, "range_not_satisfiable")
				default:
					t.Errorf("multi-range: %d (%q), want 206 multipart/byteranges or a refusal", resp.StatusCode, resp.Header.Get("Content-Type"))
				}
			})
			t.Run("416", func(t *testing.T) {
				resp, b := ts.raw(t, http.MethodGet, k.path, tok, nil, map[string]string{"Range": fmt.Sprintf("bytes=%d-", n+10)})
				wantError(t, resp, b, 416, "range_not_satisfiable")
				if cr := resp.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes */%d", n) {
					t.Errorf("Content-Range %q", cr)
				}
				if resp.Header.Get("ETag") != "" || resp.Header.Get("Cache-Control") != "" {
					t.Errorf("416 carries file caching headers: ETag %q Cache-Control %q", resp.Header.Get("ETag"), resp.Header.Get("Cache-Control"))
				}
			})
			t.Run("HEAD", func(t *testing.T) {
				resp, b := ts.raw(t, http.MethodHead, k.path, tok, nil, nil)
				if resp.StatusCode != 200 || len(b) != 0 {
					t.Fatalf("HEAD %s: %d with %d bytes, want 200 without a body", k.path, resp.StatusCode, len(b))
				}
				h := resp.Header
				if h.Get("Content-Type") != "image/jpeg" || h.Get("ETag") != etag || h.Get("Content-Length") != strconv.Itoa(n) ||
					h.Get("Cache-Control") != k.cache || h.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("HEAD headers %v", h)
				}
			})
		})
	}
}

// TestGuestViewPathHEADIsNotAView: a HEAD of the view path (when it is served) is not a
// view.
func TestGuestViewPathHEADIsNotAView(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	g := gstNewGallery(t, ts, map[string]any{"name": "Head View", "password": "pw"}, uploadFile{"a.jpg", smallJPEG(1)})
	tok := gstPassword(t, ts, g.Ev.Slug, "pw")
	resp, b := ts.raw(t, http.MethodHead, fmt.Sprintf("/api/gallery/%s/photo/%d", g.Ev.Slug, g.Photos[0].ID), tok, nil, nil)
	if resp.StatusCode != 200 || len(b) != 0 {
		t.Errorf("HEAD of the view path: %d", resp.StatusCode)
	}
	if v := ts.getPhoto(t, g.Photos[0].ID).ViewCount; v != 0 {
		t.Errorf("HEAD counted as a view: view_count %d", v)
	}
}

// TestGuestVideo: a video is served as itself at the view path with Range for seeking,
// its original at /photos/..., its poster thumbnail as a JPEG; the guest list says it is
// a video.
func TestGuestVideo(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	clip := gstReadFile(t, mediatest.Video(t, t.TempDir(), "mp4", 1, 320, 240))
	g := gstNewGallery(t, ts, map[string]any{"name": "Video Gallery", "password": "pw", "protection_level": "maximum"},
		uploadFile{"clip.mp4", clip})
	p := g.Photos[0]
	if p.MediaType != "video" {
		t.Fatalf("media_type %q", p.MediaType)
	}
	tok := gstPassword(t, ts, g.Ev.Slug, "pw")
	view := fmt.Sprintf("/api/gallery/%s/photo/%d", g.Ev.Slug, p.ID)

	resp, b := gstGetOK(t, ts, view, tok, nil)
	gstCheckFile(t, resp, b, "video/mp4", "private, max-age=86400")
	if !bytes.Equal(b, clip) {
		t.Errorf("view path serves %d bytes, not the video (%d)", len(b), len(clip))
	}
	n := len(clip)
	resp, b = ts.raw(t, http.MethodGet, view, tok, nil, map[string]string{"Range": "bytes=1000-"})
	if resp.StatusCode != 206 || !bytes.Equal(b, clip[1000:]) || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 1000-%d/%d", n-1, n) ||
		resp.Header.Get("Content-Type") != "video/mp4" {
		t.Errorf("video range: %d %d bytes %q %q", resp.StatusCode, len(b), resp.Header.Get("Content-Range"), resp.Header.Get("Content-Type"))
	}
	resp, b = ts.raw(t, http.MethodGet, view, tok, nil, map[string]string{"Range": "bytes=-100"})
	if resp.StatusCode != 206 || !bytes.Equal(b, clip[n-100:]) {
		t.Errorf("video suffix range: %d %d bytes", resp.StatusCode, len(b))
	}
	resp, b = gstGetOK(t, ts, p.URL, tok, nil)
	gstCheckFile(t, resp, b, "video/mp4", "private, max-age=86400")
	resp, b = gstGetOK(t, ts, p.ThumbnailURL, tok, nil)
	gstCheckFile(t, resp, b, "image/jpeg", "private, max-age=604800")
	gstJPEGSize(t, b)
	_, b = gstGetOK(t, ts, "/api/gallery/"+g.Ev.Slug+"/photos", tok, nil)
	l := decode[server.GalleryPhotoListResponse](t, b)
	if len(l.Items) != 1 || l.Items[0].MediaType != "video" || l.Items[0].Width == nil || *l.Items[0].Width != 320 || *l.Items[0].Height != 240 {
		t.Errorf("list item %+v", l.Items)
	}
	if v := ts.getPhoto(t, p.ID).ViewCount; v != 1 {
		t.Errorf("view_count %d after one full view and two ranges, want 1", v)
	}
}

// TestGuestFileCredentialForms: the file paths take the gallery token in the header or
// the cookie and, for a passwordless gallery, ?key=; expiry of a cookie session is
// checked too (a session of an expired gallery gets 410 on the file paths).
func TestGuestFileCredentialForms(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	g := gstNewGallery(t, ts, map[string]any{"name": "Forms"}, uploadFile{"a.jpg", smallJPEG(1)})
	key := gstShareLink(t, ts, g.Ev.ID).Key
	p := g.Photos[0]
	tok := gstSignIn(t, ts, g.Ev.Slug, map[string]string{"key": key}).Token
	for name, path := range gstPaths(g.Ev.Slug, p) {
		t.Run(name, func(t *testing.T) {
			gstGetOK(t, ts, path, tok, nil)
			gstGetOK(t, ts, path, "", map[string]string{"Cookie": gstCookieName(g.Ev.Slug) + "=" + tok})
			gstGetOK(t, ts, gstWithQuery(path, "key", key), "", nil)
		})
	}
	gstPatchEvent(t, ts, g.Ev.ID, map[string]any{"expires_at": time.Now().Add(-time.Second).UTC().Format(time.RFC3339)})
	gstWantRefused(t, ts, gstPaths(g.Ev.Slug, p), "", map[string]string{"Cookie": gstCookieName(g.Ev.Slug) + "=" + tok}, 410, "gallery_expired")
}
