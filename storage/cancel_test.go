package storage_test

// Regression tests for context cancellation (ARCHITECTURE.md, "Context cancellation"): a
// client that goes away must not cancel a write half-way or leave a connection that fails
// the next statement. Writes run detached from the caller's context, so they complete.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/gallerist/gallerist/storage"
)

// cancelledContext returns a context that is already cancelled.
func cancelledContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// cancelSoon returns a context that is cancelled after a random delay of up to max.
func cancelSoon(max time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	d := rand.N(max)
	timer := time.AfterFunc(d, cancel)
	return ctx, func() { timer.Stop(); cancel() }
}

func TestWritesCompleteWithCancelledContext(t *testing.T) {
	db := mustOpenDB(t)
	bg := context.Background()
	ctx := cancelledContext()

	e := &storage.Event{Slug: "cancelled", Name: "Cancelled"}
	if err := db.CreateEvent(ctx, e, true); err != nil {
		t.Fatalf("CreateEvent: %v", err)
	}
	mustFindEvent(t, db, e.ID)

	c := &storage.Category{EventID: e.ID, Name: "C", Slug: "c"}
	if err := db.CreateCategory(ctx, c); err != nil {
		t.Fatalf("CreateCategory: %v", err)
	}

	ps := []*storage.Photo{newPhoto(e.ID, "a", "a"), newPhoto(e.ID, "b", "b"), newPhoto(e.ID, "c", "c")}
	if _, err := db.CreatePhotos(ctx, e.ID, ps, "thumbnail"); err != nil {
		t.Fatalf("CreatePhotos: %v", err)
	}
	if ev := mustFindEvent(t, db, e.ID); ev.PhotoCount != 3 {
		t.Fatalf("photo count = %d, want 3", ev.PhotoCount)
	}
	if n := mustCount(t, db, `SELECT COUNT(*) FROM jobs`); n != 3 {
		t.Fatalf("%d jobs, want 3", n)
	}

	// UpdatePhoto and SetEventArchived read the row back with the caller's context, so
	// they may report the cancel; the write itself must have happened.
	if _, err := db.UpdatePhoto(ctx, ps[0].ID, storage.PhotoUpdate{IsHidden: ptr(true), CategoryID: storage.Nullable[int64]{Set: true, Value: &c.ID}}); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("UpdatePhoto: %v", err)
	}
	if err := db.ReorderPhotos(ctx, e.ID, []int64{ps[2].ID}); err != nil {
		t.Fatalf("ReorderPhotos: %v", err)
	}
	if got, _ := mustFindPhotoIDs(t, db, storage.PhotoFilter{EventID: e.ID, Sort: "position_asc", IsHidden: ptr(true)}); len(got) != 1 || got[0] != ps[0].ID {
		t.Fatalf("hidden photos = %v, want [%d]", got, ps[0].ID)
	}
	if deleted, err := db.DeletePhotos(ctx, []int64{ps[1].ID}); err != nil || len(deleted) != 1 {
		t.Fatalf("DeletePhotos = %v, %v", deleted, err)
	}
	if err := db.PutSettings(ctx, map[string]string{"k": "v"}); err != nil {
		t.Fatalf("PutSettings: %v", err)
	}
	if err := db.AddBlobIntents(ctx, time.Now(), "tmp/x"); err != nil {
		t.Fatalf("AddBlobIntents: %v", err)
	}
	if _, err := db.EnqueueJob(ctx, "cleanup", nil, time.Now()); err != nil {
		t.Fatalf("EnqueueJob: %v", err)
	}
	if _, err := db.SetEventArchived(ctx, e.ID, true); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("SetEventArchived: %v", err)
	}

	// Everything is there, and the database goes on working.
	ev := mustFindEvent(t, db, e.ID)
	if ev.PhotoCount != 2 || !ev.IsArchived {
		t.Fatalf("event after cancelled writes = %+v", ev)
	}
	if s, err := db.Settings(bg); err != nil || s["k"] != "v" {
		t.Fatalf("Settings = %v, %v", s, err)
	}
	if n, err := db.PendingBlobGC(bg); err != nil || n != 1+len(ps[1].BlobKeys()) {
		t.Fatalf("PendingBlobGC = %d, %v", n, err)
	}
	mustCreateEvent(t, db, "after")
}

