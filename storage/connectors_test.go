package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/gallerist/gallerist/storage"
)

func mustLink(t *testing.T, db *storage.DB) *storage.ConnectorLink {
	t.Helper()
	ctx := context.Background()
	ev := mustCreateEvent(t, db, "linked")
	tg := &storage.ConnectorTarget{Platform: "procore", Name: "p", Config: json.RawMessage(`{}`), Secrets: "v1:x"}
	if err := db.CreateConnectorTarget(ctx, tg); err != nil {
		t.Fatal(err)
	}
	l := &storage.ConnectorLink{TargetID: tg.ID, EventID: ev.ID, ExternalSourceID: "src", ContainerName: "Album"}
	if err := db.CreateConnectorLink(ctx, l); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestSyncsWaitJoinAndNeverOverlap: one sync waits and one runs per link; asking again
// joins the waiting one; a second start is refused while one runs.
func TestSyncsWaitJoinAndNeverOverlap(t *testing.T) {
	db := mustOpenDB(t)
	ctx := context.Background()
	l := mustLink(t, db)
	first, created, err := db.RequestConnectorSync(ctx, l.ID, "sync", "manual", "connector.sync", time.Now())
	if err != nil || !created {
		t.Fatalf("request: %v %v", created, err)
	}
	again, created, err := db.RequestConnectorSync(ctx, l.ID, "sync", "auto", "connector.sync", time.Now())
	if err != nil || created || again.ID != first.ID {
		t.Fatalf("a second request must join the waiting sync: %+v %v %v", again, created, err)
	}
	if s, err := db.StartConnectorSync(ctx, first.ID); err != nil || s.Status != storage.SyncRunning {
		t.Fatalf("start: %+v %v", s, err)
	}
	second, created, err := db.RequestConnectorSync(ctx, l.ID, "sync", "manual", "connector.sync", time.Now())
	if err != nil || !created || second.ID == first.ID {
		t.Fatalf("a request while one runs waits behind it: %+v %v", second, err)
	}
	if _, err := db.StartConnectorSync(ctx, second.ID); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("start while another runs: %v, want ErrConflict", err)
	}
}

// TestOrphanedSyncsDoNotBlockTheLink: a running or waiting sync whose job is gone (its
// process gave up on it) is ended instead of blocking the link forever.
func TestOrphanedSyncsDoNotBlockTheLink(t *testing.T) {
	db := mustOpenDB(t)
	ctx := context.Background()
	l := mustLink(t, db)
	dead, _, err := db.RequestConnectorSync(ctx, l.ID, "sync", "manual", "connector.sync", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.StartConnectorSync(ctx, dead.ID); err != nil {
		t.Fatal(err)
	}
	// Its job gives up for good (kept as dead).
	j := mustClaim(t, db, "w", time.Minute)
	if err := db.RetryJob(ctx, j.ID, "w", "gave up", nil); err != nil {
		t.Fatal(err)
	}
	next, _, err := db.RequestConnectorSync(ctx, l.ID, "sync", "manual", "connector.sync", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if s, err := db.StartConnectorSync(ctx, next.ID); err != nil || s.Status != storage.SyncRunning {
		t.Fatalf("start behind an orphaned sync: %+v %v", s, err)
	}
	if old, _ := db.FindConnectorSync(ctx, dead.ID); old.Status != storage.SyncFailed {
		t.Fatalf("the orphaned sync is %s, want failed", old.Status)
	}
	// A waiting sync whose job vanished is replaced by a new one.
	waiting, _, _ := db.RequestConnectorSync(ctx, l.ID, "sync", "manual", "connector.sync", time.Now())
	_, w := db.Pools()
	if _, err := w.ExecContext(ctx, `DELETE FROM jobs WHERE id = ?`, *waiting.JobID); err != nil {
		t.Fatal(err)
	}
	fresh, created, err := db.RequestConnectorSync(ctx, l.ID, "sync", "manual", "connector.sync", time.Now())
	if err != nil || !created || fresh.ID == waiting.ID {
		t.Fatalf("a request behind a waiting sync without a job: %+v %v %v", fresh, created, err)
	}
}

// TestArchiveIsNeverReplacedBySync: once a link is archiving, syncs are refused; an
// archive replaces a waiting sync.
func TestArchiveIsNeverReplacedBySync(t *testing.T) {
	db := mustOpenDB(t)
	ctx := context.Background()
	l := mustLink(t, db)
	s, _, err := db.RequestConnectorSync(ctx, l.ID, "sync", "manual", "connector.sync", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	a, err := db.ArchiveConnectorLink(ctx, l.ID, "connector.sync")
	if err != nil || a.Kind != "archive" {
		t.Fatalf("archive: %+v %v", a, err)
	}
	if old, _ := db.FindConnectorSync(ctx, s.ID); old.Status != storage.SyncFailed {
		t.Fatalf("the waiting sync is %s, want failed (superseded)", old.Status)
	}
	if _, _, err := db.RequestConnectorSync(ctx, l.ID, "sync", "manual", "connector.sync", time.Now()); !errors.Is(err, storage.ErrLinkArchived) {
		t.Fatalf("a sync after an archive: %v, want ErrLinkArchived", err)
	}
	if err := db.SetSyncedLinkState(ctx, l.ID, storage.LinkError, "late sync"); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.FindConnectorLink(ctx, l.ID); got.State != storage.LinkArchiving {
		t.Fatalf("a sync's outcome overwrote the archive: %s", got.State)
	}
}
