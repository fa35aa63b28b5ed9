package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// The blob GC ledger makes blob writes and deletions crash-safe:
//   - before a blob is written, AddBlobIntents records its key with a grace period; the
//     transaction that inserts the row pointing at it removes the intent;
//   - when a row is deleted, its transaction records its blobs as due now.
// Whatever a crash leaves between the two steps is found by the janitor (DueBlobGC).

func (db *DB) scheduleBlobGC(ctx context.Context, tx *sql.Tx, key string, notBefore time.Time) error {
	_, err := tx.ExecContext(ctx, db.rebind(`INSERT INTO blob_gc (key, not_before, created_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET not_before = excluded.not_before`), key, ts(notBefore), ts(db.now()))
	if err != nil {
		return fmt.Errorf("schedule blob %s for removal: %w", key, formatError(err))
	}
	return nil
}

// AddBlobIntents records that blobs are about to be written under keys. Unless a row
// adopts them, the janitor removes the blobs after notBefore.
func (db *DB) AddBlobIntents(ctx context.Context, notBefore time.Time, keys ...string) error {
	return db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, k := range keys {
			if err := db.scheduleBlobGC(ctx, tx, k, notBefore); err != nil {
				return err
			}
		}
		return nil
	})
}

// DueBlobGC lists up to limit keys whose removal is due at now and that no photo row
// references (a safety net: a referenced blob is never removed).
func (db *DB) DueBlobGC(ctx context.Context, now time.Time, limit int) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, db.rebind(`SELECT g.key FROM blob_gc g WHERE g.not_before <= ?
		AND NOT EXISTS (SELECT 1 FROM photos p WHERE p.blob_key = g.key) ORDER BY g.not_before LIMIT ?`), ts(now), limit)
	if err != nil {
		return nil, fmt.Errorf("list due blob removals: %w", err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// RemoveBlobGC forgets ledger entries once their blobs are gone (or adopted).
func (db *DB) RemoveBlobGC(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	return db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, db.rebind(`DELETE FROM blob_gc WHERE key = ?`), k); err != nil {
				return fmt.Errorf("forget blob %s: %w", k, formatError(err))
			}
		}
		return nil
	})
}

// PendingBlobGC counts ledger entries, due or not.
func (db *DB) PendingBlobGC(ctx context.Context) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM blob_gc`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count blob removals: %w", err)
	}
	return n, nil
}

// PhotoBlobKeys lists the original blob key of every photo (for consistency checks).
func (db *DB) PhotoBlobKeys(ctx context.Context) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT blob_key FROM photos ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list photo blobs: %w", err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}
