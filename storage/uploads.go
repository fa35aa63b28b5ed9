package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Upload session states.
const (
	UploadOpen       = "open"       // taking chunks
	UploadCompleting = "completing" // being assembled (leased until CompletingUntil)
	UploadCompleted  = "completed"  // a photo was stored: PhotoID
	UploadDuplicate  = "duplicate"  // the bytes were already in the event: PhotoID is that photo
	UploadAborted    = "aborted"
)

// Upload is a resumable chunked upload session.
type Upload struct {
	ID              string
	EventID         int64
	Owner           string // who opened it ("token:12"); nobody else may see it
	Filename        string
	Size            int64
	MIMEType        string
	SHA256          string // expected whole-file hash, when the client gave one
	ChunkSize       int64
	ChunkCount      int
	Status          string
	CompletingUntil *time.Time
	PhotoID         *int64
	ExpiresAt       time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Chunk is one received part of an upload.
type Chunk struct {
	Index  int
	Size   int64
	SHA256 string
}

// ChunkKey is the blob key of a chunk of an upload.
func ChunkKey(uploadID string, index int) string {
	return fmt.Sprintf("uploads/%s/%06d", uploadID, index)
}

// ChunkSize returns the exact size chunk i must have.
func (u *Upload) ExpectedChunkSize(i int) int64 {
	if i == u.ChunkCount-1 {
		return u.Size - int64(u.ChunkCount-1)*u.ChunkSize
	}
	return u.ChunkSize
}

const uploadColumns = `id, event_id, owner, filename, size, mime_type, sha256, chunk_size, chunk_count, status,
	completing_until, photo_id, expires_at, created_at, updated_at`

func scanUpload(row interface{ Scan(...any) error }) (*Upload, error) {
	var u Upload
	var until nullTime
	var photo sql.NullInt64
	err := row.Scan(&u.ID, &u.EventID, &u.Owner, &u.Filename, &u.Size, &u.MIMEType, &u.SHA256, &u.ChunkSize, &u.ChunkCount,
		&u.Status, &until, &photo, timeCol{&u.ExpiresAt}, timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt})
	if err != nil {
		return nil, formatError(err)
	}
	u.CompletingUntil = until.t
	if photo.Valid {
		u.PhotoID = &photo.Int64
	}
	return &u, nil
}

