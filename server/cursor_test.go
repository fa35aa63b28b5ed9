package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/gallerist/gallerist/media/mediatest"
	"github.com/gallerist/gallerist/server"
)

// TestCursorPagination walks every sort key page by page with next_cursor and gets
// exactly the order (ties included) that one big page gives; for the admin list and
// the guest list. A cursor of another sort, or garbage, is invalid_parameter.
func TestCursorPagination(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Cursor"})
	var files []uploadFile
	for i := 0; i < 23; i++ {
		// Names repeat (ties on filename), sizes repeat in pairs (ties on size), EXIF
		// times repeat (ties on capture date).
		exif := &mediatest.EXIF{DateTimeOriginal: fmt.Sprintf("2026:05:12 15:%02d:00", i%4)}
		files = append(files, uploadFile{Name: fmt.Sprintf("IMG_%d.jpg", i%5), Data: mediatest.JPEG(64+i/2, 48, int64(900+i), exif)})
	}
	ts.uploadOK(t, ev.ID, files, nil)
	key := ""
	{
		resp, b := ts.do(t, http.MethodGet, fmt.Sprintf("/api/v1/events/%d/share-link", ev.ID), ts.Admin, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("share link: %d", resp.StatusCode)
		}
		key = decode[server.ShareLinkResponse](t, b).Key
	}
	for _, sort := range []string{"upload_date_asc", "upload_date_desc", "capture_date_asc", "capture_date_desc",
		"filename_asc", "filename_desc", "size_asc", "size_desc", "rating_asc", "rating_desc", "position_asc", "position_desc"} {
		all := ts.listPhotos(t, ev.ID, "limit=200&sort="+sort)
		want := ids(all.Items)
		var got []int64
		cursor := ""
		for page := 0; page < 20; page++ {
			q := "limit=4&sort=" + sort
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			l := ts.listPhotos(t, ev.ID, q)
			got = append(got, ids(l.Items)...)
			if l.Total != 23 {
				t.Fatalf("%s: total %d", sort, l.Total)
			}
			if l.NextCursor == "" {
				break
			}
			cursor = l.NextCursor
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: cursor pages %v, one page %v", sort, got, want)
		}
		// The guest list pages the same way.
		var guest []int64
		cursor = ""
		for page := 0; page < 20; page++ {
			q := fmt.Sprintf("/api/gallery/%s/photos?key=%s&limit=5&sort=%s", ev.Slug, key, sort)
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			resp, b := ts.do(t, http.MethodGet, q, "", nil)
			if resp.StatusCode != 200 {
				t.Fatalf("guest list: %d %s", resp.StatusCode, b)
			}
			l := decode[server.GalleryPhotoListResponse](t, b)
			for _, p := range l.Items {
				guest = append(guest, p.ID)
			}
			if l.NextCursor == "" {
				break
			}
			cursor = l.NextCursor
		}
		if !slices.Equal(guest, want) {
			t.Errorf("%s: guest cursor pages %v, want %v", sort, guest, want)
		}
	}
	first := ts.listPhotos(t, ev.ID, "limit=3&sort=size_asc")
	for _, bad := range []string{"not-base64!", "e30", url.QueryEscape(first.NextCursor) + "&sort=size_desc"} {
		resp, b := ts.do(t, http.MethodGet, fmt.Sprintf("/api/v1/events/%d/photos?limit=3&cursor=%s", ev.ID, bad), ts.Admin, nil)
		wantError(t, resp, b, http.StatusBadRequest, "invalid_parameter")
	}
}