// TestCancelDuringWriteIsAllOrNothing cancels batches at random moments and checks after
// each that the batch was stored whole with its counters and jobs, and that the next
// write and read work.
func TestCancelDuringWriteIsAllOrNothing(t *testing.T) {
	db := mustOpenDB(t)
	bg := context.Background()
	e := mustCreateEvent(t, db, "e")
	const batch = 25
	wantPhotos, wantJobs := 0, 0
	for round := range 30 {
		var ps []*storage.Photo
		for i := range batch {
			ps = append(ps, newPhoto(e.ID, "p.jpg", fmt.Sprintf("round %d photo %d", round, i)))
		}
		ctx, cancel := cancelSoon(2 * time.Millisecond)
		_, err := db.CreatePhotos(ctx, e.ID, ps, "thumbnail", "webhook.deliver")
		cancel()

		stored := mustCount(t, db, `SELECT COUNT(*) FROM photos WHERE event_id = ? AND sha256 IN (?, ?)`, e.ID, ps[0].SHA256, ps[batch-1].SHA256)
		switch stored {
		case 2:
			wantPhotos += batch
			wantJobs += 2 * batch
		case 0:
		default:
			t.Fatalf("round %d: half a batch stored (err %v)", round, err)
		}
		if rows := mustCount(t, db, `SELECT COUNT(*) FROM photos`); rows != wantPhotos {
			t.Fatalf("round %d: %d photo rows, want %d (err %v)", round, rows, wantPhotos, err)
		}
		if jobs := mustCount(t, db, `SELECT COUNT(*) FROM jobs`); jobs != wantJobs {
			t.Fatalf("round %d: %d jobs, want %d (err %v)", round, jobs, wantJobs, err)
		}
		if ev := mustFindEvent(t, db, e.ID); ev.PhotoCount != wantPhotos {
			t.Fatalf("round %d: photo_count %d, want %d (err %v)", round, ev.PhotoCount, wantPhotos, err)
		}
		// The contract is stronger than all-or-nothing: a cancelled caller does not
		// cancel the write.
		if err != nil || stored != 2 {
			t.Fatalf("round %d: the batch was not stored (err %v)", round, err)
		}

		// The next write and read on the same connections work.
		extra := mustCreatePhotos(t, db, e.ID, newPhoto(e.ID, "x.jpg", fmt.Sprintf("extra %d", round)))
		wantPhotos++
		if got, err := db.FindPhotoByID(bg, extra[0].ID); err != nil || got.SHA256 != extra[0].SHA256 {
			t.Fatalf("round %d: read after cancelled write = %+v, %v", round, got, err)
		}
	}
}

// TestCancelledReadsLeaveConnectionUsable interrupts long reads on a pool of one read
// connection; an interrupt must not leak into the next statement on that connection.
func TestCancelledReadsLeaveConnectionUsable(t *testing.T) {
	bg := context.Background()
	path := filepath.Join(t.TempDir(), "one-reader.db")
	db, err := storage.Open(bg, storage.Config{Path: path, ReadConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := mustCreateEvent(t, db, "e")
	var ps []*storage.Photo
	for i := range 1500 {
		ps = append(ps, newPhoto(e.ID, fmt.Sprintf("IMG_%04d.jpg", i), fmt.Sprint(i)))
	}
	mustCreatePhotos(t, db, e.ID, ps...)

	interrupted := 0
	for round := range 40 {
		ctx, cancel := cancelSoon(3 * time.Millisecond)
		_, _, err := db.FindPhotos(ctx, storage.PhotoFilter{EventID: e.ID, Sort: "filename_desc"})
		cancel()
		if err != nil {
			if !errors.Is(err, context.Canceled) && ctx.Err() == nil {
				t.Fatalf("round %d: read failed without a cancel: %v", round, err)
			}
			interrupted++
		}
		got, total, err := db.FindPhotos(bg, storage.PhotoFilter{EventID: e.ID, Sort: "filename_asc", Limit: 3})
		if err != nil || total != len(ps) || len(got) != 3 || got[0].OriginalName != "IMG_0000.jpg" {
			t.Fatalf("round %d: read after a cancelled read = %d photos of %d, %v", round, len(got), total, err)
		}
		if err := db.Ping(bg); err != nil {
			t.Fatalf("round %d: ping: %v", round, err)
		}
	}
	if interrupted == 0 {
		t.Fatal("no read was interrupted: the test did not test anything")
	}
	t.Logf("%d of 40 reads interrupted", interrupted)
}

// TestClaimJobCancelled checks that a claim either hands the job to its caller or leaves
// it claimable: a cancelled caller must not strand a leased job nobody works on.
func TestClaimJobCancelled(t *testing.T) {
	bg := context.Background()
	db := mustOpenDB(t)

	// Cancelled before the call: nothing is claimed.
	id := mustEnqueue(t, db, "thumbnail", nil, time.Now().Add(-time.Second))
	if j, err := db.ClaimJob(cancelledContext(), "gone", time.Hour); err == nil {
		t.Fatalf("ClaimJob with a cancelled context claimed %+v", j)
	}
	if j := mustClaim(t, db, "next", time.Hour); j.ID != id || j.Attempts != 1 {
		t.Fatalf("claim after a cancelled claim = %+v, want job %d at attempt 1", j, id)
	}
	if err := db.CompleteJob(bg, id, "next"); err != nil {
		t.Fatal(err)
	}

	// Cancelled during the call: the job is ours or still free.
	for round := range 200 {
		id := mustEnqueue(t, db, "thumbnail", nil, time.Now().Add(-time.Second))
		ctx, cancel := cancelSoon(200 * time.Microsecond)
		j, err := db.ClaimJob(ctx, "maybe", time.Hour)
		cancel()
		owner := "maybe"
		if err != nil {
			owner = "next"
			j, err = db.ClaimJob(bg, owner, time.Hour)
			if err != nil || j.ID != id || j.Attempts != 1 {
				t.Fatalf("round %d: a cancelled claim failed, yet job %d is not free: next claim = %+v, %v", round, id, j, err)
			}
		}
		if j.ID != id {
			t.Fatalf("round %d: claimed job %d, want %d", round, j.ID, id)
		}
		if err := db.CompleteJob(bg, id, owner); err != nil {
			t.Fatal(err)
		}
		assertJobCounts(t, db, 0, 0, 0)
	}
}
