package mediatest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// VideoCreationTime is the creation_time tag Video writes into every file.
const VideoCreationTime = "2026-05-12T13:23:11Z"

// FFmpeg returns the path of the ffmpeg binary, or fails the test with the
// install step when it is missing: tests that need ffmpeg never skip.
func FFmpeg(t testing.TB) string {
	t.Helper()
	return tool(t, "ffmpeg", "ffmpeg not found: apt-get install ffmpeg")
}

// HeifEnc returns the path of libheif's heif-enc, or fails the test with the
// install step when it is missing.
func HeifEnc(t testing.TB) string {
	t.Helper()
	return tool(t, "heif-enc", "heif-enc not found: apt-get install libheif-examples")
}

func tool(t testing.TB, name, missing string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s (%v)", missing, err)
	}
	return p
}

// Video writes a test-pattern video (ffmpeg's lavfi testsrc, 25 fps, no
// audio) of the given length and size into dir and returns its path. format
// is "mp4" or "mov" (H.264, moov atom at the end as ffmpeg writes it by
// default), "webm" (VP9) or "avi" (MPEG-4 part 2). w and h must be even.
// The creation_time tag is VideoCreationTime (AVI has no place for it).
// The test fails when ffmpeg is missing.
func Video(t testing.TB, dir string, format string, seconds float64, w, h int) string {
	t.Helper()
	var codec []string
	switch format {
	case "mp4", "mov":
		codec = []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"}
	case "webm":
		codec = []string{"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "0", "-crf", "45", "-pix_fmt", "yuv420p"}
	case "avi":
		codec = []string{"-c:v", "mpeg4", "-q:v", "5"}
	default:
		t.Fatalf("mediatest.Video: unknown format %q (want mp4, mov, webm or avi)", format)
	}
	out := filepath.Join(dir, fmt.Sprintf("testsrc-%dx%d-%ss.%s", w, h, strconv.FormatFloat(seconds, 'f', -1, 64), format))
	src := fmt.Sprintf("testsrc=duration=%s:size=%dx%d:rate=25", strconv.FormatFloat(seconds, 'f', -1, 64), w, h)
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", src}
	args = append(args, codec...)
	args = append(args, "-metadata", "creation_time="+VideoCreationTime, out)
	run(t, FFmpeg(t), args...)
	return out
}

// WebP writes a lossless WebP with alpha of the PNG picture (see PNG, seed 1)
// into dir and returns its path. golang.org/x/image has no WebP encoder, so
// this uses ffmpeg's libwebp encoder; the test fails when ffmpeg is missing.
func WebP(t testing.TB, dir string, w, h int) string {
	t.Helper()
	src := filepath.Join(dir, fmt.Sprintf("webp-src-%dx%d.png", w, h))
	if err := os.WriteFile(src, PNG(w, h, 1), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, fmt.Sprintf("picture-%dx%d.webp", w, h))
	run(t, FFmpeg(t), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
		"-i", src, "-c:v", "libwebp", "-lossless", "1", out)
	return out
}

// HEIC writes an HEIC file of the JPEG picture (see JPEG) with the given
// EXIF into dir and returns its path. It runs libheif's heif-enc, which keeps
// the Exif block (EXIF orientation included) but writes no rotation into the
// container; when ccw is not 0, an irot property rotating the picture ccw
// degrees counter-clockwise is then added to the primary item, as phones do.
// w and h must be even. The test fails when heif-enc is missing (Debian
// package libheif-examples).
func HEIC(t testing.TB, dir string, w, h int, seed int64, exif *EXIF, ccw int) string {
	t.Helper()
	name := fmt.Sprintf("heic-%dx%d-%d-irot%d", w, h, seed, ccw)
	if exif != nil {
		name += fmt.Sprintf("-o%d", exif.Orientation)
	}
	src := filepath.Join(dir, name+".jpg")
	if err := os.WriteFile(src, JPEG(w, h, seed, exif), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name+".heic")
	run(t, HeifEnc(t), "-q", "80", "-o", out, src)
	if ccw == 0 {
		return out
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := addRotation(data, ccw)
	if err != nil {
		t.Fatalf("mediatest.HEIC: add irot to heif-enc output: %v", err)
	}
	if err := os.WriteFile(out, rotated, 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

func run(t testing.TB, bin string, args ...string) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(bin), args, err, out)
	}
}
