package server_test

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gallerist/gallerist/media/mediatest"
	"github.com/gallerist/gallerist/server"
)

// sortFixture is an event whose photos have known capture times, names and sizes, with
// deliberate ties on each key.
type sortFixture struct {
	ts     *testServer
	event  server.EventResponse
	byName map[string]int64
}

func newSortFixture(t *testing.T) sortFixture {
	t.Helper()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Sorting"})
	ex := func(dt, off string) *mediatest.EXIF {
		return &mediatest.EXIF{DateTimeOriginal: dt, OffsetTimeOriginal: off}
	}
	// Sizes: every file padded to one of two lengths, so size ties are real.
	const small, large = 8000, 9000
	files := []uploadFile{
		{"b.jpg", padTo(t, mediatest.JPEG(64, 48, 1, ex("2026:05:12 10:00:00", "")), small, 1)},       // 10:00Z
		{"A.jpg", padTo(t, mediatest.JPEG(64, 48, 2, ex("2026:05:12 09:00:00", "")), large, 2)},       // 09:00Z
		{"c.jpg", padTo(t, mediatest.JPEG(64, 48, 3, ex("2026:05:12 10:00:00", "")), small, 3)},       // 10:00Z, ties b
		{"a.jpg", padTo(t, mediatest.JPEG(64, 48, 4, ex("2026:05:12 09:30:00", "+02:00")), large, 4)}, // 07:30Z, ties A by name
		{"D.jpg", padTo(t, mediatest.JPEG(64, 48, 5, ex("2026:05:12 11:00:00", "-01:00")), small, 5)}, // 12:00Z
	}
	byName := map[string]int64{}
	for _, f := range files { // one request each, so upload times are ordered too
		byName[f.Name] = ts.uploadOne(t, ev.ID, f.Name, f.Data)
	}
	return sortFixture{ts: ts, event: ev, byName: byName}
}

func (f sortFixture) names(items []server.PhotoResponse) []string {
	var out []string
	for _, p := range items {
		out = append(out, p.Filename)
	}
	return out
}

// TestListPhotosSort: every sort key in both directions, ties broken by id in the same
// direction.
func TestListPhotosSort(t *testing.T) {
	t.Parallel()
	f := newSortFixture(t)
	ts := f.ts
	// Manual positions with a tie: D and b share position 1.
	for name, pos := range map[string]int{"D.jpg": 1, "b.jpg": 1, "A.jpg": 2, "c.jpg": 3, "a.jpg": 4} {
		resp, body := ts.do(t, http.MethodPatch, fmt.Sprintf("/api/v1/photos/%d", f.byName[name]), ts.Admin, map[string]any{"position": pos})
		if resp.StatusCode != 200 {
			t.Fatalf("position: %d %s", resp.StatusCode, body)
		}
	}
	all := ts.listPhotos(t, f.event.ID, "limit=200").Items
	if len(all) != 5 {
		t.Fatalf("%d photos", len(all))
	}
	// The id order is the upload order: b A c a D.
	idAsc := slices.Clone(ids(all))
	slices.Sort(idAsc)
	parse := func(p server.PhotoResponse) time.Time {
		tm, err := time.Parse(time.RFC3339, *p.CapturedAt)
		if err != nil {
			t.Fatalf("captured_at %q: %v", *p.CapturedAt, err)
		}
		return tm
	}
	type keyFn func(a, b server.PhotoResponse) int
	keys := map[string]keyFn{
		"upload_date":  func(a, b server.PhotoResponse) int { return a.UploadedAt.Compare(b.UploadedAt) },
		"capture_date": func(a, b server.PhotoResponse) int { return parse(a).Compare(parse(b)) },
		"filename": func(a, b server.PhotoResponse) int {
			return cmp.Compare(strings.ToLower(a.Filename), strings.ToLower(b.Filename))
		},
		"size": func(a, b server.PhotoResponse) int { return cmp.Compare(a.Size, b.Size) },
		"rating": func(a, b server.PhotoResponse) int {
			return cmp.Compare(a.Feedback.AverageRating, b.Feedback.AverageRating)
		},
		"position": func(a, b server.PhotoResponse) int { return cmp.Compare(a.Position, b.Position) },
	}
	// Explicit expectations (by file name), written out by hand.
	explicit := map[string][]string{
		"upload_date_asc":   {"b.jpg", "A.jpg", "c.jpg", "a.jpg", "D.jpg"},
		"upload_date_desc":  {"D.jpg", "a.jpg", "c.jpg", "A.jpg", "b.jpg"},
		"capture_date_asc":  {"a.jpg", "A.jpg", "b.jpg", "c.jpg", "D.jpg"},
		"capture_date_desc": {"D.jpg", "c.jpg", "b.jpg", "A.jpg", "a.jpg"},
		"filename_asc":      {"A.jpg", "a.jpg", "b.jpg", "c.jpg", "D.jpg"},
		"filename_desc":     {"D.jpg", "c.jpg", "b.jpg", "a.jpg", "A.jpg"},
		"size_asc":          {"b.jpg", "c.jpg", "D.jpg", "A.jpg", "a.jpg"},
		"size_desc":         {"a.jpg", "A.jpg", "D.jpg", "c.jpg", "b.jpg"},
		"rating_asc":        {"b.jpg", "A.jpg", "c.jpg", "a.jpg", "D.jpg"},
		"rating_desc":       {"D.jpg", "a.jpg", "c.jpg", "A.jpg", "b.jpg"},
		"position_asc":      {"b.jpg", "D.jpg", "A.jpg", "c.jpg", "a.jpg"},
		"position_desc":     {"a.jpg", "c.jpg", "A.jpg", "D.jpg", "b.jpg"},
	}
	for key, fn := range keys {
		for _, dir := range []string{"asc", "desc"} {
			sortKey := key + "_" + dir
			t.Run(sortKey, func(t *testing.T) {
				got := ts.listPhotos(t, f.event.ID, "sort="+sortKey).Items
				if names := f.names(got); !slices.Equal(names, explicit[sortKey]) {
					t.Errorf("order %v, want %v", names, explicit[sortKey])
				}
				// The same order, derived from the answered values: key, then id, both in
				// the requested direction.
				want := slices.Clone(got)
				slices.SortStableFunc(want, func(a, b server.PhotoResponse) int {
					c := fn(a, b)
					if c == 0 {
						c = cmp.Compare(a.ID, b.ID)
					}
					if dir == "desc" {
						c = -c
					}
					return c
				})
				if !equalIDs(ids(got), ids(want)) {
					t.Errorf("ids %v, want %v (key then id, %s)", ids(got), ids(want), dir)
				}
			})
		}
	}
	t.Run("default is upload_date_desc", func(t *testing.T) {
		l := ts.listPhotos(t, f.event.ID, "")
		if names := f.names(l.Items); !slices.Equal(names, explicit["upload_date_desc"]) {
			t.Errorf("default order %v", names)
		}
	})
	t.Run("capture_date keeps the camera offset", func(t *testing.T) {
		p := ts.getPhoto(t, f.byName["a.jpg"])
		if p.CapturedAt == nil || *p.CapturedAt != "2026-05-12T09:30:00+02:00" {
			t.Errorf("captured_at = %v", p.CapturedAt)
		}
	})
}

