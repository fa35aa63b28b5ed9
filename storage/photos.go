package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"
	"weak"
)

// Derivative states of a photo: whether its display copy and thumbnail exist yet.
const (
	DerivativesPending = "pending"
	DerivativesReady   = "ready"
	DerivativesFailed  = "failed"
)

// Photo is one stored file of an event: an image or a video.
type Photo struct {
	ID           int64
	EventID      int64
	CategoryID   *int64
	Stem         string // generated, unique in the event; names every file of the photo
	Filename     string // Stem + "." + extension: the name in /photos/{slug}/{filename}
	OriginalName string // the client's name, kept as metadata only
	BlobKey      string // where the original bytes are
	Format       string // jpeg, png, ..., mp4
	MediaType    string // image or video
	MIMEType     string
	Size         int64
	SHA256       string
	Width        *int
	Height       *int
	Orientation  int
	CapturedAt   *time.Time // in the camera's offset when EXIF had one
	Camera       Camera
	Duration     *float64
	VideoCodec   string // video only: h264, hevc, vp9, ...
	IsHidden     bool
	Position     int64
	Likes        int
	RatingCount  int
	RatingSum    int
	RatingAvg    float64
	Comments     int
	Downloads    int
	Views        int
	Derivatives  string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Camera is the EXIF summary of the camera that took a photo.
type Camera struct {
	Make         string
	Model        string
	Lens         string
	FNumber      *float64
	ExposureTime string
	ISO          *int
	FocalLength  *float64
}

// DisplayKey is the blob key of the photo's display copy (about 2048 px, JPEG).
func (p *Photo) DisplayKey() string { return fmt.Sprintf("display/%d/%s.jpg", p.EventID, p.Stem) }

// ThumbKey is the blob key of the photo's grid thumbnail (about 400 px, JPEG).
func (p *Photo) ThumbKey() string { return fmt.Sprintf("thumbs/%d/%s.jpg", p.EventID, p.Stem) }

// ProtectedPrefix is the blob folder of the photo's protected (watermarked) variants,
// one per set of watermark options.
func (p *Photo) ProtectedPrefix() string { return fmt.Sprintf("protected/%d/%s/", p.EventID, p.Stem) }

// BlobKeys lists the blobs the photo always may own: the original, the display copy and
// the thumbnail (protected variants live under ProtectedPrefix).
func (p *Photo) BlobKeys() []string { return []string{p.BlobKey, p.DisplayKey(), p.ThumbKey()} }

// OriginalKey is the blob key for a new original of an event.
func OriginalKey(eventID int64, filename string) string {
	return fmt.Sprintf("originals/%d/%s", eventID, filename)
}

const photoColumns = `p.id, p.event_id, p.category_id, p.stem, p.filename, p.original_name, p.blob_key, p.format, p.media_type,
	p.mime_type, p.size, p.sha256, p.width, p.height, p.orientation, p.captured_at, p.camera_make, p.camera_model, p.lens,
	p.f_number, p.exposure_time, p.iso, p.focal_length, p.duration, p.is_hidden, p.position, p.like_count, p.rating_count,
	p.rating_sum, p.rating_avg, p.comment_count, p.download_count, p.view_count, p.derivatives_status, p.created_at, p.updated_at,
	p.video_codec`

func scanPhoto(row interface{ Scan(...any) error }) (*Photo, error) {
	dest, finish := photoDest()
	if err := row.Scan(dest...); err != nil {
		return nil, formatError(err)
	}
	return finish()
}

// scanEventPhoto reads a row of eventColumns followed by photoColumns.
func scanEventPhoto(row interface{ Scan(...any) error }) (*Event, *Photo, error) {
	edest, efinish := eventDest()
	pdest, pfinish := photoDest()
	if err := row.Scan(append(edest, pdest...)...); err != nil {
		return nil, nil, formatError(err)
	}
	p, err := pfinish()
	if err != nil {
		return nil, nil, err
	}
	return efinish(), p, nil
}

// photoDest returns the scan destinations of photoColumns and a func that builds the
// Photo once they are filled.
func photoDest() ([]any, func() (*Photo, error)) {
	var p Photo
	var cat, w, h, iso sql.NullInt64
	var fnum, focal, dur sql.NullFloat64
	var captured sql.NullString
	dest := []any{&p.ID, &p.EventID, &cat, &p.Stem, &p.Filename, &p.OriginalName, &p.BlobKey, &p.Format, &p.MediaType,
		&p.MIMEType, &p.Size, &p.SHA256, &w, &h, &p.Orientation, &captured, &p.Camera.Make, &p.Camera.Model, &p.Camera.Lens,
		&fnum, &p.Camera.ExposureTime, &iso, &focal, &dur, &p.IsHidden, &p.Position, &p.Likes, &p.RatingCount,
		&p.RatingSum, &p.RatingAvg, &p.Comments, &p.Downloads, &p.Views, &p.Derivatives, timeCol{&p.CreatedAt}, timeCol{&p.UpdatedAt},
		&p.VideoCodec}
	return dest, func() (*Photo, error) {
		if cat.Valid {
			p.CategoryID = &cat.Int64
		}
		if w.Valid && h.Valid {
			wi, hi := int(w.Int64), int(h.Int64)
			p.Width, p.Height = &wi, &hi
		}
		if iso.Valid {
			i := int(iso.Int64)
			p.Camera.ISO = &i
		}
		if fnum.Valid {
			p.Camera.FNumber = &fnum.Float64
		}
		if focal.Valid {
			p.Camera.FocalLength = &focal.Float64
		}
		if dur.Valid {
			p.Duration = &dur.Float64
		}
		if captured.Valid {
			t, err := time.Parse(time.RFC3339Nano, captured.String)
			if err != nil {
				return nil, fmt.Errorf("photo %d: bad captured_at %q: %w", p.ID, captured.String, err)
			}
			p.CapturedAt = &t
		}
		return &p, nil
	}
}

// Sort keys of the photo list, as the API names them (each with _asc or _desc).
var photoSortColumns = map[string]string{
	"upload_date":  "p.created_at",
	"capture_date": "p.captured_sort",
	"filename":     "p.sort_name",
	"size":         "p.size",
	"rating":       "p.rating_avg",
	"position":     "p.position",
}

// PhotoSortKeys are the accepted values of PhotoFilter.Sort.
func PhotoSortKeys() []string {
	var out []string
	for _, k := range []string{"upload_date", "capture_date", "filename", "size", "rating", "position"} {
		out = append(out, k+"_asc", k+"_desc")
	}
	return out
}

// PhotoFilter selects photos of one event.
type PhotoFilter struct {
	EventID    int64
	CategoryID *int64
	IsHidden   *bool
	MediaType  *string
	IDs        []int64 // when set, only these photos
	Sort       string  // one of PhotoSortKeys; default upload_date_desc
	Limit      int     // 0 means no limit
	Offset     int
	// After, when set, starts the page right after this position in the sort order
	// (keyset pagination: a deep page costs what the first does). Offset is then ignored.
	After *PhotoCursor
}

// PhotoCursor is a position in a sorted photo list: the sort value and id of the last
// photo of a page.
type PhotoCursor struct {
	Value any
	ID    int64
}

// CursorAfter returns the position of p in the order of sort, for the next page.
func CursorAfter(sort string, p *Photo) PhotoCursor {
	key, _ := splitSort(sort)
	var v any
	switch key {
	case "upload_date":
		v = ts(p.CreatedAt)
	case "capture_date":
		v = ts(p.CreatedAt)
		if p.CapturedAt != nil {
			v = ts(*p.CapturedAt)
		}
	case "filename":
		v = strings.ToLower(p.OriginalName)
	case "size":
		v = p.Size
	case "rating":
		v = p.RatingAvg
	case "position":
		v = p.Position
	}
	return PhotoCursor{Value: v, ID: p.ID}
}

// splitSort turns "size_desc" into ("size", "DESC"); unknown sorts give "".
func splitSort(s string) (key, dir string) {
	if s == "" {
		s = "upload_date_desc"
	}
	if k, ok := strings.CutSuffix(s, "_asc"); ok {
		return k, "ASC"
	}
	if k, ok := strings.CutSuffix(s, "_desc"); ok {
		return k, "DESC"
	}
	return "", ""
}

func (f PhotoFilter) where() (string, []any) {
	w, args := []string{"p.event_id = ?"}, []any{f.EventID}
	if f.CategoryID != nil {
		w, args = append(w, "p.category_id = ?"), append(args, *f.CategoryID)
	}
	if f.IsHidden != nil {
		w, args = append(w, "p.is_hidden = ?"), append(args, *f.IsHidden)
	}
	if f.MediaType != nil {
		w, args = append(w, "p.media_type = ?"), append(args, *f.MediaType)
	}
	if len(f.IDs) > 0 {
		w = append(w, "p.id IN ("+strings.TrimSuffix(strings.Repeat("?,", len(f.IDs)), ",")+")")
		for _, id := range f.IDs {
			args = append(args, id)
		}
	}
	return strings.Join(w, " AND "), args
}

func (f PhotoFilter) orderBy() (order, col, dir string, err error) {
	key, dir := splitSort(f.Sort)
	col, known := photoSortColumns[key]
	if !known {
		return "", "", "", fmt.Errorf("sort %q: %w", f.Sort, ErrInvalid)
	}
	// The id breaks ties in the same direction, so pages never overlap or skip.
	return fmt.Sprintf("%s %s, p.id %s", col, dir, dir), col, dir, nil
}

// filtered reports whether f narrows the event's photos (so the event's counter is not
// the total).
func (f PhotoFilter) filtered() bool {
	return f.CategoryID != nil || f.IsHidden != nil || f.MediaType != nil || len(f.IDs) > 0
}

// FindPhotos lists the photos that match f in its order, and how many match in all.
func (db *DB) FindPhotos(ctx context.Context, f PhotoFilter) ([]*Photo, int, error) {
	order, col, dir, err := f.orderBy()
	if err != nil {
		return nil, 0, err
	}
	where, args := f.where()
	var total int
	// The event's counter is kept in the transactions that add and remove photos, so an
	// unfiltered list need not count 100,000 rows on every page.
	countQ := `SELECT COUNT(*) FROM photos p WHERE ` + where
	if !f.filtered() {
		countQ, args = `SELECT COALESCE((SELECT photo_count FROM events WHERE id = ?), 0)`, []any{f.EventID}
	}
	if err := db.r.QueryRowContext(ctx, db.rebind(countQ), args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count photos of event %d: %w", f.EventID, err)
	}
	if f.After != nil {
		photos, err := db.findPhotosAfter(ctx, f, order, col, dir)
		if err != nil {
			return nil, 0, fmt.Errorf("list photos of event %d after a cursor: %w", f.EventID, err)
		}
		return photos, total, nil
	}
	where, args = f.where()
	q := `SELECT ` + photoColumns + ` FROM photos p WHERE ` + where + ` ORDER BY ` + order
	if f.Limit > 0 {
		q += ` LIMIT ? OFFSET ?`
		args = append(args, f.Limit, f.Offset)
	}
	photos, err := db.queryPhotos(ctx, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list photos of event %d: %w", f.EventID, err)
	}
	return photos, total, nil
}

// findPhotosAfter reads the page after f.After in two index seeks. A row-value
// comparison "(col, id) > (v, n)" seeks the sort index on col alone and then walks every
// row that ties with v, which is every photo of an event when they share the value (all
// unrated photos have rating 0). So the rows that tie with the cursor come first, by a
// seek on (event, col = v, id > n), and the page is filled from col > v.
func (db *DB) findPhotosAfter(ctx context.Context, f PhotoFilter, order, col, dir string) ([]*Photo, error) {
	cmp := ">"
	if dir == "DESC" {
		cmp = "<"
	}
	base, baseArgs := f.where()
	page := func(cond string, condArgs []any, limit int) ([]*Photo, error) {
		q := `SELECT ` + photoColumns + ` FROM photos p WHERE ` + base + ` AND ` + cond + ` ORDER BY ` + order
		args := append(append([]any{}, baseArgs...), condArgs...)
		if limit > 0 {
			q += ` LIMIT ?`
			args = append(args, limit)
		}
		return db.queryPhotos(ctx, q, args...)
	}
	ties, err := page(fmt.Sprintf("%s = ? AND p.id %s ?", col, cmp), []any{f.After.Value, f.After.ID}, f.Limit)
	if err != nil {
		return nil, err
	}
	if f.Limit > 0 && len(ties) >= f.Limit {
		return ties, nil
	}
	rest, err := page(fmt.Sprintf("%s %s ?", col, cmp), []any{f.After.Value}, f.Limit-len(ties))
	if err != nil {
		return nil, err
	}
	return append(ties, rest...), nil
}

func (db *DB) queryPhotos(ctx context.Context, q string, args ...any) ([]*Photo, error) {
	rows, err := db.r.QueryContext(ctx, db.rebind(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*Photo{}
	for rows.Next() {
		p, err := scanPhoto(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// FindPhotoByID returns one photo.
func (db *DB) FindPhotoByID(ctx context.Context, id int64) (*Photo, error) {
	p, err := scanPhoto(db.r.QueryRowContext(ctx, db.rebind(`SELECT `+photoColumns+` FROM photos p WHERE p.id = ?`), id))
	if err != nil {
		return nil, fmt.Errorf("find photo %d: %w", id, err)
	}
	return p, nil
}

// FindPhotoByStem returns the photo of the event shared under slug whose files are named
// stem, with that event, in one query.
func (db *DB) FindPhotoByStem(ctx context.Context, slug, stem string) (*Photo, *Event, error) {
	row := db.r.QueryRowContext(ctx, db.rebind(`SELECT `+eventColumns+`, `+photoColumns+`
		FROM events e JOIN photos p ON p.event_id = e.id WHERE e.slug = ? AND p.stem = ?`), slug, stem)
	e, p, err := scanEventPhoto(row)
	if err != nil {
		return nil, nil, fmt.Errorf("find photo by name in event %q: %w", slug, err)
	}
	return p, e, nil
}

// FindPhotoByStemInEvent returns the photo of event eventID whose files are named stem:
// one lookup in the (event_id, stem) index, for callers that already hold the event, or
// none while the database is unchanged since the last (see snapshot).
func (db *DB) FindPhotoByStemInEvent(ctx context.Context, eventID int64, stem string) (*Photo, error) {
	snap, version := db.snapshot(ctx)
	key := photoKey{eventID, stem}
	if p := snap.photo(key, version); p != nil {
		return p, nil
	}
	p, err := scanPhoto(db.r.QueryRowContext(ctx, db.rebind(`SELECT `+photoColumns+` FROM photos p WHERE p.event_id = ? AND p.stem = ?`), eventID, stem))
	if err != nil {
		return nil, fmt.Errorf("find photo by name in event %d: %w", eventID, err)
	}
	snap.putPhoto(key, p, version)
	return p, nil
}

// FindPhotoIDBySHA256 returns the id of the photo of the event with those bytes, or
// ErrNotFound.
func (db *DB) FindPhotoIDBySHA256(ctx context.Context, eventID int64, sum string) (int64, error) {
	var id int64
	err := db.r.QueryRowContext(ctx, db.rebind(`SELECT id FROM photos WHERE event_id = ? AND sha256 = ?`), eventID, sum).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("find photo by hash: %w", formatError(err))
	}
	return id, nil
}

// PhotoCreateResult tells what CreatePhotos did with one photo.
type PhotoCreateResult struct {
	Photo *Photo // the stored photo, or nil for a duplicate
	// DuplicateOf is the id of the photo with the same bytes when this one was not stored.
	DuplicateOf int64
}

// CreatePhotos stores new photos of one event in a single transaction: it skips photos
// whose bytes the event already holds (or that repeat within the batch), checks the
// event's photo_cap for the rest (ErrPhotoCapReached stores nothing), inserts the rows,
// updates the event counters, adopts the blobs (removing their GC intents) and enqueues
// one job per stored photo for each kind in jobKinds. Each Photo's blob must already exist.
func (db *DB) CreatePhotos(ctx context.Context, eventID int64, photos []*Photo, jobKinds ...string) ([]PhotoCreateResult, error) {
	return db.CreatePhotosWith(ctx, eventID, photos, CreatePhotosOptions{JobKinds: jobKinds})
}

// CreatePhotosOptions are the extra effects of CreatePhotosWith, applied in the same
// transaction as the rows.
type CreatePhotosOptions struct {
	// JobKinds are enqueued once per stored photo.
	JobKinds []string
	// UploadID, when set, closes that chunked upload session with the single photo's
	// result (stored, or the duplicate it repeats), so the session and the photo can
	// never disagree after a crash.
	UploadID string
	// Source says where the files came from (multipart, chunked, ...), for the
	// photo.uploaded announcement.
	Source string
}

// CreatePhotosWith is CreatePhotos with options.
func (db *DB) CreatePhotosWith(ctx context.Context, eventID int64, photos []*Photo, opts CreatePhotosOptions) ([]PhotoCreateResult, error) {
	jobKinds := opts.JobKinds
	now := db.now()
	results := make([]PhotoCreateResult, len(photos))
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := db.eventForWrite(ctx, tx, eventID); err != nil {
			return err
		}
		seen := map[string]int64{}
		var fresh []int
		var freshSize int64
		for i, p := range photos {
			var existing int64
			err := tx.QueryRowContext(ctx, db.rebind(`SELECT id FROM photos WHERE event_id = ? AND sha256 = ?`), eventID, p.SHA256).Scan(&existing)
			switch {
			case err == nil:
				results[i] = PhotoCreateResult{DuplicateOf: existing}
				continue
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
			if _, dup := seen[p.SHA256]; dup {
				results[i] = PhotoCreateResult{DuplicateOf: -1}
				continue
			}
			seen[p.SHA256] = 0
			fresh = append(fresh, i)
			freshSize += p.Size
		}
		if len(fresh) == 0 {
			return db.closeUpload(ctx, tx, opts.UploadID, results)
		}
		// One conditional update checks the cap and reserves the places; on PostgreSQL it
		// also locks the event row, so concurrent uploads cannot both pass the check.
		res, err := tx.ExecContext(ctx, db.rebind(`UPDATE events SET photo_count = photo_count + ?, total_size = total_size + ?, updated_at = ?
			WHERE id = ? AND (photo_cap IS NULL OR photo_count + ? <= photo_cap)`), len(fresh), freshSize, ts(now), eventID, len(fresh))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrPhotoCapReached
		}
		var position int64
		if err := tx.QueryRowContext(ctx, db.rebind(`SELECT COALESCE(MAX(position), 0) FROM photos WHERE event_id = ?`), eventID).Scan(&position); err != nil {
			return err
		}
		if err := db.scheduleAutoSyncs(ctx, tx, eventID); err != nil {
			return err
		}
		for _, i := range fresh {
			p := photos[i]
			position++
			p.EventID, p.Position, p.CreatedAt, p.UpdatedAt = eventID, position, now, now
			if p.Derivatives == "" {
				p.Derivatives = DerivativesPending
			}
			if err := db.insertPhoto(ctx, tx, p); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, db.rebind(`DELETE FROM blob_gc WHERE key = ?`), p.BlobKey); err != nil {
				return err
			}
			for _, kind := range jobKinds {
				if _, err := db.enqueueJob(ctx, tx, kind, PhotoJob{PhotoID: p.ID}, now); err != nil {
					return err
				}
			}
			results[i] = PhotoCreateResult{Photo: p}
		}
		if db.announcer != nil {
			e, err := scanEvent(tx.QueryRowContext(ctx, db.rebind(`SELECT `+eventColumns+` FROM events e WHERE e.id = ?`), eventID))
			if err != nil {
				return err
			}
			for _, i := range fresh {
				if _, err := db.announce(ctx, tx, db.announcer.PhotoUploaded(e, photos[i], opts.Source), 0); err != nil {
					return err
				}
			}
		}
		return db.closeUpload(ctx, tx, opts.UploadID, results)
	})
	if err != nil {
		return nil, fmt.Errorf("store %d photos in event %d: %w", len(photos), eventID, formatError(err))
	}
	return results, nil
}

// PhotoJob is the payload of a job about one photo.
type PhotoJob struct {
	PhotoID int64 `json:"photo_id"`
}

func (db *DB) insertPhoto(ctx context.Context, tx *sql.Tx, p *Photo) error {
	var captured any
	capturedSort := ts(p.CreatedAt)
	if p.CapturedAt != nil {
		captured = p.CapturedAt.Format(time.RFC3339Nano)
		capturedSort = ts(*p.CapturedAt)
	}
	var cat any
	if p.CategoryID != nil {
		cat = *p.CategoryID
	}
	return tx.QueryRowContext(ctx, db.rebind(`INSERT INTO photos (event_id, category_id, stem, filename, original_name, sort_name,
		blob_key, format, media_type, mime_type, size, sha256, width, height, orientation, captured_at, captured_sort,
		camera_make, camera_model, lens, f_number, exposure_time, iso, focal_length, duration, is_hidden, position,
		derivatives_status, created_at, updated_at, video_codec)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		p.EventID, cat, p.Stem, p.Filename, p.OriginalName, strings.ToLower(p.OriginalName),
		p.BlobKey, p.Format, p.MediaType, p.MIMEType, p.Size, p.SHA256, nullInt(p.Width), nullInt(p.Height), p.Orientation,
		captured, capturedSort, p.Camera.Make, p.Camera.Model, p.Camera.Lens, nullFloat(p.Camera.FNumber), p.Camera.ExposureTime,
		nullInt(p.Camera.ISO), nullFloat(p.Camera.FocalLength), nullFloat(p.Duration), p.IsHidden, p.Position,
		p.Derivatives, ts(p.CreatedAt), ts(p.UpdatedAt), p.VideoCodec).Scan(&p.ID)
}

func nullFloat(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// PhotoUpdate lists the fields of a photo to change.
type PhotoUpdate struct {
	IsHidden   *bool
	CategoryID Nullable[int64] // must be a category of the photo's event (ErrInvalid otherwise)
	Position   *int64
}

// UpdatePhoto applies u and returns the photo as stored.
func (db *DB) UpdatePhoto(ctx context.Context, id int64, u PhotoUpdate) (*Photo, error) {
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var eventID int64
		if err := tx.QueryRowContext(ctx, db.rebind(`SELECT event_id FROM photos WHERE id = ?`), id).Scan(&eventID); err != nil {
			return formatError(err)
		}
		sets, args := []string{"updated_at = ?"}, []any{ts(db.now())}
		if u.IsHidden != nil {
			sets, args = append(sets, "is_hidden = ?"), append(args, *u.IsHidden)
		}
		if u.Position != nil {
			sets, args = append(sets, "position = ?"), append(args, *u.Position)
		}
		if u.CategoryID.Set {
			if u.CategoryID.Value == nil {
				sets, args = append(sets, "category_id = ?"), append(args, nil)
			} else {
				var n int
				if err := tx.QueryRowContext(ctx, db.rebind(`SELECT COUNT(*) FROM categories WHERE id = ? AND event_id = ?`), *u.CategoryID.Value, eventID).Scan(&n); err != nil {
					return err
				}
				if n == 0 {
					return fmt.Errorf("category %d is not in event %d: %w", *u.CategoryID.Value, eventID, ErrInvalid)
				}
				sets, args = append(sets, "category_id = ?"), append(args, *u.CategoryID.Value)
			}
		}
		_, err := tx.ExecContext(ctx, db.rebind(`UPDATE photos SET `+strings.Join(sets, ", ")+` WHERE id = ?`), append(args, id)...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update photo %d: %w", id, formatError(err))
	}
	return db.FindPhotoByID(ctx, id)
}

// ReorderPhotos gives the listed photos the positions 1..n in that order; the event's
// other photos follow in their previous order. Every id must belong to the event
// (ErrInvalid otherwise) and appear once.
func (db *DB) ReorderPhotos(ctx context.Context, eventID int64, ids []int64) error {
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var exists int
		if err := tx.QueryRowContext(ctx, db.rebind(`SELECT COUNT(*) FROM events WHERE id = ?`), eventID).Scan(&exists); err != nil {
			return err
		}
		if exists == 0 {
			return ErrNotFound
		}
		rows, err := tx.QueryContext(ctx, db.rebind(`SELECT id FROM photos WHERE event_id = ? ORDER BY position, id`), eventID)
		if err != nil {
			return err
		}
		var current []int64
		inEvent := map[int64]bool{}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			current = append(current, id)
			inEvent[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		listed := map[int64]bool{}
		for _, id := range ids {
			if !inEvent[id] {
				return fmt.Errorf("photo %d is not in event %d: %w", id, eventID, ErrInvalid)
			}
			if listed[id] {
				return fmt.Errorf("photo %d listed twice: %w", id, ErrInvalid)
			}
			listed[id] = true
		}
		order := append([]int64{}, ids...)
		for _, id := range current {
			if !listed[id] {
				order = append(order, id)
			}
		}
		now := ts(db.now())
		for i, id := range order {
			if _, err := tx.ExecContext(ctx, db.rebind(`UPDATE photos SET position = ?, updated_at = ? WHERE id = ?`), i+1, now, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reorder photos of event %d: %w", eventID, formatError(err))
	}
	return nil
}

// DeletePhotos removes the photos in one transaction, updates their events' counters and
// records every blob they own in the GC ledger. It returns the photos it removed; ids
// that do not exist are simply absent from the result. The caller removes the blobs.
func (db *DB) DeletePhotos(ctx context.Context, ids []int64) ([]*Photo, error) {
	var deleted []*Photo
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		now := db.now()
		events := map[int64]*Event{}
		for _, id := range ids {
			p, err := scanPhoto(tx.QueryRowContext(ctx, db.rebind(`SELECT `+photoColumns+` FROM photos p WHERE p.id = ?`), id))
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, db.rebind(`DELETE FROM photos WHERE id = ?`), id); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, db.rebind(`UPDATE events SET photo_count = photo_count - 1, total_size = total_size - ?,
				total_downloads = total_downloads - ?, updated_at = ? WHERE id = ?`),
				p.Size, p.Downloads, ts(now), p.EventID); err != nil {
				return err
			}
			for _, k := range p.BlobKeys() {
				if err := db.scheduleBlobGC(ctx, tx, k, now); err != nil {
					return err
				}
			}
			if db.announcer != nil {
				e, ok := events[p.EventID]
				if !ok {
					if e, err = scanEvent(tx.QueryRowContext(ctx, db.rebind(`SELECT `+eventColumns+` FROM events e WHERE e.id = ?`), p.EventID)); err != nil {
						return err
					}
					events[p.EventID] = e
				}
				if _, err := db.announce(ctx, tx, db.announcer.PhotoDeleted(e, p), 0); err != nil {
					return err
				}
			}
			deleted = append(deleted, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("delete photos: %w", formatError(err))
	}
	return deleted, nil
}

// FindPhotosMissingDimensions lists photos whose width or height is unknown.
func (db *DB) FindPhotosMissingDimensions(ctx context.Context) ([]*Photo, error) {
	photos, err := db.queryPhotos(ctx, `SELECT `+photoColumns+` FROM photos p WHERE p.width IS NULL OR p.height IS NULL ORDER BY p.id`)
	if err != nil {
		return nil, fmt.Errorf("find photos missing dimensions: %w", err)
	}
	return photos, nil
}

// SetPhotoDimensions records a photo's displayed width and height.
func (db *DB) SetPhotoDimensions(ctx context.Context, id int64, width, height int) error {
	if _, err := db.exec(ctx, `UPDATE photos SET width = ?, height = ?, updated_at = ? WHERE id = ?`, width, height, ts(db.now()), id); err != nil {
		return fmt.Errorf("set dimensions of photo %d: %w", id, err)
	}
	return nil
}

// SetPhotoDerivatives records whether the photo's display copy and thumbnail exist. It
// reports false when the photo no longer exists, so a worker can remove what it made.
func (db *DB) SetPhotoDerivatives(ctx context.Context, id int64, status string) (bool, error) {
	res, err := db.exec(ctx, `UPDATE photos SET derivatives_status = ? WHERE id = ?`, status, id)
	if err != nil {
		return false, fmt.Errorf("set derivatives of photo %d: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// RetryPhotoVariants marks a photo's variants as pending again and enqueues a job of
// kind to make them, in one transaction.
func (db *DB) RetryPhotoVariants(ctx context.Context, id int64, kind string) error {
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.rebind(`UPDATE photos SET derivatives_status = ?, updated_at = ? WHERE id = ?`),
			DerivativesPending, ts(db.now()), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		_, err = db.enqueueJob(ctx, tx, kind, PhotoJob{PhotoID: id}, db.now())
		return err
	})
	if err != nil {
		return fmt.Errorf("retry variants of photo %d: %w", id, formatError(err))
	}
	return nil
}

// The snapshot cache keeps the rows of the two lookups every guest file request makes
// (the event by slug, the photo by stem) for as long as the database is unchanged. A
// connection of its own reads SQLite's PRAGMA data_version, which changes whenever
// another connection, of this process or any other, commits; any change empties the
// cache. So a cached row is always the row as stored now: a raised guest epoch or a
// hidden photo is seen by the very next request. Checking the version costs a fraction
// of the two 20- and 37-column queries, which SQLite parses anew on every call (the
// driver keeps no prepared statements). It lives outside DB, keyed by a weak pointer,
// and is closed when the DB is collected.
var snapshots sync.Map // weak.Pointer[DB] → *snapshotCache

// snapshotMax bounds each map; a full map is emptied.
const snapshotMax = 4096

type photoKey struct {
	eventID int64
	stem    string
}

type snapshotCache struct {
	pool *sql.DB // the read pool it was made for (tests may replace db.r)
	ver  *sql.DB // one connection that only reads PRAGMA data_version
	// verMu guards conn, ver's connection held for dataVersion, and dest.
	verMu sync.Mutex
	conn  *sql.Conn
	dest  [1]driver.Value
	// rmu guards next and reading: the read of the version that callers may share.
	rmu     sync.Mutex
	next    *versionRound
	reading bool
	mu      sync.Mutex
	version int64
	events  map[string]*Event
	photos  map[photoKey]*Photo
}

// snapshotCtxKey keys the version a request read once (WithSnapshot).
type snapshotCtxKey struct{}

type snapshotAt struct {
	db      *DB
	cache   *snapshotCache
	version int64
}

// WithSnapshot reads the database's version once and returns a context in which the
// cached lookups (FindEventBySlug, FindPhotoByStemInEvent) answer as of that version:
// one check for the several lookups of one request instead of one each. Use it for a
// request's context only: the lookups see the rows as they were when it was called,
// or newer.
func (db *DB) WithSnapshot(ctx context.Context) context.Context {
	c, v := db.snapshot(ctx)
	if c == nil {
		return ctx
	}
	return context.WithValue(ctx, snapshotCtxKey{}, snapshotAt{db, c, v})
}

// snapshot returns the DB's cache and the database's current version (or the version
// WithSnapshot put in ctx), or nil when the version cannot be read (the caller then
// queries, as without a cache).
func (db *DB) snapshot(ctx context.Context) (*snapshotCache, int64) {
	if at, ok := ctx.Value(snapshotCtxKey{}).(snapshotAt); ok && at.db == db && at.cache.pool == db.r {
		return at.cache, at.version
	}
	key := weak.Make(db)
	v, ok := snapshots.Load(key)
	if c, _ := v.(*snapshotCache); !ok || c.pool != db.r {
		c, err := db.newSnapshotCache(ctx)
		if err != nil {
			return nil, 0
		}
		old, loaded := snapshots.Swap(key, c)
		if !loaded {
			runtime.AddCleanup(db, func(k weak.Pointer[DB]) {
				if c, ok := snapshots.LoadAndDelete(k); ok {
					c.(*snapshotCache).close()
				}
			}, key)
		} else if oc, _ := old.(*snapshotCache); oc != nil {
			oc.close()
		}
		v = c
	}
	c := v.(*snapshotCache)
	version, err := c.sharedDataVersion(ctx)
	if err != nil {
		return nil, 0
	}
	c.mu.Lock()
	if version != c.version {
		c.version = version
		clear(c.events)
		clear(c.photos)
	}
	c.mu.Unlock()
	return c, version
}

// dataVersion reads PRAGMA data_version on the version connection. It talks to the
// driver's connection directly (database/sql's pool and row machinery cost about as
// much as the pragma) and without the request's context: the pragma takes microseconds,
// and a cancellable context makes the driver start a goroutine to interrupt it. A
// failed read drops the connection; the next call takes a new one.
func (c *snapshotCache) dataVersion(ctx context.Context) (int64, error) {
	c.verMu.Lock()
	defer c.verMu.Unlock()
	if c.conn == nil {
		conn, err := c.ver.Conn(ctx)
		if err != nil {
			return 0, fmt.Errorf("snapshot cache: version connection: %w", err)
		}
		c.conn = conn
	}
	var version int64
	err := c.conn.Raw(func(dc any) error {
		q, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("driver connection %T cannot query", dc)
		}
		rows, err := q.QueryContext(context.Background(), `PRAGMA data_version`, nil)
		if err != nil {
			return err
		}
		err = rows.Next(c.dest[:])
		if cerr := rows.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		v, ok := c.dest[0].(int64)
		if !ok {
			return fmt.Errorf("data_version is %T", c.dest[0])
		}
		version = v
		return nil
	})
	if err != nil {
		_ = c.conn.Close()
		c.conn = nil
		return 0, fmt.Errorf("snapshot cache: read data_version: %w", err)
	}
	return version, nil
}

// versionRound is one read of data_version, shared by the callers that joined it
// before it started.
type versionRound struct {
	done    chan struct{}
	version int64
	err     error
}

// sharedDataVersion returns a data_version read that started after the call did, so it
// sees every commit made before the call, as a read of its own would. Callers that
// arrive while a read runs join the next read, which starts when that one ends, and
// share its answer: under load, one read serves several requests.
func (c *snapshotCache) sharedDataVersion(ctx context.Context) (int64, error) {
	c.rmu.Lock()
	if c.reading {
		// The running read may have started before this call: wait for the next one.
		if c.next == nil {
			c.next = &versionRound{done: make(chan struct{})}
		}
		r := c.next
		c.rmu.Unlock()
		select {
		case <-r.done:
			return r.version, r.err
		case <-ctx.Done():
			return 0, fmt.Errorf("snapshot cache: wait for data_version: %w", ctx.Err())
		}
	}
	c.reading = true
	c.rmu.Unlock()
	r := &versionRound{done: make(chan struct{})}
	c.readRound(r)
	return r.version, r.err
}

// readRound reads the version for r, then starts the round that gathered meanwhile,
// if any, in a goroutine of its own so this caller is not kept.
func (c *snapshotCache) readRound(r *versionRound) {
	r.version, r.err = c.dataVersion(context.Background())
	close(r.done)
	c.rmu.Lock()
	next := c.next
	c.next = nil
	if next == nil {
		c.reading = false
	}
	c.rmu.Unlock()
	if next != nil {
		go c.readRound(next)
	}
}

// close closes the version connection and its pool.
func (c *snapshotCache) close() {
	c.verMu.Lock()
	defer c.verMu.Unlock()
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn = nil
	}
	_ = c.ver.Close()
}

// newSnapshotCache opens the version connection on the read pool's database file.
func (db *DB) newSnapshotCache(ctx context.Context) (*snapshotCache, error) {
	var seq int
	var name, file string
	if err := db.r.QueryRowContext(ctx, `PRAGMA database_list`).Scan(&seq, &name, &file); err != nil {
		return nil, fmt.Errorf("snapshot cache: %w", err)
	}
	if file == "" {
		return nil, errors.New("snapshot cache: the database has no file")
	}
	ver, err := sql.Open("sqlite", "file:"+(&url.URL{Path: file}).EscapedPath()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("snapshot cache: %w", err)
	}
	ver.SetMaxOpenConns(1)
	ver.SetMaxIdleConns(1)
	ver.SetConnMaxLifetime(0)
	return &snapshotCache{pool: db.r, ver: ver, version: -1, events: map[string]*Event{}, photos: map[photoKey]*Photo{}}, nil
}

// event returns a copy of the cached event of slug at version, or nil.
func (c *snapshotCache) event(slug string, version int64) *Event {
	if c == nil {
		return nil
	}
	return cachedCopy(c, c.events, slug, version)
}

// putEvent caches a copy of e, read after version was, unless the version moved on.
func (c *snapshotCache) putEvent(slug string, e *Event, version int64) {
	if c != nil {
		cacheCopy(c, c.events, slug, e, version)
	}
}

// photo returns a copy of the cached photo at version, or nil.
func (c *snapshotCache) photo(k photoKey, version int64) *Photo {
	if c == nil {
		return nil
	}
	return cachedCopy(c, c.photos, k, version)
}

// putPhoto caches a copy of p, read after version was, unless the version moved on.
func (c *snapshotCache) putPhoto(k photoKey, p *Photo, version int64) {
	if c != nil {
		cacheCopy(c, c.photos, k, p, version)
	}
}

// cachedCopy returns a copy of m[k] if the cache is still at version.
func cachedCopy[K comparable, V any](c *snapshotCache, m map[K]*V, k K, version int64) *V {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v := m[k]; v != nil && c.version == version {
		cp := *v
		return &cp
	}
	return nil
}

// cacheCopy stores a copy of v as m[k] unless the version moved on; a full map is emptied.
func cacheCopy[K comparable, V any](c *snapshotCache, m map[K]*V, k K, v *V, version int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != version {
		return
	}
	if len(m) >= snapshotMax {
		clear(m)
	}
	cp := *v
	m[k] = &cp
}
