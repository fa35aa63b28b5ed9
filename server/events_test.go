package server_test

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gallerist/gallerist/server"
)

// TestCreateEvent is the scenario table of POST /api/v1/events.
func TestCreateEvent(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createEvent(t, map[string]any{"name": "Taken", "slug": "taken"})
	ts.createEvent(t, map[string]any{"name": "Sommerfest Köln"})

	cases := []struct {
		name   string
		body   any
		status int
		code   string
		check  func(t *testing.T, e server.EventResponse)
	}{
		{"accents stripped from the slug", map[string]any{"name": "Hochzeit Müller & Söhne"}, 201, "", func(t *testing.T, e server.EventResponse) {
			if e.Slug != "hochzeit-muller-sohne" {
				t.Errorf("slug = %q, want hochzeit-muller-sohne", e.Slug)
			}
			if e.Name != "Hochzeit Müller & Söhne" {
				t.Errorf("name = %q", e.Name)
			}
		}},
		{"derived slug gets -2 on a clash", map[string]any{"name": "Sommerfest Koln"}, 201, "", func(t *testing.T, e server.EventResponse) {
			if e.Slug != "sommerfest-koln-2" {
				t.Errorf("slug = %q, want sommerfest-koln-2", e.Slug)
			}
		}},
		{"defaults and zero counters", map[string]any{"name": "Defaults"}, 201, "", func(t *testing.T, e server.EventResponse) {
			if e.ID <= 0 || !e.AllowDownloads || e.ProtectionLevel != "basic" || e.IsArchived || e.ArchivedAt != nil ||
				e.HasPassword || e.PhotoCap != nil || e.Date != nil || e.ExpiresAt != nil {
				t.Errorf("unexpected defaults: %+v", e)
			}
			if e.PhotoCount != 0 || e.TotalSize != 0 || e.TotalDownloads != 0 {
				t.Errorf("counters = %d/%d/%d, want 0", e.PhotoCount, e.TotalSize, e.TotalDownloads)
			}
			// Without a password the share link carries the gallery's key.
			if !strings.Contains(e.ShareURL, "/g/"+e.Slug+"?key=") || len(e.ShareURL) < len("/g/"+e.Slug+"?key=")+32 {
				t.Errorf("share_url = %q", e.ShareURL)
			}
			if !e.IsPublished || e.FeedbackEnabled || e.WatermarkText != "" {
				t.Errorf("guest defaults: published %v, feedback %v, watermark %q", e.IsPublished, e.FeedbackEnabled, e.WatermarkText)
			}
			if e.CreatedAt.IsZero() || e.UpdatedAt.IsZero() {
				t.Errorf("times not set: %+v", e)
			}
		}},
		{"every field", map[string]any{"name": "Full", "slug": "full-2026", "date": "2026-05-12", "password": "s3cret",
			"expires_at": "2027-01-02T03:04:05+02:00", "photo_cap": 10, "allow_downloads": false, "protection_level": "enhanced"}, 201, "",
			func(t *testing.T, e server.EventResponse) {
				if e.Slug != "full-2026" || e.Date == nil || *e.Date != "2026-05-12" || !e.HasPassword || e.PhotoCap == nil ||
					*e.PhotoCap != 10 || e.AllowDownloads || e.ProtectionLevel != "enhanced" {
					t.Errorf("fields not kept: %+v", e)
				}
				if e.ExpiresAt == nil || !e.ExpiresAt.Equal(time.Date(2027, 1, 2, 1, 4, 5, 0, time.UTC)) {
					t.Errorf("expires_at = %v", e.ExpiresAt)
				}
			}},
		{"explicit slug taken", map[string]any{"name": "Other", "slug": "taken"}, 409, "slug_taken", nil},
		{"invalid slug", map[string]any{"name": "X", "slug": "Bad Slug"}, 400, "invalid_parameter", nil},
		{"slug with trailing dash", map[string]any{"name": "X", "slug": "bad-"}, 400, "invalid_parameter", nil},
		{"name of 150 non-ASCII characters (maxLength 200)", map[string]any{"name": strings.Repeat("ü", 150)}, 201, "", func(t *testing.T, e server.EventResponse) {
			if e.Name != strings.Repeat("ü", 150) || e.Slug != strings.Repeat("u", 60) {
				t.Errorf("name %q slug %q", e.Name, e.Slug)
			}
		}},
		{"name of 201 characters", map[string]any{"name": strings.Repeat("a", 201)}, 400, "invalid_parameter", nil},
		{"empty name", map[string]any{"name": ""}, 400, "invalid_parameter", nil},
		{"blank name", map[string]any{"name": "   "}, 400, "invalid_parameter", nil},
		{"missing name", map[string]any{"slug": "no-name"}, 400, "invalid_parameter", nil},
		{"unknown field", map[string]any{"name": "X", "nmae": "typo"}, 400, "invalid_request", nil},
		{"malformed JSON", `{"name": "X"`, 400, "invalid_request", nil},
		{"wrong type", map[string]any{"name": 12}, 400, "invalid_request", nil},
		{"empty body", "", 400, "invalid_request", nil},
		{"bad protection_level", map[string]any{"name": "X", "protection_level": "extreme"}, 400, "invalid_parameter", nil},
		{"bad date", map[string]any{"name": "X", "date": "2026-13-45"}, 400, "invalid_parameter", nil},
		{"date with time", map[string]any{"name": "X", "date": "12.05.2026"}, 400, "invalid_parameter", nil},
		{"photo_cap 0", map[string]any{"name": "X", "photo_cap": 0}, 400, "invalid_parameter", nil},
		{"photo_cap negative", map[string]any{"name": "X", "photo_cap": -5}, 400, "invalid_parameter", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := ts.do(t, http.MethodPost, "/api/v1/events", ts.Admin, tc.body)
			if tc.code != "" {
				e := wantError(t, resp, body, tc.status, tc.code)
				if tc.code == "invalid_parameter" && e.Details["parameter"] == nil {
					t.Errorf("invalid_parameter without details.parameter: %s", body)
				}
				return
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d (%s)", resp.StatusCode, tc.status, body)
			}
			e := decode[server.EventResponse](t, body)
			tc.check(t, e)
			// What was answered is what is stored.
			got := ts.getEvent(t, e.ID)
			if got.Slug != e.Slug || got.Name != e.Name {
				t.Errorf("GET answers %+v, create answered %+v", got, e)
			}
		})
	}
}

