package storage_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gallerist/gallerist/storage"
)

func TestTokens(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	clock := useClock(db)

	expires := t0.Add(30 * 24 * time.Hour)
	a := &storage.Token{Name: "uploader", Prefix: "gal_abc", Scopes: []string{"photos:write", "events:read"}, ExpiresAt: &expires}
	if err := db.CreateToken(ctx, a, "hash-a"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	b := &storage.Token{Name: "reader", Prefix: "gal_def"}
	if err := db.CreateToken(ctx, b, "hash-b"); err != nil {
		t.Fatal(err)
	}
	if a.ID == 0 || b.ID <= a.ID || !a.CreatedAt.Equal(t0) {
		t.Fatalf("created ids %d, %d at %v", a.ID, b.ID, a.CreatedAt)
	}
	// The hash is unique.
	err := db.CreateToken(ctx, &storage.Token{Name: "dup", Prefix: "x"}, "hash-a")
	assertErrorIs(t, err, storage.ErrConflict)

	got, err := db.FindTokenByHash(ctx, "hash-a")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != a.ID || got.Name != "uploader" || got.Prefix != "gal_abc" || !slices.Equal(got.Scopes, a.Scopes) ||
		got.ExpiresAt == nil || !got.ExpiresAt.Equal(expires) || got.RevokedAt != nil || got.LastUsedAt != nil || !got.CreatedAt.Equal(t0) {
		t.Fatalf("FindTokenByHash = %+v", got)
	}
	got, err = db.FindTokenByID(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "reader" || got.Scopes != nil || got.ExpiresAt != nil {
		t.Fatalf("FindTokenByID = %+v", got)
	}
	_, err = db.FindTokenByHash(ctx, "nope")
	assertErrorIs(t, err, storage.ErrNotFound)
	_, err = db.FindTokenByID(ctx, 9999)
	assertErrorIs(t, err, storage.ErrNotFound)

	list, err := db.FindTokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != b.ID || list[1].ID != a.ID {
		t.Fatalf("FindTokens = %+v, want newest first", list)
	}

	// Revoking keeps the first time; a revoked token is still found (the caller refuses it).
	revokedAt := clock.Advance(time.Hour)
	if err := db.RevokeToken(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	if err := db.RevokeToken(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	got, err = db.FindTokenByHash(ctx, "hash-a")
	if err != nil {
		t.Fatal(err)
	}
	if got.RevokedAt == nil || !got.RevokedAt.Equal(revokedAt) {
		t.Fatalf("RevokedAt = %v, want %v", got.RevokedAt, revokedAt)
	}
	err = db.RevokeToken(ctx, 9999)
	assertErrorIs(t, err, storage.ErrNotFound)
}

func TestTouchTokenWritesAtMostOncePerMinute(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	clock := useClock(db)
	tok := &storage.Token{Name: "t", Prefix: "p"}
	if err := db.CreateToken(ctx, tok, "h"); err != nil {
		t.Fatal(err)
	}
	lastUsed := func() *time.Time {
		t.Helper()
		got, err := db.FindTokenByID(ctx, tok.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.LastUsedAt
	}
	steps := []struct {
		after time.Duration // since t0
		want  time.Duration // expected last_used_at, since t0
	}{
		{0, 0},                // first use is always written
		{30 * time.Second, 0}, // within the minute: kept
		{time.Minute, 0},      // exactly a minute: kept
		{time.Minute + time.Second, 61 * time.Second},
		{100 * time.Second, 61 * time.Second},
		{125 * time.Second, 125 * time.Second},
		{10 * time.Second, 125 * time.Second}, // a use reported late never moves it back
	}
	for _, s := range steps {
		at := t0.Add(s.after)
		clock.Set(at)
		if err := db.TouchToken(ctx, tok.ID, clock.Now()); err != nil {
			t.Fatal(err)
		}
		got := lastUsed()
		if want := t0.Add(s.want); got == nil || !got.Equal(want) {
			t.Fatalf("after a use at +%v: last_used_at = %v, want %v", s.after, got, want)
		}
	}
	// A missing token is not an error; it just writes nothing.
	if err := db.TouchToken(ctx, 9999, t0); err != nil {
		t.Fatal(err)
	}
}
