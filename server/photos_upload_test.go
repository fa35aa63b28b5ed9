package server_test

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gallerist/gallerist/media/mediatest"
	"github.com/gallerist/gallerist/server"
)

// TestUploadPhotosSeed follows the seed's curl example: several JPEGs and a category.
func TestUploadPhotosSeed(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Wedding"})
	resp, body := ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/events/%d/categories", ev.ID), ts.Admin, map[string]any{"name": "Ceremony"})
	if resp.StatusCode != 201 {
		t.Fatalf("category: %d %s", resp.StatusCode, body)
	}
	cat := decode[server.CategoryResponse](t, body)

	withOffset := mediatest.JPEG(640, 480, 1, &mediatest.EXIF{DateTimeOriginal: "2026:05:12 15:23:11", OffsetTimeOriginal: "+02:00", Make: "NIKON CORPORATION", Model: "NIKON Z 6"})
	noOffset := mediatest.JPEG(320, 240, 2, &mediatest.EXIF{DateTimeOriginal: "2026:05:12 15:23:14"})
	noExif := mediatest.JPEG(64, 48, 3, nil)
	files := []uploadFile{{"DSC_2031.jpg", withOffset}, {"DSC_2032.jpg", noOffset}, {"IMG 0001 (Kopie).JPG", noExif}}
	tok := ts.token(t, "photos.write")
	resp, body = ts.upload(t, ev.ID, tok, files, map[string]string{"category_id": "ceremony"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	out := decode[server.UploadPhotosResponse](t, body)
	if len(out.Uploaded) != 3 || out.Skipped == nil || len(out.Skipped) != 0 {
		t.Fatalf("uploaded %d skipped %v (%s)", len(out.Uploaded), out.Skipped, body)
	}
	if !strings.Contains(string(body), `"skipped":[]`) {
		t.Errorf("skipped must be an empty list, not null: %s", body)
	}
	wantCaptured := []string{"2026-05-12T15:23:11+02:00", "2026-05-12T15:23:14Z", ""}
	seen := map[int64]bool{}
	for i, u := range out.Uploaded {
		if u.ID <= 0 || seen[u.ID] {
			t.Errorf("bad or repeated id %d", u.ID)
		}
		seen[u.ID] = true
		if u.Filename != files[i].Name {
			t.Errorf("filename = %q, want the client's %q", u.Filename, files[i].Name)
		}
		if u.Size != int64(len(files[i].Data)) {
			t.Errorf("%s: size = %d, want %d", u.Filename, u.Size, len(files[i].Data))
		}
		if !strings.HasPrefix(u.ThumbnailURL, "/thumbnails/"+ev.Slug+"/") || !strings.HasSuffix(u.ThumbnailURL, ".jpg") {
			t.Errorf("thumbnail_url = %q", u.ThumbnailURL)
		}
		if !strings.HasPrefix(u.URL, "/photos/"+ev.Slug+"/") || !strings.HasSuffix(u.URL, ".jpg") {
			t.Errorf("url = %q", u.URL)
		}
		if strings.Contains(u.URL, "DSC") || strings.Contains(u.URL, "IMG") {
			t.Errorf("url %q uses the client's name", u.URL)
		}
		if u.MediaType != "image" {
			t.Errorf("media_type = %q", u.MediaType)
		}
		got := ""
		if u.CapturedAt != nil {
			got = *u.CapturedAt
		}
		if got != wantCaptured[i] {
			t.Errorf("%s: captured_at = %q, want %q", u.Filename, got, wantCaptured[i])
		}
		p := ts.getPhoto(t, u.ID)
		if p.CategoryID == nil || *p.CategoryID != cat.ID {
			t.Errorf("%s: category %v, want %d", u.Filename, p.CategoryID, cat.ID)
		}
		if p.URL != u.URL || p.ThumbnailURL != u.ThumbnailURL || p.Filename != u.Filename {
			t.Errorf("GET disagrees with upload answer: %+v vs %+v", p, u)
		}
	}
	if w, h := out.Uploaded[0].Width, out.Uploaded[0].Height; w == nil || h == nil || *w != 640 || *h != 480 {
		t.Errorf("dimensions %v x %v, want 640x480", w, h)
	}
	e := ts.getEvent(t, ev.ID)
	wantSize := int64(len(withOffset) + len(noOffset) + len(noExif))
	if e.PhotoCount != 3 || e.TotalSize != wantSize {
		t.Errorf("photo_count %d total_size %d, want 3 and %d", e.PhotoCount, e.TotalSize, wantSize)
	}
	if n := len(ts.blobFiles(t, "originals")); n != 3 {
		t.Errorf("%d originals on disk, want 3", n)
	}

	// thumbnail_url and url work at once with a photos.read token.
	reader := ts.token(t, "photos.read")
	first := out.Uploaded[0]
	resp, body = ts.raw(t, http.MethodGet, first.ThumbnailURL, reader, nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("thumbnail: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	img, err := jpeg.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("thumbnail is not a JPEG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 400 || b.Dy() != 300 {
		t.Errorf("thumbnail of 640x480 is %dx%d, want 400x300", b.Dx(), b.Dy())
	}
	resp, body = ts.raw(t, http.MethodGet, first.URL, reader, nil, nil)
	if resp.StatusCode != 200 || !bytes.Equal(body, withOffset) {
		t.Errorf("url: %d, %d bytes (want the %d uploaded bytes)", resp.StatusCode, len(body), len(withOffset))
	}
	// A small source is not blown up.
	resp, body = ts.raw(t, http.MethodGet, out.Uploaded[2].ThumbnailURL, reader, nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("small thumbnail: %d %s", resp.StatusCode, body)
	}
	if img, err := jpeg.Decode(bytes.NewReader(body)); err != nil {
		t.Errorf("small thumbnail: %v", err)
	} else if b := img.Bounds(); b.Dx() != 64 || b.Dy() != 48 {
		t.Errorf("thumbnail of 64x48 is %dx%d, want 64x48", b.Dx(), b.Dy())
	}
}

// TestUploadSkips: files that are skipped, not fatal, with their codes.
func TestUploadSkips(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Skips"})
	good := smallJPEG(100)
	corrupt := append([]byte{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10}, bytes.Repeat([]byte("garbage!"), 200)...)
	files := []uploadFile{
		{"good.jpg", good},
		{"notes.jpg", []byte("this is a text file, not a photo\n")},
		{"broken.jpg", corrupt},
		{"bomb.png", mediatest.BombPNG(60000, 60000)},
		{"empty.jpg", nil},
		{"again.jpg", good},
	}
	out := ts.uploadOK(t, ev.ID, files, nil)
	if len(out.Uploaded) != 1 || out.Uploaded[0].Filename != "good.jpg" {
		t.Fatalf("uploaded %+v", out.Uploaded)
	}
	want := map[string]string{
		"notes.jpg":  "file_type_not_allowed",
		"broken.jpg": "unreadable_media",
		"bomb.png":   "image_too_large",
		"empty.jpg":  "unreadable_media",
		"again.jpg":  "duplicate",
	}
	if len(out.Skipped) != len(want) {
		t.Errorf("skipped %d files, want %d: %+v", len(out.Skipped), len(want), out.Skipped)
	}
	for _, s := range out.Skipped {
		if want[s.Filename] != s.Code {
			t.Errorf("%s skipped with %q, want %q", s.Filename, s.Code, want[s.Filename])
		}
		if s.Message == "" {
			t.Errorf("%s skipped without a message", s.Filename)
		}
		if _, ok := server.Codes[s.Code]; !ok {
			t.Errorf("skip code %q is not in the catalog", s.Code)
		}
	}
	if e := ts.getEvent(t, ev.ID); e.PhotoCount != 1 {
		t.Errorf("photo_count = %d, want 1", e.PhotoCount)
	}
	if n := len(ts.blobFiles(t, "originals")); n != 1 {
		t.Errorf("%d originals on disk, want 1", n)
	}
	if left, _ := filepath.Glob(filepath.Join(ts.Cfg.TempDir(), "stage-*")); len(left) > 0 {
		t.Errorf("staged files left behind: %v", left)
	}
}

// TestUploadDuplicates: the same bytes in one batch, in a later batch, in another event.
func TestUploadDuplicates(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Dupes"})
	other := ts.createEvent(t, map[string]any{"name": "Dupes Elsewhere"})
	data := smallJPEG(7)

	out := ts.uploadOK(t, ev.ID, []uploadFile{{"one.jpg", data}, {"two.jpg", data}}, nil)
	if len(out.Uploaded) != 1 || len(out.Skipped) != 1 {
		t.Fatalf("same bytes twice in one batch: uploaded %d skipped %+v", len(out.Uploaded), out.Skipped)
	}
	firstID := out.Uploaded[0].ID
	if out.Uploaded[0].Filename != "one.jpg" || out.Skipped[0].Filename != "two.jpg" || out.Skipped[0].Code != "duplicate" {
		t.Errorf("uploaded %+v skipped %+v", out.Uploaded[0], out.Skipped[0])
	}

	out = ts.uploadOK(t, ev.ID, []uploadFile{{"three.jpg", data}}, nil)
	if len(out.Uploaded) != 0 || len(out.Skipped) != 1 || out.Skipped[0].Code != "duplicate" {
		t.Fatalf("later batch: %+v", out)
	}
	if out.Skipped[0].PhotoID == nil || *out.Skipped[0].PhotoID != firstID {
		t.Errorf("duplicate photo_id = %v, want %d", out.Skipped[0].PhotoID, firstID)
	}
	if e := ts.getEvent(t, ev.ID); e.PhotoCount != 1 {
		t.Errorf("photo_count = %d, want 1", e.PhotoCount)
	}

	otherID := ts.uploadOne(t, other.ID, "one.jpg", data)
	if otherID == firstID {
		t.Errorf("another event's upload reused photo %d", firstID)
	}
	if n := len(ts.blobFiles(t, "originals")); n != 2 {
		t.Errorf("%d originals on disk, want 2", n)
	}
}

// TestUploadTypes: a PNG named .jpg is a PNG; WebP, GIF, PNG keep their dimensions; EXIF
// orientation swaps width and height.
func TestUploadTypes(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Types"})
	dir := t.TempDir()
	webp, err := os.ReadFile(mediatest.WebP(t, dir, 120, 80))
	if err != nil {
		t.Fatal(err)
	}
	rotated := mediatest.JPEG(400, 300, 5, &mediatest.EXIF{Orientation: 6})
	files := []uploadFile{
		{"x.jpg", mediatest.PNG(90, 60, 1)},
		{"anim.gif", mediatest.GIF(50, 70, 2)},
		{"pic.webp", webp},
		{"rotated.jpg", rotated},
	}
	want := []struct {
		mime string
		ext  string
		w, h int
	}{
		{"image/png", ".png", 90, 60},
		{"image/gif", ".gif", 50, 70},
		{"image/webp", ".webp", 120, 80},
		{"image/jpeg", ".jpg", 300, 400},
	}
	out := ts.uploadOK(t, ev.ID, files, nil)
	if len(out.Uploaded) != len(files) {
		t.Fatalf("uploaded %d, skipped %+v", len(out.Uploaded), out.Skipped)
	}
	reader := ts.token(t, "photos.read")
	for i, u := range out.Uploaded {
		w := want[i]
		p := ts.getPhoto(t, u.ID)
		if p.MIMEType != w.mime || p.MediaType != "image" || filepath.Ext(p.StoredName) != w.ext || !strings.HasSuffix(p.URL, w.ext) {
			t.Errorf("%s: mime %q media %q stored %q url %q; want %s %s", u.Filename, p.MIMEType, p.MediaType, p.StoredName, p.URL, w.mime, w.ext)
		}
		if p.Filename != files[i].Name {
			t.Errorf("filename = %q, want %q", p.Filename, files[i].Name)
		}
		if p.Width == nil || p.Height == nil || *p.Width != w.w || *p.Height != w.h {
			t.Errorf("%s: %v x %v, want %dx%d", u.Filename, p.Width, p.Height, w.w, w.h)
		}
		if u.Width == nil || *u.Width != w.w || u.Height == nil || *u.Height != w.h {
			t.Errorf("%s: upload answer %v x %v, want %dx%d", u.Filename, u.Width, u.Height, w.w, w.h)
		}
		resp, body := ts.raw(t, http.MethodGet, p.URL, reader, nil, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != w.mime || !bytes.Equal(body, files[i].Data) {
			t.Errorf("%s: GET url %d %q, %d bytes", u.Filename, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		resp, body = ts.raw(t, http.MethodGet, p.ThumbnailURL, reader, nil, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
			t.Errorf("%s: thumbnail %d %q %.200s", u.Filename, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		} else if cfg, err := jpeg.DecodeConfig(bytes.NewReader(body)); err != nil || cfg.Width != w.w || cfg.Height != w.h {
			t.Errorf("%s: thumbnail %dx%d (%v), want %dx%d", u.Filename, cfg.Width, cfg.Height, err, w.w, w.h)
		}
	}
	// The thumbnail of the rotated photo stands upright.
	resp, body := ts.raw(t, http.MethodGet, out.Uploaded[3].ThumbnailURL, reader, nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("thumbnail: %d %s", resp.StatusCode, body)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("thumbnail: %v", err)
	}
	if cfg.Width != 300 || cfg.Height != 400 {
		t.Errorf("thumbnail of orientation-6 400x300 is %dx%d, want 300x400", cfg.Width, cfg.Height)
	}
	if p := ts.getPhoto(t, out.Uploaded[3].ID); p.Orientation != 6 {
		t.Errorf("orientation = %d, want 6", p.Orientation)
	}
}

// TestUploadVideo: an mp4 through the multipart route is stored as a video.
func TestUploadVideo(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Video"})
	data, err := os.ReadFile(mediatest.Video(t, t.TempDir(), "mp4", 1, 160, 120))
	if err != nil {
		t.Fatal(err)
	}
	id := ts.uploadOne(t, ev.ID, "clip.mp4", data)
	p := ts.getPhoto(t, id)
	if p.MediaType != "video" || p.MIMEType != "video/mp4" || !strings.HasSuffix(p.StoredName, ".mp4") {
		t.Errorf("media %q mime %q stored %q", p.MediaType, p.MIMEType, p.StoredName)
	}
	if p.Duration == nil || *p.Duration < 0.9 || *p.Duration > 1.2 {
		t.Errorf("duration = %v, want about 1 s", p.Duration)
	}
	if p.Width == nil || p.Height == nil || *p.Width != 160 || *p.Height != 120 {
		t.Errorf("dimensions %v x %v, want 160x120", p.Width, p.Height)
	}
	reader := ts.token(t, "photos.read")
	// The poster is a JPEG thumbnail; the video itself is served with ranges.
	resp, body := ts.raw(t, http.MethodGet, p.ThumbnailURL, reader, nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("poster: %d %q %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if cfg, err := jpeg.DecodeConfig(bytes.NewReader(body)); err != nil || cfg.Width != 160 || cfg.Height != 120 {
		t.Errorf("poster %+v %v, want a 160x120 JPEG", cfg, err)
	}
	resp, body = ts.raw(t, http.MethodGet, p.URL, reader, nil, map[string]string{"Range": "bytes=0-9"})
	if resp.StatusCode != 206 || resp.Header.Get("Content-Type") != "video/mp4" || !bytes.Equal(body, data[:10]) {
		t.Errorf("video range: %d %q %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
	// WebM is a video too.
	webm, err := os.ReadFile(mediatest.Video(t, t.TempDir(), "webm", 1, 160, 120))
	if err != nil {
		t.Fatal(err)
	}
	w := ts.getPhoto(t, ts.uploadOne(t, ev.ID, "clip.webm", webm))
	if w.MediaType != "video" || w.MIMEType != "video/webm" || w.Duration == nil {
		t.Errorf("webm: media %q mime %q duration %v", w.MediaType, w.MIMEType, w.Duration)
	}
	if l := ts.listPhotos(t, ev.ID, "media_type=video"); l.Total != 2 {
		t.Errorf("videos listed: %d", l.Total)
	}
}

// TestUploadVideoSizeCap: videos are held to general_max_video_size_mb, images to
// general_max_file_size_mb.
func TestUploadVideoSizeCap(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Video Cap"})
	ts.patchSettings(t, map[string]any{"general_max_video_size_mb": 1, "general_max_file_size_mb": 2})
	video, err := os.ReadFile(mediatest.Video(t, t.TempDir(), "mp4", 1, 160, 120))
	if err != nil {
		t.Fatal(err)
	}
	bigVideo := append(bytes.Clone(video), bytes.Repeat([]byte{0}, 1536<<10)...) // 1.5 MB
	bigImage := padTo(t, smallJPEG(1), 1536<<10, 9)
	out := ts.uploadOK(t, ev.ID, []uploadFile{{"big.mp4", bigVideo}, {"big.jpg", bigImage}, {"small.mp4", video}}, nil)
	if len(out.Uploaded) != 2 || out.Uploaded[0].Filename != "big.jpg" || out.Uploaded[1].Filename != "small.mp4" {
		t.Errorf("uploaded %+v", out.Uploaded)
	}
	if len(out.Skipped) != 1 || out.Skipped[0].Filename != "big.mp4" || out.Skipped[0].Code != "file_too_large" {
		t.Errorf("skipped %+v", out.Skipped)
	}
}

// TestUploadUndecodableImage: a JPEG whose header reads but whose data is cut off is
// stored (only the header is read at upload); its variants fail for good, so the
// thumbnail answers 409 variant_not_ready rather than an error 500, and the original
// stays downloadable.
func TestUploadUndecodableImage(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Half"})
	full := mediatest.JPEG(640, 480, 1, nil)
	half := full[:len(full)/2]
	id := ts.uploadOne(t, ev.ID, "half.jpg", half)
	var p server.PhotoResponse
	waitFor(t, "variants to fail", func() bool { p = ts.getPhoto(t, id); return p.VariantStatus == "failed" })
	resp, body := ts.raw(t, http.MethodGet, p.ThumbnailURL, ts.Admin, nil, nil)
	wantError(t, resp, body, 409, "variant_not_ready")
	resp, body = ts.raw(t, http.MethodGet, p.URL, ts.Admin, nil, nil)
	if resp.StatusCode != 200 || !bytes.Equal(body, half) {
		t.Errorf("original: %d, %d bytes", resp.StatusCode, len(body))
	}
}

// TestUploadSettingsApply: the allowed types and the per-file cap come from the settings.
func TestUploadSettingsApply(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Settings Apply"})
	ts.patchSettings(t, map[string]any{"general_allowed_file_types": []string{"jpg"}, "general_max_file_size_mb": 1})

	small := smallJPEG(1)
	big := padTo(t, smallJPEG(2), 1536<<10, 0x5a) // 1.5 MB: a JPEG with bytes after EOI
	exactly := padTo(t, smallJPEG(3), 1<<20, 0x33)
	files := []uploadFile{
		{"ok.jpg", small},
		{"pic.png", mediatest.PNG(32, 32, 1)},
		{"big.jpg", big},
		{"exactly-1mb.jpg", exactly},
	}
	out := ts.uploadOK(t, ev.ID, files, nil)
	if len(out.Uploaded) != 2 || out.Uploaded[0].Filename != "ok.jpg" || out.Uploaded[1].Filename != "exactly-1mb.jpg" {
		t.Fatalf("uploaded %+v skipped %+v", out.Uploaded, out.Skipped)
	}
	codes := map[string]string{}
	for _, s := range out.Skipped {
		codes[s.Filename] = s.Code
	}
	if codes["pic.png"] != "file_type_not_allowed" || codes["big.jpg"] != "file_too_large" || len(codes) != 2 {
		t.Errorf("skipped %+v", out.Skipped)
	}
	if n := len(ts.blobFiles(t, "originals")); n != 2 {
		t.Errorf("%d originals on disk, want 2", n)
	}
	// jpeg covers the same format as jpg.
	ts.patchSettings(t, map[string]any{"general_allowed_file_types": []string{"jpeg", "png"}, "general_max_file_size_mb": 50})
	out = ts.uploadOK(t, ev.ID, []uploadFile{{"pic.png", mediatest.PNG(32, 32, 1)}, {"big.jpg", big}}, nil)
	if len(out.Uploaded) != 2 {
		t.Errorf("after widening the settings: %+v", out)
	}
}

// multipartBody builds a multipart upload body in memory.
func multipartBody(t testing.TB, files []uploadFile, fields map[string]string) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range files {
		w, err := mw.CreateFormFile("photos", f.Name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(f.Data)
	}
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

// noneKept checks that a refused upload left no photo, no blob and no staged file.
func noneKept(t *testing.T, ts *testServer, eventID int64, wantCount int, originalsBefore []string) {
	t.Helper()
	if e := ts.getEvent(t, eventID); e.PhotoCount != wantCount {
		t.Errorf("photo_count = %d, want %d", e.PhotoCount, wantCount)
	}
	if l := ts.listPhotos(t, eventID, ""); l.Total != wantCount {
		t.Errorf("list total = %d, want %d", l.Total, wantCount)
	}
	if after := ts.blobFiles(t, "originals"); len(after) != len(originalsBefore) {
		t.Errorf("originals on disk %v, before %v", after, originalsBefore)
	}
	waitFor(t, "staged files to be removed", func() bool {
		left, _ := filepath.Glob(filepath.Join(ts.Cfg.TempDir(), "stage-*"))
		return len(left) == 0
	})
}

// TestUploadBatchRules: the whole request is refused and nothing is kept.
func TestUploadBatchRules(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(c *server.Config) { c.MaxBatchMB = 1 })
	ts.patchSettings(t, map[string]any{"general_max_files_per_upload": 3})
	ev := ts.createEvent(t, map[string]any{"name": "Batch", "photo_cap": 3})
	ts.uploadOK(t, ev.ID, []uploadFile{{"a.jpg", smallJPEG(1)}, {"b.jpg", smallJPEG(2)}}, nil)
	before := ts.blobFiles(t, "originals")

	t.Run("too many files", func(t *testing.T) {
		free := ts.createEvent(t, map[string]any{"name": "Batch Free"})
		var files []uploadFile
		for i := range 4 {
			files = append(files, uploadFile{fmt.Sprintf("f%d.jpg", i), smallJPEG(int64(10 + i))})
		}
		resp, body := ts.upload(t, free.ID, ts.Admin, files, nil)
		wantError(t, resp, body, 400, "too_many_files")
		noneKept(t, ts, free.ID, 0, before)
	})
	t.Run("photo cap exceeded", func(t *testing.T) {
		resp, body := ts.upload(t, ev.ID, ts.Admin, []uploadFile{{"c.jpg", smallJPEG(3)}, {"d.jpg", smallJPEG(4)}}, nil)
		e := wantError(t, resp, body, 400, "photo_cap_exceeded")
		if e.Details["photo_cap"] != float64(3) {
			t.Errorf("details %v", e.Details)
		}
		noneKept(t, ts, ev.ID, 2, before)
	})
	t.Run("unknown category keeps nothing", func(t *testing.T) {
		resp, body := ts.upload(t, ev.ID, ts.Admin, []uploadFile{{"c.jpg", smallJPEG(3)}}, map[string]string{"category_id": "nope"})
		wantError(t, resp, body, 404, "category_not_found")
		noneKept(t, ts, ev.ID, 2, before)
	})
	t.Run("no photos part", func(t *testing.T) {
		resp, body := ts.upload(t, ev.ID, ts.Admin, nil, map[string]string{"category_id": "x"})
		wantError(t, resp, body, 400, "no_files")
		resp, body = ts.upload(t, ev.ID, ts.Admin, nil, nil)
		wantError(t, resp, body, 400, "no_files")
	})
	t.Run("not multipart", func(t *testing.T) {
		resp, body := ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/events/%d/photos", ev.ID), ts.Admin, map[string]any{"photos": []string{"a"}})
		wantError(t, resp, body, 415, "unsupported_media_type")
		resp, body = ts.raw(t, http.MethodPost, fmt.Sprintf("/api/v1/events/%d/photos", ev.ID), ts.Admin, smallJPEG(9), map[string]string{"Content-Type": "image/jpeg"})
		wantError(t, resp, body, 415, "unsupported_media_type")
		noneKept(t, ts, ev.ID, 2, before)
	})
	t.Run("unknown event", func(t *testing.T) {
		resp, body := ts.upload(t, 99999, ts.Admin, []uploadFile{{"a.jpg", smallJPEG(1)}}, nil)
		wantError(t, resp, body, 404, "event_not_found")
	})
	t.Run("content-length over the batch limit", func(t *testing.T) {
		free := ts.createEvent(t, map[string]any{"name": "Batch Big"})
		body, ct := multipartBody(t, []uploadFile{{"big.jpg", padTo(t, smallJPEG(20), 2<<20, 1)}}, nil)
		req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/api/v1/events/%d/photos", ts.URL, free.ID), bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer "+ts.Admin)
		resp, rb := ts.send(t, req)
		e := wantError(t, resp, rb, 413, "batch_too_large")
		if !strings.Contains(e.Message, "/uploads") || !strings.Contains(e.Message, "chunked") {
			t.Errorf("message does not point at the chunked route: %q", e.Message)
		}
		noneKept(t, ts, free.ID, 0, before)
	})
	t.Run("chunked transfer over the batch limit", func(t *testing.T) {
		free := ts.createEvent(t, map[string]any{"name": "Batch Chunked"})
		body, ct := multipartBody(t, []uploadFile{{"a.jpg", smallJPEG(30)}, {"big.jpg", padTo(t, smallJPEG(31), 2<<20, 2)}}, nil)
		pr, pw := io.Pipe()
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for off := 0; off < len(body); off += 32 << 10 {
				if _, err := pw.Write(body[off:min(off+32<<10, len(body))]); err != nil {
					return
				}
			}
			pw.Close()
		}()
		req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/api/v1/events/%d/photos", ts.URL, free.ID), pr)
		req.ContentLength = -1
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer "+ts.Admin)
		resp, err := http.DefaultClient.Do(req)
		pr.CloseWithError(io.ErrClosedPipe)
		wg.Wait()
		if err != nil {
			t.Fatalf("chunked upload: %v", err)
		}
		rb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantError(t, resp, rb, 413, "batch_too_large")
		noneKept(t, ts, free.ID, 0, before)
	})
	t.Run("cap exactly reached", func(t *testing.T) {
		out := ts.uploadOK(t, ev.ID, []uploadFile{{"c.jpg", smallJPEG(3)}}, nil)
		if len(out.Uploaded) != 1 {
			t.Fatalf("%+v", out)
		}
		if e := ts.getEvent(t, ev.ID); e.PhotoCount != 3 {
			t.Errorf("photo_count = %d, want 3", e.PhotoCount)
		}
		resp, body := ts.upload(t, ev.ID, ts.Admin, []uploadFile{{"d.jpg", smallJPEG(4)}}, nil)
		wantError(t, resp, body, 400, "photo_cap_exceeded")
	})
}

// TestUploadDuplicateIntoFullEvent: a batch that only repeats bytes the event already
// holds adds nothing, so it cannot take the event past its cap: the files are skipped as
// duplicates (a client retrying a batch that did arrive must not get an error).
func TestUploadDuplicateIntoFullEvent(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Full", "photo_cap": 2})
	first := ts.uploadOK(t, ev.ID, []uploadFile{{"a.jpg", smallJPEG(1)}, {"b.jpg", smallJPEG(2)}}, nil)
	if len(first.Uploaded) != 2 {
		t.Fatalf("%+v", first)
	}
	resp, body := ts.upload(t, ev.ID, ts.Admin, []uploadFile{{"a-again.jpg", smallJPEG(1)}}, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("re-sending bytes the full event holds: %d %s, want 201 with the file skipped as duplicate", resp.StatusCode, body)
	}
	out := decode[server.UploadPhotosResponse](t, body)
	if len(out.Uploaded) != 0 || len(out.Skipped) != 1 || out.Skipped[0].Code != "duplicate" ||
		out.Skipped[0].PhotoID == nil || *out.Skipped[0].PhotoID != first.Uploaded[0].ID {
		t.Errorf("%+v", out)
	}
}

// TestUploadVariantsOnDisk: the worker makes the display copy and the thumbnail.
func TestUploadVariantsOnDisk(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Decode"})
	src := mediatest.JPEG(800, 600, 42, nil)
	id := ts.uploadOne(t, ev.ID, "big.jpg", src)
	p := ts.waitVariants(t, id)
	for _, f := range ts.photoFiles(p) {
		if !fileExists(f) {
			t.Errorf("%s missing after the variants were made", f)
		}
	}
	// The display copy is a JPEG no larger than the source.
	f, err := os.Open(ts.photoFiles(p)[1])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		t.Fatalf("display copy: %v", err)
	}
	if cfg.Width != 800 || cfg.Height != 600 {
		t.Errorf("display copy of 800x600 is %dx%d", cfg.Width, cfg.Height)
	}
}

// TestUploadMalformedMultipart: a body that is not well-formed multipart is the client's
// mistake (400 invalid_request), never a 499 to a client that is still there or a 500,
// and nothing is kept.
func TestUploadMalformedMultipart(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Malformed"})
	path := fmt.Sprintf("/api/v1/events/%d/photos", ev.ID)
	jpg := string(smallJPEG(1))
	cases := []struct {
		name string
		ct   string
		body string
	}{
		{"no boundary parameter", "multipart/form-data", "--xyz\r\n"},
		{"no closing boundary", "multipart/form-data; boundary=xyz",
			"--xyz\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n" + jpg},
		{"control character in a part header", "multipart/form-data; boundary=xyz",
			"--xyz\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"bad\x01name.jpg\"\r\n\r\n" + jpg + "\r\n--xyz--\r\n"},
		{"part without a header end", "multipart/form-data; boundary=xyz",
			"--xyz\r\nContent-Disposition form-data\r\n\r\n" + jpg + "\r\n--xyz--\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := ts.raw(t, http.MethodPost, path, ts.Admin, []byte(tc.body), map[string]string{"Content-Type": tc.ct})
			wantError(t, resp, body, 400, "invalid_request")
			noneKept(t, ts, ev.ID, 0, nil)
		})
	}
}

// TestUploadClientNames: the client's name is kept as metadata (base name only, cleaned)
// and never used in a path or URL.
func TestUploadClientNames(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ev := ts.createEvent(t, map[string]any{"name": "Names"})
	cases := []struct{ sent, want string }{
		{`C:\Users\anna\DSC_0001.jpg`, "DSC_0001.jpg"},
		{"../../etc/evil.jpg", "evil.jpg"},
		{"", "upload.jpg"},
		{"Hochzeit Müller.jpg", "Hochzeit Müller.jpg"},
		{"no extension", "no extension"},
	}
	for i, tc := range cases {
		out := ts.uploadOK(t, ev.ID, []uploadFile{{tc.sent, smallJPEG(int64(500 + i))}}, nil)
		if len(out.Uploaded) != 1 {
			t.Fatalf("%q: %+v", tc.sent, out)
		}
		u := out.Uploaded[0]
		if u.Filename != tc.want {
			t.Errorf("%q stored as %q, want %q", tc.sent, u.Filename, tc.want)
		}
		p := ts.getPhoto(t, u.ID)
		if p.Filename != tc.want || strings.Contains(p.StoredName, "..") || !strings.HasSuffix(p.StoredName, ".jpg") {
			t.Errorf("%q: filename %q stored_name %q", tc.sent, p.Filename, p.StoredName)
		}
	}
	for _, f := range ts.blobFiles(t, "") {
		if strings.Contains(f, "evil") || strings.Contains(f, "DSC") || strings.Contains(f, "Hochzeit") {
			t.Errorf("a client name reached the disk: %s", f)
		}
	}
}