// TestCreateEventWithoutContentType: the seed's curl -d examples send no JSON
// Content-Type (curl says application/x-www-form-urlencoded); the body is JSON anyway.
func TestCreateEventWithoutContentType(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	for _, ct := range []string{"", "application/x-www-form-urlencoded"} {
		t.Run("content-type "+ct, func(t *testing.T) {
			h := map[string]string{}
			if ct != "" {
				h["Content-Type"] = ct
			}
			name := strings.TrimSpace("Curl Style " + ct)
			resp, body := ts.raw(t, http.MethodPost, "/api/v1/events", ts.Admin, []byte(`{"name": "`+name+`"}`), h)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("status = %d (%s)", resp.StatusCode, body)
			}
			if e := decode[server.EventResponse](t, body); e.Name != name {
				t.Errorf("name = %q", e.Name)
			}
		})
	}
}

func TestGetEvent(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Get Me"})
	cases := []struct {
		name   string
		path   string
		status int
		code   string
	}{
		{"found", fmt.Sprintf("/api/v1/events/%d", ev.ID), 200, ""},
		{"unknown id", "/api/v1/events/99999", 404, "event_not_found"},
		{"non-numeric id", "/api/v1/events/abc", 400, "invalid_parameter"},
		{"zero id", "/api/v1/events/0", 400, "invalid_parameter"},
		{"negative id", "/api/v1/events/-3", 400, "invalid_parameter"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := ts.do(t, http.MethodGet, tc.path, ts.Admin, nil)
			if tc.code != "" {
				wantError(t, resp, body, tc.status, tc.code)
				return
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status = %d (%s)", resp.StatusCode, body)
			}
			got := decode[server.EventResponse](t, body)
			if got.ID != ev.ID || got.Slug != "get-me" || got.PhotoCount != 0 || got.TotalSize != 0 || got.TotalDownloads != 0 {
				t.Errorf("got %+v", got)
			}
			// The counters are always present, even at zero.
			for _, k := range []string{`"photo_count":0`, `"total_size":0`, `"total_downloads":0`} {
				if !strings.Contains(string(body), k) {
					t.Errorf("body lacks %s: %s", k, body)
				}
			}
		})
	}
}

