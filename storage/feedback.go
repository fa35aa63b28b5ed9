package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Comment is a guest's comment on a photo.
type Comment struct {
	ID        int64
	PhotoID   int64
	GuestID   string
	Name      string
	Body      string
	CreatedAt time.Time
}

// GuestFeedback is one guest's own feedback on a photo.
type GuestFeedback struct {
	Liked  bool
	Rating int // 0 when not rated
}

// refreshFeedback recomputes a photo's aggregates from the feedback rows.
func (db *DB) refreshFeedback(ctx context.Context, tx *sql.Tx, photoID int64) error {
	_, err := tx.ExecContext(ctx, db.rebind(`UPDATE photos SET
		like_count = (SELECT COUNT(*) FROM photo_likes WHERE photo_id = ?),
		rating_count = (SELECT COUNT(*) FROM photo_ratings WHERE photo_id = ?),
		rating_sum = (SELECT COALESCE(SUM(rating), 0) FROM photo_ratings WHERE photo_id = ?),
		rating_avg = COALESCE((SELECT AVG(rating) FROM photo_ratings WHERE photo_id = ?), 0),
		comment_count = (SELECT COUNT(*) FROM photo_comments WHERE photo_id = ?)
		WHERE id = ?`), photoID, photoID, photoID, photoID, photoID, photoID)
	return err
}

// SetLike records or removes a guest's like of a photo.
func (db *DB) SetLike(ctx context.Context, photoID int64, guestID string, liked bool) error {
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		if liked {
			_, err = tx.ExecContext(ctx, db.rebind(`INSERT INTO photo_likes (photo_id, guest_id, created_at) VALUES (?, ?, ?)
				ON CONFLICT (photo_id, guest_id) DO NOTHING`), photoID, guestID, ts(db.now()))
		} else {
			_, err = tx.ExecContext(ctx, db.rebind(`DELETE FROM photo_likes WHERE photo_id = ? AND guest_id = ?`), photoID, guestID)
		}
		if err != nil {
			return formatError(err)
		}
		return db.refreshFeedback(ctx, tx, photoID)
	})
	if err != nil {
		return fmt.Errorf("like photo %d: %w", photoID, err)
	}
	return nil
}

// SetRating records a guest's 1-5 rating of a photo (0 removes it).
func (db *DB) SetRating(ctx context.Context, photoID int64, guestID string, rating int) error {
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		if rating == 0 {
			_, err = tx.ExecContext(ctx, db.rebind(`DELETE FROM photo_ratings WHERE photo_id = ? AND guest_id = ?`), photoID, guestID)
		} else {
			_, err = tx.ExecContext(ctx, db.rebind(`INSERT INTO photo_ratings (photo_id, guest_id, rating, created_at) VALUES (?, ?, ?, ?)
				ON CONFLICT (photo_id, guest_id) DO UPDATE SET rating = excluded.rating, created_at = excluded.created_at`),
				photoID, guestID, rating, ts(db.now()))
		}
		if err != nil {
			return formatError(err)
		}
		return db.refreshFeedback(ctx, tx, photoID)
	})
	if err != nil {
		return fmt.Errorf("rate photo %d: %w", photoID, err)
	}
	return nil
}

// AddComment stores a guest's comment.
func (db *DB) AddComment(ctx context.Context, c *Comment) error {
	c.CreatedAt = db.now()
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, db.rebind(`INSERT INTO photo_comments (photo_id, guest_id, name, body, created_at)
			VALUES (?, ?, ?, ?, ?) RETURNING id`), c.PhotoID, c.GuestID, c.Name, c.Body, ts(c.CreatedAt)).Scan(&c.ID); err != nil {
			return formatError(err)
		}
		return db.refreshFeedback(ctx, tx, c.PhotoID)
	})
	if err != nil {
		return fmt.Errorf("comment on photo %d: %w", c.PhotoID, err)
	}
	return nil
}

