package storage_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gallerist/gallerist/storage"
)

func TestCreateEventStoresEveryField(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	clock := useClock(db)

	expires := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.FixedZone("CEST", 2*3600))
	e := &storage.Event{
		Slug:            "wedding",
		Name:            "Anna & Ben",
		Date:            ptr("2025-06-14"),
		PasswordHash:    "hash",
		ExpiresAt:       &expires,
		PhotoCap:        ptr(500),
		AllowDownloads:  true,
		ProtectionLevel: storage.ProtectionEnhanced,
	}
	if err := db.CreateEvent(ctx, e, false); err != nil {
		t.Fatal(err)
	}
	if e.ID == 0 || !e.CreatedAt.Equal(clock.Now()) || !e.UpdatedAt.Equal(clock.Now()) {
		t.Fatalf("CreateEvent filled ID=%d CreatedAt=%v UpdatedAt=%v", e.ID, e.CreatedAt, e.UpdatedAt)
	}

	for name, find := range map[string]func() (*storage.Event, error){
		"by id":   func() (*storage.Event, error) { return db.FindEventByID(ctx, e.ID) },
		"by slug": func() (*storage.Event, error) { return db.FindEventBySlug(ctx, "wedding") },
	} {
		got, err := find()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.ID != e.ID || got.Slug != "wedding" || got.Name != "Anna & Ben" || got.Date == nil || *got.Date != "2025-06-14" ||
			got.PasswordHash != "hash" || got.ExpiresAt == nil || !got.ExpiresAt.Equal(expires) ||
			got.PhotoCap == nil || *got.PhotoCap != 500 || !got.AllowDownloads || got.ProtectionLevel != storage.ProtectionEnhanced ||
			got.IsArchived || got.ArchivedAt != nil || got.PhotoCount != 0 || got.TotalSize != 0 || got.TotalDownloads != 0 ||
			!got.CreatedAt.Equal(t0) || !got.UpdatedAt.Equal(t0) {
			t.Errorf("%s: got %+v", name, got)
		}
	}

	// The zero values: no date, no expiry, no cap, default protection level.
	plain := &storage.Event{Slug: "plain", Name: "Plain"}
	if err := db.CreateEvent(ctx, plain, false); err != nil {
		t.Fatal(err)
	}
	got := mustFindEvent(t, db, plain.ID)
	if got.Date != nil || got.ExpiresAt != nil || got.PhotoCap != nil || got.AllowDownloads || got.ProtectionLevel != storage.ProtectionBasic {
		t.Errorf("plain event = %+v", got)
	}

	if _, err := db.FindEventByID(ctx, 9999); err == nil {
		t.Fatal("FindEventByID(9999) found something")
	} else {
		assertErrorIs(t, err, storage.ErrNotFound)
	}
	_, err := db.FindEventBySlug(ctx, "nope")
	assertErrorIs(t, err, storage.ErrNotFound)
}

func TestCreateEventSlugs(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)

	var slugs []string
	for range 3 {
		e := &storage.Event{Slug: "party", Name: "Party"}
		if err := db.CreateEvent(ctx, e, true); err != nil {
			t.Fatal(err)
		}
		slugs = append(slugs, e.Slug)
		if got := mustFindEvent(t, db, e.ID); got.Slug != e.Slug {
			t.Fatalf("stored slug %q, returned %q", got.Slug, e.Slug)
		}
	}
	if want := []string{"party", "party-2", "party-3"}; !slices.Equal(slugs, want) {
		t.Fatalf("slugs = %v, want %v", slugs, want)
	}

	// A gap is filled: once party-2 is gone it is the next free one.
	e2, err := db.FindEventBySlug(ctx, "party-2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.DeleteEvent(ctx, e2.ID); err != nil {
		t.Fatal(err)
	}
	e := &storage.Event{Slug: "party", Name: "Party"}
	if err := db.CreateEvent(ctx, e, true); err != nil {
		t.Fatal(err)
	}
	if e.Slug != "party-2" {
		t.Fatalf("slug after gap = %q, want party-2", e.Slug)
	}

	// Without uniqueSlug a taken slug is a conflict and stores nothing.
	err = db.CreateEvent(ctx, &storage.Event{Slug: "party", Name: "Again"}, false)
	assertErrorIs(t, err, storage.ErrConflict)
	if _, total, err := db.FindEvents(ctx, storage.EventFilter{Limit: 100}); err != nil || total != 3 {
		t.Fatalf("after conflict: total = %d, %v; want 3", total, err)
	}
}

