package storage

import (
	"context"
	"database/sql"
	"fmt"
)

// Settings returns every stored runtime setting as key → value. Keys with no row use
// the defaults the server keeps.
func (db *DB) Settings(ctx context.Context) (map[string]string, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT key, value FROM settings`)
	if err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("read settings: %w", err)
		}
		out[k] = v
	}
	return out, rows.Err()
}

// PutSettings stores the given settings in one transaction.
func (db *DB) PutSettings(ctx context.Context, values map[string]string) error {
	now := ts(db.now())
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for k, v := range values {
			if _, err := tx.ExecContext(ctx, db.rebind(`INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`), k, v, now); err != nil {
				return formatError(err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write settings: %w", err)
	}
	return nil
}