// FindComments lists a photo's comments, oldest first, and how many there are.
func (db *DB) FindComments(ctx context.Context, photoID int64, limit, offset int) ([]*Comment, int, error) {
	var total int
	if err := db.r.QueryRowContext(ctx, db.rebind(`SELECT COUNT(*) FROM photo_comments WHERE photo_id = ?`), photoID).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count comments: %w", err)
	}
	rows, err := db.r.QueryContext(ctx, db.rebind(`SELECT id, photo_id, guest_id, name, body, created_at FROM photo_comments
		WHERE photo_id = ? ORDER BY id LIMIT ? OFFSET ?`), photoID, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("list comments: %w", err)
	}
	defer rows.Close()
	out := []*Comment{}
	for rows.Next() {
		var c Comment
		if err := rows.Scan(&c.ID, &c.PhotoID, &c.GuestID, &c.Name, &c.Body, timeCol{&c.CreatedAt}); err != nil {
			return nil, 0, err
		}
		out = append(out, &c)
	}
	return out, total, rows.Err()
}

// FindGuestFeedback returns one guest's like and rating of a photo.
func (db *DB) FindGuestFeedback(ctx context.Context, photoID int64, guestID string) (GuestFeedback, error) {
	var f GuestFeedback
	var n int
	if err := db.r.QueryRowContext(ctx, db.rebind(`SELECT COUNT(*) FROM photo_likes WHERE photo_id = ? AND guest_id = ?`), photoID, guestID).Scan(&n); err != nil {
		return f, fmt.Errorf("read like: %w", err)
	}
	f.Liked = n > 0
	err := db.r.QueryRowContext(ctx, db.rebind(`SELECT rating FROM photo_ratings WHERE photo_id = ? AND guest_id = ?`), photoID, guestID).Scan(&f.Rating)
	if err != nil && err != sql.ErrNoRows {
		return f, fmt.Errorf("read rating: %w", err)
	}
	return f, nil
}

// CountPhotoView adds one view to a photo.
func (db *DB) CountPhotoView(ctx context.Context, photoID int64) error {
	if _, err := db.exec(ctx, `UPDATE photos SET view_count = view_count + 1 WHERE id = ?`, photoID); err != nil {
		return fmt.Errorf("count view of photo %d: %w", photoID, err)
	}
	return nil
}

// CountPhotoDownloads adds one download to each photo and to its event's total.
func (db *DB) CountPhotoDownloads(ctx context.Context, photoIDs ...int64) error {
	return db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, id := range photoIDs {
			if _, err := tx.ExecContext(ctx, db.rebind(`UPDATE photos SET download_count = download_count + 1 WHERE id = ?`), id); err != nil {
				return fmt.Errorf("count download of photo %d: %w", id, err)
			}
			// The event's counter, in the same transaction; no row when the photo is gone.
			if _, err := tx.ExecContext(ctx, db.rebind(`UPDATE events SET total_downloads = total_downloads + 1
				WHERE id = (SELECT event_id FROM photos WHERE id = ?)`), id); err != nil {
				return fmt.Errorf("count download of photo %d in its event: %w", id, err)
			}
		}
		return nil
	})
}

// GuestTokenKey returns the instance's key for signing guest tokens, creating it on
// first use. It lives in the database so every instance on it shares the key.
func (db *DB) GuestTokenKey(ctx context.Context, generate func() (string, error)) (string, error) {
	var key string
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, db.rebind(`SELECT value FROM settings WHERE key = 'internal_guest_token_key'`)).Scan(&key)
		if err == nil {
			return nil
		}
		if err != sql.ErrNoRows {
			return err
		}
		if key, err = generate(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.rebind(`INSERT INTO settings (key, value, updated_at) VALUES ('internal_guest_token_key', ?, ?)`), key, ts(db.now()))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("guest token key: %w", err)
	}
	return key, nil
}