func TestUpdateEvent(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	clock := useClock(db)
	expires := t0.Add(48 * time.Hour)
	e := &storage.Event{Slug: "a", Name: "A", Date: ptr("2025-01-01"), ExpiresAt: &expires, PhotoCap: ptr(10),
		AllowDownloads: true, PasswordHash: "old"}
	if err := db.CreateEvent(ctx, e, false); err != nil {
		t.Fatal(err)
	}
	mustCreateEvent(t, db, "taken")

	// Nothing set: only updated_at moves.
	clock.Advance(time.Minute)
	got, err := db.UpdateEvent(ctx, e.ID, storage.EventUpdate{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "A" || got.Slug != "a" || *got.Date != "2025-01-01" || !got.ExpiresAt.Equal(expires) || *got.PhotoCap != 10 ||
		!got.AllowDownloads || got.PasswordHash != "old" || got.ProtectionLevel != storage.ProtectionBasic {
		t.Fatalf("empty update changed fields: %+v", got)
	}
	if !got.UpdatedAt.Equal(t0.Add(time.Minute)) || !got.CreatedAt.Equal(t0) {
		t.Fatalf("times after update: created %v updated %v", got.CreatedAt, got.UpdatedAt)
	}

	newExp := t0.Add(72 * time.Hour)
	cases := []struct {
		name  string
		u     storage.EventUpdate
		check func(*storage.Event) bool
	}{
		{"name", storage.EventUpdate{Name: ptr("B")}, func(e *storage.Event) bool { return e.Name == "B" }},
		{"slug", storage.EventUpdate{Slug: ptr("b")}, func(e *storage.Event) bool { return e.Slug == "b" }},
		{"date", storage.EventUpdate{Date: storage.Nullable[string]{Set: true, Value: ptr("2025-02-02")}},
			func(e *storage.Event) bool { return e.Date != nil && *e.Date == "2025-02-02" }},
		{"clear date", storage.EventUpdate{Date: storage.Nullable[string]{Set: true}},
			func(e *storage.Event) bool { return e.Date == nil }},
		{"password", storage.EventUpdate{PasswordHash: ptr("new")}, func(e *storage.Event) bool { return e.PasswordHash == "new" }},
		{"remove password", storage.EventUpdate{PasswordHash: ptr("")}, func(e *storage.Event) bool { return e.PasswordHash == "" }},
		{"expiry", storage.EventUpdate{ExpiresAt: storage.Nullable[time.Time]{Set: true, Value: &newExp}},
			func(e *storage.Event) bool { return e.ExpiresAt != nil && e.ExpiresAt.Equal(newExp) }},
		{"clear expiry", storage.EventUpdate{ExpiresAt: storage.Nullable[time.Time]{Set: true}},
			func(e *storage.Event) bool { return e.ExpiresAt == nil }},
		{"cap", storage.EventUpdate{PhotoCap: storage.Nullable[int]{Set: true, Value: ptr(3)}},
			func(e *storage.Event) bool { return e.PhotoCap != nil && *e.PhotoCap == 3 }},
		{"clear cap", storage.EventUpdate{PhotoCap: storage.Nullable[int]{Set: true}},
			func(e *storage.Event) bool { return e.PhotoCap == nil }},
		{"downloads off", storage.EventUpdate{AllowDownloads: ptr(false)}, func(e *storage.Event) bool { return !e.AllowDownloads }},
		{"protection", storage.EventUpdate{ProtectionLevel: ptr(storage.ProtectionMaximum)},
			func(e *storage.Event) bool { return e.ProtectionLevel == storage.ProtectionMaximum }},
	}
	for _, c := range cases {
		before := mustFindEvent(t, db, e.ID)
		now := clock.Advance(time.Second)
		got, err := db.UpdateEvent(ctx, e.ID, c.u)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		stored := mustFindEvent(t, db, e.ID)
		if !c.check(got) || !c.check(stored) {
			t.Errorf("%s: returned %+v, stored %+v", c.name, got, stored)
		}
		if !stored.UpdatedAt.Equal(now) {
			t.Errorf("%s: updated_at = %v, want %v", c.name, stored.UpdatedAt, now)
		}
		// The other fields are untouched: apply this case's check to "before" to find which
		// field changed, then compare the rest.
		b, s := *before, *stored
		b.UpdatedAt, s.UpdatedAt = time.Time{}, time.Time{}
		switch c.name {
		case "name":
			b.Name = s.Name
		case "slug":
			b.Slug = s.Slug
		case "date", "clear date":
			b.Date = s.Date
		case "password", "remove password":
			b.PasswordHash = s.PasswordHash
		case "expiry", "clear expiry":
			b.ExpiresAt = s.ExpiresAt
		case "cap", "clear cap":
			b.PhotoCap = s.PhotoCap
		case "downloads off":
			b.AllowDownloads = s.AllowDownloads
		case "protection":
			b.ProtectionLevel = s.ProtectionLevel
		}
		if !eventsEqual(&b, &s) {
			t.Errorf("%s changed other fields:\nbefore %+v\nafter  %+v", c.name, before, stored)
		}
	}

	_, err = db.UpdateEvent(ctx, e.ID, storage.EventUpdate{Slug: ptr("taken")})
	assertErrorIs(t, err, storage.ErrConflict)
	if got := mustFindEvent(t, db, e.ID); got.Slug != "b" {
		t.Fatalf("slug after conflict = %q, want b", got.Slug)
	}
	_, err = db.UpdateEvent(ctx, 9999, storage.EventUpdate{Name: ptr("x")})
	assertErrorIs(t, err, storage.ErrNotFound)
}

// eventsEqual compares two events, times by instant.
func eventsEqual(a, b *storage.Event) bool {
	optTime := func(x, y *time.Time) bool { return (x == nil) == (y == nil) && (x == nil || x.Equal(*y)) }
	optStr := func(x, y *string) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	optInt := func(x, y *int) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return a.ID == b.ID && a.Slug == b.Slug && a.Name == b.Name && optStr(a.Date, b.Date) && a.PasswordHash == b.PasswordHash &&
		optTime(a.ExpiresAt, b.ExpiresAt) && optInt(a.PhotoCap, b.PhotoCap) && a.AllowDownloads == b.AllowDownloads &&
		a.ProtectionLevel == b.ProtectionLevel && a.IsArchived == b.IsArchived && optTime(a.ArchivedAt, b.ArchivedAt) &&
		a.PhotoCount == b.PhotoCount && a.TotalSize == b.TotalSize && a.TotalDownloads == b.TotalDownloads &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

func TestSetEventArchivedIsIdempotent(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	clock := useClock(db)
	e := mustCreateEvent(t, db, "e")

	archivedAt := clock.Advance(time.Hour)
	got, err := db.SetEventArchived(ctx, e.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	if !got.IsArchived || got.ArchivedAt == nil || !got.ArchivedAt.Equal(archivedAt) {
		t.Fatalf("after archive: archived=%v at=%v, want true at %v", got.IsArchived, got.ArchivedAt, archivedAt)
	}

	// Archiving again keeps the first time.
	clock.Advance(time.Hour)
	got, err = db.SetEventArchived(ctx, e.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	if !got.IsArchived || got.ArchivedAt == nil || !got.ArchivedAt.Equal(archivedAt) {
		t.Fatalf("after second archive: archived=%v at=%v, want true at %v", got.IsArchived, got.ArchivedAt, archivedAt)
	}

	for i := range 2 {
		clock.Advance(time.Hour)
		got, err = db.SetEventArchived(ctx, e.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		if got.IsArchived || got.ArchivedAt != nil {
			t.Fatalf("after restore %d: archived=%v at=%v", i+1, got.IsArchived, got.ArchivedAt)
		}
	}
	if stored := mustFindEvent(t, db, e.ID); stored.IsArchived || stored.ArchivedAt != nil {
		t.Fatalf("stored after restore: %+v", stored)
	}

	_, err = db.SetEventArchived(ctx, 9999, true)
	assertErrorIs(t, err, storage.ErrNotFound)
}

func TestFindEvents(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	clock := useClock(db)

	// e1..e5 one minute apart; e3 and e4 share a created_at so the id breaks the tie.
	var ids []int64
	for i := range 5 {
		if i != 3 {
			clock.Advance(time.Minute)
		}
		ids = append(ids, mustCreateEvent(t, db, string(rune('a'+i))).ID)
	}
	for _, i := range []int{1, 3} {
		if _, err := db.SetEventArchived(ctx, ids[i], true); err != nil {
			t.Fatal(err)
		}
	}

	list := func(f storage.EventFilter) ([]int64, int) {
		t.Helper()
		events, total, err := db.FindEvents(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, e := range events {
			got = append(got, e.ID)
		}
		return got, total
	}
	newestFirst := []int64{ids[4], ids[3], ids[2], ids[1], ids[0]}
	tests := []struct {
		name      string
		f         storage.EventFilter
		want      []int64
		wantTotal int
	}{
		{"all", storage.EventFilter{Limit: 10}, newestFirst, 5},
		{"archived", storage.EventFilter{IsArchived: ptr(true), Limit: 10}, []int64{ids[3], ids[1]}, 2},
		{"active", storage.EventFilter{IsArchived: ptr(false), Limit: 10}, []int64{ids[4], ids[2], ids[0]}, 3},
		{"page 1", storage.EventFilter{Limit: 2}, newestFirst[:2], 5},
		{"page 2", storage.EventFilter{Limit: 2, Offset: 2}, newestFirst[2:4], 5},
		{"page 3", storage.EventFilter{Limit: 2, Offset: 4}, newestFirst[4:], 5},
		{"past the end", storage.EventFilter{Limit: 2, Offset: 10}, nil, 5},
		{"active page 2", storage.EventFilter{IsArchived: ptr(false), Limit: 2, Offset: 2}, []int64{ids[0]}, 3},
	}
	for _, tt := range tests {
		got, total := list(tt.f)
		if !slices.Equal(got, tt.want) || total != tt.wantTotal {
			t.Errorf("%s: got %v (total %d), want %v (total %d)", tt.name, got, total, tt.want, tt.wantTotal)
		}
	}
}

func TestDeleteEventCascadesAndSchedulesBlobs(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	clock := useClock(db)
	e := mustCreateEvent(t, db, "gone")
	other := mustCreateEvent(t, db, "stays")

	cat := &storage.Category{EventID: e.ID, Name: "Ceremony", Slug: "ceremony"}
	if err := db.CreateCategory(ctx, cat); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateCategory(ctx, &storage.Category{EventID: e.ID, Name: "Party", Slug: "party"}); err != nil {
		t.Fatal(err)
	}
	otherCat := &storage.Category{EventID: other.ID, Name: "Ceremony", Slug: "ceremony"}
	if err := db.CreateCategory(ctx, otherCat); err != nil {
		t.Fatal(err)
	}
	p1 := newPhoto(e.ID, "a.jpg", "a")
	p1.CategoryID = &cat.ID
	photos := mustCreatePhotos(t, db, e.ID, p1, newPhoto(e.ID, "b.jpg", "b"), newPhoto(e.ID, "c.jpg", "c"))
	kept := mustCreatePhotos(t, db, other.ID, newPhoto(other.ID, "a.jpg", "a"))

	var want []string
	for _, p := range photos {
		want = append(want, p.BlobKeys()...)
	}
	slices.Sort(want)

	keys, err := db.DeleteEvent(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, want) {
		t.Fatalf("DeleteEvent keys = %v, want %v", keys, want)
	}

	_, err = db.FindEventByID(ctx, e.ID)
	assertErrorIs(t, err, storage.ErrNotFound)
	for _, p := range photos {
		_, err := db.FindPhotoByID(ctx, p.ID)
		assertErrorIs(t, err, storage.ErrNotFound)
	}
	if cats, err := db.FindCategories(ctx, e.ID); err != nil || len(cats) != 0 {
		t.Fatalf("categories of the deleted event = %v, %v", cats, err)
	}
	if n := mustCount(t, db, `SELECT COUNT(*) FROM categories WHERE event_id = ?`, e.ID); n != 0 {
		t.Fatalf("%d category rows left", n)
	}
	if n := mustCount(t, db, `SELECT COUNT(*) FROM photos WHERE event_id = ?`, e.ID); n != 0 {
		t.Fatalf("%d photo rows left", n)
	}

	// Every key is in the ledger and due now.
	due, err := db.DueBlobGC(ctx, clock.Now(), 100)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(due)
	if !slices.Equal(due, want) {
		t.Fatalf("DueBlobGC = %v, want %v", due, want)
	}
	if n, err := db.PendingBlobGC(ctx); err != nil || n != len(want) {
		t.Fatalf("PendingBlobGC = %d, %v; want %d", n, err, len(want))
	}

	// The other event is untouched.
	if got := mustFindEvent(t, db, other.ID); got.PhotoCount != 1 {
		t.Fatalf("other event photo count = %d", got.PhotoCount)
	}
	if _, err := db.FindPhotoByID(ctx, kept[0].ID); err != nil {
		t.Fatal(err)
	}
	if c, err := db.FindCategory(ctx, other.ID, "ceremony"); err != nil || c.ID != otherCat.ID {
		t.Fatalf("other category = %+v, %v", c, err)
	}

	_, err = db.DeleteEvent(ctx, e.ID)
	assertErrorIs(t, err, storage.ErrNotFound)
}
