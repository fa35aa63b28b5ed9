package storage_test

import (
	"context"
	"testing"

	"github.com/gallerist/gallerist/storage"
)

func TestAdmins(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	useClock(db)

	if n, err := db.CountAdmins(ctx); err != nil || n != 0 {
		t.Fatalf("CountAdmins = %d, %v; want 0", n, err)
	}
	a := &storage.Admin{Email: "  Anna@Example.COM ", PasswordHash: "bcrypt"}
	if err := db.CreateAdmin(ctx, a); err != nil {
		t.Fatal(err)
	}
	if a.Email != "anna@example.com" || a.ID == 0 || !a.CreatedAt.Equal(t0) {
		t.Fatalf("created admin = %+v", a)
	}
	for _, email := range []string{"anna@example.com", "ANNA@EXAMPLE.COM", " Anna@Example.com"} {
		got, err := db.FindAdminByEmail(ctx, email)
		if err != nil {
			t.Fatalf("FindAdminByEmail(%q): %v", email, err)
		}
		if got.ID != a.ID || got.Email != "anna@example.com" || got.PasswordHash != "bcrypt" || !got.CreatedAt.Equal(t0) || !got.UpdatedAt.Equal(t0) {
			t.Fatalf("FindAdminByEmail(%q) = %+v", email, got)
		}
	}
	err := db.CreateAdmin(ctx, &storage.Admin{Email: "ANNA@example.com", PasswordHash: "x"})
	assertErrorIs(t, err, storage.ErrConflict)
	_, err = db.FindAdminByEmail(ctx, "ben@example.com")
	assertErrorIs(t, err, storage.ErrNotFound)

	if err := db.CreateAdmin(ctx, &storage.Admin{Email: "ben@example.com", PasswordHash: "y"}); err != nil {
		t.Fatal(err)
	}
	if n, err := db.CountAdmins(ctx); err != nil || n != 2 {
		t.Fatalf("CountAdmins = %d, %v; want 2", n, err)
	}
}
