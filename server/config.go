package server

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Config is every setting of a Gallerist server. Each field is read from its
// GALLERIST_* environment variable (env tag); some also have a command-line flag (flag
// tag) that overrides the environment. Defaults are in DefaultConfig.
// docs/configuration.md lists every variable; a test keeps the two in step.
type Config struct {
	// Listen is the TCP address the HTTP server listens on.
	Listen string `env:"GALLERIST_LISTEN" flag:"listen"`
	// DataDir holds the SQLite database, the blobs and temporary files.
	DataDir string `env:"GALLERIST_DATA_DIR" flag:"data-dir"`
	// BaseURL is the public URL of the server (for share links), e.g. https://photos.example.com.
	BaseURL string `env:"GALLERIST_BASE_URL" flag:"base-url"`
	// TrustedProxies lists the proxy addresses or CIDRs whose X-Forwarded-For header is
	// believed for the client's address. Empty: no proxy is trusted.
	TrustedProxies []string `env:"GALLERIST_TRUSTED_PROXIES" flag:"trusted-proxies"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `env:"GALLERIST_LOG_LEVEL" flag:"log-level"`
	// LogFormat is text or json.
	LogFormat string `env:"GALLERIST_LOG_FORMAT" flag:"log-format"`
	// ShutdownTimeout bounds how long a graceful stop waits for in-flight requests and jobs.
	ShutdownTimeout time.Duration `env:"GALLERIST_SHUTDOWN_TIMEOUT"`
	// MaxBatchMB caps the size of one multipart upload request; larger files use chunked uploads.
	MaxBatchMB int64 `env:"GALLERIST_MAX_BATCH_MB"`
	// MaxImagePixels refuses images whose header declares more pixels (decompression bombs).
	MaxImagePixels int64 `env:"GALLERIST_MAX_IMAGE_PIXELS"`
	// MediaWorkers is how many background workers make thumbnails and display copies.
	MediaWorkers int `env:"GALLERIST_MEDIA_WORKERS"`
	// MediaMemoryMB is the budget of decoded pixels (in MB) that image work may hold at once.
	MediaMemoryMB int64 `env:"GALLERIST_MEDIA_MEMORY_MB"`
	// MemoryLimitMB is the Go runtime's soft memory limit in MB; 0 derives it from
	// MediaMemoryMB (see MemoryLimit). GOMEMLIMIT in the environment takes precedence.
	MemoryLimitMB int64 `env:"GALLERIST_MEMORY_LIMIT_MB"`
	// FFmpegPath is the ffmpeg binary used for video posters.
	FFmpegPath string `env:"GALLERIST_FFMPEG_PATH"`
	// FFprobePath is the ffprobe binary used to read video metadata.
	FFprobePath string `env:"GALLERIST_FFPROBE_PATH"`
	// UploadExpiry is how long a chunked upload session lives; the janitor then removes it
	// and its chunks.
	UploadExpiry time.Duration `env:"GALLERIST_UPLOAD_EXPIRY"`
	// ChunkSizeMB is the chunk size given to new chunked upload sessions.
	ChunkSizeMB int64 `env:"GALLERIST_CHUNK_SIZE_MB"`
	// WebhookAllowedHosts lists receiver hosts, IPs or CIDRs that may be on loopback,
	// private or link-local addresses (refused otherwise, against SSRF).
	WebhookAllowedHosts []string `env:"GALLERIST_WEBHOOK_ALLOWED_HOSTS"`
	// WebhookTimeout bounds one webhook request.
	WebhookTimeout time.Duration `env:"GALLERIST_WEBHOOK_TIMEOUT"`
	// WebhookRetrySchedule is the wait before each retry of a failed delivery; its length
	// is the number of retries.
	WebhookRetrySchedule []time.Duration `env:"GALLERIST_WEBHOOK_RETRY_SCHEDULE"`
	// WebhookSecretGrace is how long the previous secret keeps signing after a rotation.
	WebhookSecretGrace time.Duration `env:"GALLERIST_WEBHOOK_SECRET_GRACE"`
	// AccelRedirect, when set (e.g. /_gallerist_files), hands file bytes to nginx: answers
	// carry X-Accel-Redirect: <AccelRedirect>/<blob key>, an internal location aliased to
	// <data dir>/blobs/. Only with the local blob store behind nginx.
	AccelRedirect string `env:"GALLERIST_ACCEL_REDIRECT"`
	// WatermarkLogo is a PNG drawn on protected variants (enhanced and maximum protection),
	// besides the event's watermark text.
	WatermarkLogo string `env:"GALLERIST_WATERMARK_LOGO"`
	// JanitorInterval is how often orphaned blobs and temporary files are removed.
	JanitorInterval time.Duration `env:"GALLERIST_JANITOR_INTERVAL"`
	// BlobGrace is how long an unfinished upload's bytes are kept before the janitor may
	// remove them; it must exceed the longest upload request.
	BlobGrace time.Duration `env:"GALLERIST_BLOB_GRACE"`
	// ConnectorKey encrypts connector credentials at rest: 32 bytes as 64 hex digits or
	// base64 (openssl rand -hex 32). Connectors cannot be created without it. Secret.
	ConnectorKey string `env:"GALLERIST_CONNECTOR_KEY"`
	// ConnectorAutoSyncDelay is how long after the last upload to an event an automatic
	// connector sync starts (each upload pushes it back).
	ConnectorAutoSyncDelay time.Duration `env:"GALLERIST_CONNECTOR_AUTO_SYNC_DELAY"`
	// ConnectorVerifyTimeout is how long Brilliant Directories may take to import a photo
	// before the row counts as a silent failure and is sent again.
	ConnectorVerifyTimeout time.Duration `env:"GALLERIST_CONNECTOR_VERIFY_TIMEOUT"`
	// ConnectorTimeout bounds one request to a connector platform (a file upload
	// included); a write that times out is reconciled before it is sent again.
	ConnectorTimeout time.Duration `env:"GALLERIST_CONNECTOR_TIMEOUT"`
}

// DefaultConfig returns the configuration used when nothing is set.
func DefaultConfig() Config {
	return Config{
		Listen:          "127.0.0.1:8080",
		DataDir:         "./data",
		LogLevel:        "info",
		LogFormat:       "text",
		ShutdownTimeout: 30 * time.Second,
		MaxBatchMB:      100,
		MaxImagePixels:  150_000_000,
		MediaWorkers:    runtime.GOMAXPROCS(0),
		MediaMemoryMB:   512,
		FFmpegPath:      "ffmpeg",
		FFprobePath:     "ffprobe",
		UploadExpiry:    24 * time.Hour,
		ChunkSizeMB:     8,
		JanitorInterval: 10 * time.Minute,
		WebhookTimeout:  10 * time.Second,
		WebhookRetrySchedule: []time.Duration{30 * time.Second, 2 * time.Minute, 10 * time.Minute, time.Hour,
			6 * time.Hour, 24 * time.Hour},
		WebhookSecretGrace:     24 * time.Hour,
		BlobGrace:              time.Hour,
		ConnectorAutoSyncDelay: 2 * time.Minute,
		ConnectorVerifyTimeout: 15 * time.Minute,
		ConnectorTimeout:       2 * time.Minute,
	}
}

// LoadEnv overrides c with every GALLERIST_* variable that getenv returns non-empty.
func (c *Config) LoadEnv(getenv func(string) string) error {
	var errs []error
	forEachField(c, func(f reflect.StructField, v reflect.Value) {
		name := f.Tag.Get("env")
		raw := getenv(name)
		if raw == "" {
			return
		}
		if err := setField(v, raw); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	})
	return errors.Join(errs...)
}

// RegisterFlags adds a flag for every field with a flag tag; parsing the flag set
// overrides the environment.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	forEachField(c, func(f reflect.StructField, v reflect.Value) {
		name := f.Tag.Get("flag")
		if name == "" {
			return
		}
		fs.Func(name, fmt.Sprintf("%s (env %s, default %q)", fieldDoc(f.Name), f.Tag.Get("env"), formatField(v)), func(s string) error {
			return setField(v, s)
		})
	})
}

// EnvVars lists every environment variable the configuration reads.
func EnvVars() []string {
	var out []string
	var c Config
	forEachField(&c, func(f reflect.StructField, _ reflect.Value) { out = append(out, f.Tag.Get("env")) })
	return out
}

// Validate checks the configuration; each error names its variable.
func (c *Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	if _, _, err := splitHostPort(c.Listen); err != nil {
		bad("GALLERIST_LISTEN", "%v", err)
	}
	if strings.TrimSpace(c.DataDir) == "" {
		bad("GALLERIST_DATA_DIR", "must not be empty")
	}
	if c.BaseURL != "" && !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://") {
		bad("GALLERIST_BASE_URL", "must start with http:// or https://, got %q", c.BaseURL)
	}
	for _, p := range c.TrustedProxies {
		if _, err := parsePrefix(p); err != nil {
			bad("GALLERIST_TRUSTED_PROXIES", "%q is not an IP address or CIDR", p)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("GALLERIST_LOG_LEVEL", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		bad("GALLERIST_LOG_FORMAT", "must be text or json, got %q", c.LogFormat)
	}
	if c.ShutdownTimeout <= 0 {
		bad("GALLERIST_SHUTDOWN_TIMEOUT", "must be positive")
	}
	if c.MaxBatchMB < 1 {
		bad("GALLERIST_MAX_BATCH_MB", "must be at least 1")
	}
	if c.MaxImagePixels < 1 {
		bad("GALLERIST_MAX_IMAGE_PIXELS", "must be positive")
	}
	if c.MediaWorkers < 1 {
		bad("GALLERIST_MEDIA_WORKERS", "must be at least 1")
	}
	if c.MediaMemoryMB < 64 {
		bad("GALLERIST_MEDIA_MEMORY_MB", "must be at least 64")
	}
	if c.MemoryLimitMB != 0 && c.MemoryLimitMB < 64 {
		bad("GALLERIST_MEMORY_LIMIT_MB", "must be 0 (derived) or at least 64")
	}
	if c.UploadExpiry < time.Minute {
		bad("GALLERIST_UPLOAD_EXPIRY", "must be at least 1m")
	}
	if c.ChunkSizeMB < 1 || c.ChunkSizeMB > 256 {
		bad("GALLERIST_CHUNK_SIZE_MB", "must be from 1 to 256")
	}
	if c.WebhookTimeout <= 0 || c.WebhookTimeout > 5*time.Minute {
		bad("GALLERIST_WEBHOOK_TIMEOUT", "must be from 1ns to 5m")
	}
	if len(c.WebhookRetrySchedule) > 20 {
		bad("GALLERIST_WEBHOOK_RETRY_SCHEDULE", "at most 20 retries")
	}
	for _, d := range c.WebhookRetrySchedule {
		if d <= 0 {
			bad("GALLERIST_WEBHOOK_RETRY_SCHEDULE", "every wait must be positive")
			break
		}
	}
	if c.ConnectorAutoSyncDelay < 0 {
		bad("GALLERIST_CONNECTOR_AUTO_SYNC_DELAY", "must not be negative")
	}
	if c.ConnectorVerifyTimeout <= 0 {
		bad("GALLERIST_CONNECTOR_VERIFY_TIMEOUT", "must be positive")
	}
	if c.ConnectorTimeout <= 0 {
		bad("GALLERIST_CONNECTOR_TIMEOUT", "must be positive")
	}
	if c.WebhookSecretGrace < 0 {
		bad("GALLERIST_WEBHOOK_SECRET_GRACE", "must not be negative")
	}
	for _, h := range c.WebhookAllowedHosts {
		if strings.Contains(h, "/") {
			if _, err := netip.ParsePrefix(h); err != nil {
				bad("GALLERIST_WEBHOOK_ALLOWED_HOSTS", "%q is not a CIDR", h)
			}
		}
	}
	if c.AccelRedirect != "" && (!strings.HasPrefix(c.AccelRedirect, "/") || strings.ContainsAny(c.AccelRedirect, " ?#")) {
		bad("GALLERIST_ACCEL_REDIRECT", "must be a path such as /_gallerist_files")
	}
	if c.JanitorInterval <= 0 {
		bad("GALLERIST_JANITOR_INTERVAL", "must be positive")
	}
	if c.BlobGrace <= 0 {
		bad("GALLERIST_BLOB_GRACE", "must be positive")
	}
	return errors.Join(errs...)
}

// DatabasePath is the SQLite file inside the data folder.
func (c *Config) DatabasePath() string { return filepath.Join(c.DataDir, "gallerist.db") }

// BlobDir is the folder of the local blob store.
func (c *Config) BlobDir() string { return filepath.Join(c.DataDir, "blobs") }

// TempDir is where uploads are staged before they become blobs.
func (c *Config) TempDir() string { return filepath.Join(c.DataDir, "tmp") }

// trustedPrefixes parses TrustedProxies (validated).
func (c *Config) trustedPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range c.TrustedProxies {
		if pr, err := parsePrefix(p); err == nil {
			out = append(out, pr)
		}
	}
	return out
}

func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func splitHostPort(addr string) (string, int, error) {
	i := strings.LastIndex(addr, ":")
	if i < 0 {
		return "", 0, fmt.Errorf("%q has no port", addr)
	}
	port, err := strconv.Atoi(addr[i+1:])
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q has no valid port", addr)
	}
	return addr[:i], port, nil
}

func forEachField(c *Config, fn func(reflect.StructField, reflect.Value)) {
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("env") != "" {
			fn(t.Field(i), v.Field(i))
		}
	}
}

func setField(v reflect.Value, raw string) error {
	raw = strings.TrimSpace(raw)
	switch v.Interface().(type) {
	case string:
		v.SetString(raw)
	case time.Duration:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return fmt.Errorf("not a duration (like 30s or 5m): %q", raw)
		}
		v.SetInt(int64(d))
	case int, int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return fmt.Errorf("not a whole number: %q", raw)
		}
		v.SetInt(n)
	case bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("not true or false: %q", raw)
		}
		v.SetBool(b)
	case []time.Duration:
		var list []time.Duration
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			d, err := time.ParseDuration(s)
			if err != nil {
				return fmt.Errorf("not a list of durations (like 30s,2m,1h): %q", raw)
			}
			list = append(list, d)
		}
		v.Set(reflect.ValueOf(list))
	case []string:
		var list []string
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, s)
			}
		}
		v.Set(reflect.ValueOf(list))
	default:
		return fmt.Errorf("unsupported setting type %s", v.Type())
	}
	return nil
}

func formatField(v reflect.Value) string {
	if l, ok := v.Interface().([]string); ok {
		return strings.Join(l, ",")
	}
	if l, ok := v.Interface().([]time.Duration); ok {
		parts := make([]string, len(l))
		for i, d := range l {
			parts[i] = d.String()
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v.Interface())
}

// fieldDoc turns a field name into words for flag help: "BaseURL" → "base url".
func fieldDoc(name string) string {
	var b strings.Builder
	rs := []rune(name)
	for i, r := range rs {
		upper := r >= 'A' && r <= 'Z'
		if i > 0 && upper {
			prevLower := rs[i-1] >= 'a' && rs[i-1] <= 'z'
			nextLower := i+1 < len(rs) && rs[i+1] >= 'a' && rs[i+1] <= 'z'
			if prevLower || nextLower {
				b.WriteByte(' ')
			}
		}
		b.WriteRune(r)
	}
	return strings.ToLower(b.String())
}

// MemoryLimit returns the soft memory limit, in bytes, for runtime/debug.SetMemoryLimit:
// MemoryLimitMB when set, else 64 MiB for the server itself (SQLite, HTTP and upload
// buffers) plus half the decode budget, 320 MiB by default. Image work holds about half
// of what media.DecodeCost reserves for it in Go memory (the estimate is an upper bound),
// so the garbage collector runs before the heap doubles past the live data; a soft
// limit is exceeded, never enforced, when live data needs more.
func (c Config) MemoryLimit() int64 {
	if c.MemoryLimitMB > 0 {
		return c.MemoryLimitMB << 20
	}
	return (64 + c.MediaMemoryMB/2) << 20
}
