package media

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io/fs"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	ffmpeg "github.com/u2takey/ffmpeg-go"
)

// Video work runs ffprobe and ffmpeg as child processes. Their arguments are
// built in ffprobeArgs and frameCommand, one argument per line with why.

// posterAt is where the poster frame is taken, in seconds: past the black or
// fading first frames most videos open with.
const posterAt = 1.0

// Output caps: ffprobe's JSON for one video stream is a few KB, ffmpeg's
// frame a JPEG of the display size; stderr is kept for the error message.
const (
	maxProbeOutput = 1 << 20
	maxFrameOutput = 64 << 20
	maxStderr      = 8 << 10
)

// containers lists, per format, the ffprobe format_name of the demuxer that
// must have opened the file. ffprobe looks at the content, not at our sniff,
// so this confirms both agree before ffmpeg reads the file again.
var containers = map[Format]string{
	FormatMP4:  "mov,mp4,m4a,3gp,3g2,mj2",
	FormatMOV:  "mov,mp4,m4a,3gp,3g2,mj2",
	FormatWebM: "matroska,webm",
	FormatAVI:  "avi",
}

// ffprobeArgs returns the ffprobe arguments that describe the first video
// stream and the container of path as JSON.
func ffprobeArgs(path string) []string {
	return []string{
		"-hide_banner",       // no version banner on stderr
		"-loglevel", "error", // stderr only carries real errors
		"-protocol_whitelist", "file", // the input, and anything it references, must be a local file
		"-select_streams", "V:0", // the first video stream that is not a cover picture
		"-show_entries", probeEntries, // only the fields we read
		"-print_format", "json", // machine-readable output on stdout
		"file:" + path, // "file:": the path is never read as another protocol
	}
}

// probeEntries are the fields ffprobe reports: container name, duration and
// tags (creation time); stream size, duration, rotation and tags.
const probeEntries = "format=format_name,duration:format_tags:" +
	"stream=codec_type,codec_name,width,height,duration:stream_tags:stream_side_data=rotation"

// probeOutput is the part of ffprobe's JSON that probeVideo reads.
type probeOutput struct {
	Format struct {
		FormatName string            `json:"format_name"`
		Duration   string            `json:"duration"`
		Tags       map[string]string `json:"tags"`
	} `json:"format"`
	Streams []struct {
		CodecType    string            `json:"codec_type"`
		CodecName    string            `json:"codec_name"`
		Width        int               `json:"width"`
		Height       int               `json:"height"`
		Duration     string            `json:"duration"`
		Tags         map[string]string `json:"tags"`
		SideDataList []struct {
			Rotation *float64 `json:"rotation"`
		} `json:"side_data_list"`
	} `json:"streams"`
}

// probeVideo runs ffprobe on path and fills Info from its first video stream.
func probeVideo(ctx context.Context, cfg Config, path string, format Format) (Info, error) {
	var stdout, stderr cappedBuffer
	stdout.max, stderr.max = maxProbeOutput, maxStderr
	cmd := exec.CommandContext(ctx, cfg.FFprobePath, ffprobeArgs(path)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := runErr(ctx, "ffprobe", cmd.Run(), &stderr); err != nil {
		return Info{}, err
	}
	var out probeOutput
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return Info{}, fmt.Errorf("ffprobe output: %w", err)
	}
	if want := containers[format]; out.Format.FormatName != want {
		return Info{}, fmt.Errorf("%w: sniffed %s but ffprobe reads container %q", ErrUnsupportedFormat, format, out.Format.FormatName)
	}
	if len(out.Streams) == 0 || out.Streams[0].CodecType != "video" {
		return Info{}, fmt.Errorf("%w: no video stream", ErrCorruptFile)
	}
	s := out.Streams[0]
	w, h := s.Width, s.Height
	if err := checkPixels(w, h, cfg.MaxPixels); err != nil {
		return Info{}, err
	}
	if quarterTurn(rotation(s.Tags, s.SideDataList)) {
		w, h = h, w
	}
	info := Info{Format: format, Width: w, Height: h, Orientation: 1, VideoCodec: s.CodecName}
	info.Duration = parseSeconds(out.Format.Duration)
	if info.Duration == 0 {
		info.Duration = parseSeconds(s.Duration)
	}
	if t, ok := creationTime(out.Format.Tags, s.Tags); ok {
		info.CapturedAt, info.CapturedAtHasOffset = &t, true
	}
	return info, nil
}

