package queue_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gallerist/gallerist/server/queue"
	"github.com/gallerist/gallerist/storage"
)

func mustOpenDB(t *testing.T, path string) *storage.DB {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "q.db")
	}
	db, err := storage.Open(context.Background(), storage.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

type payload struct {
	N int `json:"n"`
}

func enqueue(t *testing.T, db *storage.DB, kind string, n int) {
	t.Helper()
	if _, err := db.EnqueueJob(context.Background(), kind, payload{N: n}, time.Now()); err != nil {
		t.Fatal(err)
	}
}

func runUntil(t *testing.T, r *queue.Runner, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}

func counts(t *testing.T, db *storage.DB) map[string]int {
	t.Helper()
	c, err := db.JobCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRunsEachJobOnceAndRemovesIt(t *testing.T) {
	db := mustOpenDB(t, "")
	var mu sync.Mutex
	seen := map[int]int{}
	r := queue.New(db, queue.Options{Workers: 3, Poll: 10 * time.Millisecond})
	r.Handle("count", func(ctx context.Context, j *storage.Job) error {
		var p payload
		json.Unmarshal(j.Payload, &p)
		mu.Lock()
		seen[p.N]++
		mu.Unlock()
		return nil
	})
	for i := 0; i < 50; i++ {
		enqueue(t, db, "count", i)
	}
	runUntil(t, r, func() bool { c := counts(t, db); return c[storage.JobQueued]+c[storage.JobRunning] == 0 })
	if len(seen) != 50 {
		t.Fatalf("ran %d distinct jobs, want 50", len(seen))
	}
	for n, k := range seen {
		if k != 1 {
			t.Fatalf("job %d ran %d times", n, k)
		}
	}
}

func TestRetriesWithBackoffThenSucceeds(t *testing.T) {
	db := mustOpenDB(t, "")
	var tries atomic.Int32
	r := queue.New(db, queue.Options{Workers: 1, Poll: 10 * time.Millisecond, Backoff: func(int) time.Duration { return 50 * time.Millisecond }})
	r.Handle("flaky", func(ctx context.Context, j *storage.Job) error {
		if tries.Add(1) < 3 {
			return errors.New("receiver down")
		}
		return nil
	})
	enqueue(t, db, "flaky", 1)
	runUntil(t, r, func() bool {
		return tries.Load() >= 3 && counts(t, db)[storage.JobQueued] == 0 && counts(t, db)[storage.JobRunning] == 0
	})
	if got := tries.Load(); got != 3 {
		t.Fatalf("tries = %d, want 3", got)
	}
	if c := counts(t, db); c[storage.JobDead] != 0 {
		t.Fatalf("a job that succeeded is dead: %v", c)
	}
}

func TestPermanentFailuresAndPanicsAreKeptDead(t *testing.T) {
	db := mustOpenDB(t, "")
	r := queue.New(db, queue.Options{Workers: 1, Poll: 10 * time.Millisecond})
	r.Handle("bad", func(ctx context.Context, j *storage.Job) error { return queue.Permanent(errors.New("cannot decode")) })
	r.Handle("boom", func(ctx context.Context, j *storage.Job) error { panic("bug") })
	enqueue(t, db, "bad", 1)
	enqueue(t, db, "boom", 2)
	enqueue(t, db, "unknown-kind", 3)
	runUntil(t, r, func() bool { return counts(t, db)[storage.JobDead] == 3 })
	dead, err := db.FindJobs(context.Background(), storage.JobDead, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range dead {
		if j.LastError == "" {
			t.Fatalf("dead job %d keeps no error", j.ID)
		}
	}
}

func TestMaxAttemptsEndsRetries(t *testing.T) {
	db := mustOpenDB(t, "")
	var tries atomic.Int32
	r := queue.New(db, queue.Options{Workers: 1, Poll: 5 * time.Millisecond, Backoff: func(int) time.Duration { return time.Millisecond }})
	r.Handle("never", func(ctx context.Context, j *storage.Job) error { tries.Add(1); return errors.New("no") })
	enqueue(t, db, "never", 1)
	runUntil(t, r, func() bool { return counts(t, db)[storage.JobDead] == 1 })
	if got := tries.Load(); got != storage.DefaultJobMaxAttempts {
		t.Fatalf("tries = %d, want %d", got, storage.DefaultJobMaxAttempts)
	}
}

// TestExpiredLeaseIsTakenOver: a runner that claimed a job and died (its lease runs out)
// does not lose the job: another runner takes it.
func TestExpiredLeaseIsTakenOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	db := mustOpenDB(t, path)
	enqueue(t, db, "work", 1)
	// A "dead process" claims with a short lease and never finishes.
	if _, err := db.ClaimJob(context.Background(), "dead-process", 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var ran atomic.Int32
	other := mustOpenDB(t, path) // a second process on the same database
	r := queue.New(other, queue.Options{Workers: 1, Poll: 20 * time.Millisecond})
	r.Handle("work", func(ctx context.Context, j *storage.Job) error { ran.Add(1); return nil })
	runUntil(t, r, func() bool { return ran.Load() == 1 && counts(t, db)[storage.JobRunning] == 0 })
}

// TestTwoProcessesNeverShareAJob runs two runners on two connections to one database.
func TestTwoProcessesNeverShareAJob(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	db1, db2 := mustOpenDB(t, path), mustOpenDB(t, path)
	var mu sync.Mutex
	seen := map[int]int{}
	h := func(ctx context.Context, j *storage.Job) error {
		var p payload
		json.Unmarshal(j.Payload, &p)
		mu.Lock()
		seen[p.N]++
		mu.Unlock()
		time.Sleep(time.Millisecond)
		return nil
	}
	for i := 0; i < 100; i++ {
		enqueue(t, db1, "w", i)
	}
	r1 := queue.New(db1, queue.Options{Workers: 2, Poll: 5 * time.Millisecond})
	r2 := queue.New(db2, queue.Options{Workers: 2, Poll: 5 * time.Millisecond})
	r1.Handle("w", h)
	r2.Handle("w", h)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r1.Run(ctx) }()
	go func() { defer wg.Done(); r2.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c := counts(t, db1)
		if c[storage.JobQueued]+c[storage.JobRunning] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if len(seen) != 100 {
		t.Fatalf("ran %d distinct jobs, want 100", len(seen))
	}
	for n, k := range seen {
		if k != 1 {
			t.Fatalf("job %d ran %d times", n, k)
		}
	}
}

// TestStopWaitsForJobsInHand: stopping does not cut a running job short.
func TestStopWaitsForJobsInHand(t *testing.T) {
	db := mustOpenDB(t, "")
	started := make(chan struct{})
	var finished atomic.Bool
	r := queue.New(db, queue.Options{Workers: 1, Poll: 5 * time.Millisecond})
	r.Handle("slow", func(ctx context.Context, j *storage.Job) error {
		close(started)
		time.Sleep(300 * time.Millisecond)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		finished.Store(true)
		return nil
	})
	enqueue(t, db, "slow", 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	<-started
	cancel()
	<-done
	if !finished.Load() {
		t.Fatal("Run returned before the job in hand finished")
	}
	if c := counts(t, db); c[storage.JobQueued]+c[storage.JobRunning]+c[storage.JobDead] != 0 {
		t.Fatalf("job left behind: %v", c)
	}
}

func TestExponentialBackoffGrowsWithJitterAndCap(t *testing.T) {
	b := queue.ExponentialBackoff(time.Second, 10*time.Second)
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 10: 10 * time.Second} {
		for i := 0; i < 20; i++ {
			got := b(attempt)
			if got < want*8/10 || got > want*12/10 {
				t.Fatalf("attempt %d: %v outside %v ±20%%", attempt, got, want)
			}
		}
	}
}

// TestJobThatKeepsKillingItsWorkerEndsDead: a job whose lease expired more times than it
// may be tried is kept as dead instead of run again.
func TestJobThatKeepsKillingItsWorkerEndsDead(t *testing.T) {
	db := mustOpenDB(t, "")
	enqueue(t, db, "crashy", 1)
	for i := 0; i < storage.DefaultJobMaxAttempts; i++ {
		if _, err := db.ClaimJob(context.Background(), "dying-process", time.Nanosecond); err != nil {
			t.Fatalf("claim %d: %v", i, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	var ran atomic.Int32
	r := queue.New(db, queue.Options{Workers: 1, Poll: 5 * time.Millisecond})
	r.Handle("crashy", func(ctx context.Context, j *storage.Job) error { ran.Add(1); return nil })
	runUntil(t, r, func() bool { return counts(t, db)[storage.JobDead] == 1 })
	if ran.Load() != 0 {
		t.Fatal("a job past its attempts ran again")
	}
}

// TestRetryAfterOverridesBackoff: a handler's own delay decides the next try.
func TestRetryAfterOverridesBackoff(t *testing.T) {
	db := mustOpenDB(t, "")
	var tries atomic.Int32
	r := queue.New(db, queue.Options{Workers: 1, Poll: 5 * time.Millisecond, Backoff: func(int) time.Duration { return time.Hour }})
	r.Handle("sched", func(ctx context.Context, j *storage.Job) error {
		if tries.Add(1) == 1 {
			return queue.RetryAfter(errors.New("later"), 20*time.Millisecond)
		}
		return nil
	})
	enqueue(t, db, "sched", 1)
	runUntil(t, r, func() bool { return tries.Load() == 2 })
}

// TestLostLeaseStopsTheRun: when another worker takes a job over (this one stalled past
// its lease), this worker's run is cancelled, so the job never runs twice at once.
func TestLostLeaseStopsTheRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	db := mustOpenDB(t, path)
	thief := mustOpenDB(t, path)
	enqueue(t, db, "long", 1)
	r := queue.New(db, queue.Options{Workers: 1, Poll: 5 * time.Millisecond, Lease: 300 * time.Millisecond})
	var stopped atomic.Bool
	r.Handle("long", func(ctx context.Context, job *storage.Job) error {
		if _, err := thief.ClaimJob(context.Background(), "thief", time.Minute); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("the job was claimable while its lease was fresh: %v", err)
		}
		if err := thief.ExtendJobLease(context.Background(), job.ID, "thief", time.Minute); !errors.Is(err, storage.ErrLeaseLost) {
			t.Errorf("a stranger extended the lease: %v", err)
		}
		// Another process, whose clock says this worker's lease ran out, claims the job.
		thief.Now = func() time.Time { return time.Now().Add(time.Hour) }
		if j, err := thief.ClaimJob(context.Background(), "thief", time.Minute); err != nil || j.ID != job.ID {
			t.Errorf("take over: %v", err)
		}
		select {
		case <-ctx.Done():
			stopped.Store(true)
		case <-time.After(5 * time.Second):
		}
		return ctx.Err()
	})
	runUntil(t, r, stopped.Load)
}

// TestDeferDoesNotSpendAttempts: a job that defers itself runs again later with its
// attempts intact.
func TestDeferDoesNotSpendAttempts(t *testing.T) {
	db := mustOpenDB(t, "")
	enqueue(t, db, "wait", 1)
	r := queue.New(db, queue.Options{Workers: 1, Poll: 5 * time.Millisecond})
	var runs atomic.Int32
	var last atomic.Int32
	r.Handle("wait", func(ctx context.Context, job *storage.Job) error {
		last.Store(int32(job.Attempts))
		if runs.Add(1) < 5 {
			return queue.Defer(errors.New("not yet"), time.Millisecond)
		}
		return nil
	})
	runUntil(t, r, func() bool { return counts(t, db)["queued"] == 0 && runs.Load() == 5 })
	if last.Load() != 1 {
		t.Fatalf("after 4 defers the job is on attempt %d, want 1", last.Load())
	}
}
