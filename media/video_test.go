package media_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gallerist/gallerist/media"
	"github.com/gallerist/gallerist/media/mediatest"
)

func TestVideoProbeAndDerivatives(t *testing.T) {
	dir := t.TempDir()
	cfg := media.DefaultConfig()
	cfg.DisplaySize, cfg.ThumbSize = 480, 160 // ffmpeg must scale the 640x360 frame
	for _, format := range []string{"mp4", "webm", "mov", "avi"} {
		t.Run(format, func(t *testing.T) {
			p := mediatest.Video(t, dir, format, 2, 640, 360)
			head, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if f, err := media.Sniff(head[:media.SniffLen]); err != nil || string(f) != format {
				t.Errorf("Sniff = %q, %v; want %s", f, err, format)
			}

			info, sizes, display, thumb := derive(t, cfg, p)
			if string(info.Format) != format || info.Width != 640 || info.Height != 360 || info.Orientation != 1 {
				t.Errorf("Probe = %s %s orientation %d, want %s 640x360 orientation 1", info.Format, dims(info.Width, info.Height), info.Orientation, format)
			}
			if math.Abs(info.Duration-2) > 0.1 {
				t.Errorf("Duration = %.3f, want 2", info.Duration)
			}
			want, _ := time.Parse(time.RFC3339, mediatest.VideoCreationTime)
			switch {
			case format == "avi": // RIFF AVI has no creation time ffmpeg writes
				if info.CapturedAt != nil {
					t.Errorf("CapturedAt = %v, want nil", info.CapturedAt)
				}
			case info.CapturedAt == nil || !info.CapturedAt.Equal(want) || !info.CapturedAtHasOffset:
				t.Errorf("CapturedAt = %v (offset %v), want %s", info.CapturedAt, info.CapturedAtHasOffset, want)
			}
			if sizes != (media.DerivativeSizes{DisplayWidth: 480, DisplayHeight: 270, ThumbWidth: 160, ThumbHeight: 90}) {
				t.Errorf("sizes = %+v, want display 480x270, thumb 160x90", sizes)
			}
			if len(display) == 0 || len(thumb) == 0 {
				t.Error("empty output")
			}
		})
	}
}

// colourVideo writes an mp4 that is red for redSeconds, then blue for
// blueSeconds (blueSeconds 0: red only).
func colourVideo(t *testing.T, redSeconds, blueSeconds float64) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "colours.mp4")
	graph := "color=c=red:s=320x240:r=25:d=" + ftoa(redSeconds)
	if blueSeconds > 0 {
		graph = "color=c=red:s=320x240:r=25:d=" + ftoa(redSeconds) + "[a];" +
			"color=c=blue:s=320x240:r=25:d=" + ftoa(blueSeconds) + "[b];[a][b]concat=n=2"
	}
	ffmpeg(t, "-f", "lavfi", "-i", graph, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", out)
	return out
}

