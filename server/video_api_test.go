package server_test

// Videos through the API (issue 3): every container, through the chunked route and the
// multipart route; metadata from ffprobe (rotation applied), a JPEG poster in the right
// orientation, and the original served with Range.

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gallerist/gallerist/media/mediatest"
	"github.com/gallerist/gallerist/server"
)

// videoClip is a test video and what the server must find in it.
type videoClip struct {
	name     string
	filename string
	data     []byte
	mime     string
	ext      string // of the stored name
	codec    string
	w, h     int // as displayed
	seconds  float64
	captured bool // the file carries a creation time
}

// ffmpegRun runs ffmpeg with args (quiet, overwrite).
func ffmpegRun(t testing.TB, args ...string) {
	t.Helper()
	cmd := exec.Command(mediatest.FFmpeg(t), append([]string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func readClip(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// videoClips makes one clip per container and the special cases: an M4V, a phone-style
// H.264 clip recorded in landscape with a 90° display rotation, and a clip shorter than
// the 1 s poster position.
func videoClips(t testing.TB) []videoClip {
	t.Helper()
	clip := func(format string, seconds float64, w, h int) []byte {
		return readClip(t, mediatest.Video(t, t.TempDir(), format, seconds, w, h))
	}
	mp4 := mediatest.Video(t, t.TempDir(), "mp4", 1, 320, 240)
	m4v := filepath.Join(t.TempDir(), "clip.m4v")
	// The ipod muxer writes the M4V major brand; creation_time is not copied by -c copy.
	ffmpegRun(t, "-i", mp4, "-c", "copy", "-f", "ipod", "-metadata", "creation_time="+mediatest.VideoCreationTime, m4v)
	if b := readClip(t, m4v); string(b[4:12]) != "ftypM4V " {
		t.Fatalf("m4v brand %q", b[4:12])
	}
	landscape := mediatest.Video(t, t.TempDir(), "mp4", 1, 1280, 720)
	rotated := filepath.Join(t.TempDir(), "phone.mp4")
	// With ffmpeg 5.1 the rotate tag becomes a display matrix only with -c copy.
	ffmpegRun(t, "-i", landscape, "-c", "copy", "-metadata:s:v:0", "rotate=90", "-metadata", "creation_time="+mediatest.VideoCreationTime, rotated)

	webm := clip("webm", 1, 320, 240)
	if !bytes.Contains(webm[:min(len(webm), 4096)], []byte("V_VP9")) {
		t.Fatalf("mediatest's WebM is not VP9")
	}
	return []videoClip{
		{"mp4", "clip.mp4", readClip(t, mp4), "video/mp4", "mp4", "h264", 320, 240, 1, true},
		{"webm", "clip.webm", webm, "video/webm", "webm", "vp9", 320, 240, 1, true},
		{"mov", "clip.mov", clip("mov", 1, 320, 240), "video/quicktime", "mov", "h264", 320, 240, 1, true},
		{"avi", "clip.avi", clip("avi", 1, 320, 240), "video/x-msvideo", "avi", "mpeg4", 320, 240, 1, false},
		{"m4v", "clip.m4v", readClip(t, m4v), "video/mp4", "mp4", "h264", 320, 240, 1, true},
		{"rotated phone clip", "IMG_0001.MP4", readClip(t, rotated), "video/mp4", "mp4", "h264", 720, 1280, 1, true},
		{"half a second", "short.mp4", clip("mp4", 0.5, 320, 240), "video/mp4", "mp4", "h264", 320, 240, 0.5, true},
	}
}

// checkVideo checks everything the server says and serves about a stored clip.
func checkVideo(t *testing.T, ts *testServer, c videoClip, p server.PhotoResponse) {
	t.Helper()
	if p.MediaType != "video" || p.MIMEType != c.mime || !strings.HasSuffix(p.StoredName, "."+c.ext) || p.Filename != c.filename {
		t.Errorf("media_type %q mime_type %q stored_name %q filename %q; want video, %s, .%s, %s", p.MediaType, p.MIMEType, p.StoredName, p.Filename, c.mime, c.ext, c.filename)
	}
	if p.Width == nil || p.Height == nil || *p.Width != c.w || *p.Height != c.h {
		t.Errorf("dimensions %v x %v, want %dx%d", deref(p.Width), deref(p.Height), c.w, c.h)
	}
	if p.Duration == nil || math.Abs(*p.Duration-c.seconds) > 0.1 {
		t.Errorf("duration %v, want %.2f ± 0.1 s", deref(p.Duration), c.seconds)
	}
	if p.VideoCodec != c.codec {
		t.Errorf("video_codec %q, want %q", p.VideoCodec, c.codec)
	}
	if c.captured {
		want, _ := time.Parse(time.RFC3339, mediatest.VideoCreationTime)
		if p.CapturedAt == nil {
			t.Errorf("captured_at missing, want %s", mediatest.VideoCreationTime)
		} else if got, err := time.Parse(time.RFC3339, *p.CapturedAt); err != nil || !got.Equal(want) {
			t.Errorf("captured_at %q, want %s", *p.CapturedAt, mediatest.VideoCreationTime)
		}
	} else if p.CapturedAt != nil {
		t.Errorf("captured_at %q for a file without a creation time", *p.CapturedAt)
	}

	p = ts.waitVariants(t, p.ID)
	resp, b := ts.raw(t, http.MethodGet, p.ThumbnailURL, ts.Admin, nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("poster: %d %q %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("poster is not a JPEG: %v", err)
	}
	pw, ph := img.Bounds().Dx(), img.Bounds().Dy()
	if (ph > pw) != (c.h > c.w) || math.Abs(float64(pw)/float64(ph)-float64(c.w)/float64(c.h)) > 0.03 {
		t.Errorf("poster %dx%d, want the shape of %dx%d", pw, ph, c.w, c.h)
	}
	if max(pw, ph) > 400 || max(pw, ph) < min(400, max(c.w, c.h)) {
		t.Errorf("poster %dx%d, want a long edge of min(400, %d)", pw, ph, max(c.w, c.h))
	}
	if l := meanLuma(img); l < 40 {
		t.Errorf("poster is nearly black (mean luma %.0f): no frame was taken", l)
	}

	// The original: whole, then ranges.
	resp, b = fetchOriginal(t, ts, p.ID, nil)
	if resp.StatusCode != 200 || !bytes.Equal(b, c.data) || resp.Header.Get("Content-Type") != c.mime || resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("download: %d %q accept-ranges %q, %d bytes (want %d)", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Accept-Ranges"), len(b), len(c.data))
	}
	n := len(c.data)
	for _, r := range []struct {
		header     string
		start, end int // inclusive
	}{
		{"bytes=100-1123", 100, 1123},
		{"bytes=0-0", 0, 0},
		{"bytes=-256", n - 256, n - 1},
		{fmt.Sprintf("bytes=%d-", n-1000), n - 1000, n - 1},
	} {
		resp, b := fetchOriginal(t, ts, p.ID, map[string]string{"Range": r.header})
		wantCR := fmt.Sprintf("bytes %d-%d/%d", r.start, r.end, n)
		if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Range") != wantCR ||
			resp.Header.Get("Content-Type") != c.mime || !bytes.Equal(b, c.data[r.start:r.end+1]) {
			t.Errorf("Range %s: %d %q %q, %d bytes; want 206 %s", r.header, resp.StatusCode, resp.Header.Get("Content-Range"), resp.Header.Get("Content-Type"), len(b), wantCR)
		}
	}
	resp, b = fetchOriginal(t, ts, p.ID, map[string]string{"Range": fmt.Sprintf("bytes=%d-", n+10)})
	wantError(t, resp, b, 416, "range_not_satisfiable")
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// meanLuma is the average brightness (0-255) of img.
func meanLuma(img image.Image) float64 {
	var sum float64
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			sum += (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 257
		}
	}
	return sum / float64(b.Dx()*b.Dy())
}

// TestVideoUploads: each clip through the chunked route (several chunks when it is large
// enough) and through the multipart route, into separate events (the same bytes twice in
// one event would be a duplicate).
func TestVideoUploads(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, chunkMB(1))
	clips := videoClips(t)
	chunkedEv := ts.createEvent(t, map[string]any{"name": "Videos chunked"})
	multipartEv := ts.createEvent(t, map[string]any{"name": "Videos multipart"})
	for _, c := range clips {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			t.Run("chunked", func(t *testing.T) {
				s := openChunked(t, ts, ts.Admin, chunkedEv.ID, c.filename, c.mime, c.data, nil)
				// Last chunk first: the order of arrival does not matter.
				for i := s.ChunkCount - 1; i >= 0; i-- {
					s.putOK(t, i)
				}
				checkVideo(t, ts, c, s.completeOK(t))
			})
			t.Run("multipart", func(t *testing.T) {
				out := ts.uploadOK(t, multipartEv.ID, []uploadFile{{c.filename, c.data}}, nil)
				if len(out.Uploaded) != 1 || len(out.Skipped) != 0 {
					t.Fatalf("multipart: uploaded %+v skipped %+v", out.Uploaded, out.Skipped)
				}
				u := out.Uploaded[0]
				if u.MediaType != "video" || u.Width == nil || *u.Width != c.w || u.Height == nil || *u.Height != c.h || u.Size != int64(len(c.data)) {
					t.Errorf("multipart answer %+v", u)
				}
				checkVideo(t, ts, c, ts.getPhoto(t, u.ID))
			})
		})
	}
	t.Run("listed as videos", func(t *testing.T) {
		t.Parallel()
		// Runs after the clips' subtests (parallel subtests start together; wait for them).
		waitFor(t, "every clip stored", func() bool {
			return ts.getEvent(t, chunkedEv.ID).PhotoCount == len(clips) && ts.getEvent(t, multipartEv.ID).PhotoCount == len(clips)
		})
		for _, ev := range []int64{chunkedEv.ID, multipartEv.ID} {
			if l := ts.listPhotos(t, ev, "media_type=video"); l.Total != len(clips) {
				t.Errorf("event %d: %d videos listed, want %d", ev, l.Total, len(clips))
			}
			if l := ts.listPhotos(t, ev, "media_type=image"); l.Total != 0 {
				t.Errorf("event %d: %d images listed, want 0", ev, l.Total)
			}
		}
	})
}

// TestVideoChunkedMultiChunk: a video larger than a chunk, assembled from chunks sent out
// of order, is the same video.
func TestVideoChunkedMultiChunk(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, chunkMB(1))
	ev := ts.createEvent(t, map[string]any{"name": "Video in chunks"})
	clip := readClip(t, mediatest.Video(t, t.TempDir(), "mp4", 1, 640, 360))
	data := mp4WithFreeBox(t, clip, 3*mib+12345)
	c := videoClip{"padded", "padded.mp4", data, "video/mp4", "mp4", "h264", 640, 360, 1, true}
	s := openChunked(t, ts, ts.Admin, ev.ID, c.filename, c.mime, data, map[string]any{"sha256": hexSHA256(data)})
	if s.ChunkCount != 4 {
		t.Fatalf("chunk_count %d, want 4", s.ChunkCount)
	}
	s.putAll(t, 2, 0, 3, 1)
	checkVideo(t, ts, c, s.completeOK(t))
}

// TestVideoChunkedWithoutFFmpeg: a chunked video on a server without ffmpeg is still
// kept (metadata unknown, variants failed), and a retry once ffmpeg is there makes its
// poster.
func TestVideoChunkedWithoutFFmpeg(t *testing.T) {
	t.Parallel()
	data := readClip(t, mediatest.Video(t, t.TempDir(), "mp4", 1.5, 320, 240))
	missing := filepath.Join(t.TempDir(), "no-ffmpeg")
	ts := newTestServer(t, chunkMB(1), func(c *server.Config) { c.FFmpegPath = missing; c.FFprobePath = missing })
	ev := ts.createEvent(t, map[string]any{"name": "No ffmpeg"})
	s := openChunked(t, ts, ts.Admin, ev.ID, "walk.mp4", "video/mp4", data, nil)
	s.putAll(t)
	p := s.completeOK(t)
	if p.MediaType != "video" || p.MIMEType != "video/mp4" || p.Width != nil || p.Duration != nil {
		t.Fatalf("stored without ffprobe: %+v", p)
	}
	waitFor(t, "variants to fail", func() bool { return ts.getPhoto(t, p.ID).VariantStatus == "failed" })
	resp, b := ts.raw(t, http.MethodGet, p.ThumbnailURL, ts.Admin, nil, nil)
	wantError(t, resp, b, 409, "variant_not_ready")
	wantOriginal(t, ts, p.ID, data)

	ts = restartTestServer(t, ts, chunkMB(1))
	resp, b = ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/photos/%d/variants", p.ID), ts.Admin, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("retry variants: %d %s", resp.StatusCode, b)
	}
	ts.waitVariants(t, p.ID)
	resp, b = ts.raw(t, http.MethodGet, p.ThumbnailURL, ts.Admin, nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("poster after retry: %d %.200s", resp.StatusCode, b)
	}
	if _, err := jpeg.Decode(bytes.NewReader(b)); err != nil {
		t.Fatalf("poster after retry: %v", err)
	}
}
