package storage_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/gallerist/gallerist/storage"
)

// assertTotalDownloads checks the event's counter against the value wanted and against
// the sum over its photos, which the counter replaces.
func assertTotalDownloads(t *testing.T, db *storage.DB, eventID int64, want int64) {
	t.Helper()
	if got := mustFindEvent(t, db, eventID).TotalDownloads; got != want {
		t.Errorf("event %d TotalDownloads = %d, want %d", eventID, got, want)
	}
	sum := mustCount(t, db, `SELECT COALESCE(SUM(download_count), 0) FROM photos WHERE event_id = ?`, eventID)
	if int64(sum) != want {
		t.Errorf("event %d sum of photo downloads = %d, want %d", eventID, sum, want)
	}
}

func TestTotalDownloadsFollowsDownloadsAndDeletes(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	e := mustCreateEvent(t, db, "e")
	other := mustCreateEvent(t, db, "other")
	ps := mustCreatePhotos(t, db, e.ID, newPhoto(e.ID, "a", "a"), newPhoto(e.ID, "b", "bb"), newPhoto(e.ID, "c", "ccc"))
	ops := mustCreatePhotos(t, db, other.ID, newPhoto(other.ID, "x", "x"))
	assertTotalDownloads(t, db, e.ID, 0)

	// A zip of two photos, one photo twice, a photo of another event, and an id that
	// does not exist (a photo deleted meanwhile) in one call.
	if err := db.CountPhotoDownloads(ctx, ps[0].ID, ps[1].ID, ps[1].ID, ops[0].ID, 9999); err != nil {
		t.Fatal(err)
	}
	if err := db.CountPhotoDownloads(ctx, ps[2].ID); err != nil {
		t.Fatal(err)
	}
	assertTotalDownloads(t, db, e.ID, 4)
	assertTotalDownloads(t, db, other.ID, 1)

	// Deleting a downloaded photo takes its downloads off the event's total.
	if _, err := db.DeletePhotos(ctx, []int64{ps[1].ID, ops[0].ID}); err != nil {
		t.Fatal(err)
	}
	assertTotalDownloads(t, db, e.ID, 2)
	assertTotalDownloads(t, db, other.ID, 0)

	// A download counted after the delete reaches only the photos that are left.
	if err := db.CountPhotoDownloads(ctx, ps[1].ID, ps[0].ID); err != nil {
		t.Fatal(err)
	}
	assertTotalDownloads(t, db, e.ID, 3)

	// Listing events reads the same counter.
	events, _, err := db.FindEvents(ctx, storage.EventFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if ev.ID == e.ID && ev.TotalDownloads != 3 {
			t.Errorf("FindEvents: TotalDownloads = %d, want 3", ev.TotalDownloads)
		}
	}
}

// TestMigrationBackfillsTotalDownloads takes a database back to before migration 0007,
// with downloads already counted on the photos, and checks the migration fills the
// counter in from them.
func TestMigrationBackfillsTotalDownloads(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gallerist.db")
	db, err := storage.Open(ctx, storage.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	e := mustCreateEvent(t, db, "e")
	empty := mustCreateEvent(t, db, "empty")
	ps := mustCreatePhotos(t, db, e.ID, newPhoto(e.ID, "a", "a"), newPhoto(e.ID, "b", "bb"))
	mustExec(t, db, `UPDATE photos SET download_count = 5 WHERE id = ?`, ps[0].ID)
	mustExec(t, db, `UPDATE photos SET download_count = 2 WHERE id = ?`, ps[1].ID)
	mustExec(t, db, `ALTER TABLE events DROP COLUMN total_downloads`)
	mustExec(t, db, `DELETE FROM schema_migrations WHERE version = '0007_event_download_counter'`)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = mustOpenDBAt(t, path)
	assertTotalDownloads(t, db, e.ID, 7)
	assertTotalDownloads(t, db, empty.ID, 0)
}