func TestListEvents(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	var all []server.EventResponse
	for i := range 5 {
		all = append(all, ts.createEvent(t, map[string]any{"name": fmt.Sprintf("List %d", i)}))
	}
	for _, i := range []int{1, 3} {
		resp, body := ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/events/%d/archive", all[i].ID), ts.Admin, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("archive: %d %s", resp.StatusCode, body)
		}
	}
	idsOf := func(items []server.EventResponse) []int64 {
		var out []int64
		for _, e := range items {
			out = append(out, e.ID)
		}
		return out
	}
	cases := []struct {
		name   string
		query  string
		status int
		code   string
		check  func(t *testing.T, l server.EventListResponse)
	}{
		{"all, newest first", "", 200, "", func(t *testing.T, l server.EventListResponse) {
			want := []int64{all[4].ID, all[3].ID, all[2].ID, all[1].ID, all[0].ID}
			if l.Total != 5 || l.Limit != 50 || l.Offset != 0 || !equalIDs(idsOf(l.Items), want) {
				t.Errorf("got total %d limit %d offset %d ids %v, want ids %v", l.Total, l.Limit, l.Offset, idsOf(l.Items), want)
			}
		}},
		{"archived only", "is_archived=true", 200, "", func(t *testing.T, l server.EventListResponse) {
			if l.Total != 2 || !equalIDs(idsOf(l.Items), []int64{all[3].ID, all[1].ID}) {
				t.Errorf("got total %d ids %v", l.Total, idsOf(l.Items))
			}
			for _, e := range l.Items {
				if !e.IsArchived || e.ArchivedAt == nil {
					t.Errorf("event %d not archived: %+v", e.ID, e)
				}
			}
		}},
		{"active only", "is_archived=false", 200, "", func(t *testing.T, l server.EventListResponse) {
			if l.Total != 3 || !equalIDs(idsOf(l.Items), []int64{all[4].ID, all[2].ID, all[0].ID}) {
				t.Errorf("got total %d ids %v", l.Total, idsOf(l.Items))
			}
		}},
		{"paged", "limit=2&offset=2", 200, "", func(t *testing.T, l server.EventListResponse) {
			if l.Total != 5 || l.Limit != 2 || l.Offset != 2 || !equalIDs(idsOf(l.Items), []int64{all[2].ID, all[1].ID}) {
				t.Errorf("got total %d limit %d offset %d ids %v", l.Total, l.Limit, l.Offset, idsOf(l.Items))
			}
		}},
		{"offset past the end", "offset=10", 200, "", func(t *testing.T, l server.EventListResponse) {
			if l.Total != 5 || len(l.Items) != 0 || l.Items == nil {
				t.Errorf("got total %d items %v", l.Total, l.Items)
			}
		}},
		{"limit 200 is allowed", "limit=200", 200, "", func(t *testing.T, l server.EventListResponse) {
			if l.Limit != 200 || len(l.Items) != 5 {
				t.Errorf("limit %d items %d", l.Limit, len(l.Items))
			}
		}},
		{"limit 0", "limit=0", 400, "invalid_parameter", nil},
		{"limit 201", "limit=201", 400, "invalid_parameter", nil},
		{"limit not a number", "limit=ten", 400, "invalid_parameter", nil},
		{"negative offset", "offset=-1", 400, "invalid_parameter", nil},
		{"bad is_archived", "is_archived=maybe", 400, "invalid_parameter", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := ts.do(t, http.MethodGet, "/api/v1/events?"+tc.query, ts.Admin, nil)
			if tc.code != "" {
				wantError(t, resp, body, tc.status, tc.code)
				return
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status = %d (%s)", resp.StatusCode, body)
			}
			tc.check(t, decode[server.EventListResponse](t, body))
		})
	}
}

