package storage_test

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestBlobGCLedger(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	useClock(db)
	e := mustCreateEvent(t, db, "e")

	due := func(at time.Time, limit int) []string {
		t.Helper()
		keys, err := db.DueBlobGC(ctx, at, limit)
		if err != nil {
			t.Fatal(err)
		}
		return keys
	}

	if err := db.AddBlobIntents(ctx, t0.Add(time.Hour), "tmp/late"); err != nil {
		t.Fatal(err)
	}
	if err := db.AddBlobIntents(ctx, t0.Add(-time.Minute), "tmp/early-a", "tmp/early-b"); err != nil {
		t.Fatal(err)
	}
	if got := due(t0.Add(-2*time.Minute), 10); len(got) != 0 {
		t.Fatalf("due before any not_before = %v", got)
	}
	if got := due(t0, 10); !slices.Equal(got, []string{"tmp/early-a", "tmp/early-b"}) {
		t.Fatalf("due at t0 = %v", got)
	}
	if got := due(t0.Add(time.Hour), 10); !slices.Equal(got, []string{"tmp/early-a", "tmp/early-b", "tmp/late"}) {
		t.Fatalf("due at t0+1h = %v (oldest first)", got)
	}
	if got := due(t0.Add(time.Hour), 2); len(got) != 2 {
		t.Fatalf("limit 2 gave %v", got)
	}

	// Recording a key again moves its time (a later intent for the same key).
	if err := db.AddBlobIntents(ctx, t0.Add(2*time.Hour), "tmp/early-a"); err != nil {
		t.Fatal(err)
	}
	if got := due(t0.Add(time.Hour), 10); !slices.Equal(got, []string{"tmp/early-b", "tmp/late"}) {
		t.Fatalf("due after moving early-a = %v", got)
	}
	if n, err := db.PendingBlobGC(ctx); err != nil || n != 3 {
		t.Fatalf("PendingBlobGC = %d, %v; want 3", n, err)
	}

	// A key that a photo row references is never listed, even when due.
	p := mustCreatePhotos(t, db, e.ID, newPhoto(e.ID, "a.jpg", "a"))[0]
	if err := db.AddBlobIntents(ctx, t0.Add(-time.Hour), p.BlobKey); err != nil {
		t.Fatal(err)
	}
	if got := due(t0.Add(3*time.Hour), 10); slices.Contains(got, p.BlobKey) || len(got) != 3 {
		t.Fatalf("due with a referenced key = %v; %s must not be listed", got, p.BlobKey)
	}
	if n, _ := db.PendingBlobGC(ctx); n != 4 {
		t.Fatalf("PendingBlobGC = %d, want 4 (the referenced key is kept in the ledger)", n)
	}

	// Once the row is gone the key is due.
	if _, err := db.DeletePhotos(ctx, []int64{p.ID}); err != nil {
		t.Fatal(err)
	}
	if got := due(t0.Add(3*time.Hour), 10); !slices.Contains(got, p.BlobKey) {
		t.Fatalf("due after the photo was deleted = %v, want %s in it", got, p.BlobKey)
	}

	if err := db.RemoveBlobGC(ctx, "tmp/early-b", "tmp/late", "tmp/never-recorded"); err != nil {
		t.Fatal(err)
	}
	if err := db.RemoveBlobGC(ctx); err != nil {
		t.Fatal(err)
	}
	got := due(t0.Add(3*time.Hour), 10)
	slices.Sort(got)
	want := append([]string{"tmp/early-a"}, p.BlobKeys()...)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("due after RemoveBlobGC = %v, want %v", got, want)
	}
}