// rotation returns the display rotation in degrees from the display matrix
// side data (ffmpeg 5+) or the older "rotate" tag.
func rotation(tags map[string]string, side []struct {
	Rotation *float64 `json:"rotation"`
}) float64 {
	for _, sd := range side {
		if sd.Rotation != nil {
			return *sd.Rotation
		}
	}
	if r, err := strconv.ParseFloat(tags["rotate"], 64); err == nil {
		return r
	}
	return 0
}

// quarterTurn reports whether a rotation of deg degrees swaps width and height.
func quarterTurn(deg float64) bool {
	r := math.Mod(math.Abs(math.Round(deg)), 180)
	return r == 90
}

// parseSeconds parses ffprobe's duration, 0 when absent ("N/A") or invalid.
func parseSeconds(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0
	}
	return v
}

// creationTime reads when a video was recorded. Apple's
// com.apple.quicktime.creationdate carries the local offset and wins; the
// creation_time of the container (or stream) is UTC by definition. Zero
// dates (1904 or 1970 epochs written by cameras without a clock) are ignored.
func creationTime(formatTags, streamTags map[string]string) (time.Time, bool) {
	get := func(tags map[string]string, key string) string {
		for k, v := range tags {
			if strings.EqualFold(k, key) {
				return v
			}
		}
		return ""
	}
	layouts := []string{time.RFC3339Nano, "2006-01-02T15:04:05-0700", "2006-01-02T15:04:05.999999Z"}
	for _, v := range []string{
		get(formatTags, "com.apple.quicktime.creationdate"),
		get(formatTags, "creation_time"),
		get(streamTags, "creation_time"),
	} {
		for _, layout := range layouts {
			t, err := time.Parse(layout, strings.TrimSpace(v))
			if err != nil || t.Year() <= 1970 {
				continue
			}
			t = t.Truncate(time.Second)
			if _, off := t.Zone(); off == 0 {
				t = t.UTC()
			}
			return t, true
		}
	}
	return time.Time{}, false
}

// silenceOnce turns off ffmpeg-go's logging of every command line. The flag
// is a package global in ffmpeg-go, so it is set once, before the first
// command is built, and never written again.
var silenceOnce sync.Once

// frameCommand builds the ffmpeg command that writes one frame of path,
// taken at seek seconds and scaled to fit cfg.DisplaySize, as a JPEG on
// stdout. ffmpeg-go sorts keyword arguments alphabetically within each
// group and puts the global arguments last, which ffmpeg accepts.
func frameCommand(ctx context.Context, cfg Config, path string, seek float64, stdout, stderr *cappedBuffer) *ffmpeg.Stream {
	silenceOnce.Do(func() { ffmpeg.Input("").Silent(true) })

	// Fit the display size, after ffmpeg's own rotation, keeping the aspect
	// ratio and never upscaling. Quotes keep the commas inside min() from
	// splitting the filter graph.
	long := strconv.Itoa(cfg.DisplaySize)
	scale := "scale=w='min(iw," + long + ")':h='min(ih," + long + ")':force_original_aspect_ratio=decrease"

	input := ffmpeg.Input("file:"+path, ffmpeg.KwArgs{ // "file:": the path is never read as another protocol
		"protocol_whitelist": "file",                                // the input, and anything it references, must be a local file
		"ss":                 strconv.FormatFloat(seek, 'f', 3, 64), // before -i: seek in the input rather than decode up to it
	})
	s := input.Output("pipe:1", ffmpeg.KwArgs{ // the frame goes to stdout, never to a file
		"map":      "0:V:0",      // the first video stream that is not a cover picture
		"frames:v": 1,            // one frame, then stop
		"vf":       scale,        // scaled in ffmpeg, so only display-size pixels cross the pipe
		"c:v":      "mjpeg",      // encode the frame as JPEG
		"q:v":      2,            // near-lossless: we decode it and re-encode at cfg.JPEGQuality
		"format":   "image2pipe", // a bare image stream on a pipe
	}).GlobalArgs(
		"-hide_banner",       // no version banner on stderr
		"-nostdin",           // never read the terminal
		"-loglevel", "error", // stderr only carries real errors, kept for our error message
	)
	// GlobalArgs starts a new stream with a background context: set ours
	// now, before WithOutput and WithErrorOutput derive from it.
	s.Context = ctx
	return s.SetFfmpegPath(cfg.FFmpegPath).WithOutput(stdout).WithErrorOutput(stderr)
}