// CreateUpload stores a new session; the event must exist and be open for photos.
func (db *DB) CreateUpload(ctx context.Context, u *Upload) error {
	u.CreatedAt = db.now()
	u.UpdatedAt = u.CreatedAt
	u.Status = UploadOpen
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := db.eventForWrite(ctx, tx, u.EventID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.rebind(`INSERT INTO uploads (id, event_id, owner, filename, size, mime_type, sha256,
			chunk_size, chunk_count, status, expires_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			u.ID, u.EventID, u.Owner, u.Filename, u.Size, u.MIMEType, u.SHA256, u.ChunkSize, u.ChunkCount, u.Status,
			ts(u.ExpiresAt), ts(u.CreatedAt), ts(u.UpdatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("create upload for event %d: %w", u.EventID, formatError(err))
	}
	return nil
}

// FindUpload returns a session with the indexes of its received chunks, in order.
func (db *DB) FindUpload(ctx context.Context, id string) (*Upload, []Chunk, error) {
	u, err := scanUpload(db.r.QueryRowContext(ctx, db.rebind(`SELECT `+uploadColumns+` FROM uploads WHERE id = ?`), id))
	if err != nil {
		return nil, nil, fmt.Errorf("find upload: %w", err)
	}
	rows, err := db.r.QueryContext(ctx, db.rebind(`SELECT idx, size, sha256 FROM upload_chunks WHERE upload_id = ? ORDER BY idx`), id)
	if err != nil {
		return nil, nil, fmt.Errorf("list chunks of upload: %w", err)
	}
	defer rows.Close()
	chunks := []Chunk{}
	for rows.Next() {
		var c Chunk
		if err := rows.Scan(&c.Index, &c.Size, &c.SHA256); err != nil {
			return nil, nil, err
		}
		chunks = append(chunks, c)
	}
	return u, chunks, rows.Err()
}

// RecordChunk notes that chunk c of an open session is stored (replacing an earlier copy)
// and returns how many chunks the session has. A session that is not open is
// ErrConflict.
func (db *DB) RecordChunk(ctx context.Context, uploadID string, c Chunk) (int, error) {
	var n int
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var status string
		if err := tx.QueryRowContext(ctx, db.rebind(`SELECT status FROM uploads WHERE id = ?`), uploadID).Scan(&status); err != nil {
			return formatError(err)
		}
		if status != UploadOpen {
			return fmt.Errorf("upload is %s: %w", status, ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, db.rebind(`INSERT INTO upload_chunks (upload_id, idx, size, sha256, received_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (upload_id, idx) DO UPDATE SET size = excluded.size, sha256 = excluded.sha256, received_at = excluded.received_at`),
			uploadID, c.Index, c.Size, c.SHA256, ts(db.now())); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, db.rebind(`SELECT COUNT(*) FROM upload_chunks WHERE upload_id = ?`), uploadID).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("record chunk %d: %w", c.Index, formatError(err))
	}
	return n, nil
}

// BeginCompleteUpload leases an open session (or one whose earlier completion died) for
// assembly until `until`. It reports false, with the session as stored, when another
// completion holds it or it is already closed.
func (db *DB) BeginCompleteUpload(ctx context.Context, id string, until time.Time) (bool, *Upload, error) {
	now := db.now()
	res, err := db.exec(ctx, `UPDATE uploads SET status = 'completing', completing_until = ?, updated_at = ?
		WHERE id = ? AND (status = 'open' OR (status = 'completing' AND completing_until < ?))`, ts(until), ts(now), id, ts(now))
	if err != nil {
		return false, nil, fmt.Errorf("begin completing upload: %w", err)
	}
	n, _ := res.RowsAffected()
	u, _, err := db.FindUpload(ctx, id)
	if err != nil {
		return false, nil, err
	}
	return n == 1, u, nil
}

// ReopenUpload gives a session back to the open state after a completion that failed
// without storing anything (missing chunks, a transient error).
func (db *DB) ReopenUpload(ctx context.Context, id string) error {
	if _, err := db.exec(ctx, `UPDATE uploads SET status = 'open', completing_until = NULL, updated_at = ? WHERE id = ? AND status = 'completing'`,
		ts(db.now()), id); err != nil {
		return fmt.Errorf("reopen upload: %w", err)
	}
	return nil
}

// AbortUpload closes a session for good (its chunks are then removed by the caller or the
// janitor).
func (db *DB) AbortUpload(ctx context.Context, id string) error {
	res, err := db.exec(ctx, `UPDATE uploads SET status = 'aborted', completing_until = NULL, updated_at = ? WHERE id = ? AND status IN ('open', 'completing')`,
		ts(db.now()), id)
	if err != nil {
		return fmt.Errorf("abort upload: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("abort upload: %w", ErrConflict)
	}
	return nil
}

// DeleteUpload removes a session and its chunk rows.
func (db *DB) DeleteUpload(ctx context.Context, id string) error {
	if _, err := db.exec(ctx, `DELETE FROM uploads WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete upload: %w", err)
	}
	return nil
}

// FindExpiredUploads lists up to limit sessions whose expiry is before now, and closed
// sessions (completed, duplicate, aborted) of any age, whose chunks can go.
func (db *DB) FindExpiredUploads(ctx context.Context, now time.Time, limit int) ([]*Upload, error) {
	rows, err := db.r.QueryContext(ctx, db.rebind(`SELECT `+uploadColumns+` FROM uploads WHERE expires_at < ? ORDER BY expires_at LIMIT ?`), ts(now), limit)
	if err != nil {
		return nil, fmt.Errorf("find expired uploads: %w", err)
	}
	defer rows.Close()
	var out []*Upload
	for rows.Next() {
		u, err := scanUpload(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// closeUpload marks a chunked upload finished inside CreatePhotos' transaction.
func (db *DB) closeUpload(ctx context.Context, tx *sql.Tx, uploadID string, results []PhotoCreateResult) error {
	if uploadID == "" {
		return nil
	}
	if len(results) != 1 {
		return errors.New("an upload session closes with exactly one photo")
	}
	status, photoID := UploadCompleted, int64(0)
	if results[0].Photo != nil {
		photoID = results[0].Photo.ID
	} else {
		status, photoID = UploadDuplicate, results[0].DuplicateOf
	}
	res, err := tx.ExecContext(ctx, db.rebind(`UPDATE uploads SET status = ?, photo_id = ?, completing_until = NULL, updated_at = ?
		WHERE id = ? AND status = 'completing'`), status, photoID, ts(db.now()), uploadID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("upload %s is no longer being completed: %w", uploadID, ErrConflict)
	}
	return nil
}

// FinishUpload closes a session that is being completed without storing a photo: as a
// duplicate of photoID, or aborted (its bytes were refused).
func (db *DB) FinishUpload(ctx context.Context, id, status string, photoID *int64) error {
	var photo any
	if photoID != nil {
		photo = *photoID
	}
	if _, err := db.exec(ctx, `UPDATE uploads SET status = ?, photo_id = ?, completing_until = NULL, updated_at = ? WHERE id = ?`,
		status, photo, ts(db.now()), id); err != nil {
		return fmt.Errorf("finish upload: %w", err)
	}
	return nil
}
