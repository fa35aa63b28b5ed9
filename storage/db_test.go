package storage_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gallerist/gallerist/storage"
)

// mustOpenDB opens a fresh SQLite file in t.TempDir() with the migrations applied and a
// controllable clock.
func mustOpenDB(t testing.TB) *storage.DB {
	t.Helper()
	db, _ := mustOpenDBPath(t)
	return db
}

// mustOpenDBPath is mustOpenDB that also returns the file's path.
func mustOpenDBPath(t testing.TB) (*storage.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gallerist.db")
	return mustOpenDBAt(t, path), path
}

// mustOpenDBAt opens the database at path (as another process would) and closes it when
// the test ends.
func mustOpenDBAt(t testing.TB, path string) *storage.DB {
	t.Helper()
	db, err := storage.Open(context.Background(), storage.Config{Path: path})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close %s: %v", path, err)
		}
	})
	return db
}

// testClock is a settable clock for DB.Now.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

// t0 is the start of every test clock: microsecond precision, as stored.
var t0 = time.Date(2025, 6, 14, 12, 0, 0, 0, time.UTC)

// useClock makes db's clock start at t0 and move only when the test says so.
func useClock(db *storage.DB) *testClock {
	c := &testClock{t: t0}
	db.Now = c.Now
	return c
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func ptr[T any](v T) *T { return &v }

// mustCreateEvent stores an event with slug (taken as is) and returns it.
func mustCreateEvent(t testing.TB, db *storage.DB, slug string) *storage.Event {
	t.Helper()
	e := &storage.Event{Slug: slug, Name: "Event " + slug, AllowDownloads: true}
	if err := db.CreateEvent(context.Background(), e, false); err != nil {
		t.Fatalf("create event %q: %v", slug, err)
	}
	return e
}

var stemSeq atomic.Int64

// newPhoto builds an unstored image of eventID whose bytes are content: the hash and size
// come from content, the stem, file name and blob key are fresh.
func newPhoto(eventID int64, originalName, content string) *storage.Photo {
	stem := fmt.Sprintf("p%06d", stemSeq.Add(1))
	sum := sha256.Sum256([]byte(content))
	return &storage.Photo{
		Stem:         stem,
		Filename:     stem + ".jpg",
		OriginalName: originalName,
		BlobKey:      storage.OriginalKey(eventID, stem+".jpg"),
		Format:       "jpeg",
		MediaType:    "image",
		MIMEType:     "image/jpeg",
		Size:         int64(len(content)),
		SHA256:       hex.EncodeToString(sum[:]),
		Orientation:  1,
	}
}

// mustCreatePhotos stores photos and fails unless every one of them was stored.
func mustCreatePhotos(t testing.TB, db *storage.DB, eventID int64, photos ...*storage.Photo) []*storage.Photo {
	t.Helper()
	res, err := db.CreatePhotos(context.Background(), eventID, photos)
	if err != nil {
		t.Fatalf("create photos in event %d: %v", eventID, err)
	}
	out := make([]*storage.Photo, len(res))
	for i, r := range res {
		if r.Photo == nil {
			t.Fatalf("photo %d of the batch was not stored: duplicate of %d", i, r.DuplicateOf)
		}
		out[i] = r.Photo
	}
	return out
}

// mustFindEvent reloads an event.
func mustFindEvent(t testing.TB, db *storage.DB, id int64) *storage.Event {
	t.Helper()
	e, err := db.FindEventByID(context.Background(), id)
	if err != nil {
		t.Fatalf("find event %d: %v", id, err)
	}
	return e
}

// photoIDs lists the ids of photos in order.
func photoIDs(photos []*storage.Photo) []int64 {
	ids := make([]int64, len(photos))
	for i, p := range photos {
		ids[i] = p.ID
	}
	return ids
}

// mustFindPhotoIDs runs FindPhotos and returns the ids in order and the total.
func mustFindPhotoIDs(t testing.TB, db *storage.DB, f storage.PhotoFilter) ([]int64, int) {
	t.Helper()
	photos, total, err := db.FindPhotos(context.Background(), f)
	if err != nil {
		t.Fatalf("find photos %+v: %v", f, err)
	}
	return photoIDs(photos), total
}

// mustCount runs a COUNT query on the write connection (it sees every commit).
func mustCount(t testing.TB, db *storage.DB, q string, args ...any) int {
	t.Helper()
	_, w := db.Pools()
	var n int
	if err := w.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// mustExec runs a statement on the write connection, for states no method produces.
func mustExec(t testing.TB, db *storage.DB, q string, args ...any) {
	t.Helper()
	_, w := db.Pools()
	if _, err := w.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// assertErrorIs fails unless err wraps want.
func assertErrorIs(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
}

// assertPhotoEqual compares two photos field by field, times by instant and offset.
func assertPhotoEqual(t testing.TB, got, want *storage.Photo) {
	t.Helper()
	g, w := *got, *want
	sameTime := func(name string, a, b time.Time) {
		t.Helper()
		_, ao := a.Zone()
		_, bo := b.Zone()
		if !a.Equal(b) || ao != bo {
			t.Errorf("photo %d %s = %v, want %v", want.ID, name, a, b)
		}
	}
	sameTime("CreatedAt", g.CreatedAt, w.CreatedAt)
	sameTime("UpdatedAt", g.UpdatedAt, w.UpdatedAt)
	switch {
	case (g.CapturedAt == nil) != (w.CapturedAt == nil):
		t.Errorf("photo %d CapturedAt = %v, want %v", want.ID, g.CapturedAt, w.CapturedAt)
	case g.CapturedAt != nil:
		sameTime("CapturedAt", *g.CapturedAt, *w.CapturedAt)
	}
	g.CreatedAt, g.UpdatedAt, g.CapturedAt = time.Time{}, time.Time{}, nil
	w.CreatedAt, w.UpdatedAt, w.CapturedAt = time.Time{}, time.Time{}, nil
	if !reflect.DeepEqual(g, w) {
		t.Errorf("photo %d:\n got %+v\nwant %+v", want.ID, g, w)
	}
}

func TestOpenAppliesMigrationsOnce(t *testing.T) {
	ctx := context.Background()
	db, path := mustOpenDBPath(t)

	files, err := filepath.Glob(filepath.Join("migrations", "sqlite", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("list migration files: %v (%d found)", err, len(files))
	}
	var want []string
	for _, f := range files {
		want = append(want, strings.TrimSuffix(filepath.Base(f), ".sql"))
	}
	slices.Sort(want)

	got, err := db.MigrationVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("MigrationVersions = %v, want %v", got, want)
	}
	appliedAt := func(db *storage.DB) map[string]string {
		t.Helper()
		r, _ := db.Pools()
		rows, err := r.Query(`SELECT version, applied_at FROM schema_migrations`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]string{}
		for rows.Next() {
			var v, at string
			if err := rows.Scan(&v, &at); err != nil {
				t.Fatal(err)
			}
			out[v] = at
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	before := appliedAt(db)
	e := mustCreateEvent(t, db, "kept")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopening applies nothing: same versions, same applied_at, and the data is intact.
	db2 := mustOpenDBAt(t, path)
	got2, err := db2.MigrationVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got2, want) {
		t.Fatalf("after reopen MigrationVersions = %v, want %v", got2, want)
	}
	if after := appliedAt(db2); !reflect.DeepEqual(after, before) {
		t.Fatalf("applied_at changed on reopen: before %v, after %v", before, after)
	}
	if got, err := db2.FindEventBySlug(ctx, "kept"); err != nil || got.ID != e.ID {
		t.Fatalf("event after reopen = %+v, %v; want id %d", got, err, e.ID)
	}
	if err := db2.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRejectsEmptyPath(t *testing.T) {
	if _, err := storage.Open(context.Background(), storage.Config{}); err == nil {
		t.Fatal("Open with an empty path succeeded")
	}
}

func TestOpenSetsPragmasOnEveryConnection(t *testing.T) {
	ctx := context.Background()
	db, path := mustOpenDBPath(t)
	r, w := db.Pools()

	type pragma struct {
		name string
		want string
	}
	want := []pragma{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"synchronous", "2"}, // FULL
		{"busy_timeout", "10000"},
	}
	// Hold several read connections at once so that each is a different connection.
	const readers = 4
	for i := range readers {
		conn, err := r.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for _, p := range want {
			var got string
			if err := conn.QueryRowContext(ctx, "PRAGMA "+p.name).Scan(&got); err != nil {
				t.Fatalf("read conn %d: PRAGMA %s: %v", i, p.name, err)
			}
			if got != p.want {
				t.Errorf("read conn %d: PRAGMA %s = %q, want %q", i, p.name, got, p.want)
			}
		}
	}
	wconn, err := w.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer wconn.Close()
	for _, p := range want {
		var got string
		if err := wconn.QueryRowContext(ctx, "PRAGMA "+p.name).Scan(&got); err != nil {
			t.Fatalf("write conn: PRAGMA %s: %v", p.name, err)
		}
		if got != p.want {
			t.Errorf("write conn: PRAGMA %s = %q, want %q", p.name, got, p.want)
		}
	}
	if got := w.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("write pool MaxOpenConnections = %d, want 1", got)
	}
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Errorf("no WAL file beside the database: %v", err)
	}
}