// extractFrame runs frameCommand and returns the JPEG bytes, empty when the
// seek went past the last frame.
func extractFrame(ctx context.Context, cfg Config, path string, seek float64) ([]byte, error) {
	var stdout, stderr cappedBuffer
	stdout.max, stderr.max = maxFrameOutput, maxStderr
	err := frameCommand(ctx, cfg, path, seek, &stdout, &stderr).Run()
	if err := runErr(ctx, "ffmpeg", err, &stderr); err != nil {
		return nil, err
	}
	if stdout.truncated {
		return nil, fmt.Errorf("ffmpeg: frame larger than %d bytes", maxFrameOutput)
	}
	return stdout.Bytes(), nil
}

// videoFrame returns the poster frame of a video as the display copy.
func videoFrame(ctx context.Context, cfg Config, path string, info Info) (*image.NRGBA, error) {
	seek := posterAt
	if info.Duration > 0 && info.Duration < posterAt {
		seek = 0
	}
	frame, err := extractFrame(ctx, cfg, path, seek)
	if err == nil && len(frame) == 0 && seek > 0 {
		frame, err = extractFrame(ctx, cfg, path, 0)
	}
	if err != nil {
		return nil, err
	}
	if len(frame) == 0 {
		return nil, fmt.Errorf("%w: ffmpeg found no video frame", ErrCorruptFile)
	}
	img, err := jpeg.Decode(bytes.NewReader(frame))
	if err != nil {
		return nil, fmt.Errorf("decode ffmpeg frame: %w", err)
	}
	// ffmpeg already scaled it; fit only guards the size and converts.
	disp := fit(img, cfg.DisplaySize)
	flatten(disp)
	return disp, nil
}

// runErr turns a child process failure into this package's errors: a
// missing binary is ErrFFmpegMissing, a cancelled ctx is the ctx error, and
// a failed run is ErrCorruptFile with the end of stderr.
func runErr(ctx context.Context, name string, err error, stderr *cappedBuffer) error {
	if err == nil {
		return nil
	}
	// A bare name missing from PATH gives exec.ErrNotFound; a path that
	// does not exist gives fork/exec's ENOENT, which is fs.ErrNotExist.
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s: %w", ErrFFmpegMissing, name, err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", name, ctx.Err())
	}
	msg := strings.TrimSpace(stderr.String())
	if msg == "" {
		msg = err.Error()
	}
	return fmt.Errorf("%w: %s: %s", ErrCorruptFile, name, msg)
}

// cappedBuffer keeps the first max bytes written and drops the rest, so a
// misbehaving child cannot grow our memory. It reports the writes as
// complete, so the child is not killed by a broken pipe.
type cappedBuffer struct {
	bytes.Buffer
	max       int
	truncated bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room < len(p) {
		b.truncated = true
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
