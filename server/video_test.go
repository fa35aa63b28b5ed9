package server_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/gallerist/gallerist/media/mediatest"
	"github.com/gallerist/gallerist/server"
)

// TestVideoWithoutFFmpeg: with no ffmpeg or ffprobe the server still starts, says so in
// /readyz, keeps uploaded videos (metadata unknown, variants failed, thumbnail 409), and
// once the tools are there a retry makes the poster and repair-dimensions fills the size.
func TestVideoWithoutFFmpeg(t *testing.T) {
	clip := mediatest.Video(t, t.TempDir(), "mp4", 1.5, 320, 240)
	data, err := os.ReadFile(clip)
	if err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "no-such-ffmpeg")
	ts := newTestServer(t, func(c *server.Config) { c.FFmpegPath = missing; c.FFprobePath = missing + "-probe" })

	resp, body := ts.do(t, http.MethodGet, "/readyz", "", nil)
	ready := decode[server.HealthResponse](t, body)
	if resp.StatusCode != 200 || ready.Checks["ffmpeg"] == "ok" || ready.Checks["ffprobe"] == "ok" {
		t.Fatalf("readyz without ffmpeg: %d %+v", resp.StatusCode, ready)
	}

	ev := ts.createEvent(t, map[string]any{"name": "Films"})
	resp, body = ts.upload(t, ev.ID, ts.Admin, []uploadFile{{"walk.mp4", data}}, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload without ffprobe: %d %s", resp.StatusCode, body)
	}
	up := decode[server.UploadPhotosResponse](t, body)
	if len(up.Uploaded) != 1 || up.Uploaded[0].MediaType != "video" || up.Uploaded[0].Width != nil {
		t.Fatalf("upload answer %s", body)
	}
	id := up.Uploaded[0].ID
	get := func() server.PhotoResponse {
		_, b := ts.do(t, http.MethodGet, fmt.Sprintf("/api/v1/photos/%d", id), ts.Admin, nil)
		return decode[server.PhotoResponse](t, b)
	}
	waitFor(t, "variants to fail", func() bool { return get().VariantStatus == "failed" })
	resp, body = ts.do(t, http.MethodGet, up.Uploaded[0].ThumbnailURL, ts.Admin, nil)
	wantError(t, resp, body, http.StatusConflict, "variant_not_ready")
	// The original is intact and served with Range.
	req, _ := http.NewRequest(http.MethodGet, ts.URL+up.Uploaded[0].URL, nil)
	req.Header.Set("Authorization", "Bearer "+ts.Admin)
	req.Header.Set("Range", "bytes=0-9")
	resp, body = ts.send(t, req)
	if resp.StatusCode != http.StatusPartialContent || len(body) != 10 || resp.Header.Get("Content-Type") != "video/mp4" {
		t.Fatalf("range on the video: %d, %d bytes, %s", resp.StatusCode, len(body), resp.Header.Get("Content-Type"))
	}

	// ffmpeg arrives: a restarted server on the same data retries and repairs.
	ts2 := restartTestServer(t, ts, func(c *server.Config) { c.FFmpegPath = "ffmpeg"; c.FFprobePath = "ffprobe" })
	resp, body = ts2.do(t, http.MethodPost, fmt.Sprintf("/api/v1/photos/%d/variants", id), ts2.Admin, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("retry variants: %d %s", resp.StatusCode, body)
	}
	get2 := func() server.PhotoResponse {
		_, b := ts2.do(t, http.MethodGet, fmt.Sprintf("/api/v1/photos/%d", id), ts2.Admin, nil)
		return decode[server.PhotoResponse](t, b)
	}
	waitFor(t, "variants after retry", func() bool { return get2().VariantStatus == "ready" })
	resp, body = ts2.do(t, http.MethodPost, "/api/v1/photos/repair-dimensions", ts2.Admin, nil)
	rep := decode[server.RepairDimensionsResponse](t, body)
	if resp.StatusCode != 200 || rep.Repaired != 1 {
		t.Fatalf("repair: %d %s", resp.StatusCode, body)
	}
	if p := get2(); p.Width == nil || *p.Width != 320 || *p.Height != 240 {
		t.Fatalf("dimensions after repair: %v x %v", p.Width, p.Height)
	}
	resp, body = ts2.do(t, http.MethodGet, up.Uploaded[0].ThumbnailURL, ts2.Admin, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("poster after retry: %d", resp.StatusCode)
	}
	resp, body = ts2.do(t, http.MethodPost, "/api/v1/photos/999999/variants", ts2.Admin, nil)
	wantError(t, resp, body, http.StatusNotFound, "photo_not_found")
}
