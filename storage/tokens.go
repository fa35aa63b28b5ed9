package storage

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Token is an API token. Only a hash of its secret is stored; the secret is shown once.
type Token struct {
	ID         int64
	Name       string
	Prefix     string // the first characters of the secret, for people to recognise it
	Scopes     []string
	CreatedAt  time.Time
	ExpiresAt  *time.Time
	RevokedAt  *time.Time
	LastUsedAt *time.Time
}

const tokenColumns = `id, name, prefix, scopes, created_at, expires_at, revoked_at, last_used_at`

func scanToken(row interface{ Scan(...any) error }) (*Token, error) {
	var t Token
	var scopes string
	var exp, rev, used nullTime
	if err := row.Scan(&t.ID, &t.Name, &t.Prefix, &scopes, timeCol{&t.CreatedAt}, &exp, &rev, &used); err != nil {
		return nil, formatError(err)
	}
	if scopes != "" {
		t.Scopes = strings.Split(scopes, ",")
	}
	t.ExpiresAt, t.RevokedAt, t.LastUsedAt = exp.t, rev.t, used.t
	return &t, nil
}

// CreateToken stores t with the hash of its secret and fills in ID and CreatedAt.
func (db *DB) CreateToken(ctx context.Context, t *Token, secretHash string) error {
	t.CreatedAt = db.now()
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, db.rebind(`INSERT INTO api_tokens (name, token_hash, prefix, scopes, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
			t.Name, secretHash, t.Prefix, strings.Join(t.Scopes, ","), ts(t.CreatedAt), tsPtr(t.ExpiresAt)).Scan(&t.ID)
	})
	if err != nil {
		return fmt.Errorf("create token %q: %w", t.Name, formatError(err))
	}
	return nil
}

// FindTokenByHash returns the token whose secret hashes to secretHash, revoked or not.
func (db *DB) FindTokenByHash(ctx context.Context, secretHash string) (*Token, error) {
	t, err := scanToken(db.r.QueryRowContext(ctx, db.rebind(`SELECT `+tokenColumns+` FROM api_tokens WHERE token_hash = ?`), secretHash))
	if err != nil {
		return nil, fmt.Errorf("find token by hash: %w", err)
	}
	return t, nil
}

// FindTokenByID returns one token.
func (db *DB) FindTokenByID(ctx context.Context, id int64) (*Token, error) {
	t, err := scanToken(db.r.QueryRowContext(ctx, db.rebind(`SELECT `+tokenColumns+` FROM api_tokens WHERE id = ?`), id))
	if err != nil {
		return nil, fmt.Errorf("find token %d: %w", id, err)
	}
	return t, nil
}

// FindTokens lists every token, newest first.
func (db *DB) FindTokens(ctx context.Context) ([]*Token, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []*Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken marks a token revoked. Revoking twice keeps the first time.
func (db *DB) RevokeToken(ctx context.Context, id int64) error {
	res, err := db.exec(ctx, `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, ts(db.now()), id)
	if err != nil {
		return fmt.Errorf("revoke token %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("revoke token %d: %w", id, ErrNotFound)
	}
	return nil
}

// TouchToken records that a token was used at `at`. It writes at most once a minute
// per token so that reads do not turn into a write per request.
func (db *DB) TouchToken(ctx context.Context, id int64, at time.Time) error {
	_, err := db.exec(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`,
		ts(at), id, ts(at.Add(-time.Minute)))
	if err != nil {
		return fmt.Errorf("touch token %d: %w", id, err)
	}
	return nil
}