func TestUpdateEvent(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createEvent(t, map[string]any{"name": "Other", "slug": "other-event"})
	ev := ts.createEvent(t, map[string]any{"name": "Patch Me", "date": "2026-05-12", "password": "pw", "photo_cap": 5,
		"expires_at": "2027-01-01T00:00:00Z"})
	path := fmt.Sprintf("/api/v1/events/%d", ev.ID)

	// Steps run in order against the same event.
	steps := []struct {
		name   string
		path   string
		body   any
		status int
		code   string
		check  func(t *testing.T, e server.EventResponse)
	}{
		{"rename", path, map[string]any{"name": "Patched"}, 200, "", func(t *testing.T, e server.EventResponse) {
			if e.Name != "Patched" || e.Slug != "patch-me" {
				t.Errorf("name %q slug %q: the slug must not follow a rename", e.Name, e.Slug)
			}
			if e.Date == nil || *e.Date != "2026-05-12" || !e.HasPassword || e.PhotoCap == nil || *e.PhotoCap != 5 {
				t.Errorf("untouched fields changed: %+v", e)
			}
		}},
		{"new slug", path, map[string]any{"slug": "patched-2026"}, 200, "", func(t *testing.T, e server.EventResponse) {
			if e.Slug != "patched-2026" {
				t.Errorf("slug = %q", e.Slug)
			}
		}},
		{"same slug again is fine", path, map[string]any{"slug": "patched-2026"}, 200, "", func(t *testing.T, e server.EventResponse) {
			if e.Slug != "patched-2026" {
				t.Errorf("slug = %q", e.Slug)
			}
		}},
		{"slug clash", path, map[string]any{"slug": "other-event"}, 409, "slug_taken", nil},
		{"invalid slug", path, map[string]any{"slug": "Nope!"}, 400, "invalid_parameter", nil},
		{"empty name", path, map[string]any{"name": " "}, 400, "invalid_parameter", nil},
		{"bad date", path, map[string]any{"date": "2026-02-30"}, 400, "invalid_parameter", nil},
		{"photo_cap 0", path, map[string]any{"photo_cap": 0}, 400, "invalid_parameter", nil},
		{"bad protection_level", path, map[string]any{"protection_level": "max"}, 400, "invalid_parameter", nil},
		{"unknown field", path, map[string]any{"is_archived": true}, 400, "invalid_request", nil},
		{"malformed JSON", path, `{"name":`, 400, "invalid_request", nil},
		{"unknown event", "/api/v1/events/99999", map[string]any{"name": "x"}, 404, "event_not_found", nil},
		{"non-numeric id", "/api/v1/events/x", map[string]any{"name": "x"}, 400, "invalid_parameter", nil},
		{"set date, cap, downloads, level, expiry", path, map[string]any{"date": "2026-06-01", "photo_cap": 7, "allow_downloads": false,
			"protection_level": "maximum", "expires_at": "2027-03-03T10:00:00+01:00"}, 200, "", func(t *testing.T, e server.EventResponse) {
			if e.Date == nil || *e.Date != "2026-06-01" || e.PhotoCap == nil || *e.PhotoCap != 7 || e.AllowDownloads || e.ProtectionLevel != "maximum" {
				t.Errorf("got %+v", e)
			}
			if e.ExpiresAt == nil || !e.ExpiresAt.Equal(time.Date(2027, 3, 3, 9, 0, 0, 0, time.UTC)) {
				t.Errorf("expires_at = %v", e.ExpiresAt)
			}
		}},
		{"null clears cap, date, password, expiry", path, `{"photo_cap": null, "date": null, "password": null, "expires_at": null}`, 200, "",
			func(t *testing.T, e server.EventResponse) {
				if e.PhotoCap != nil || e.Date != nil || e.HasPassword || e.ExpiresAt != nil {
					t.Errorf("not cleared: %+v", e)
				}
				if e.Name != "Patched" || e.Slug != "patched-2026" || e.ProtectionLevel != "maximum" {
					t.Errorf("other fields changed: %+v", e)
				}
			}},
		{"set a password again", path, map[string]any{"password": "new"}, 200, "", func(t *testing.T, e server.EventResponse) {
			if !e.HasPassword {
				t.Errorf("has_password false after setting one")
			}
		}},
		{"empty body", path, "", 400, "invalid_request", nil},
	}
	for _, st := range steps {
		resp, body := ts.do(t, http.MethodPatch, st.path, ts.Admin, st.body)
		if st.code != "" {
			t.Run(st.name, func(t *testing.T) { wantError(t, resp, body, st.status, st.code) })
			continue
		}
		t.Run(st.name, func(t *testing.T) {
			if resp.StatusCode != st.status {
				t.Fatalf("status = %d (%s)", resp.StatusCode, body)
			}
			e := decode[server.EventResponse](t, body)
			st.check(t, e)
			st.check(t, ts.getEvent(t, ev.ID)) // stored, not just answered
		})
	}
}

