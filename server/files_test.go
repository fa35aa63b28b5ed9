package server_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"testing"

	"github.com/gallerist/gallerist/server"
)

// TestServeFiles: /photos/{slug}/{filename} and /thumbnails/{slug}/{stem}.jpg with the
// caching, conditional and range semantics of a good static server.
func TestServeFiles(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Files"})
	other := ts.createEvent(t, map[string]any{"name": "Files Other"})
	data := smallJPEG(1)
	p := ts.getPhoto(t, ts.uploadOne(t, ev.ID, "f.jpg", data))
	otherP := ts.getPhoto(t, ts.uploadOne(t, other.ID, "o.jpg", smallJPEG(2)))
	reader := ts.token(t, "photos.read")
	stem := strings.TrimSuffix(p.StoredName, path.Ext(p.StoredName))

	kinds := []struct {
		name     string
		url      string
		mime     string
		cache    string
		wantBody func(t *testing.T, b []byte)
	}{
		{"photo", p.URL, "image/jpeg", "private, max-age=86400", func(t *testing.T, b []byte) {
			if !bytes.Equal(b, data) {
				t.Errorf("photo bytes differ from the upload (%d vs %d bytes)", len(b), len(data))
			}
		}},
		{"thumbnail", p.ThumbnailURL, "image/jpeg", "private, max-age=604800", func(t *testing.T, b []byte) {
			if len(b) < 100 || b[0] != 0xFF || b[1] != 0xD8 {
				t.Errorf("thumbnail is not a JPEG (%d bytes)", len(b))
			}
		}},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			resp, body := ts.raw(t, http.MethodGet, k.url, reader, nil, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("GET %s: %d %s", k.url, resp.StatusCode, body)
			}
			h := resp.Header
			if h.Get("Content-Type") != k.mime || h.Get("Cache-Control") != k.cache || h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("headers: type %q cache %q nosniff %q", h.Get("Content-Type"), h.Get("Cache-Control"), h.Get("X-Content-Type-Options"))
			}
			etag := h.Get("ETag")
			if etag == "" || !strings.HasPrefix(etag, `"`) || h.Get("Last-Modified") == "" || h.Get("Accept-Ranges") != "bytes" {
				t.Errorf("etag %q last-modified %q accept-ranges %q", etag, h.Get("Last-Modified"), h.Get("Accept-Ranges"))
			}
			if h.Get("Content-Length") != strconv.Itoa(len(body)) {
				t.Errorf("content-length %q for %d bytes", h.Get("Content-Length"), len(body))
			}
			k.wantBody(t, body)

			// The same ETag on a second GET; If-None-Match answers 304 without a body.
			resp2, _ := ts.raw(t, http.MethodGet, k.url, reader, nil, nil)
			if resp2.Header.Get("ETag") != etag {
				t.Errorf("ETag changed: %q then %q", etag, resp2.Header.Get("ETag"))
			}
			resp, b := ts.raw(t, http.MethodGet, k.url, reader, nil, map[string]string{"If-None-Match": etag})
			if resp.StatusCode != http.StatusNotModified || len(b) != 0 {
				t.Errorf("If-None-Match: %d with %d bytes, want 304", resp.StatusCode, len(b))
			}
			resp, b = ts.raw(t, http.MethodGet, k.url, reader, nil, map[string]string{"If-None-Match": `"something-else"`})
			if resp.StatusCode != 200 || len(b) != len(body) {
				t.Errorf("non-matching If-None-Match: %d with %d bytes", resp.StatusCode, len(b))
			}

			// Range.
			resp, b = ts.raw(t, http.MethodGet, k.url, reader, nil, map[string]string{"Range": "bytes=0-99"})
			if resp.StatusCode != http.StatusPartialContent || len(b) != 100 || !bytes.Equal(b, body[:100]) {
				t.Errorf("range: %d with %d bytes", resp.StatusCode, len(b))
			}
			if cr := resp.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes 0-99/%d", len(body)) {
				t.Errorf("Content-Range %q", cr)
			}
			if resp.Header.Get("Content-Type") != k.mime {
				t.Errorf("range answer Content-Type %q", resp.Header.Get("Content-Type"))
			}
			resp, b = ts.raw(t, http.MethodGet, k.url, reader, nil, map[string]string{"Range": fmt.Sprintf("bytes=%d-", len(body)-10)})
			if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(b, body[len(body)-10:]) {
				t.Errorf("suffix range: %d with %d bytes", resp.StatusCode, len(b))
			}

			// HEAD: the headers without the body.
			resp, b = ts.raw(t, http.MethodHead, k.url, reader, nil, nil)
			if resp.StatusCode != 200 || len(b) != 0 || resp.Header.Get("Content-Type") != k.mime ||
				resp.Header.Get("ETag") != etag || resp.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
				t.Errorf("HEAD: %d, %d bytes, type %q etag %q length %q", resp.StatusCode, len(b), resp.Header.Get("Content-Type"),
					resp.Header.Get("ETag"), resp.Header.Get("Content-Length"))
			}
			// Admin may fetch too.
			if resp, _ := ts.raw(t, http.MethodGet, k.url, ts.Admin, nil, nil); resp.StatusCode != 200 {
				t.Errorf("admin: %d", resp.StatusCode)
			}
			// No credentials at all: the gallery asks for a guest session.
			resp, b = ts.raw(t, http.MethodGet, k.url, "", nil, nil)
			wantError(t, resp, b, 401, "gallery_auth_required")
		})
	}

	notFound := []struct {
		name string
		url  string
	}{
		{"another event's slug", "/photos/" + other.Slug + "/" + p.StoredName},
		{"another event's slug, thumbnail", "/thumbnails/" + other.Slug + "/" + stem + ".jpg"},
		{"other photo under this slug", "/photos/" + ev.Slug + "/" + otherP.StoredName},
		{"unknown slug", "/photos/no-such-event/" + p.StoredName},
		{"encoded traversal", "/photos/" + ev.Slug + "/..%2F..%2Fgallerist.db"},
		{"encoded traversal in the thumbnail", "/thumbnails/" + ev.Slug + "/..%2F..%2Fgallerist.db"},
		{"encoded traversal in the slug", "/photos/..%2F..%2F/" + p.StoredName},
		{"dot file", "/photos/" + ev.Slug + "/.."},
		{"database name", "/photos/" + ev.Slug + "/gallerist.db"},
		{"wrong extension", "/photos/" + ev.Slug + "/" + stem + ".png"},
		{"no extension", "/photos/" + ev.Slug + "/" + stem},
		{"double extension", "/photos/" + ev.Slug + "/" + stem + ".jpg.jpg"},
		{"thumbnail with the wrong extension", "/thumbnails/" + ev.Slug + "/" + stem + ".png"},
		{"upper-case stem", "/photos/" + ev.Slug + "/" + strings.ToUpper(stem) + ".jpg"},
		{"random stem", "/photos/" + ev.Slug + "/abcdefghijklmnopqrst.jpg"},
		{"random thumbnail stem", "/thumbnails/" + ev.Slug + "/abcdefghijklmnopqrst.jpg"},
		{"client's file name", "/photos/" + ev.Slug + "/f.jpg"},
		{"blob key as name", "/photos/" + ev.Slug + "/originals%2F1%2F" + p.StoredName},
	}
	for _, tc := range notFound {
		t.Run("404 "+tc.name, func(t *testing.T) {
			resp, body := ts.raw(t, http.MethodGet, tc.url, reader, nil, nil)
			wantError(t, resp, body, 404, "file_not_found")
		})
	}
	// Unencoded dot segments and extra segments reach the file route with the rest of the
	// path as the name (Echo's last parameter takes slashes); the name check refuses them.
	for _, u := range []string{"/photos/" + ev.Slug + "/../../gallerist.db", "/photos/" + ev.Slug + "/x/" + p.StoredName} {
		t.Run("404 path "+u, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, ts.URL+u, nil)
			req.URL.Path = u // keep the dots: clients that do not clean the path
			req.Header.Set("Authorization", "Bearer "+reader)
			resp, body := ts.send(t, req)
			if resp.StatusCode == 200 {
				t.Fatalf("served %d bytes for %s", len(body), u)
			}
			wantError(t, resp, body, 404, "file_not_found")
		})
	}
	// A hidden photo is still served to the admin API client (hiding is for guests).
	resp, body := ts.do(t, http.MethodPatch, fmt.Sprintf("/api/v1/photos/%d", p.ID), ts.Admin, map[string]any{"is_hidden": true})
	if resp.StatusCode != 200 {
		t.Fatalf("hide: %d %s", resp.StatusCode, body)
	}
	if resp, _ := ts.raw(t, http.MethodGet, p.URL, ts.Admin, nil, nil); resp.StatusCode != 200 {
		t.Errorf("hidden photo for the admin: %d", resp.StatusCode)
	}
}

