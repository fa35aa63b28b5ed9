package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/png"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/sync/singleflight"

	"github.com/gallerist/gallerist/media"
	"github.com/gallerist/gallerist/server/connector"
	"github.com/gallerist/gallerist/server/ingest"
	"github.com/gallerist/gallerist/server/queue"
	"github.com/gallerist/gallerist/server/variants"
	"github.com/gallerist/gallerist/server/webhook"
	"github.com/gallerist/gallerist/storage"
	"github.com/gallerist/gallerist/storage/blob"
)

// Version is the build's version, set with -ldflags "-X .../server.Version=v1.2.3".
var Version = "dev"

// Server is Gallerist's HTTP edge: it owns the route table, the background workers and
// the wiring between storage, blobs and media.
type Server struct {
	cfg      Config
	db       *storage.DB
	blobs    *blob.Local
	log      *slog.Logger
	echo     *echo.Echo
	media    media.Config
	limiter  *media.Limiter
	ingest   *ingest.Ingester
	variants *variants.Maker
	queue    *queue.Runner
	metrics  *metrics
	settings *settingsCache
	guard    *webhook.Guard
	// sealer encrypts connector credentials; connectors runs connector syncs.
	sealer     *connector.Sealer
	connectors *connector.Engine
	// logo is the watermark logo (GALLERIST_WATERMARK_LOGO); logoID names its bytes.
	logo   image.Image
	logoID string
	// attempts limits wrong gallery passwords.
	attempts      *attemptLimiter
	guestKeyOnce  sync.Once
	guestKeyBytes []byte
	// pages are the browser UI's templates and static files (server/pages.go).
	pages *pageSet
	// completions collapses concurrent completes of one upload session into one.
	completions singleflight.Group
	http        *http.Server
	addr        chan string
	stopOnce    sync.Once
}

// Deps are the parts a Server is built on.
type Deps struct {
	DB     *storage.DB
	Blobs  *blob.Local
	Logger *slog.Logger
}

// New builds a Server from a validated configuration and its dependencies.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.TempDir(), 0o750); err != nil {
		return nil, fmt.Errorf("create temp folder: %w", err)
	}
	mc := media.DefaultConfig()
	mc.MaxPixels = cfg.MaxImagePixels
	mc.FFmpegPath, mc.FFprobePath = cfg.FFmpegPath, cfg.FFprobePath
	s := &Server{
		cfg:      cfg,
		db:       deps.DB,
		blobs:    deps.Blobs,
		log:      deps.Logger,
		media:    mc,
		limiter:  media.NewLimiter(cfg.MediaMemoryMB << 20),
		addr:     make(chan string, 1),
		attempts: newAttemptLimiter(),
	}
	if cfg.WatermarkLogo != "" {
		b, err := os.ReadFile(cfg.WatermarkLogo)
		if err != nil {
			return nil, fmt.Errorf("GALLERIST_WATERMARK_LOGO: %w", err)
		}
		logo, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("GALLERIST_WATERMARK_LOGO: not a PNG: %w", err)
		}
		sum := sha256.Sum256(b)
		s.logo, s.logoID = logo, hex.EncodeToString(sum[:8])
	}
	s.metrics = newMetrics(s)
	s.settings = newSettingsCache(deps.DB)
	s.ingest = &ingest.Ingester{DB: deps.DB, Blobs: deps.Blobs, TempDir: cfg.TempDir(), Media: mc, Grace: cfg.BlobGrace}
	s.variants = &variants.Maker{DB: deps.DB, Blobs: deps.Blobs, TempDir: cfg.TempDir(), Media: mc, Limiter: s.limiter,
		Log: deps.Logger, Observe: s.metrics.observeThumbnail}
	s.queue = queue.New(deps.DB, queue.Options{Workers: cfg.MediaWorkers, Logger: deps.Logger})
	s.queue.Handle(variants.JobKind, s.variants.HandleJob)
	s.queue.Handle(jobJanitor, s.runJanitorJob)
	guard, err := webhook.NewGuard(cfg.WebhookAllowedHosts)
	if err != nil {
		return nil, err
	}
	s.guard = guard
	deliverer := &webhook.Deliverer{DB: deps.DB, Guard: guard, Timeout: cfg.WebhookTimeout, Schedule: cfg.WebhookRetrySchedule,
		Log: deps.Logger, Version: Version}
	s.queue.Handle(webhook.JobKind, deliverer.HandleJob)
	if s.sealer, err = connector.NewSealer(cfg.ConnectorKey); err != nil {
		return nil, err
	}
	s.connectors = &connector.Engine{DB: deps.DB, Blobs: deps.Blobs, Sealer: s.sealer, Log: deps.Logger, Ensure: s.variants.Ensure,
		MediaURL: s.connectorMediaURL, VerifyTimeout: cfg.ConnectorVerifyTimeout,
		HTTP: &http.Client{Timeout: cfg.ConnectorTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	s.queue.Handle(connector.JobKind, s.connectors.HandleJob)
	deps.DB.SetConnectorAutoSync(connector.JobKind, cfg.ConnectorAutoSyncDelay)
	// Changes announce themselves in their own transactions from now on.
	deps.DB.SetAnnouncer(webhook.Announcer{}, webhook.JobKind, deliverer.MaxAttempts())
	s.echo = s.newEcho()
	return s, nil
}

// Connectors returns the engine that runs connector syncs (tests tune its waits and
// set its crash hook through it).
func (s *Server) Connectors() *connector.Engine { return s.connectors }

// Handler returns the HTTP handler with every route.
func (s *Server) Handler() http.Handler { return s.echo }

// Addr returns the address the server listens on once Run has started listening.
func (s *Server) Addr(ctx context.Context) (string, error) {
	select {
	case a := <-s.addr:
		s.addr <- a
		return a, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// StartBackground starts the job workers and the janitor. The returned function stops
// them: workers stop claiming and finish the jobs in hand, waiting at most until ctx is
// done (a job cut short is claimed again when its lease expires).
func (s *Server) StartBackground(ctx context.Context) (stop func(ctx context.Context)) {
	// The HEIC decoder compiles its WebAssembly on first use; do it now, not in a request.
	go media.Warm()
	workCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.queue.Run(workCtx) }()
	go func() { defer wg.Done(); s.scheduleJanitor(workCtx) }()
	return func(ctx context.Context) {
		cancel()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			s.log.Warn("background jobs did not finish in time; their leases will expire and they will run again")
		}
	}
}

// Run listens on cfg.Listen, serves until ctx is done, then stops gracefully: it stops
// accepting connections, lets in-flight requests finish (up to ShutdownTimeout), lets the
// workers finish their jobs, and returns.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
	}
	s.http = &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	url := "http://" + ln.Addr().String()
	s.log.Info("listening", "addr", ln.Addr().String(), "url", url, "data_dir", s.cfg.DataDir)
	s.addr <- ln.Addr().String()

	stopWork := s.StartBackground(ctx)

	serveErr := make(chan error, 1)
	go func() { serveErr <- s.http.Serve(ln) }()

	select {
	case err := <-serveErr:
		stopWork(context.Background())
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "timeout", s.cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err = s.http.Shutdown(shutdownCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("in-flight requests did not finish in time")
	}
	stopWork(shutdownCtx)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	s.log.Info("stopped")
	return nil
}