func TestArchiveRestoreEvent(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Archive"})
	post := func(action string, id any) (*http.Response, []byte) {
		return ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/events/%v/%s", id, action), ts.Admin, nil)
	}
	resp, body := post("archive", ev.ID)
	if resp.StatusCode != 200 {
		t.Fatalf("archive: %d %s", resp.StatusCode, body)
	}
	a1 := decode[server.EventResponse](t, body)
	if !a1.IsArchived || a1.ArchivedAt == nil {
		t.Fatalf("archive answered %+v", a1)
	}
	// Archiving again changes nothing, not even archived_at.
	resp, body = post("archive", ev.ID)
	if resp.StatusCode != 200 {
		t.Fatalf("archive again: %d %s", resp.StatusCode, body)
	}
	a2 := decode[server.EventResponse](t, body)
	if !a2.IsArchived || a2.ArchivedAt == nil || !a2.ArchivedAt.Equal(*a1.ArchivedAt) {
		t.Errorf("second archive: %+v (first archived_at %v)", a2, a1.ArchivedAt)
	}
	// An archived event takes no uploads.
	resp, body = ts.upload(t, ev.ID, ts.Admin, []uploadFile{{"a.jpg", smallJPEG(1)}}, nil)
	wantError(t, resp, body, 409, "event_archived")
	if n := len(ts.blobFiles(t, "originals")); n != 0 {
		t.Errorf("%d originals on disk after a refused upload", n)
	}

	for range 2 { // restore is idempotent too
		resp, body = post("restore", ev.ID)
		if resp.StatusCode != 200 {
			t.Fatalf("restore: %d %s", resp.StatusCode, body)
		}
		r := decode[server.EventResponse](t, body)
		if r.IsArchived || r.ArchivedAt != nil {
			t.Errorf("restore answered %+v", r)
		}
	}
	if got := ts.getEvent(t, ev.ID); got.IsArchived {
		t.Errorf("stored event still archived")
	}
	ts.uploadOne(t, ev.ID, "a.jpg", smallJPEG(1))

	for _, action := range []string{"archive", "restore"} {
		resp, body = post(action, 99999)
		wantError(t, resp, body, 404, "event_not_found")
		resp, body = post(action, "x")
		wantError(t, resp, body, 400, "invalid_parameter")
	}
}

