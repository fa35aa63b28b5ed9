package storage_test

import (
	"context"
	"sync"
	"testing"

	"github.com/gallerist/gallerist/storage"
)

// TestSnapshotLookups: the cached lookups (event by slug, photo by stem) give the same
// answers as the queries, from many goroutines at once, and keep working when the read
// pool is replaced (as RecordQueries does).
func TestSnapshotLookups(t *testing.T) {
	ctx := context.Background()
	db, path := mustOpenDBPath(t)
	e := mustCreateEvent(t, db, "prep")
	ps := mustCreatePhotos(t, db, e.ID, newPhoto(e.ID, "a.jpg", "a"), newPhoto(e.ID, "b.jpg", "bb"))
	check := func() error {
		got, err := db.FindEventBySlug(ctx, "prep")
		if err != nil {
			return err
		}
		if got.ID != e.ID || got.PhotoCount != 2 {
			t.Errorf("FindEventBySlug = event %d with %d photos, want %d with 2", got.ID, got.PhotoCount, e.ID)
		}
		for _, p := range ps {
			q, err := db.FindPhotoByStemInEvent(ctx, e.ID, p.Stem)
			if err != nil {
				return err
			}
			q2, e2, err := db.FindPhotoByStem(ctx, "prep", p.Stem)
			if err != nil {
				return err
			}
			if q.ID != p.ID || q2.ID != p.ID || e2.ID != e.ID || q.Size != p.Size {
				t.Errorf("lookup of %s = photo %d / %d in event %d, want photo %d in %d", p.Stem, q.ID, q2.ID, e2.ID, p.ID, e.ID)
			}
		}
		if _, err := db.FindPhotoByStemInEvent(ctx, e.ID+1, ps[0].Stem); err == nil {
			t.Error("a stem found in another event")
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if err := check(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// A caller changing its copy does not change the cache.
	got, _ := db.FindEventBySlug(ctx, "prep")
	got.GuestEpoch = 99
	if again, _ := db.FindEventBySlug(ctx, "prep"); again.GuestEpoch == 99 {
		t.Error("a change to a returned event reached the cache")
	}
	queries := storage.RecordQueries(t, db, path) // closes the pools the cache was made on
	if err := check(); err != nil {
		t.Fatalf("after the read pool was replaced: %v", err)
	}
	// Asked again, the cached lookups read nothing from the tables: the cache answers.
	cached := func() int {
		if _, err := db.FindEventBySlug(ctx, "prep"); err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if _, err := db.FindPhotoByStemInEvent(ctx, e.ID, p.Stem); err != nil {
				t.Fatal(err)
			}
		}
		return len(queries())
	}
	before := cached()
	if after := cached(); after != before {
		t.Errorf("unchanged database: the lookups queried again: %v", queries()[before:])
	}
	if _, _, err := db.FindPhotoByStem(ctx, "prep", "nope"); err == nil {
		t.Error("an unknown stem was found")
	}
}

// TestSnapshotSeesEveryCommit: what guests are allowed to see is read from the cache, so
// every change must reach the next lookup: a raised guest epoch, a hidden photo, a
// deleted photo, a change by a statement of its own, and a change made by another
// process on the same file (another DB here).
func TestSnapshotSeesEveryCommit(t *testing.T) {
	ctx := context.Background()
	db, path := mustOpenDBPath(t)
	e := mustCreateEvent(t, db, "snap")
	ps := mustCreatePhotos(t, db, e.ID, newPhoto(e.ID, "a.jpg", "a"), newPhoto(e.ID, "b.jpg", "bb"))
	lookup := func() (*storage.Event, *storage.Photo) {
		t.Helper()
		ev, err := db.FindEventBySlug(ctx, "snap")
		if err != nil {
			t.Fatal(err)
		}
		p, err := db.FindPhotoByStemInEvent(ctx, e.ID, ps[0].Stem)
		if err != nil {
			return ev, nil
		}
		return ev, p
	}
	ev0, p0 := lookup()
	lookup() // now from the cache
	if ev0.GuestEpoch != 1 || p0 == nil || p0.IsHidden {
		t.Fatalf("start: epoch %d, photo %v", ev0.GuestEpoch, p0)
	}

	mustExec(t, db, `UPDATE events SET guest_epoch = guest_epoch + 1 WHERE id = ?`, e.ID)
	if ev, _ := lookup(); ev.GuestEpoch != 2 {
		t.Errorf("after raising the epoch: epoch %d, want 2", ev.GuestEpoch)
	}
	if _, err := db.UpdatePhoto(ctx, ps[0].ID, storage.PhotoUpdate{IsHidden: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if _, p := lookup(); p == nil || !p.IsHidden {
		t.Errorf("after hiding the photo: %+v, want hidden", p)
	}

	other := mustOpenDBAt(t, path) // another instance on the same database
	if _, err := other.UpdateEvent(ctx, e.ID, storage.EventUpdate{Name: ptr("Renamed")}); err != nil {
		t.Fatal(err)
	}
	if ev, _ := lookup(); ev.Name != "Renamed" {
		t.Errorf("after another instance renamed the event: name %q", ev.Name)
	}
	if _, err := other.DeletePhotos(ctx, []int64{ps[0].ID}); err != nil {
		t.Fatal(err)
	}
	if _, p := lookup(); p != nil {
		t.Errorf("after another instance deleted the photo, it is still found: %+v", p)
	}
}

// TestWithSnapshot: a request's context checks the version once; lookups in it still
// see a change committed before it was made, and a later context sees later changes.
func TestWithSnapshot(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	e := mustCreateEvent(t, db, "req")
	mustExec(t, db, `UPDATE events SET guest_epoch = 5 WHERE id = ?`, e.ID)
	rctx := db.WithSnapshot(ctx)
	for range 2 {
		ev, err := db.FindEventBySlug(rctx, "req")
		if err != nil {
			t.Fatal(err)
		}
		if ev.GuestEpoch != 5 {
			t.Fatalf("epoch %d, want 5", ev.GuestEpoch)
		}
	}
	mustExec(t, db, `UPDATE events SET guest_epoch = 6 WHERE id = ?`, e.ID)
	ev, err := db.FindEventBySlug(db.WithSnapshot(ctx), "req")
	if err != nil {
		t.Fatal(err)
	}
	if ev.GuestEpoch != 6 {
		t.Errorf("a new request's context: epoch %d, want 6", ev.GuestEpoch)
	}
	if ev, _ := db.FindEventBySlug(ctx, "req"); ev.GuestEpoch != 6 {
		t.Errorf("without a snapshot context: epoch %d, want 6", ev.GuestEpoch)
	}
}
