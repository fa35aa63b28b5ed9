package media

// Config bounds the media work. Zero fields take the DefaultConfig value, so
// a zero Config is usable.
type Config struct {
	// MaxPixels refuses images (and videos) whose header declares more
	// pixels than this, before anything is decoded.
	MaxPixels int64
	// DisplaySize is the long edge, in pixels, of the display copy. Smaller
	// sources are never upscaled.
	DisplaySize int
	// ThumbSize is the long edge, in pixels, of the thumbnail, which is made
	// from the display copy.
	ThumbSize int
	// JPEGQuality is the quality (1-100) of the display copy and thumbnail.
	JPEGQuality int
	// FFmpegPath and FFprobePath name the binaries for video work; a bare
	// name is looked up in PATH.
	FFmpegPath, FFprobePath string
}

// DefaultConfig returns the defaults: 150 megapixels, a 2048 px display
// copy, a 400 px thumbnail, quality 85, and ffmpeg and ffprobe from PATH.
func DefaultConfig() Config {
	return Config{
		MaxPixels:   150_000_000,
		DisplaySize: 2048,
		ThumbSize:   400,
		JPEGQuality: 85,
		FFmpegPath:  "ffmpeg",
		FFprobePath: "ffprobe",
	}
}

// withDefaults fills zero fields from DefaultConfig and clamps the quality.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxPixels <= 0 {
		c.MaxPixels = d.MaxPixels
	}
	if c.DisplaySize <= 0 {
		c.DisplaySize = d.DisplaySize
	}
	if c.ThumbSize <= 0 {
		c.ThumbSize = d.ThumbSize
	}
	if c.JPEGQuality <= 0 {
		c.JPEGQuality = d.JPEGQuality
	}
	c.JPEGQuality = min(c.JPEGQuality, 100)
	if c.FFmpegPath == "" {
		c.FFmpegPath = d.FFmpegPath
	}
	if c.FFprobePath == "" {
		c.FFprobePath = d.FFprobePath
	}
	return c
}
