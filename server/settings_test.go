package server_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/gallerist/gallerist/server"
)

func TestSettingsDefaults(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	st := getJSON[server.SettingsResponse](t, ts, "/api/v1/settings")
	want := server.SettingsResponse{
		AllowedFileTypes:  []string{"jpg", "jpeg", "png", "gif", "webp", "heic", "heif", "mp4", "webm", "mov", "avi"},
		MaxFileSizeMB:     50,
		MaxVideoSizeMB:    10240,
		MaxFilesPerUpload: 500,
	}
	if !slices.Equal(st.AllowedFileTypes, want.AllowedFileTypes) || st.MaxFileSizeMB != want.MaxFileSizeMB ||
		st.MaxVideoSizeMB != want.MaxVideoSizeMB || st.MaxFilesPerUpload != want.MaxFilesPerUpload {
		t.Errorf("defaults %+v, want %+v", st, want)
	}
}

func TestSettingsPatch(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	steps := []struct {
		name   string
		body   any
		status int
		code   string
		check  func(t *testing.T, st server.SettingsResponse)
	}{
		{"types normalised and deduplicated", map[string]any{"general_allowed_file_types": []string{".JPG", "png", "jpg", " webp "}}, 200, "",
			func(t *testing.T, st server.SettingsResponse) {
				if !slices.Equal(st.AllowedFileTypes, []string{"jpg", "png", "webp"}) {
					t.Errorf("types %v", st.AllowedFileTypes)
				}
				if st.MaxFileSizeMB != 50 || st.MaxFilesPerUpload != 500 {
					t.Errorf("other settings changed: %+v", st)
				}
			}},
		{"sizes and count", map[string]any{"general_max_file_size_mb": 5, "general_max_video_size_mb": 100, "general_max_files_per_upload": 2000}, 200, "",
			func(t *testing.T, st server.SettingsResponse) {
				if st.MaxFileSizeMB != 5 || st.MaxVideoSizeMB != 100 || st.MaxFilesPerUpload != 2000 {
					t.Errorf("%+v", st)
				}
				if !slices.Equal(st.AllowedFileTypes, []string{"jpg", "png", "webp"}) {
					t.Errorf("types changed: %v", st.AllowedFileTypes)
				}
			}},
		{"empty patch changes nothing", map[string]any{}, 200, "", func(t *testing.T, st server.SettingsResponse) {
			if st.MaxFileSizeMB != 5 || st.MaxFilesPerUpload != 2000 {
				t.Errorf("%+v", st)
			}
		}},
		{"max files 2001", map[string]any{"general_max_files_per_upload": 2001}, 400, "invalid_parameter", nil},
		{"max files 0", map[string]any{"general_max_files_per_upload": 0}, 400, "invalid_parameter", nil},
		{"unknown type", map[string]any{"general_allowed_file_types": []string{"jpg", "exe"}}, 400, "invalid_parameter", nil},
		{"file size 0", map[string]any{"general_max_file_size_mb": 0}, 400, "invalid_parameter", nil},
		{"file size too big", map[string]any{"general_max_file_size_mb": 10241}, 400, "invalid_parameter", nil},
		{"video size 0", map[string]any{"general_max_video_size_mb": 0}, 400, "invalid_parameter", nil},
		{"unknown setting", map[string]any{"general_max_upload_mb": 5}, 400, "invalid_request", nil},
		{"wrong type", map[string]any{"general_max_file_size_mb": "5"}, 400, "invalid_request", nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			resp, body := ts.do(t, http.MethodPatch, "/api/v1/settings", ts.Admin, st.body)
			if st.code != "" {
				e := wantError(t, resp, body, st.status, st.code)
				if st.code == "invalid_parameter" && e.Details["parameter"] == nil {
					t.Errorf("no details.parameter: %s", body)
				}
				return
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status %d (%s)", resp.StatusCode, body)
			}
			st.check(t, decode[server.SettingsResponse](t, body))
			st.check(t, getJSON[server.SettingsResponse](t, ts, "/api/v1/settings"))
		})
	}
	// A refused patch changed nothing, not even its valid parts.
	resp, body := ts.do(t, http.MethodPatch, "/api/v1/settings", ts.Admin, map[string]any{"general_max_file_size_mb": 7, "general_max_files_per_upload": 5000})
	wantError(t, resp, body, 400, "invalid_parameter")
	if st := getJSON[server.SettingsResponse](t, ts, "/api/v1/settings"); st.MaxFileSizeMB != 5 {
		t.Errorf("half of a refused patch was applied: %+v", st)
	}
}

// TestSettingsTakeEffect: a changed limit applies to the next upload.
func TestSettingsTakeEffect(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Effect"})
	ts.patchSettings(t, map[string]any{"general_max_files_per_upload": 2})
	files := []uploadFile{{"a.jpg", smallJPEG(1)}, {"b.jpg", smallJPEG(2)}, {"c.jpg", smallJPEG(3)}}
	resp, body := ts.upload(t, ev.ID, ts.Admin, files, nil)
	if e := wantError(t, resp, body, 400, "too_many_files"); e.Details["max_files"] != float64(2) {
		t.Errorf("details %v", e.Details)
	}
	ts.patchSettings(t, map[string]any{"general_max_files_per_upload": 3})
	if out := ts.uploadOK(t, ev.ID, files, nil); len(out.Uploaded) != 3 {
		t.Errorf("%+v", out)
	}
	ts.patchSettings(t, map[string]any{"general_allowed_file_types": []string{"png"}})
	out := ts.uploadOK(t, ev.ID, []uploadFile{{"d.jpg", smallJPEG(4)}, {"e.png", pngFixture(5)}}, nil)
	if len(out.Uploaded) != 1 || out.Uploaded[0].Filename != "e.png" || len(out.Skipped) != 1 || out.Skipped[0].Code != "file_type_not_allowed" {
		t.Errorf("%+v", out)
	}
}