func TestDeleteEvent(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Delete Me"})
	keep := ts.createEvent(t, map[string]any{"name": "Keep Me"})
	out := ts.uploadOK(t, ev.ID, []uploadFile{{"a.jpg", smallJPEG(1)}, {"b.jpg", smallJPEG(2)}}, nil)
	keptID := ts.uploadOne(t, keep.ID, "k.jpg", smallJPEG(3))
	var files []string
	for _, u := range out.Uploaded {
		p := ts.waitVariants(t, u.ID)
		for _, f := range ts.photoFiles(p) {
			if !fileExists(f) {
				t.Fatalf("file %s missing before the delete", f)
			}
			files = append(files, f)
		}
	}
	kept := ts.waitVariants(t, keptID)

	resp, body := ts.do(t, http.MethodDelete, fmt.Sprintf("/api/v1/events/%d", ev.ID), ts.Admin, nil)
	if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("delete: %d %q", resp.StatusCode, body)
	}
	for _, f := range files {
		if fileExists(f) {
			t.Errorf("file %s still on disk after the event was deleted", f)
		}
	}
	if _, err := os.Stat(ts.Cfg.BlobDir() + fmt.Sprintf("/originals/%d", ev.ID)); err == nil {
		if left := ts.blobFiles(t, fmt.Sprintf("originals/%d", ev.ID)); len(left) > 0 {
			t.Errorf("originals left: %v", left)
		}
	}
	for _, f := range ts.photoFiles(kept) {
		if !fileExists(f) {
			t.Errorf("another event's file %s was removed", f)
		}
	}
	resp, body = ts.do(t, http.MethodGet, fmt.Sprintf("/api/v1/events/%d", ev.ID), ts.Admin, nil)
	wantError(t, resp, body, 404, "event_not_found")
	for _, u := range out.Uploaded {
		resp, body = ts.do(t, http.MethodGet, fmt.Sprintf("/api/v1/photos/%d", u.ID), ts.Admin, nil)
		wantError(t, resp, body, 404, "photo_not_found")
	}
	resp, body = ts.do(t, http.MethodDelete, fmt.Sprintf("/api/v1/events/%d", ev.ID), ts.Admin, nil)
	wantError(t, resp, body, 404, "event_not_found")
	resp, body = ts.do(t, http.MethodDelete, "/api/v1/events/abc", ts.Admin, nil)
	wantError(t, resp, body, 400, "invalid_parameter")
	// The slug is free again.
	if again := ts.createEvent(t, map[string]any{"name": "Delete Me"}); again.Slug != "delete-me" {
		t.Errorf("slug after delete = %q, want delete-me", again.Slug)
	}
}