func ffmpeg(t *testing.T, args ...string) {
	t.Helper()
	args = append([]string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y"}, args...)
	if out, err := exec.Command(mediatest.FFmpeg(t), args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// frameColour names the colour in the middle of a derivative.
func frameColour(t *testing.T, b []byte) string {
	img := decodeJPEG(t, b)
	r, _, bl, _ := img.At(img.Bounds().Dx()/2, img.Bounds().Dy()/2).RGBA()
	switch {
	case r>>8 > 200 && bl>>8 < 60:
		return "red"
	case bl>>8 > 200 && r>>8 < 60:
		return "blue"
	}
	return "other"
}

// The poster is the frame at 1 s; a video shorter than that gives its first
// frame rather than nothing.
func TestVideoPosterTiming(t *testing.T) {
	_, _, display, _ := derive(t, media.DefaultConfig(), colourVideo(t, 0.6, 1.4))
	if got := frameColour(t, display); got != "blue" {
		t.Errorf("2 s video (red until 0.6 s, then blue): poster is %s, want blue (the frame at 1 s)", got)
	}
	info, sizes, display, _ := derive(t, media.DefaultConfig(), colourVideo(t, 0.4, 0))
	if info.Duration >= 1 || info.Duration <= 0 {
		t.Errorf("Duration = %.3f, want 0.4", info.Duration)
	}
	if got := frameColour(t, display); got != "red" || sizes.DisplayWidth != 320 {
		t.Errorf("0.4 s video: poster %s, %d wide; want red, 320", got, sizes.DisplayWidth)
	}
	// The same short video with no Duration known (as from a container that
	// does not say): the seek to 1 s finds nothing and the poster falls back
	// to the first frame.
	p := colourVideo(t, 0.4, 0)
	var d bytes.Buffer
	if _, err := media.Derivatives(context.Background(), media.DefaultConfig(), p,
		media.Info{Format: media.FormatMP4, Width: 320, Height: 240, Orientation: 1}, &d, discard{}); err != nil {
		t.Fatal(err)
	}
	if got := frameColour(t, d.Bytes()); got != "red" {
		t.Errorf("fallback poster is %s, want red", got)
	}
}

// A phone video filmed upright is stored landscape with a display matrix;
// Probe and the poster both follow it.
func TestVideoRotation(t *testing.T) {
	src := mediatest.Video(t, t.TempDir(), "mp4", 2, 640, 360)
	rotated := filepath.Join(t.TempDir(), "rotated.mp4")
	ffmpeg(t, "-i", src, "-c", "copy", "-metadata:s:v:0", "rotate=90", rotated)
	info, sizes, _, _ := derive(t, media.DefaultConfig(), rotated)
	if info.Width != 360 || info.Height != 640 {
		t.Errorf("Probe %s, want 360x640", dims(info.Width, info.Height))
	}
	if sizes.DisplayWidth != 360 || sizes.DisplayHeight != 640 || sizes.ThumbWidth != 225 || sizes.ThumbHeight != 400 {
		t.Errorf("sizes = %+v, want display 360x640, thumb 225x400", sizes)
	}
}

func TestVideoErrors(t *testing.T) {
	ctx := context.Background()
	p := mediatest.Video(t, t.TempDir(), "mp4", 1, 160, 120)

	t.Run("ffprobe missing", func(t *testing.T) {
		cfg := media.DefaultConfig()
		cfg.FFprobePath = filepath.Join(t.TempDir(), "no-ffprobe")
		if _, err := media.Probe(ctx, cfg, p); !errors.Is(err, media.ErrFFmpegMissing) {
			t.Errorf("error = %v, want ErrFFmpegMissing", err)
		}
		cfg.FFprobePath = "gallerist-no-such-ffprobe"
		if _, err := media.Probe(ctx, cfg, p); !errors.Is(err, media.ErrFFmpegMissing) {
			t.Errorf("not in PATH: error = %v, want ErrFFmpegMissing", err)
		}
	})
	t.Run("ffmpeg missing", func(t *testing.T) {
		cfg := media.DefaultConfig()
		info, err := media.Probe(ctx, cfg, p)
		if err != nil {
			t.Fatal(err)
		}
		cfg.FFmpegPath = "gallerist-no-such-ffmpeg"
		if _, err := media.Derivatives(ctx, cfg, p, info, discard{}, discard{}); !errors.Is(err, media.ErrFFmpegMissing) {
			t.Errorf("error = %v, want ErrFFmpegMissing", err)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		// ffmpeg writes the moov atom last: without it nothing can be read.
		cut := writeFile(t, "cut.mp4", data[:len(data)/2])
		if _, err := media.Probe(ctx, media.DefaultConfig(), cut); !errors.Is(err, media.ErrCorruptFile) {
			t.Errorf("Probe error = %v, want ErrCorruptFile", err)
		}
	})
	t.Run("too many pixels", func(t *testing.T) {
		cfg := media.DefaultConfig()
		cfg.MaxPixels = 160*120 - 1
		if _, err := media.Probe(ctx, cfg, p); !errors.Is(err, media.ErrTooManyPixels) {
			t.Errorf("error = %v, want ErrTooManyPixels", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		info := media.Info{Format: media.FormatMP4, Width: 160, Height: 120, Duration: 1, Orientation: 1}
		if _, err := media.Derivatives(cctx, media.DefaultConfig(), p, info, discard{}, discard{}); !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
	})
}
