package media

import (
	"context"
	"slices"
	"testing"
)

// The ffmpeg command must confine itself to the one local file: the input
// options that do so have to come before -i, or ffmpeg applies them to
// nothing.
func TestFrameCommandArguments(t *testing.T) {
	var out, errOut cappedBuffer
	args := frameCommand(context.Background(), DefaultConfig(), "/data/tmp/abc", 1, &out, &errOut).GetArgs()
	i := slices.Index(args, "-i")
	if i < 0 || i+1 >= len(args) || args[i+1] != "file:/data/tmp/abc" {
		t.Fatalf("args %q: want -i file:/data/tmp/abc", args)
	}
	before := args[:i]
	for _, want := range [][2]string{{"-protocol_whitelist", "file"}, {"-ss", "1.000"}} {
		j := slices.Index(before, want[0])
		if j < 0 || j+1 >= len(before) || before[j+1] != want[1] {
			t.Errorf("args %q: want %s %s before -i", args, want[0], want[1])
		}
	}
	for _, want := range []string{"-hide_banner", "-nostdin", "pipe:1"} {
		if !slices.Contains(args, want) {
			t.Errorf("args %q: missing %s", args, want)
		}
	}
	if j := slices.Index(args, "-loglevel"); j < 0 || args[j+1] != "error" {
		t.Errorf("args %q: want -loglevel error", args)
	}

	probe := ffprobeArgs("/data/tmp/abc")
	if probe[len(probe)-1] != "file:/data/tmp/abc" || !slices.Contains(probe, "-protocol_whitelist") {
		t.Errorf("ffprobe args %q: want -protocol_whitelist and the file: input last", probe)
	}
}