func TestCategories(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Cats"})
	other := ts.createEvent(t, map[string]any{"name": "Other Cats"})
	base := fmt.Sprintf("/api/v1/events/%d/categories", ev.ID)

	create := func(body any) (*http.Response, []byte) { return ts.do(t, http.MethodPost, base, ts.Admin, body) }
	resp, body := create(map[string]any{"name": "Zeremonie & Empfang"})
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	cer := decode[server.CategoryResponse](t, body)
	if cer.Slug != "zeremonie-empfang" || cer.Name != "Zeremonie & Empfang" || cer.EventID != ev.ID || cer.PhotoCount != 0 {
		t.Errorf("created %+v", cer)
	}
	resp, body = create(map[string]any{"name": "Party", "slug": "party-time"})
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	party := decode[server.CategoryResponse](t, body)
	if party.Slug != "party-time" || party.Position <= cer.Position {
		t.Errorf("created %+v after %+v: it should come later", party, cer)
	}
	// The other event may use the same slug.
	resp, body = ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/events/%d/categories", other.ID), ts.Admin, map[string]any{"name": "Party", "slug": "party-time"})
	if resp.StatusCode != 201 {
		t.Fatalf("same slug in another event: %d %s", resp.StatusCode, body)
	}
	otherParty := decode[server.CategoryResponse](t, body)

	errCases := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		code   string
	}{
		{"slug conflict", "POST", base, map[string]any{"name": "Party again", "slug": "party-time"}, 409, "category_exists"},
		{"derived slug conflict", "POST", base, map[string]any{"name": "Zeremonie Empfang"}, 409, "category_exists"},
		{"numeric-only slug", "POST", base, map[string]any{"name": "Numbers", "slug": "2026"}, 400, "invalid_parameter"},
		{"explicit numeric-only slug", "POST", base, map[string]any{"name": "Year", "slug": "2026"}, 400, "invalid_parameter"},
		{"invalid slug", "POST", base, map[string]any{"name": "X", "slug": "Not OK"}, 400, "invalid_parameter"},
		{"empty name", "POST", base, map[string]any{"name": ""}, 400, "invalid_parameter"},
		{"unknown field", "POST", base, map[string]any{"name": "X", "color": "red"}, 400, "invalid_request"},
		{"unknown event", "POST", "/api/v1/events/99999/categories", map[string]any{"name": "X"}, 404, "event_not_found"},
		{"list unknown event", "GET", "/api/v1/events/99999/categories", nil, 404, "event_not_found"},
		{"patch unknown category", "PATCH", base + "/99999", map[string]any{"name": "X"}, 404, "category_not_found"},
		{"patch another event's category", "PATCH", fmt.Sprintf("%s/%d", base, otherParty.ID), map[string]any{"name": "X"}, 404, "category_not_found"},
		{"patch slug clash", "PATCH", base + "/party-time", map[string]any{"slug": "zeremonie-empfang"}, 409, "category_exists"},
		{"patch numeric slug", "PATCH", base + "/party-time", map[string]any{"slug": "12"}, 400, "invalid_parameter"},
		{"patch unknown field", "PATCH", base + "/party-time", map[string]any{"nam": "X"}, 400, "invalid_request"},
		{"delete unknown category", "DELETE", base + "/nope", nil, 404, "category_not_found"},
		{"delete in unknown event", "DELETE", "/api/v1/events/99999/categories/1", nil, 404, "event_not_found"},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := ts.do(t, tc.method, tc.path, ts.Admin, tc.body)
			wantError(t, resp, body, tc.status, tc.code)
		})
	}

	// Upload into a category by slug and by id; the list filter takes both too.
	bySlug := ts.uploadOK(t, ev.ID, []uploadFile{{"s1.jpg", smallJPEG(10)}, {"s2.jpg", smallJPEG(11)}}, map[string]string{"category_id": "party-time"})
	byID := ts.uploadOK(t, ev.ID, []uploadFile{{"i1.jpg", smallJPEG(12)}}, map[string]string{"category_id": fmt.Sprint(cer.ID)})
	none := ts.uploadOK(t, ev.ID, []uploadFile{{"n1.jpg", smallJPEG(13)}}, nil)
	for _, q := range []string{"category_id=party-time", fmt.Sprintf("category_id=%d", party.ID)} {
		l := ts.listPhotos(t, ev.ID, q+"&sort=upload_date_asc")
		if l.Total != 2 || !equalIDs(ids(l.Items), []int64{bySlug.Uploaded[0].ID, bySlug.Uploaded[1].ID}) {
			t.Errorf("%s: total %d ids %v", q, l.Total, ids(l.Items))
		}
		for _, p := range l.Items {
			if p.CategoryID == nil || *p.CategoryID != party.ID {
				t.Errorf("%s: photo %d category %v", q, p.ID, p.CategoryID)
			}
		}
	}
	if l := ts.listPhotos(t, ev.ID, "category_id=zeremonie-empfang"); l.Total != 1 || l.Items[0].ID != byID.Uploaded[0].ID {
		t.Errorf("zeremonie: total %d", l.Total)
	}
	if p := ts.getPhoto(t, none.Uploaded[0].ID); p.CategoryID != nil {
		t.Errorf("uncategorised photo has category %v", *p.CategoryID)
	}

	// A numeric name gets a slug that cannot be mistaken for an id.
	resp, body = ts.do(t, http.MethodPost, base, ts.Admin, map[string]any{"name": "2026"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create category \"2026\": %d %s", resp.StatusCode, body)
	}
	numeric := decode[server.CategoryResponse](t, body)
	if numeric.Slug != "category-2026" {
		t.Fatalf("slug of category \"2026\" = %q, want category-2026", numeric.Slug)
	}
	if resp, _ := ts.do(t, "DELETE", fmt.Sprintf("%s/%d", base, numeric.ID), ts.Admin, nil); resp.StatusCode != 204 {
		t.Fatalf("delete numeric category: %d", resp.StatusCode)
	}

	// The list shows both categories in order with their photo counts.
	cats := getJSON[server.CategoryListResponse](t, ts, base)
	if cats.Total != 2 || len(cats.Items) != 2 || cats.Items[0].ID != cer.ID || cats.Items[1].ID != party.ID {
		t.Fatalf("list: %+v", cats)
	}
	if cats.Items[0].PhotoCount != 1 || cats.Items[1].PhotoCount != 2 {
		t.Errorf("photo counts %d, %d; want 1, 2", cats.Items[0].PhotoCount, cats.Items[1].PhotoCount)
	}

	// Patch by slug: name, slug, position.
	resp, body = ts.do(t, http.MethodPatch, base+"/party-time", ts.Admin, map[string]any{"name": "Feier", "slug": "feier", "position": 0})
	if resp.StatusCode != 200 {
		t.Fatalf("patch: %d %s", resp.StatusCode, body)
	}
	if p := decode[server.CategoryResponse](t, body); p.ID != party.ID || p.Name != "Feier" || p.Slug != "feier" || p.Position != 0 {
		t.Errorf("patched %+v", p)
	}
	// Patch by id.
	resp, body = ts.do(t, http.MethodPatch, fmt.Sprintf("%s/%d", base, cer.ID), ts.Admin, map[string]any{"name": "Ceremony"})
	if resp.StatusCode != 200 {
		t.Fatalf("patch by id: %d %s", resp.StatusCode, body)
	}
	if p := decode[server.CategoryResponse](t, body); p.Name != "Ceremony" || p.Slug != "zeremonie-empfang" {
		t.Errorf("patched %+v", p)
	}
	// The old slug no longer resolves; the new one does.
	resp, body = ts.do(t, http.MethodGet, fmt.Sprintf("/api/v1/events/%d/photos?category_id=party-time", ev.ID), ts.Admin, nil)
	wantError(t, resp, body, 404, "category_not_found")
	if l := ts.listPhotos(t, ev.ID, "category_id=feier"); l.Total != 2 {
		t.Errorf("feier: total %d", l.Total)
	}

	// Delete: the photos stay, uncategorised.
	resp, body = ts.do(t, http.MethodDelete, base+"/feier", ts.Admin, nil)
	if resp.StatusCode != 204 {
		t.Fatalf("delete: %d %s", resp.StatusCode, body)
	}
	cats = getJSON[server.CategoryListResponse](t, ts, base)
	if cats.Total != 1 || cats.Items[0].ID != cer.ID {
		t.Errorf("after delete: %+v", cats)
	}
	for _, u := range bySlug.Uploaded {
		if p := ts.getPhoto(t, u.ID); p.CategoryID != nil {
			t.Errorf("photo %d keeps deleted category %d", u.ID, *p.CategoryID)
		}
	}
	if e := ts.getEvent(t, ev.ID); e.PhotoCount != 4 {
		t.Errorf("photo_count = %d after deleting a category, want 4", e.PhotoCount)
	}
	resp, body = ts.do(t, http.MethodDelete, base+"/feier", ts.Admin, nil)
	wantError(t, resp, body, 404, "category_not_found")
	// A category of another event is not found by upload either.
	resp, body = ts.upload(t, ev.ID, ts.Admin, []uploadFile{{"x.jpg", smallJPEG(14)}}, map[string]string{"category_id": fmt.Sprint(otherParty.ID)})
	wantError(t, resp, body, 404, "category_not_found")
}

// TestCreateEventConcurrentSameName: parallel creates of one name all succeed with
// distinct slugs.
func TestCreateEventConcurrentSameName(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	const n = 6
	slugs := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body := ts.do(t, http.MethodPost, "/api/v1/events", ts.Admin, map[string]any{"name": "Party"})
			if resp.StatusCode != http.StatusCreated {
				t.Errorf("create %d: %d %s", i, resp.StatusCode, body)
				return
			}
			slugs[i] = decode[server.EventResponse](t, body).Slug
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, s := range slugs {
		if seen[s] {
			t.Errorf("slug %q given twice", s)
		}
		seen[s] = true
	}
	for _, want := range []string{"party", "party-2", "party-6"} {
		if !seen[want] {
			t.Errorf("slugs %v lack %q", slugs, want)
		}
	}
}
