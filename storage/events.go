package storage

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Protection levels of an event, from the seed: how guests get the images.
const (
	ProtectionBasic    = "basic"
	ProtectionStandard = "standard"
	ProtectionEnhanced = "enhanced"
	ProtectionMaximum  = "maximum"
)

// Event is a gallery: one occasion's photos, shared under a slug.
type Event struct {
	ID              int64
	Slug            string
	Name            string
	Date            *string // calendar date, YYYY-MM-DD
	PasswordHash    string  // empty when the gallery has no password
	ExpiresAt       *time.Time
	PhotoCap        *int
	AllowDownloads  bool
	ProtectionLevel string
	IsArchived      bool
	ArchivedAt      *time.Time
	ShareKey        string // the secret of the share link
	GuestEpoch      int64  // stamped into guest tokens; raised to end every guest session
	IsPublished     bool   // unpublished galleries are closed to guests
	FeedbackEnabled bool   // guests may like, rate and comment
	WatermarkText   string // text of the protected variant's mark ("" means the event's name)
	PhotoCount      int    // kept in step with the photos in the same transactions
	TotalSize       int64  // bytes of the originals
	TotalDownloads  int64  // sum of the photos' download counts, kept like PhotoCount
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Nullable is one field of an update: Set says whether to write it; a nil Value writes NULL.
type Nullable[T any] struct {
	Set   bool
	Value *T
}

// EventUpdate lists the fields to change; nil pointers and unset Nullables stay as they are.
type EventUpdate struct {
	Name            *string
	Slug            *string
	Date            Nullable[string]
	PasswordHash    *string // "" removes the password
	ExpiresAt       Nullable[time.Time]
	PhotoCap        Nullable[int]
	AllowDownloads  *bool
	ProtectionLevel *string
	IsPublished     *bool
	FeedbackEnabled *bool
	WatermarkText   *string
}

// EventFilter selects events for FindEvents.
type EventFilter struct {
	IsArchived *bool
	Limit      int
	Offset     int
}

const eventColumns = `e.id, e.slug, e.name, e.event_date, e.password_hash, e.expires_at, e.photo_cap, e.allow_downloads,
	e.protection_level, e.is_archived, e.archived_at, e.share_key, e.guest_epoch, e.is_published, e.feedback_enabled,
	e.watermark_text, e.photo_count, e.total_size, e.total_downloads, e.created_at, e.updated_at`

func scanEvent(row interface{ Scan(...any) error }) (*Event, error) {
	dest, finish := eventDest()
	if err := row.Scan(dest...); err != nil {
		return nil, formatError(err)
	}
	return finish(), nil
}

// eventDest returns the scan destinations of eventColumns and a func that builds the
// Event once they are filled, so that one row can carry an event and more.
func eventDest() ([]any, func() *Event) {
	var e Event
	var date sql.NullString
	var cap sql.NullInt64
	var exp, arch nullTime
	dest := []any{&e.ID, &e.Slug, &e.Name, &date, &e.PasswordHash, &exp, &cap, &e.AllowDownloads,
		&e.ProtectionLevel, &e.IsArchived, &arch, &e.ShareKey, &e.GuestEpoch, &e.IsPublished, &e.FeedbackEnabled,
		&e.WatermarkText, &e.PhotoCount, &e.TotalSize, &e.TotalDownloads,
		timeCol{&e.CreatedAt}, timeCol{&e.UpdatedAt}}
	return dest, func() *Event {
		if date.Valid {
			e.Date = &date.String
		}
		if cap.Valid {
			c := int(cap.Int64)
			e.PhotoCap = &c
		}
		e.ExpiresAt, e.ArchivedAt = exp.t, arch.t
		return &e
	}
}

func nullInt(p *int) any {
	if p == nil {
		return nil
	}
	return int64(*p)
}

func nullString(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

// CreateEvent stores e and fills in ID and times. When uniqueSlug is set and e.Slug is
// taken, "-2", "-3", ... are tried; otherwise a taken slug is ErrConflict.
func (db *DB) CreateEvent(ctx context.Context, e *Event, uniqueSlug bool) error {
	e.CreatedAt = db.now()
	e.UpdatedAt = e.CreatedAt
	if e.ProtectionLevel == "" {
		e.ProtectionLevel = ProtectionBasic
	}
	base := e.Slug
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for n := 2; ; n++ {
			var taken int
			if err := tx.QueryRowContext(ctx, db.rebind(`SELECT COUNT(*) FROM events WHERE slug = ?`), e.Slug).Scan(&taken); err != nil {
				return err
			}
			if taken == 0 {
				break
			}
			if !uniqueSlug || n > 1000 {
				return fmt.Errorf("slug %q: %w", e.Slug, ErrConflict)
			}
			e.Slug = fmt.Sprintf("%s-%d", base, n)
		}
		if e.ShareKey == "" {
			key, err := NewShareKey()
			if err != nil {
				return err
			}
			e.ShareKey = key
		}
		e.GuestEpoch = 1
		if err := tx.QueryRowContext(ctx, db.rebind(`INSERT INTO events (slug, name, event_date, password_hash, expires_at, photo_cap,
			allow_downloads, protection_level, share_key, guest_epoch, is_published, feedback_enabled, watermark_text, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			e.Slug, e.Name, nullString(e.Date), e.PasswordHash, tsPtr(e.ExpiresAt), nullInt(e.PhotoCap),
			e.AllowDownloads, e.ProtectionLevel, e.ShareKey, e.GuestEpoch, e.IsPublished, e.FeedbackEnabled, e.WatermarkText,
			ts(e.CreatedAt), ts(e.UpdatedAt)).Scan(&e.ID); err != nil {
			return err
		}
		if db.announcer == nil {
			return nil
		}
		_, err := db.announce(ctx, tx, db.announcer.EventCreated(e), 0)
		return err
	})
	if err != nil {
		return fmt.Errorf("create event %q: %w", e.Slug, formatError(err))
	}
	return nil
}

// FindEventByID returns one event with its counters.
func (db *DB) FindEventByID(ctx context.Context, id int64) (*Event, error) {
	e, err := scanEvent(db.r.QueryRowContext(ctx, db.rebind(`SELECT `+eventColumns+` FROM events e WHERE e.id = ?`), id))
	if err != nil {
		return nil, fmt.Errorf("find event %d: %w", id, err)
	}
	return e, nil
}

// FindEventBySlug returns the event shared under slug (from the snapshot cache while the
// database is unchanged: every guest request looks its gallery up).
func (db *DB) FindEventBySlug(ctx context.Context, slug string) (*Event, error) {
	snap, version := db.snapshot(ctx)
	if e := snap.event(slug, version); e != nil {
		return e, nil
	}
	e, err := scanEvent(db.r.QueryRowContext(ctx, db.rebind(`SELECT `+eventColumns+` FROM events e WHERE e.slug = ?`), slug))
	if err != nil {
		return nil, fmt.Errorf("find event by slug: %w", err)
	}
	snap.putEvent(slug, e, version)
	return e, nil
}

// FindEvents lists events, newest first (ties by id), and the total that match.
func (db *DB) FindEvents(ctx context.Context, f EventFilter) ([]*Event, int, error) {
	where, args := "1 = 1", []any{}
	if f.IsArchived != nil {
		where += " AND e.is_archived = ?"
		args = append(args, *f.IsArchived)
	}
	var total int
	if err := db.r.QueryRowContext(ctx, db.rebind(`SELECT COUNT(*) FROM events e WHERE `+where), args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count events: %w", err)
	}
	rows, err := db.r.QueryContext(ctx, db.rebind(`SELECT `+eventColumns+` FROM events e WHERE `+where+
		` ORDER BY e.created_at DESC, e.id DESC LIMIT ? OFFSET ?`), append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	var out []*Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list events: %w", err)
		}
		out = append(out, e)
	}
	return out, total, rows.Err()
}

// UpdateEvent applies u and returns the event as stored.
func (db *DB) UpdateEvent(ctx context.Context, id int64, u EventUpdate) (*Event, error) {
	sets, args := []string{}, []any{}
	add := func(col string, v any) { sets = append(sets, col+" = ?"); args = append(args, v) }
	if u.Name != nil {
		add("name", *u.Name)
	}
	if u.Slug != nil {
		add("slug", *u.Slug)
	}
	if u.Date.Set {
		add("event_date", nullString(u.Date.Value))
	}
	if u.PasswordHash != nil {
		add("password_hash", *u.PasswordHash)
		// A new password ends every guest session opened with the old one.
		sets = append(sets, "guest_epoch = guest_epoch + 1")
	}
	if u.IsPublished != nil {
		add("is_published", *u.IsPublished)
	}
	if u.FeedbackEnabled != nil {
		add("feedback_enabled", *u.FeedbackEnabled)
	}
	if u.WatermarkText != nil {
		add("watermark_text", *u.WatermarkText)
	}
	if u.ExpiresAt.Set {
		add("expires_at", tsPtr(u.ExpiresAt.Value))
	}
	if u.PhotoCap.Set {
		add("photo_cap", nullInt(u.PhotoCap.Value))
	}
	if u.AllowDownloads != nil {
		add("allow_downloads", *u.AllowDownloads)
	}
	if u.ProtectionLevel != nil {
		add("protection_level", *u.ProtectionLevel)
	}
	add("updated_at", ts(db.now()))
	q := "UPDATE events SET "
	for i, s := range sets {
		if i > 0 {
			q += ", "
		}
		q += s
	}
	res, err := db.exec(ctx, q+" WHERE id = ?", append(args, id)...)
	if err != nil {
		return nil, fmt.Errorf("update event %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, fmt.Errorf("update event %d: %w", id, ErrNotFound)
	}
	return db.FindEventByID(ctx, id)
}

// SetEventArchived archives or restores an event. It is idempotent. The transaction is
// the place where the event.archived announcement will be enqueued.
func (db *DB) SetEventArchived(ctx context.Context, id int64, archived bool) (*Event, error) {
	now := db.now()
	var archivedAt any
	if archived {
		archivedAt = ts(now)
	}
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var was bool
		if err := tx.QueryRowContext(ctx, db.rebind(`SELECT is_archived FROM events WHERE id = ?`), id).Scan(&was); err != nil {
			return formatError(err)
		}
		if was == archived {
			return nil // idempotent: nothing changes and nothing is announced
		}
		if _, err := tx.ExecContext(ctx, db.rebind(`UPDATE events SET is_archived = ?, archived_at = ?, updated_at = ? WHERE id = ?`),
			archived, archivedAt, ts(now), id); err != nil {
			return formatError(err)
		}
		if archived {
			if err := db.archiveConnectorLinks(ctx, tx, id); err != nil {
				return err
			}
		}
		if !archived || db.announcer == nil {
			return nil
		}
		// One event.archived; never one photo.deleted per photo.
		e, err := scanEvent(tx.QueryRowContext(ctx, db.rebind(`SELECT `+eventColumns+` FROM events e WHERE e.id = ?`), id))
		if err != nil {
			return err
		}
		_, err = db.announce(ctx, tx, db.announcer.EventArchived(e), 0)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("archive event %d: %w", id, err)
	}
	return db.FindEventByID(ctx, id)
}

// DeleteEvent removes the event with its categories and photos in one transaction and
// records every blob they used in the GC ledger. It returns those blob keys so the caller
// can remove them at once; the janitor removes whatever a crash leaves.
func (db *DB) DeleteEvent(ctx context.Context, id int64) ([]string, error) {
	var keys []string
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, db.rebind(`SELECT `+photoColumns+` FROM photos p WHERE p.event_id = ?`), id)
		if err != nil {
			return err
		}
		var photos []*Photo
		for rows.Next() {
			p, err := scanPhoto(rows)
			if err != nil {
				rows.Close()
				return err
			}
			photos = append(photos, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// Open upload sessions go with the event: their chunks are scheduled for removal.
		urows, err := tx.QueryContext(ctx, db.rebind(`SELECT id, chunk_count FROM uploads WHERE event_id = ?`), id)
		if err != nil {
			return err
		}
		var chunkKeys []string
		for urows.Next() {
			var uid string
			var n int
			if err := urows.Scan(&uid, &n); err != nil {
				urows.Close()
				return err
			}
			for i := 0; i < n; i++ {
				chunkKeys = append(chunkKeys, ChunkKey(uid, i))
			}
		}
		urows.Close()
		if err := urows.Err(); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.rebind(`DELETE FROM events WHERE id = ?`), id)
		if err != nil {
			return formatError(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		for _, k := range chunkKeys {
			if err := db.scheduleBlobGC(ctx, tx, k, db.now()); err != nil {
				return err
			}
			keys = append(keys, k)
		}
		for _, p := range photos {
			for _, k := range p.BlobKeys() {
				if err := db.scheduleBlobGC(ctx, tx, k, db.now()); err != nil {
					return err
				}
				keys = append(keys, k)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("delete event %d: %w", id, err)
	}
	return keys, nil
}

// eventForWrite checks, inside a transaction, that the event exists and is open for new
// photos.
func (db *DB) eventForWrite(ctx context.Context, tx *sql.Tx, id int64) error {
	var archived bool
	err := tx.QueryRowContext(ctx, db.rebind(`SELECT is_archived FROM events WHERE id = ?`), id).Scan(&archived)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	if archived {
		return ErrEventArchived
	}
	return nil
}

// NewShareKey returns a new random share-link secret (128 bits, hex).
func NewShareKey() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate share key: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// RotateShareKey gives an event a new share link and ends every guest session.
func (db *DB) RotateShareKey(ctx context.Context, id int64) (*Event, error) {
	key, err := NewShareKey()
	if err != nil {
		return nil, err
	}
	res, err := db.exec(ctx, `UPDATE events SET share_key = ?, guest_epoch = guest_epoch + 1, updated_at = ? WHERE id = ?`, key, ts(db.now()), id)
	if err != nil {
		return nil, fmt.Errorf("rotate share link of event %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, fmt.Errorf("rotate share link of event %d: %w", id, ErrNotFound)
	}
	return db.FindEventByID(ctx, id)
}
