package storage

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Admin is a photographer account that signs in to the web UI.
type Admin struct {
	ID           int64
	Email        string
	PasswordHash string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// CreateAdmin stores a new admin; the email is kept lower-case and must be unique
// (ErrConflict otherwise).
func (db *DB) CreateAdmin(ctx context.Context, a *Admin) error {
	a.Email = strings.ToLower(strings.TrimSpace(a.Email))
	a.CreatedAt = db.now()
	a.UpdatedAt = a.CreatedAt
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, db.rebind(`INSERT INTO admins (email, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?) RETURNING id`),
			a.Email, a.PasswordHash, ts(a.CreatedAt), ts(a.UpdatedAt)).Scan(&a.ID)
	})
	if err != nil {
		return fmt.Errorf("create admin: %w", formatError(err))
	}
	return nil
}

// FindAdminByEmail returns the admin with that email (case-insensitive).
func (db *DB) FindAdminByEmail(ctx context.Context, email string) (*Admin, error) {
	var a Admin
	err := db.r.QueryRowContext(ctx, db.rebind(`SELECT id, email, password_hash, created_at, updated_at FROM admins WHERE email = ?`),
		strings.ToLower(strings.TrimSpace(email))).Scan(&a.ID, &a.Email, &a.PasswordHash, timeCol{&a.CreatedAt}, timeCol{&a.UpdatedAt})
	if err != nil {
		return nil, fmt.Errorf("find admin: %w", formatError(err))
	}
	return &a, nil
}

// CountAdmins tells how many admin accounts exist.
func (db *DB) CountAdmins(ctx context.Context) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM admins`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count admins: %w", err)
	}
	return n, nil
}
