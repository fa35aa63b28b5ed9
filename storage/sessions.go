package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// AdminSession is a photographer signed in to the web UI. Only a hash of the cookie's
// secret is stored.
type AdminSession struct {
	IDHash     string
	AdminID    int64
	CSRFToken  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastSeenAt time.Time
}

// CreateAdminSession stores a new session; CreatedAt and LastSeenAt are set to now. Expired
// sessions are removed on the way.
func (db *DB) CreateAdminSession(ctx context.Context, s *AdminSession) error {
	s.CreatedAt = db.now()
	s.LastSeenAt = s.CreatedAt
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.rebind(`DELETE FROM admin_sessions WHERE expires_at <= ?`), ts(s.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.rebind(`INSERT INTO admin_sessions (id_hash, admin_id, csrf_token, created_at, expires_at, last_seen_at)
			VALUES (?, ?, ?, ?, ?, ?)`), s.IDHash, s.AdminID, s.CSRFToken, ts(s.CreatedAt), ts(s.ExpiresAt), ts(s.LastSeenAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("create admin session: %w", formatError(err))
	}
	return nil
}

// FindAdminSession returns the session whose secret hashes to idHash with its admin,
// expired or not (ErrNotFound when there is none).
func (db *DB) FindAdminSession(ctx context.Context, idHash string) (*AdminSession, *Admin, error) {
	var s AdminSession
	var a Admin
	err := db.r.QueryRowContext(ctx, db.rebind(`SELECT s.id_hash, s.admin_id, s.csrf_token, s.created_at, s.expires_at, s.last_seen_at,
			a.id, a.email, a.password_hash, a.created_at, a.updated_at
		FROM admin_sessions s JOIN admins a ON a.id = s.admin_id WHERE s.id_hash = ?`), idHash).
		Scan(&s.IDHash, &s.AdminID, &s.CSRFToken, timeCol{&s.CreatedAt}, timeCol{&s.ExpiresAt}, timeCol{&s.LastSeenAt},
			&a.ID, &a.Email, &a.PasswordHash, timeCol{&a.CreatedAt}, timeCol{&a.UpdatedAt})
	if err != nil {
		return nil, nil, fmt.Errorf("find admin session: %w", formatError(err))
	}
	return &s, &a, nil
}

// TouchAdminSession records use of a session and moves its expiry (a sliding window).
func (db *DB) TouchAdminSession(ctx context.Context, idHash string, seen, expires time.Time) error {
	if _, err := db.exec(ctx, `UPDATE admin_sessions SET last_seen_at = ?, expires_at = ? WHERE id_hash = ?`, ts(seen), ts(expires), idHash); err != nil {
		return fmt.Errorf("touch admin session: %w", err)
	}
	return nil
}

// DeleteAdminSession ends one session; ending an unknown one is not an error.
func (db *DB) DeleteAdminSession(ctx context.Context, idHash string) error {
	if _, err := db.exec(ctx, `DELETE FROM admin_sessions WHERE id_hash = ?`, idHash); err != nil {
		return fmt.Errorf("delete admin session: %w", err)
	}
	return nil
}

// CreateFirstAdmin stores a only while no admin exists, in one statement, so two
// first-run setups racing each other cannot both succeed. It reports ErrConflict when an
// admin exists already.
func (db *DB) CreateFirstAdmin(ctx context.Context, a *Admin) error {
	a.Email = strings.ToLower(strings.TrimSpace(a.Email))
	a.CreatedAt = db.now()
	a.UpdatedAt = a.CreatedAt
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, db.rebind(`INSERT INTO admins (email, password_hash, created_at, updated_at)
			SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM admins) RETURNING id`),
			a.Email, a.PasswordHash, ts(a.CreatedAt), ts(a.UpdatedAt)).Scan(&a.ID)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("create first admin: %w", ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create first admin: %w", formatError(err))
	}
	return nil
}