// TestListPhotosPagingAndFilters: limit, offset, is_hidden, category, media_type and the
// parameter errors.
func TestListPhotosPagingAndFilters(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Paging"})
	resp, body := ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/events/%d/categories", ev.ID), ts.Admin, map[string]any{"name": "Dance"})
	if resp.StatusCode != 201 {
		t.Fatalf("category: %d %s", resp.StatusCode, body)
	}
	dance := decode[server.CategoryResponse](t, body)
	var files []uploadFile
	for i := range 7 {
		files = append(files, uploadFile{fmt.Sprintf("p%d.jpg", i), smallJPEG(int64(200 + i))})
	}
	out := ts.uploadOK(t, ev.ID, files[:4], nil)
	inCat := ts.uploadOK(t, ev.ID, files[4:], map[string]string{"category_id": "dance"})
	video, err := os.ReadFile(mediatest.Video(t, t.TempDir(), "mp4", 1, 160, 120))
	if err != nil {
		t.Fatal(err)
	}
	videoID := ts.uploadOne(t, ev.ID, "clip.mp4", video)
	hidden := []int64{out.Uploaded[1].ID, inCat.Uploaded[0].ID}
	for _, id := range hidden {
		resp, body := ts.do(t, http.MethodPatch, fmt.Sprintf("/api/v1/photos/%d", id), ts.Admin, map[string]any{"is_hidden": true})
		if resp.StatusCode != 200 {
			t.Fatalf("hide: %d %s", resp.StatusCode, body)
		}
	}

	t.Run("defaults", func(t *testing.T) {
		l := ts.listPhotos(t, ev.ID, "")
		if l.Total != 8 || l.Limit != 50 || l.Offset != 0 || len(l.Items) != 8 {
			t.Errorf("total %d limit %d offset %d items %d", l.Total, l.Limit, l.Offset, len(l.Items))
		}
	})
	t.Run("pages do not overlap", func(t *testing.T) {
		seen := map[int64]bool{}
		for off := 0; off < 8; off += 3 {
			l := ts.listPhotos(t, ev.ID, fmt.Sprintf("limit=3&offset=%d&sort=filename_asc", off))
			if l.Total != 8 || l.Limit != 3 || l.Offset != off {
				t.Errorf("page %d: total %d limit %d offset %d", off, l.Total, l.Limit, l.Offset)
			}
			for _, p := range l.Items {
				if seen[p.ID] {
					t.Errorf("photo %d on two pages", p.ID)
				}
				seen[p.ID] = true
			}
		}
		if len(seen) != 8 {
			t.Errorf("pages held %d photos, want 8", len(seen))
		}
	})
	t.Run("limit 200", func(t *testing.T) {
		if l := ts.listPhotos(t, ev.ID, "limit=200"); l.Limit != 200 || len(l.Items) != 8 {
			t.Errorf("limit %d items %d", l.Limit, len(l.Items))
		}
	})
	t.Run("is_hidden", func(t *testing.T) {
		l := ts.listPhotos(t, ev.ID, "is_hidden=true&sort=upload_date_asc")
		if l.Total != 2 || !equalIDs(ids(l.Items), hidden) {
			t.Errorf("hidden: total %d ids %v, want %v", l.Total, ids(l.Items), hidden)
		}
		l = ts.listPhotos(t, ev.ID, "is_hidden=false")
		if l.Total != 6 {
			t.Errorf("visible: total %d", l.Total)
		}
		for _, p := range l.Items {
			if p.IsHidden || slices.Contains(hidden, p.ID) {
				t.Errorf("hidden photo %d listed as visible", p.ID)
			}
		}
	})
	t.Run("category by id and slug", func(t *testing.T) {
		for _, q := range []string{"category_id=dance", fmt.Sprintf("category_id=%d", dance.ID)} {
			l := ts.listPhotos(t, ev.ID, q+"&sort=upload_date_asc")
			if l.Total != 3 || !equalIDs(ids(l.Items), ids(toPhotoResponses(inCat.Uploaded))) {
				t.Errorf("%s: total %d ids %v", q, l.Total, ids(l.Items))
			}
		}
		l := ts.listPhotos(t, ev.ID, "category_id=dance&is_hidden=false")
		if l.Total != 2 {
			t.Errorf("category and is_hidden combined: total %d", l.Total)
		}
	})
	t.Run("media_type", func(t *testing.T) {
		l := ts.listPhotos(t, ev.ID, "media_type=video")
		if l.Total != 1 || l.Items[0].ID != videoID || l.Items[0].MediaType != "video" {
			t.Fatalf("video: %+v", l)
		}
		if d := l.Items[0].Duration; d == nil || *d < 0.9 || *d > 1.2 {
			t.Errorf("duration %v", d)
		}
		l = ts.listPhotos(t, ev.ID, "media_type=image")
		if l.Total != 7 {
			t.Errorf("images: total %d", l.Total)
		}
		for _, p := range l.Items {
			if p.MediaType != "image" {
				t.Errorf("photo %d media_type %q", p.ID, p.MediaType)
			}
		}
	})
	errCases := []struct {
		name   string
		path   string
		status int
		code   string
	}{
		{"limit 0", "limit=0", 400, "invalid_parameter"},
		{"limit 201", "limit=201", 400, "invalid_parameter"},
		{"limit text", "limit=lots", 400, "invalid_parameter"},
		{"offset negative", "offset=-1", 400, "invalid_parameter"},
		{"bad sort", "sort=random", 400, "invalid_parameter"},
		{"sort without direction", "sort=filename", 400, "invalid_parameter"},
		{"bad is_hidden", "is_hidden=perhaps", 400, "invalid_parameter"},
		{"bad media_type", "media_type=audio", 400, "invalid_parameter"},
		{"unknown category", "category_id=nope", 404, "category_not_found"},
		{"unknown category id", "category_id=99999", 404, "category_not_found"},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := ts.do(t, http.MethodGet, fmt.Sprintf("/api/v1/events/%d/photos?%s", ev.ID, tc.path), ts.Admin, nil)
			e := wantError(t, resp, body, tc.status, tc.code)
			if tc.code == "invalid_parameter" && e.Details["parameter"] == nil {
				t.Errorf("no details.parameter: %s", body)
			}
		})
	}
	t.Run("unknown event", func(t *testing.T) {
		resp, body := ts.do(t, http.MethodGet, "/api/v1/events/99999/photos", ts.Admin, nil)
		wantError(t, resp, body, 404, "event_not_found")
	})
	t.Run("empty event lists an empty array", func(t *testing.T) {
		empty := ts.createEvent(t, map[string]any{"name": "Empty"})
		resp, body := ts.do(t, http.MethodGet, fmt.Sprintf("/api/v1/events/%d/photos", empty.ID), ts.Admin, nil)
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"items":[]`) {
			t.Errorf("%d %s", resp.StatusCode, body)
		}
	})
}

func toPhotoResponses(u []server.UploadedPhoto) []server.PhotoResponse {
	var out []server.PhotoResponse
	for _, x := range u {
		out = append(out, server.PhotoResponse{ID: x.ID})
	}
	return out
}

// TestGetPhoto: the full metadata shape.
func TestGetPhoto(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Get Photo"})
	data := mediatest.JPEG(640, 480, 9, &mediatest.EXIF{DateTimeOriginal: "2026:05:12 15:23:11", OffsetTimeOriginal: "+02:00",
		Make: "Canon", Model: "Canon EOS R5", GPS: true})
	id := ts.uploadOne(t, ev.ID, "IMG_0001.jpg", data)
	resp, body := ts.do(t, http.MethodGet, fmt.Sprintf("/api/v1/photos/%d", id), ts.token(t, "photos.read"), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("get: %d %s", resp.StatusCode, body)
	}
	p := decode[server.PhotoResponse](t, body)
	if p.ID != id || p.EventID != ev.ID || p.Filename != "IMG_0001.jpg" || p.MediaType != "image" || p.MIMEType != "image/jpeg" {
		t.Errorf("identity: %+v", p)
	}
	if p.Size != int64(len(data)) || len(p.SHA256) != 64 {
		t.Errorf("size %d sha256 %q", p.Size, p.SHA256)
	}
	if p.Width == nil || p.Height == nil || *p.Width != 640 || *p.Height != 480 || p.Orientation != 1 {
		t.Errorf("dimensions %v x %v orientation %d", p.Width, p.Height, p.Orientation)
	}
	if p.CapturedAt == nil || *p.CapturedAt != "2026-05-12T15:23:11+02:00" {
		t.Errorf("captured_at %v", p.CapturedAt)
	}
	if p.EXIF.Make != "Canon" || p.EXIF.Model != "Canon EOS R5" {
		t.Errorf("exif %+v", p.EXIF)
	}
	if p.Feedback != (server.FeedbackAggregate{}) || p.DownloadCount != 0 || p.ViewCount != 0 {
		t.Errorf("feedback %+v downloads %d views %d", p.Feedback, p.DownloadCount, p.ViewCount)
	}
	for _, k := range []string{`"likes":0`, `"average_rating":0`, `"ratings":0`, `"comments":0`, `"download_count":0`, `"view_count":0`, `"is_hidden":false`} {
		if !strings.Contains(string(body), k) {
			t.Errorf("body lacks %s", k)
		}
	}
	if p.IsHidden || p.CategoryID != nil || p.Duration != nil || p.Position < 1 {
		t.Errorf("hidden %v category %v duration %v position %d", p.IsHidden, p.CategoryID, p.Duration, p.Position)
	}
	if p.URL != "/photos/"+ev.Slug+"/"+p.StoredName || !strings.HasPrefix(p.ThumbnailURL, "/thumbnails/"+ev.Slug+"/") {
		t.Errorf("url %q thumbnail_url %q stored %q", p.URL, p.ThumbnailURL, p.StoredName)
	}
	if p.UploadedAt.IsZero() || time.Since(p.UploadedAt) > time.Minute {
		t.Errorf("uploaded_at %v", p.UploadedAt)
	}
	if p.VariantStatus != "pending" && p.VariantStatus != "ready" {
		t.Errorf("variant_status %q", p.VariantStatus)
	}
	if ready := ts.waitVariants(t, id); ready.VariantStatus != "ready" {
		t.Errorf("variant_status %q", ready.VariantStatus)
	}

	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{"/api/v1/photos/99999", 404, "photo_not_found"},
		{"/api/v1/photos/abc", 400, "invalid_parameter"},
		{"/api/v1/photos/0", 400, "invalid_parameter"},
	} {
		resp, body := ts.do(t, http.MethodGet, tc.path, ts.Admin, nil)
		wantError(t, resp, body, tc.status, tc.code)
	}
}

// TestUpdatePhoto: hide, category by id/slug/null, position, and the errors.
func TestUpdatePhoto(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Patch Photo"})
	other := ts.createEvent(t, map[string]any{"name": "Patch Other"})
	mkCat := func(eventID int64, name string) server.CategoryResponse {
		resp, body := ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/events/%d/categories", eventID), ts.Admin, map[string]any{"name": name})
		if resp.StatusCode != 201 {
			t.Fatalf("category: %d %s", resp.StatusCode, body)
		}
		return decode[server.CategoryResponse](t, body)
	}
	cat := mkCat(ev.ID, "Speeches")
	foreign := mkCat(other.ID, "Foreign")
	id := ts.uploadOne(t, ev.ID, "p.jpg", smallJPEG(1))
	ts.uploadOne(t, ev.ID, "q.jpg", smallJPEG(2))
	path := fmt.Sprintf("/api/v1/photos/%d", id)

	steps := []struct {
		name   string
		path   string
		body   any
		status int
		code   string
		check  func(t *testing.T, p server.PhotoResponse)
	}{
		{"hide", path, map[string]any{"is_hidden": true}, 200, "", func(t *testing.T, p server.PhotoResponse) {
			if !p.IsHidden {
				t.Error("not hidden")
			}
			if l := ts.listPhotos(t, ev.ID, "is_hidden=true"); l.Total != 1 || l.Items[0].ID != id {
				t.Errorf("is_hidden=true lists %v", ids(l.Items))
			}
		}},
		{"unhide, curl style without Content-Type", path, []byte(`{ "is_hidden": false }`), 200, "", func(t *testing.T, p server.PhotoResponse) {
			if p.IsHidden {
				t.Error("still hidden")
			}
			if l := ts.listPhotos(t, ev.ID, "is_hidden=true"); l.Total != 0 {
				t.Errorf("is_hidden=true lists %v", ids(l.Items))
			}
		}},
		{"category by id", path, map[string]any{"category_id": cat.ID}, 200, "", func(t *testing.T, p server.PhotoResponse) {
			if p.CategoryID == nil || *p.CategoryID != cat.ID {
				t.Errorf("category %v", p.CategoryID)
			}
		}},
		{"category removed with null", path, `{"category_id": null}`, 200, "", func(t *testing.T, p server.PhotoResponse) {
			if p.CategoryID != nil {
				t.Errorf("category %v", *p.CategoryID)
			}
		}},
		{"category by slug", path, map[string]any{"category_id": "speeches"}, 200, "", func(t *testing.T, p server.PhotoResponse) {
			if p.CategoryID == nil || *p.CategoryID != cat.ID {
				t.Errorf("category %v", p.CategoryID)
			}
			if l := ts.listPhotos(t, ev.ID, "category_id=speeches"); l.Total != 1 {
				t.Errorf("category filter total %d", l.Total)
			}
		}},
		{"category as numeric string", path, map[string]any{"category_id": fmt.Sprint(cat.ID)}, 200, "", func(t *testing.T, p server.PhotoResponse) {
			if p.CategoryID == nil || *p.CategoryID != cat.ID {
				t.Errorf("category %v", p.CategoryID)
			}
		}},
		{"position", path, map[string]any{"position": 42}, 200, "", func(t *testing.T, p server.PhotoResponse) {
			if p.Position != 42 || p.CategoryID == nil || p.IsHidden {
				t.Errorf("position %d (others must stay): %+v", p.Position, p)
			}
		}},
		{"category of another event by id", path, map[string]any{"category_id": foreign.ID}, 404, "category_not_found", nil},
		{"category of another event by slug", path, map[string]any{"category_id": "foreign"}, 404, "category_not_found", nil},
		{"unknown category", path, map[string]any{"category_id": 99999}, 404, "category_not_found", nil},
		{"negative position", path, map[string]any{"position": -1}, 400, "invalid_parameter", nil},
		{"unknown field", path, map[string]any{"is_hiden": true}, 400, "invalid_request", nil},
		{"wrong type", path, map[string]any{"is_hidden": "yes"}, 400, "invalid_request", nil},
		{"malformed JSON", path, `{"is_hidden": tru}`, 400, "invalid_request", nil},
		{"unknown photo", "/api/v1/photos/99999", map[string]any{"is_hidden": true}, 404, "photo_not_found", nil},
		{"non-numeric id", "/api/v1/photos/abc", map[string]any{"is_hidden": true}, 400, "invalid_parameter", nil},
	}
	for _, st := range steps {
		var resp *http.Response
		var body []byte
		if b, ok := st.body.([]byte); ok {
			resp, body = ts.raw(t, http.MethodPatch, st.path, ts.Admin, b, nil)
		} else {
			resp, body = ts.do(t, http.MethodPatch, st.path, ts.Admin, st.body)
		}
		t.Run(st.name, func(t *testing.T) {
			if st.code != "" {
				wantError(t, resp, body, st.status, st.code)
				return
			}
			if resp.StatusCode != st.status {
				t.Fatalf("status %d (%s)", resp.StatusCode, body)
			}
			p := decode[server.PhotoResponse](t, body)
			st.check(t, p)
			st.check(t, ts.getPhoto(t, id))
		})
	}
	// After the failed steps the photo is as the last good step left it.
	if p := ts.getPhoto(t, id); p.Position != 42 || p.CategoryID == nil || *p.CategoryID != cat.ID || p.IsHidden {
		t.Errorf("failed patches changed the photo: %+v", p)
	}
}

// TestReorderPhotos: the listed photos first, then the others in their old order.
func TestReorderPhotos(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Reorder"})
	other := ts.createEvent(t, map[string]any{"name": "Reorder Other"})
	var files []uploadFile
	for i := range 5 {
		files = append(files, uploadFile{fmt.Sprintf("r%d.jpg", i), smallJPEG(int64(300 + i))})
	}
	out := ts.uploadOK(t, ev.ID, files, nil)
	p := ids(toPhotoResponses(out.Uploaded))
	foreign := ts.uploadOne(t, other.ID, "f.jpg", smallJPEG(399))
	path := fmt.Sprintf("/api/v1/events/%d/photos/reorder", ev.ID)

	if l := ts.listPhotos(t, ev.ID, "sort=position_asc"); !equalIDs(ids(l.Items), p) {
		t.Fatalf("initial position order %v, want upload order %v", ids(l.Items), p)
	}
	resp, body := ts.do(t, http.MethodPost, path, ts.Admin, map[string]any{"photo_ids": []int64{p[3], p[1]}})
	if resp.StatusCode != 200 {
		t.Fatalf("reorder: %d %s", resp.StatusCode, body)
	}
	if r := decode[server.ReorderPhotosResponse](t, body); r.Reordered != 2 {
		t.Errorf("reordered %d", r.Reordered)
	}
	want := []int64{p[3], p[1], p[0], p[2], p[4]}
	if l := ts.listPhotos(t, ev.ID, "sort=position_asc"); !equalIDs(ids(l.Items), want) {
		t.Errorf("position_asc %v, want %v", ids(l.Items), want)
	}
	slices.Reverse(want)
	if l := ts.listPhotos(t, ev.ID, "sort=position_desc"); !equalIDs(ids(l.Items), want) {
		t.Errorf("position_desc %v, want %v", ids(l.Items), want)
	}
	// Again, with a full list given in curl style.
	full := []int64{p[4], p[3], p[2], p[1], p[0]}
	resp, body = ts.raw(t, http.MethodPost, path, ts.Admin, fmt.Appendf(nil, `{"photo_ids": [%d,%d,%d,%d,%d]}`, full[0], full[1], full[2], full[3], full[4]), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("reorder: %d %s", resp.StatusCode, body)
	}
	if l := ts.listPhotos(t, ev.ID, "sort=position_asc"); !equalIDs(ids(l.Items), full) {
		t.Errorf("position_asc %v, want %v", ids(l.Items), full)
	}
	// A new upload goes to the end.
	last := ts.uploadOne(t, ev.ID, "late.jpg", smallJPEG(398))
	if l := ts.listPhotos(t, ev.ID, "sort=position_asc"); l.Items[len(l.Items)-1].ID != last {
		t.Errorf("new upload not last: %v", ids(l.Items))
	}

	for _, tc := range []struct {
		name   string
		path   string
		body   any
		status int
		code   string
	}{
		{"photo of another event", path, map[string]any{"photo_ids": []int64{p[0], foreign}}, 400, "invalid_parameter"},
		{"unknown photo", path, map[string]any{"photo_ids": []int64{99999}}, 400, "invalid_parameter"},
		{"repeated id", path, map[string]any{"photo_ids": []int64{p[0], p[0]}}, 400, "invalid_parameter"},
		{"empty list", path, map[string]any{"photo_ids": []int64{}}, 400, "invalid_parameter"},
		{"missing list", path, map[string]any{}, 400, "invalid_parameter"},
		{"unknown field", path, map[string]any{"ids": []int64{p[0]}}, 400, "invalid_request"},
		{"unknown event", "/api/v1/events/99999/photos/reorder", map[string]any{"photo_ids": []int64{p[0]}}, 404, "event_not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := ts.do(t, http.MethodPost, tc.path, ts.Admin, tc.body)
			wantError(t, resp, body, tc.status, tc.code)
		})
	}
	// Failed reorders changed nothing.
	if l := ts.listPhotos(t, ev.ID, "sort=position_asc"); !equalIDs(ids(l.Items), append(slices.Clone(full), last)) {
		t.Errorf("after failed reorders: %v", ids(l.Items))
	}
}

// TestDeletePhoto: 204, the row and every file gone, the counters follow.
func TestDeletePhoto(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Delete Photo"})
	data := mediatest.JPEG(640, 480, 1, nil)
	id := ts.uploadOne(t, ev.ID, "gone.jpg", data)
	keepID := ts.uploadOne(t, ev.ID, "stay.jpg", smallJPEG(2))
	p := ts.waitVariants(t, id)
	files := ts.photoFiles(p)
	for _, f := range files {
		if !fileExists(f) {
			t.Fatalf("%s missing before the delete", f)
		}
	}
	before := ts.getEvent(t, ev.ID)
	tok := ts.token(t, "photos.write")
	resp, body := ts.do(t, http.MethodDelete, fmt.Sprintf("/api/v1/photos/%d", id), tok, nil)
	if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("delete: %d %q", resp.StatusCode, body)
	}
	for _, f := range files {
		if fileExists(f) {
			t.Errorf("%s still on disk", f)
		}
	}
	resp, body = ts.do(t, http.MethodGet, fmt.Sprintf("/api/v1/photos/%d", id), ts.Admin, nil)
	wantError(t, resp, body, 404, "photo_not_found")
	resp, body = ts.raw(t, http.MethodGet, p.URL, ts.Admin, nil, nil)
	wantError(t, resp, body, 404, "file_not_found")
	after := ts.getEvent(t, ev.ID)
	if after.PhotoCount != before.PhotoCount-1 || after.TotalSize != before.TotalSize-int64(len(data)) {
		t.Errorf("counters %d/%d, before %d/%d", after.PhotoCount, after.TotalSize, before.PhotoCount, before.TotalSize)
	}
	if l := ts.listPhotos(t, ev.ID, ""); l.Total != 1 || l.Items[0].ID != keepID {
		t.Errorf("list after delete: %v", ids(l.Items))
	}
	resp, body = ts.do(t, http.MethodDelete, fmt.Sprintf("/api/v1/photos/%d", id), tok, nil)
	wantError(t, resp, body, 404, "photo_not_found")
	resp, body = ts.do(t, http.MethodDelete, "/api/v1/photos/nope", tok, nil)
	wantError(t, resp, body, 400, "invalid_parameter")
	// The same bytes may be uploaded again: the duplicate check forgot them.
	ts.uploadOne(t, ev.ID, "gone-again.jpg", data)
}

// TestBulkDeletePhotos: deleted and failed counts with a code per failure.
func TestBulkDeletePhotos(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Bulk"})
	other := ts.createEvent(t, map[string]any{"name": "Bulk Other"})
	out := ts.uploadOK(t, ev.ID, []uploadFile{{"a.jpg", smallJPEG(1)}, {"b.jpg", smallJPEG(2)}, {"c.jpg", smallJPEG(3)}}, nil)
	elsewhere := ts.uploadOne(t, other.ID, "d.jpg", smallJPEG(4))
	a, b, c := out.Uploaded[0].ID, out.Uploaded[1].ID, out.Uploaded[2].ID
	var files []string
	for _, id := range []int64{a, b, elsewhere} {
		files = append(files, ts.photoFiles(ts.waitVariants(t, id))...)
	}

	resp, body := ts.do(t, http.MethodPost, "/api/v1/photos/bulk-delete", ts.Admin, map[string]any{"photo_ids": []int64{a, 99999, b, elsewhere, a}})
	if resp.StatusCode != 200 {
		t.Fatalf("bulk delete: %d %s", resp.StatusCode, body)
	}
	r := decode[server.BulkDeleteResponse](t, body)
	if r.Deleted != 3 || r.Failed != 1 || len(r.Errors) != 1 || r.Errors[0] != (server.BulkDeleteError{PhotoID: 99999, Code: "photo_not_found"}) {
		t.Errorf("answer %+v", r)
	}
	for _, f := range files {
		if fileExists(f) {
			t.Errorf("%s still on disk", f)
		}
	}
	if e := ts.getEvent(t, ev.ID); e.PhotoCount != 1 {
		t.Errorf("photo_count %d, want 1", e.PhotoCount)
	}
	if e := ts.getEvent(t, other.ID); e.PhotoCount != 0 {
		t.Errorf("other photo_count %d, want 0", e.PhotoCount)
	}
	if l := ts.listPhotos(t, ev.ID, ""); l.Total != 1 || l.Items[0].ID != c {
		t.Errorf("left %v", ids(l.Items))
	}

	// Seed style: curl -d without a Content-Type; every id already gone.
	resp, body = ts.raw(t, http.MethodPost, "/api/v1/photos/bulk-delete", ts.Admin, fmt.Appendf(nil, `{ "photo_ids": [%d, %d] }`, a, b), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("bulk delete again: %d %s", resp.StatusCode, body)
	}
	if r := decode[server.BulkDeleteResponse](t, body); r.Deleted != 0 || r.Failed != 2 || len(r.Errors) != 2 {
		t.Errorf("answer %+v", r)
	}
	// Ids that cannot be photos are reported, not fatal.
	resp, body = ts.do(t, http.MethodPost, "/api/v1/photos/bulk-delete", ts.Admin, map[string]any{"photo_ids": []int64{0, -4, c}})
	if resp.StatusCode != 200 {
		t.Fatalf("bulk delete with bad ids: %d %s", resp.StatusCode, body)
	}
	r = decode[server.BulkDeleteResponse](t, body)
	if r.Deleted != 1 || r.Failed != 2 || len(r.Errors) != 2 || r.Errors[0].Code != "invalid_parameter" || r.Errors[1].Code != "invalid_parameter" {
		t.Errorf("answer %+v", r)
	}
	for _, tc := range []struct {
		name string
		body any
		code string
	}{
		{"empty list", map[string]any{"photo_ids": []int64{}}, "invalid_parameter"},
		{"missing list", map[string]any{}, "invalid_parameter"},
		{"unknown field", map[string]any{"ids": []int64{1}}, "invalid_request"},
		{"not a list", map[string]any{"photo_ids": "1,2"}, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := ts.do(t, http.MethodPost, "/api/v1/photos/bulk-delete", ts.Admin, tc.body)
			wantError(t, resp, body, 400, tc.code)
		})
	}
}

// TestRepairDimensions: rows that lost width/height get them back from the file; a row
// whose original is gone is counted as failed.
func TestRepairDimensions(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Repair"})
	rotated := ts.uploadOne(t, ev.ID, "r.jpg", mediatest.JPEG(400, 300, 1, &mediatest.EXIF{Orientation: 6}))
	plain := ts.uploadOne(t, ev.ID, "p.png", mediatest.PNG(90, 60, 2))
	lost := ts.uploadOne(t, ev.ID, "l.jpg", smallJPEG(3))
	for _, id := range []int64{rotated, plain, lost} {
		ts.waitVariants(t, id) // the worker must not race the UPDATE below
	}
	db := ts.sqlDB(t)
	ctx := context.Background()
	clear := func(id int64) {
		if _, err := db.ExecContext(ctx, `UPDATE photos SET width = NULL, height = NULL WHERE id = ?`, id); err != nil {
			t.Fatalf("clear dimensions: %v", err)
		}
	}
	repair := func() server.RepairDimensionsResponse {
		resp, body := ts.do(t, http.MethodPost, "/api/v1/photos/repair-dimensions", ts.token(t, "photos.write"), nil)
		if resp.StatusCode != 200 {
			t.Fatalf("repair: %d %s", resp.StatusCode, body)
		}
		return decode[server.RepairDimensionsResponse](t, body)
	}

	if r := repair(); r != (server.RepairDimensionsResponse{}) {
		t.Errorf("nothing to repair: %+v", r)
	}
	clear(rotated)
	if p := ts.getPhoto(t, rotated); p.Width != nil || p.Height != nil {
		t.Fatalf("dimensions not cleared: %v x %v", p.Width, p.Height)
	}
	if r := repair(); r != (server.RepairDimensionsResponse{Scanned: 1, Repaired: 1}) {
		t.Errorf("repair one: %+v", r)
	}
	if p := ts.getPhoto(t, rotated); p.Width == nil || p.Height == nil || *p.Width != 300 || *p.Height != 400 {
		t.Errorf("repaired to %v x %v, want 300x400 (orientation applied)", p.Width, p.Height)
	}

	clear(plain)
	clear(lost)
	lp := ts.getPhoto(t, lost)
	if err := os.Remove(ts.photoFiles(lp)[0]); err != nil {
		t.Fatal(err)
	}
	if r := repair(); r != (server.RepairDimensionsResponse{Scanned: 2, Repaired: 1, Failed: 1}) {
		t.Errorf("repair with a missing file: %+v", r)
	}
	if p := ts.getPhoto(t, plain); p.Width == nil || *p.Width != 90 || p.Height == nil || *p.Height != 60 {
		t.Errorf("png repaired to %v x %v", p.Width, p.Height)
	}
	if r := repair(); r != (server.RepairDimensionsResponse{Scanned: 1, Failed: 1}) {
		t.Errorf("the lost one stays: %+v", r)
	}
}

// TestDeletePhotoConcurrently: parallel deletes of one photo: one 204, the rest 404, and
// the counters drop once.
func TestDeletePhotoConcurrently(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Delete Race"})
	id := ts.uploadOne(t, ev.ID, "a.jpg", smallJPEG(1))
	ts.uploadOne(t, ev.ID, "b.jpg", smallJPEG(2))
	const n = 5
	type answer struct {
		resp *http.Response
		body []byte
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body := ts.do(t, http.MethodDelete, fmt.Sprintf("/api/v1/photos/%d", id), ts.Admin, nil)
			answers[i] = answer{resp, body}
		}()
	}
	wg.Wait()
	ok := 0
	for _, a := range answers {
		if a.resp.StatusCode == http.StatusNoContent {
			ok++
			continue
		}
		wantError(t, a.resp, a.body, 404, "photo_not_found")
	}
	if ok != 1 {
		t.Errorf("%d deletes succeeded, want 1", ok)
	}
	if e := ts.getEvent(t, ev.ID); e.PhotoCount != 1 {
		t.Errorf("photo_count %d, want 1", e.PhotoCount)
	}
}