// TestServeFileTypes: PNG and GIF originals keep their type; thumbnails are JPEG.
func TestServeFileTypes(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "File Types"})
	reader := ts.token(t, "photos.read")
	for _, f := range []struct {
		name, mime string
		data       []byte
	}{
		{"p.png", "image/png", pngFixture(1)},
		{"g.gif", "image/gif", gifFixture(2)},
	} {
		p := ts.getPhoto(t, ts.uploadOne(t, ev.ID, f.name, f.data))
		resp, body := ts.raw(t, http.MethodGet, p.URL, reader, nil, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != f.mime || !bytes.Equal(body, f.data) {
			t.Errorf("%s: %d %q %d bytes", f.name, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		// The thumbnail of any image is a JPEG.
		resp, body = ts.raw(t, http.MethodGet, p.ThumbnailURL, reader, nil, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" || len(body) < 2 || body[0] != 0xFF {
			t.Errorf("%s thumbnail: %d %q", f.name, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}

// TestDownloadOriginal: attachment with the original (UTF-8) name and the exact bytes.
func TestDownloadOriginal(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Download"})
	reader := ts.token(t, "photos.read")
	cases := []struct {
		name        string
		data        []byte
		wantRawPart string
	}{
		{"Hochzeit Müller.jpg", smallJPEG(1), `filename*=UTF-8''Hochzeit%20M%C3%BCller.jpg`},
		{"DSC_2031.jpg", smallJPEG(2), `attachment; filename=`},
		{`quote "me".png`, pngFixture(3), `filename*=UTF-8''quote%20%22me%22.png`},
		{"日本の写真.jpg", smallJPEG(4), `filename*=UTF-8''%E6%97%A5%E6%9C%AC%E3%81%AE%E5%86%99%E7%9C%9F.jpg`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := ts.uploadOne(t, ev.ID, tc.name, tc.data)
			resp, body := ts.raw(t, http.MethodGet, fmt.Sprintf("/api/v1/photos/%d/download", id), reader, nil, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("download: %d %s", resp.StatusCode, body)
			}
			if !bytes.Equal(body, tc.data) {
				t.Errorf("bytes differ from the upload")
			}
			cd := resp.Header.Get("Content-Disposition")
			if !strings.Contains(cd, tc.wantRawPart) {
				t.Errorf("Content-Disposition %q lacks %q", cd, tc.wantRawPart)
			}
			disp, params, err := mime.ParseMediaType(cd)
			if err != nil || disp != "attachment" || params["filename"] != tc.name {
				t.Errorf("Content-Disposition %q parses to %q %v (%v), want filename %q", cd, disp, params, err, tc.name)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "image/") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{"/api/v1/photos/99999/download", 404, "photo_not_found"},
		{"/api/v1/photos/x/download", 400, "invalid_parameter"},
	} {
		resp, body := ts.raw(t, http.MethodGet, tc.path, reader, nil, nil)
		wantError(t, resp, body, tc.status, tc.code)
	}
}

// TestDownloadZip: a ZIP of the originals, all or chosen, with distinct entry names.
func TestDownloadZip(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Zip Me"})
	other := ts.createEvent(t, map[string]any{"name": "Zip Other"})
	files := []uploadFile{
		{"a.jpg", smallJPEG(1)},
		{"b.png", pngFixture(2)},
		{"Hochzeit Müller.jpg", smallJPEG(3)},
	}
	var idList []int64
	for _, f := range files {
		idList = append(idList, ts.uploadOne(t, ev.ID, f.Name, f.Data))
	}
	// Same original name as the first, other bytes: a second "a.jpg".
	dup := smallJPEG(4)
	idList = append(idList, ts.uploadOne(t, ev.ID, "a.jpg", dup))
	foreign := ts.uploadOne(t, other.ID, "x.jpg", smallJPEG(5))
	reader := ts.token(t, "photos.read")

	unzip := func(t *testing.T, query string) map[string][]byte {
		t.Helper()
		resp, body := ts.raw(t, http.MethodGet, fmt.Sprintf("/api/v1/events/%d/photos/download%s", ev.ID, query), reader, nil, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" {
			t.Fatalf("zip: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err != nil || params["filename"] != ev.Slug+".zip" {
			t.Errorf("Content-Disposition %q", resp.Header.Get("Content-Disposition"))
		}
		zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
		if err != nil {
			t.Fatalf("not a zip: %v", err)
		}
		out := map[string][]byte{}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatalf("open %s: %v", f.Name, err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatalf("read %s: %v", f.Name, err)
			}
			if _, seen := out[f.Name]; seen {
				t.Errorf("entry %q twice", f.Name)
			}
			out[f.Name] = b
		}
		return out
	}

	all := unzip(t, "")
	want := map[string][]byte{"a.jpg": files[0].Data, "b.png": files[1].Data, "Hochzeit Müller.jpg": files[2].Data, "a (2).jpg": dup}
	if len(all) != len(want) {
		t.Errorf("entries %d, want %d", len(all), len(want))
	}
	for name, data := range want {
		if !bytes.Equal(all[name], data) {
			t.Errorf("entry %q: %d bytes, want %d identical", name, len(all[name]), len(data))
		}
	}
	sub := unzip(t, fmt.Sprintf("?ids=%d,%d", idList[1], idList[2]))
	if len(sub) != 2 || !bytes.Equal(sub["b.png"], files[1].Data) || !bytes.Equal(sub["Hochzeit Müller.jpg"], files[2].Data) {
		t.Errorf("subset entries %v", keysOf(sub))
	}
	// A photo of another event is never packed.
	if got := unzip(t, fmt.Sprintf("?ids=%d,%d", idList[0], foreign)); len(got) != 1 || !bytes.Equal(got["a.jpg"], files[0].Data) {
		t.Errorf("foreign id: entries %v", keysOf(got))
	}
	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{fmt.Sprintf("/api/v1/events/%d/photos/download?ids=abc", ev.ID), 400, "invalid_parameter"},
		{fmt.Sprintf("/api/v1/events/%d/photos/download?ids=1,-2", ev.ID), 400, "invalid_parameter"},
		{fmt.Sprintf("/api/v1/events/%d/photos/download?ids=,", ev.ID), 400, "invalid_parameter"},
		{"/api/v1/events/99999/photos/download", 404, "event_not_found"},
	} {
		resp, body := ts.raw(t, http.MethodGet, tc.path, reader, nil, nil)
		wantError(t, resp, body, tc.status, tc.code)
	}
}

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestServeMissingFiles: when a photo's files are gone from disk (a restored backup
// without blobs, a failed disk), the file routes answer 404 file_not_found, not 500.
func TestServeMissingFiles(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Missing"})
	id := ts.uploadOne(t, ev.ID, "m.jpg", smallJPEG(1))
	p := ts.waitVariants(t, id)
	files := ts.photoFiles(p)
	for _, f := range []string{files[0], files[2]} { // the original and the thumbnail
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{p.URL, fmt.Sprintf("/api/v1/photos/%d/download", id), p.ThumbnailURL} {
		t.Run(u, func(t *testing.T) {
			resp, body := ts.raw(t, http.MethodGet, u, ts.Admin, nil, nil)
			wantError(t, resp, body, 404, "file_not_found")
		})
	}
}

// TestServeRangeNotSatisfiable: a Range past the end is 416 with Content-Range, and like
// every error it is the JSON envelope with a catalog code (API.md: "Every error, on every
// route, is one envelope"), not net/http's text/plain message.
func TestServeRangeNotSatisfiable(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Range"})
	data := smallJPEG(1)
	p := ts.getPhoto(t, ts.uploadOne(t, ev.ID, "r.jpg", data))
	resp, body := ts.raw(t, http.MethodGet, p.URL, ts.Admin, nil, map[string]string{"Range": "bytes=999999-"})
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("status %d, want 416", resp.StatusCode)
	}
	if cr := resp.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes */%d", len(data)) {
		t.Errorf("Content-Range %q", cr)
	}
	var e server.ErrorResponse
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" {
		t.Fatalf("416 body is not the error envelope (Content-Type %q): %q", resp.Header.Get("Content-Type"), body)
	}
	if entry, ok := server.Codes[e.Error.Code]; !ok || entry.Status != 416 {
		t.Errorf("code %q is not a 416 code of the catalog", e.Error.Code)
	}
}
