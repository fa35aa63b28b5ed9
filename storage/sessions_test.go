package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gallerist/gallerist/storage"
)

func TestCreateFirstAdminOnlyOnce(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	first := &storage.Admin{Email: "First@Example.com", PasswordHash: "bcrypt"}
	if err := db.CreateFirstAdmin(ctx, first); err != nil || first.ID == 0 {
		t.Fatalf("first admin: id %d, %v", first.ID, err)
	}
	if err := db.CreateFirstAdmin(ctx, &storage.Admin{Email: "second@example.com", PasswordHash: "bcrypt"}); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("second first admin: %v, want ErrConflict", err)
	}
	if n, _ := db.CountAdmins(ctx); n != 1 {
		t.Errorf("%d admins, want 1", n)
	}
	if a, err := db.FindAdminByEmail(ctx, "first@example.com"); err != nil || a.ID != first.ID {
		t.Errorf("FindAdminByEmail = %+v, %v", a, err)
	}
}

func TestAdminSessions(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	clock := useClock(db)
	a := &storage.Admin{Email: "studio@example.com", PasswordHash: "bcrypt"}
	if err := db.CreateAdmin(ctx, a); err != nil {
		t.Fatal(err)
	}
	s := &storage.AdminSession{IDHash: "h1", AdminID: a.ID, CSRFToken: "csrf", ExpiresAt: clock.Now().Add(time.Hour)}
	if err := db.CreateAdminSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	got, admin, err := db.FindAdminSession(ctx, "h1")
	if err != nil || got.CSRFToken != "csrf" || admin.Email != "studio@example.com" || !got.CreatedAt.Equal(clock.Now()) || !got.ExpiresAt.Equal(s.ExpiresAt) {
		t.Fatalf("FindAdminSession = %+v, %+v, %v", got, admin, err)
	}
	if _, _, err := db.FindAdminSession(ctx, "unknown"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("unknown session: %v, want ErrNotFound", err)
	}

	later := clock.Advance(30 * time.Minute)
	if err := db.TouchAdminSession(ctx, "h1", later, later.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _, _ = db.FindAdminSession(ctx, "h1")
	if !got.LastSeenAt.Equal(later) || !got.ExpiresAt.Equal(later.Add(time.Hour)) {
		t.Errorf("after touch: last seen %v expires %v", got.LastSeenAt, got.ExpiresAt)
	}

	// A new session sweeps the expired ones away.
	clock.Advance(2 * time.Hour)
	if err := db.CreateAdminSession(ctx, &storage.AdminSession{IDHash: "h2", AdminID: a.ID, CSRFToken: "c2", ExpiresAt: clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.FindAdminSession(ctx, "h1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("expired session still stored: %v", err)
	}
	if err := db.DeleteAdminSession(ctx, "h2"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.FindAdminSession(ctx, "h2"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("deleted session still stored: %v", err)
	}
	if err := db.DeleteAdminSession(ctx, "h2"); err != nil {
		t.Errorf("deleting twice: %v", err)
	}
}
