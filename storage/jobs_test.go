package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gallerist/gallerist/storage"
)

// mustEnqueue adds a job and returns its id.
func mustEnqueue(t testing.TB, db *storage.DB, kind string, payload any, runAt time.Time) int64 {
	t.Helper()
	id, err := db.EnqueueJob(context.Background(), kind, payload, runAt)
	if err != nil {
		t.Fatalf("enqueue %s: %v", kind, err)
	}
	return id
}

// mustClaim claims the next job for owner and fails if there is none.
func mustClaim(t testing.TB, db *storage.DB, owner string, lease time.Duration) *storage.Job {
	t.Helper()
	j, err := db.ClaimJob(context.Background(), owner, lease)
	if err != nil {
		t.Fatalf("claim for %s: %v", owner, err)
	}
	return j
}

// assertNothingDue fails unless ClaimJob finds nothing.
func assertNothingDue(t testing.TB, db *storage.DB, owner string) {
	t.Helper()
	j, err := db.ClaimJob(context.Background(), owner, time.Minute)
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("ClaimJob = %+v, %v; want ErrNotFound", j, err)
	}
}

// mustFindJob returns the job with id in any state, or nil when it is gone.
func mustFindJob(t testing.TB, db *storage.DB, id int64) *storage.Job {
	t.Helper()
	for _, status := range []string{storage.JobQueued, storage.JobRunning, storage.JobDead} {
		jobs, err := db.FindJobs(context.Background(), status, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			if j.ID == id {
				return j
			}
		}
	}
	return nil
}

func assertJobCounts(t testing.TB, db *storage.DB, queued, running, dead int) {
	t.Helper()
	got, err := db.JobCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{storage.JobQueued: queued, storage.JobRunning: running, storage.JobDead: dead}
	if len(got) != len(want) || got[storage.JobQueued] != queued || got[storage.JobRunning] != running || got[storage.JobDead] != dead {
		t.Fatalf("JobCounts = %v, want %v", got, want)
	}
}

func TestClaimJobTakesDueJobsInOrder(t *testing.T) {
	db := mustOpenDB(t)
	clock := useClock(db)

	j1 := mustEnqueue(t, db, "a", storage.PhotoJob{PhotoID: 1}, t0.Add(-time.Minute))
	j2 := mustEnqueue(t, db, "b", map[string]string{"url": "https://example.com"}, t0.Add(-2*time.Minute))
	future := mustEnqueue(t, db, "c", nil, t0.Add(time.Hour))
	j4 := mustEnqueue(t, db, "d", nil, t0.Add(-2*time.Minute)) // same run_at as j2: the id decides
	now := mustEnqueue(t, db, "e", nil, t0)                    // due exactly now
	assertJobCounts(t, db, 5, 0, 0)

	var got []int64
	for range 4 {
		j := mustClaim(t, db, "w1", 2*time.Hour)
		got = append(got, j.ID)
		if j.Status != storage.JobRunning || j.LeaseOwner != "w1" || j.Attempts != 1 || j.LeaseUntil == nil ||
			!j.LeaseUntil.Equal(t0.Add(2*time.Hour)) || !j.UpdatedAt.Equal(t0) {
			t.Errorf("claimed job = %+v", j)
		}
	}
	if want := []int64{j2, j4, j1, now}; !slices.Equal(got, want) {
		t.Fatalf("claim order = %v, want %v", got, want)
	}
	assertNothingDue(t, db, "w1")
	assertJobCounts(t, db, 1, 4, 0)

	// The payload comes back as it was encoded.
	j := mustFindJob(t, db, j2)
	var payload map[string]string
	if err := json.Unmarshal(j.Payload, &payload); err != nil || payload["url"] != "https://example.com" || j.Kind != "b" {
		t.Fatalf("job %d = kind %q payload %s (%v)", j2, j.Kind, j.Payload, err)
	}

	clock.Set(t0.Add(time.Hour))
	if j := mustClaim(t, db, "w1", time.Minute); j.ID != future {
		t.Fatalf("claimed %d once due, want %d", j.ID, future)
	}
}

func TestClaimJobLease(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	clock := useClock(db)
	id := mustEnqueue(t, db, "thumbnail", storage.PhotoJob{PhotoID: 7}, t0)

	a := mustClaim(t, db, "a", time.Minute)
	if a.ID != id || a.Attempts != 1 {
		t.Fatalf("a claimed %+v", a)
	}
	// Leased: nobody else gets it, not even at the last moment of the lease.
	assertNothingDue(t, db, "b")
	clock.Set(t0.Add(time.Minute))
	assertNothingDue(t, db, "b")

	// Expired: the next owner takes it over, counting another attempt.
	clock.Set(t0.Add(time.Minute + time.Millisecond))
	b := mustClaim(t, db, "b", time.Minute)
	if b.ID != id || b.LeaseOwner != "b" || b.Attempts != 2 || !b.LeaseUntil.Equal(clock.Now().Add(time.Minute)) {
		t.Fatalf("b claimed %+v", b)
	}

	// The first owner lost it: its complete, retry and release do nothing.
	if err := db.CompleteJob(ctx, id, "a"); err != nil {
		t.Fatal(err)
	}
	retry := t0.Add(time.Hour)
	if err := db.RetryJob(ctx, id, "a", "boom", &retry); err != nil {
		t.Fatal(err)
	}
	if err := db.ReleaseJob(ctx, id, "a"); err != nil {
		t.Fatal(err)
	}
	j := mustFindJob(t, db, id)
	if j == nil || j.Status != storage.JobRunning || j.LeaseOwner != "b" || j.Attempts != 2 || j.LastError != "" {
		t.Fatalf("after the old owner's calls: %+v", j)
	}

	// The owner completes it: gone.
	if err := db.CompleteJob(ctx, id, "b"); err != nil {
		t.Fatal(err)
	}
	if j := mustFindJob(t, db, id); j != nil {
		t.Fatalf("completed job still there: %+v", j)
	}
	assertJobCounts(t, db, 0, 0, 0)
}

