package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/gallerist/gallerist/storage"
)

// Handler does the work of one job. Returning nil finishes the job; an error retries it
// later, unless it is wrapped by Permanent.
type Handler func(ctx context.Context, job *storage.Job) error

// Options tune a Runner; zero values take the defaults.
type Options struct {
	Workers    int           // concurrent jobs (default 2)
	Lease      time.Duration // how long a claim holds without renewal before another process may take the job (default 15s); renewed every Lease/3 while the job runs
	Poll       time.Duration // how often idle workers look for due jobs (default 1s)
	JobTimeout time.Duration // longest a single run may take (default 10m)
	Backoff    func(attempt int) time.Duration
	Logger     *slog.Logger
}

// Runner claims and runs jobs.
type Runner struct {
	db       *storage.DB
	opts     Options
	owner    string
	mu       sync.RWMutex
	handlers map[string]Handler
	wake     chan struct{}
}

// New makes a Runner over db.
func New(db *storage.DB, opts Options) *Runner {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.Lease <= 0 {
		opts.Lease = 15 * time.Second
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.JobTimeout <= 0 {
		opts.JobTimeout = 10 * time.Minute
	}
	if opts.Backoff == nil {
		opts.Backoff = ExponentialBackoff(2*time.Second, time.Hour)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return &Runner{db: db, opts: opts, owner: "runner-" + hex.EncodeToString(b), handlers: map[string]Handler{}, wake: make(chan struct{}, 1)}
}

// Handle registers the handler of a job kind.
func (r *Runner) Handle(kind string, h Handler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handlers[kind] = h
}

// Notify wakes an idle worker, for a job that was just enqueued.
func (r *Runner) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent wraps err so that the job is kept as dead at once instead of retried.
func Permanent(err error) error { return permanentError{err} }

// retryError asks for the next try after a given delay instead of the runner's backoff.
type retryError struct {
	err   error
	after time.Duration
}

func (r retryError) Error() string { return r.err.Error() }
func (r retryError) Unwrap() error { return r.err }

// RetryAfter wraps err so that the job's next try comes after d (a handler with its own
// schedule, such as webhook deliveries). The job's max attempts still apply.
func RetryAfter(err error, d time.Duration) error { return retryError{err, d} }

// deferError asks for the job to wait and run again after a delay, without counting
// the attempt (the job waits for something; it did not fail).
type deferError struct {
	err   error
	after time.Duration
}

func (d deferError) Error() string { return d.err.Error() }
func (d deferError) Unwrap() error { return d.err }

// Defer wraps err so that the job runs again after d without spending one of its
// attempts: for a job that must wait (for another job, for a platform still working).
func Defer(err error, d time.Duration) error { return deferError{err, d} }

// ExponentialBackoff returns base·2^(attempt-1), capped, with ±20% jitter so that jobs
// failing together do not retry together.
func ExponentialBackoff(base, ceiling time.Duration) func(int) time.Duration {
	return func(attempt int) time.Duration {
		d := time.Duration(float64(base) * math.Pow(2, float64(max(attempt-1, 0))))
		if d > ceiling || d <= 0 {
			d = ceiling
		}
		jitter := 0.8 + 0.4*mrand.Float64()
		return time.Duration(float64(d) * jitter)
	}
}

// Run works until ctx is done, then stops claiming and waits for the jobs in hand to
// finish (they are not cancelled by ctx, only by their own timeout).
func (r *Runner) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range r.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.work(ctx)
		}()
	}
	wg.Wait()
}

func (r *Runner) work(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-r.wake:
		}
		// Drain every due job before sleeping again.
		for ctx.Err() == nil {
			ran, err := r.RunOne(ctx)
			if err != nil {
				r.opts.Logger.Error("job queue", "error", err)
				break
			}
			if !ran {
				break
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(r.opts.Poll)
	}
}

// RunOne claims and runs at most one due job. It reports whether it ran one.
func (r *Runner) RunOne(ctx context.Context) (bool, error) {
	job, err := r.db.ClaimJob(ctx, r.owner, r.opts.Lease)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return false, nil
		}
		return false, err
	}
	r.run(job)
	return true, nil
}

func (r *Runner) run(job *storage.Job) {
	log := r.opts.Logger.With("job_id", job.ID, "kind", job.Kind, "attempt", job.Attempts)
	// A job runs to the end even when the runner is stopping: a stop waits for it.
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.JobTimeout)
	defer cancel()
	// A short lease, renewed while the job runs: a job whose process died is taken over
	// within one lease, and a long job is never taken from a live worker.
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		t := time.NewTicker(r.opts.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				err := r.db.ExtendJobLease(ctx, job.ID, r.owner, r.opts.Lease)
				if errors.Is(err, storage.ErrLeaseLost) {
					// Another worker took the job while this one stalled: stop, so that
					// the job never runs twice at once.
					log.Warn("job lease lost to another worker; stopping this run")
					cancel()
					return
				}
				if err != nil && ctx.Err() == nil {
					log.Warn("renew job lease", "error", err)
				}
			}
		}
	}()
	defer func() { cancel(); <-renewed }()
	r.mu.RLock()
	h, ok := r.handlers[job.Kind]
	r.mu.RUnlock()
	var err error
	switch {
	case job.Attempts > job.MaxAttempts:
		// Its earlier runs died with their process (the lease ran out each time): a job
		// that keeps killing its worker must not be tried forever.
		err = Permanent(fmt.Errorf("gave up after %d attempts whose workers died", job.MaxAttempts))
	case !ok:
		err = Permanent(fmt.Errorf("no handler for job kind %q", job.Kind))
	default:
		err = safeRun(ctx, h, job)
	}
	if err == nil {
		if cerr := r.db.CompleteJob(ctx, job.ID, r.owner); cerr != nil {
			log.Error("complete job", "error", cerr)
		}
		return
	}
	var wait deferError
	if errors.As(err, &wait) {
		if derr := r.db.DeferJob(context.WithoutCancel(ctx), job.ID, r.owner, err.Error(), time.Now().Add(wait.after)); derr != nil {
			log.Error("defer job", "error", derr)
		}
		return
	}
	var retryAt *time.Time
	var perm permanentError
	var after retryError
	if !errors.As(err, &perm) && job.Attempts < job.MaxAttempts {
		d := r.opts.Backoff(job.Attempts)
		if errors.As(err, &after) {
			d = after.after
		}
		t := time.Now().Add(d)
		retryAt = &t
	}
	if retryAt == nil {
		log.Error("job failed for good; kept as dead", "error", err)
	} else {
		log.Warn("job failed; will retry", "error", err, "retry_at", retryAt.UTC().Format(time.RFC3339))
	}
	if rerr := r.db.RetryJob(ctx, job.ID, r.owner, err.Error(), retryAt); rerr != nil {
		log.Error("record job failure", "error", rerr)
	}
}

// safeRun turns a handler panic into a permanent failure instead of a crash.
func safeRun(ctx context.Context, h Handler, job *storage.Job) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = Permanent(fmt.Errorf("job panicked: %v", p))
		}
	}()
	return h(ctx, job)
}