func TestRetryJob(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	clock := useClock(db)
	id := mustEnqueue(t, db, "webhook.deliver", nil, t0)

	mustClaim(t, db, "w", time.Minute)
	clock.Advance(10 * time.Second)
	retryAt := t0.Add(5 * time.Minute)
	if err := db.RetryJob(ctx, id, "w", "receiver said 503", &retryAt); err != nil {
		t.Fatal(err)
	}
	j := mustFindJob(t, db, id)
	if j.Status != storage.JobQueued || !j.RunAt.Equal(retryAt) || j.LastError != "receiver said 503" || j.LeaseUntil != nil ||
		j.Attempts != 1 || !j.UpdatedAt.Equal(clock.Now()) {
		t.Fatalf("after retry: %+v", j)
	}
	assertJobCounts(t, db, 1, 0, 0)

	// Not before its time.
	clock.Set(retryAt.Add(-time.Second))
	assertNothingDue(t, db, "w")
	clock.Set(retryAt)
	j = mustClaim(t, db, "w", time.Minute)
	if j.ID != id || j.Attempts != 2 {
		t.Fatalf("second claim = %+v", j)
	}

	// No retry time: dead, kept and never claimed again.
	if err := db.RetryJob(ctx, id, "w", "gave up", nil); err != nil {
		t.Fatal(err)
	}
	j = mustFindJob(t, db, id)
	if j.Status != storage.JobDead || j.LastError != "gave up" || j.LeaseUntil != nil {
		t.Fatalf("after giving up: %+v", j)
	}
	clock.Set(t0.Add(24 * time.Hour))
	assertNothingDue(t, db, "w")
	assertJobCounts(t, db, 0, 0, 1)
	dead, err := db.FindJobs(ctx, storage.JobDead, 10)
	if err != nil || len(dead) != 1 || dead[0].ID != id {
		t.Fatalf("FindJobs(dead) = %v, %v", dead, err)
	}
}

func TestReleaseJob(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	useClock(db)
	id := mustEnqueue(t, db, "connector.push", nil, t0)

	mustClaim(t, db, "a", time.Hour)
	// Someone else's release does nothing.
	if err := db.ReleaseJob(ctx, id, "b"); err != nil {
		t.Fatal(err)
	}
	assertNothingDue(t, db, "b")

	if err := db.ReleaseJob(ctx, id, "a"); err != nil {
		t.Fatal(err)
	}
	j := mustFindJob(t, db, id)
	if j.Status != storage.JobQueued || j.Attempts != 0 || j.LeaseUntil != nil {
		t.Fatalf("after release: %+v", j)
	}
	// Releasing twice does not take the attempts below zero.
	if err := db.ReleaseJob(ctx, id, "a"); err != nil {
		t.Fatal(err)
	}
	if j := mustFindJob(t, db, id); j.Attempts != 0 {
		t.Fatalf("attempts after a second release = %d", j.Attempts)
	}
	// Due at once for anyone, and the attempt counts from one again.
	if j := mustClaim(t, db, "b", time.Minute); j.ID != id || j.Attempts != 1 || j.LeaseOwner != "b" {
		t.Fatalf("claim after release = %+v", j)
	}
}

// TestClaimJobConcurrent claims 200 jobs from many goroutines spread over two *DB values
// on one file (two processes) and checks that no job is handed out twice.
func TestClaimJobConcurrent(t *testing.T) {
	ctx := context.Background()
	db, path := mustOpenDBPath(t)
	second := mustOpenDBAt(t, path)
	const jobs = 200
	want := make([]int64, 0, jobs)
	for i := range jobs {
		want = append(want, mustEnqueue(t, db, "thumbnail", storage.PhotoJob{PhotoID: int64(i)}, time.Now().Add(-time.Second)))
	}

	const workers = 8
	var mu sync.Mutex
	claimedBy := map[int64]string{}
	var dups []string
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		d := db
		if w%2 == 1 {
			d = second
		}
		owner := fmt.Sprintf("worker-%d", w)
		wg.Go(func() {
			for {
				j, err := d.ClaimJob(ctx, owner, time.Hour)
				if errors.Is(err, storage.ErrNotFound) {
					return
				}
				if err != nil {
					errs <- fmt.Errorf("%s: %w", owner, err)
					return
				}
				mu.Lock()
				if prev, ok := claimedBy[j.ID]; ok {
					dups = append(dups, fmt.Sprintf("job %d by %s and %s", j.ID, prev, owner))
				}
				claimedBy[j.ID] = owner
				mu.Unlock()
				if err := d.CompleteJob(ctx, j.ID, owner); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(dups) > 0 {
		t.Fatalf("jobs claimed twice: %v", dups)
	}
	var got []int64
	owners := map[string]bool{}
	for id, o := range claimedBy {
		got = append(got, id)
		owners[o] = true
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("claimed %d distinct jobs, want all %d", len(got), jobs)
	}
	assertJobCounts(t, db, 0, 0, 0)
	t.Logf("%d owners took part", len(owners))
}
