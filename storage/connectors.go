package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ConnectorTarget is one account on an outside platform plus the destination photos go
// to there. Config holds the destination and base URLs; Secrets the sealed credentials,
// which storage never opens.
type ConnectorTarget struct {
	ID        int64
	Platform  string
	Name      string
	Config    json.RawMessage
	Secrets   string
	Status    string // ok, or error with LastError (credentials refused, re-authorization needed)
	LastError string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ConnectorLink pairs one event with one target.
type ConnectorLink struct {
	ID               int64
	TargetID         int64
	EventID          int64
	AutoSync         bool
	ExternalSourceID string // the event's stable id on the platform
	ContainerName    string // folder, album or post name, fixed before the first create
	ContainerID      string // the platform's id of it, once known
	State            string // active, error, archiving, archived
	Published        bool
	LastError        string
	LastSyncedAt     *time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Link states.
const (
	LinkActive    = "active"
	LinkError     = "error"
	LinkArchiving = "archiving"
	LinkArchived  = "archived"
)

// ConnectorItem is what a link knows of one photo on the platform. Its State and Remote
// are written before each remote write (the intent) and after it (the result), so a run
// cut short anywhere resumes without writing anything twice.
type ConnectorItem struct {
	LinkID        int64
	PhotoID       int64
	State         string
	ContentSHA256 string
	ExternalID    string
	MediaToken    *string
	Remote        json.RawMessage
	Attempts      int
	LastError     string
	UpdatedAt     time.Time
}

// ConnectorSync is one run of a link: a sync (make the remote hold the eligible photos)
// or an archive (remove everything the link made).
type ConnectorSync struct {
	ID         int64
	LinkID     int64
	Kind       string // sync or archive
	Trigger    string // manual, auto or archive
	Status     string // queued, running, succeeded, partial, failed
	Added      int
	Skipped    int
	Failed     int
	Removed    int
	Failures   []SyncFailure
	Warnings   []string
	Error      string
	JobID      *int64
	CreatedAt  time.Time
	StartedAt  *time.Time
	FinishedAt *time.Time
}

// SyncFailure is one photo a sync could not push, with the platform's reason.
type SyncFailure struct {
	PhotoID int64  `json:"photo_id"`
	Error   string `json:"error"`
}

// Sync states.
const (
	SyncQueued    = "queued"
	SyncRunning   = "running"
	SyncSucceeded = "succeeded"
	SyncPartial   = "partial"
	SyncFailed    = "failed"
)

// ErrLinkArchived means the link is archived or being archived: it takes no more syncs.
var ErrLinkArchived = errors.New("link archived")

// ConnectorSyncJob is the payload of the queue job that runs a sync.
type ConnectorSyncJob struct {
	SyncID int64 `json:"sync_id"`
}

const targetColumns = `id, platform, name, config, secrets, status, last_error, created_at, updated_at`

func scanTarget(row interface{ Scan(...any) error }) (*ConnectorTarget, error) {
	var t ConnectorTarget
	var cfg string
	if err := row.Scan(&t.ID, &t.Platform, &t.Name, &cfg, &t.Secrets, &t.Status, &t.LastError,
		timeCol{&t.CreatedAt}, timeCol{&t.UpdatedAt}); err != nil {
		return nil, formatError(err)
	}
	t.Config = json.RawMessage(cfg)
	return &t, nil
}

// CreateConnectorTarget stores a new target.
func (db *DB) CreateConnectorTarget(ctx context.Context, t *ConnectorTarget) error {
	now := db.now()
	t.CreatedAt, t.UpdatedAt, t.Status = now, now, "ok"
	err := db.w.QueryRowContext(ctx, db.rebind(`INSERT INTO connector_targets (platform, name, config, secrets, status, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`), t.Platform, t.Name, string(t.Config), t.Secrets, t.Status, ts(now), ts(now)).Scan(&t.ID)
	if err != nil {
		return fmt.Errorf("create connector target: %w", formatError(err))
	}
	return nil
}

// FindConnectorTarget returns one target.
func (db *DB) FindConnectorTarget(ctx context.Context, id int64) (*ConnectorTarget, error) {
	t, err := scanTarget(db.r.QueryRowContext(ctx, db.rebind(`SELECT `+targetColumns+` FROM connector_targets WHERE id = ?`), id))
	if err != nil {
		return nil, fmt.Errorf("find connector target %d: %w", id, err)
	}
	return t, nil
}

// ListConnectorTargets returns every target, oldest first.
func (db *DB) ListConnectorTargets(ctx context.Context) ([]*ConnectorTarget, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+targetColumns+` FROM connector_targets ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list connector targets: %w", err)
	}
	return collect(rows, scanTarget)
}

// UpdateConnectorTarget saves a target's name and config, and its secrets when
// withSecrets (a rename must not write back a refresh token a sync has just spent), and
// clears its error state (new settings deserve a new try).
func (db *DB) UpdateConnectorTarget(ctx context.Context, t *ConnectorTarget, withSecrets bool) error {
	t.UpdatedAt, t.Status, t.LastError = db.now(), "ok", ""
	q, args := `UPDATE connector_targets SET name = ?, config = ?, status = ?, last_error = '', updated_at = ?`, []any{t.Name, string(t.Config), t.Status, ts(t.UpdatedAt)}
	if withSecrets {
		q += `, secrets = ?`
		args = append(args, t.Secrets)
	}
	res, err := db.exec(ctx, q+` WHERE id = ?`, append(args, t.ID)...)
	if err != nil {
		return fmt.Errorf("update connector target %d: %w", t.ID, err)
	}
	return affected(res, ErrNotFound)
}

// SaveConnectorSecrets replaces a target's sealed credentials if they are still old, in
// one statement (a rotated refresh token must never be half-saved, nor overwrite one
// another process saved meanwhile). It reports whether it replaced them.
func (db *DB) SaveConnectorSecrets(ctx context.Context, id int64, old, sealed string) (bool, error) {
	res, err := db.exec(ctx, `UPDATE connector_targets SET secrets = ?, updated_at = ? WHERE id = ? AND secrets = ?`, sealed, ts(db.now()), id, old)
	if err != nil {
		return false, fmt.Errorf("save connector %d secrets: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// activeLinksQuery counts a target's links that are not archived.
const activeLinksQuery = `SELECT COUNT(*) FROM connector_links WHERE target_id = ? AND state <> ?`

// CountActiveLinks counts the links of a target that are not archived.
func (db *DB) CountActiveLinks(ctx context.Context, targetID int64) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, db.rebind(activeLinksQuery), targetID, LinkArchived).Scan(&n); err != nil {
		return 0, fmt.Errorf("count links of connector %d: %w", targetID, err)
	}
	return n, nil
}

// SetConnectorTargetStatus records whether a target works ("ok") or why it does not.
func (db *DB) SetConnectorTargetStatus(ctx context.Context, id int64, status, lastError string) error {
	if _, err := db.exec(ctx, `UPDATE connector_targets SET status = ?, last_error = ?, updated_at = ? WHERE id = ?`,
		status, lastError, ts(db.now()), id); err != nil {
		return fmt.Errorf("set connector %d status: %w", id, err)
	}
	return nil
}

// DeleteConnectorTarget removes a target that no link uses any more (ErrConflict otherwise).
func (db *DB) DeleteConnectorTarget(ctx context.Context, id int64) error {
	return db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, db.rebind(activeLinksQuery), id, LinkArchived).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("connector %d is linked to %d events: %w", id, n, ErrConflict)
		}
		res, err := tx.ExecContext(ctx, db.rebind(`DELETE FROM connector_targets WHERE id = ?`), id)
		if err != nil {
			return err
		}
		return affected(res, ErrNotFound)
	})
}

// collect reads every row with scan and closes rows; the result is never nil.
func collect[T any](rows *sql.Rows, scan func(interface{ Scan(...any) error }) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func affected(res sql.Result, none error) error {
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return none
	}
	return nil
}

const linkColumns = `id, target_id, event_id, auto_sync, external_source_id, container_name, container_id, state, published,
	last_error, last_synced_at, created_at, updated_at`

func scanLink(row interface{ Scan(...any) error }) (*ConnectorLink, error) {
	var l ConnectorLink
	var synced nullTime
	if err := row.Scan(&l.ID, &l.TargetID, &l.EventID, &l.AutoSync, &l.ExternalSourceID, &l.ContainerName, &l.ContainerID,
		&l.State, &l.Published, &l.LastError, &synced, timeCol{&l.CreatedAt}, timeCol{&l.UpdatedAt}); err != nil {
		return nil, formatError(err)
	}
	l.LastSyncedAt = synced.t
	return &l, nil
}

// CreateConnectorLink links an event to a target (ErrConflict when they already are).
func (db *DB) CreateConnectorLink(ctx context.Context, l *ConnectorLink) error {
	now := db.now()
	l.CreatedAt, l.UpdatedAt, l.State = now, now, LinkActive
	err := db.w.QueryRowContext(ctx, db.rebind(`INSERT INTO connector_links (target_id, event_id, auto_sync, external_source_id,
		container_name, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		l.TargetID, l.EventID, l.AutoSync, l.ExternalSourceID, l.ContainerName, l.State, ts(now), ts(now)).Scan(&l.ID)
	if err != nil {
		return fmt.Errorf("link event %d to connector %d: %w", l.EventID, l.TargetID, formatError(err))
	}
	return nil
}

// FindConnectorLink returns one link.
func (db *DB) FindConnectorLink(ctx context.Context, id int64) (*ConnectorLink, error) {
	l, err := scanLink(db.r.QueryRowContext(ctx, db.rebind(`SELECT `+linkColumns+` FROM connector_links WHERE id = ?`), id))
	if err != nil {
		return nil, fmt.Errorf("find connector link %d: %w", id, err)
	}
	return l, nil
}

// ListConnectorLinks returns an event's links, oldest first.
func (db *DB) ListConnectorLinks(ctx context.Context, eventID int64) ([]*ConnectorLink, error) {
	rows, err := db.r.QueryContext(ctx, db.rebind(`SELECT `+linkColumns+` FROM connector_links WHERE event_id = ? ORDER BY id`), eventID)
	if err != nil {
		return nil, fmt.Errorf("list connector links: %w", err)
	}
	return collect(rows, scanLink)
}

// SetLinkAutoSync turns automatic syncs after uploads on or off.
func (db *DB) SetLinkAutoSync(ctx context.Context, id int64, on bool) error {
	res, err := db.exec(ctx, `UPDATE connector_links SET auto_sync = ?, updated_at = ? WHERE id = ?`, on, ts(db.now()), id)
	if err != nil {
		return fmt.Errorf("set auto sync of link %d: %w", id, err)
	}
	return affected(res, ErrNotFound)
}

// SaveLinkContainer records the platform's id of the link's folder, album or post. It
// is written before anything else a create answered, so a crash right after the create
// cannot lead to a second one.
func (db *DB) SaveLinkContainer(ctx context.Context, id int64, containerID string) error {
	if _, err := db.exec(ctx, `UPDATE connector_links SET container_id = ?, updated_at = ? WHERE id = ?`, containerID, ts(db.now()), id); err != nil {
		return fmt.Errorf("save container of link %d: %w", id, err)
	}
	return nil
}

// SetLinkState records a link's state and the reason of an error state.
func (db *DB) SetLinkState(ctx context.Context, id int64, state, lastError string) error {
	if _, err := db.exec(ctx, `UPDATE connector_links SET state = ?, last_error = ?, updated_at = ? WHERE id = ?`,
		state, lastError, ts(db.now()), id); err != nil {
		return fmt.Errorf("set state of link %d: %w", id, err)
	}
	return nil
}

// SetSyncedLinkState records the outcome of a sync (active or error) unless the link
// has been archived meanwhile: an archive's state is never overwritten by a sync.
func (db *DB) SetSyncedLinkState(ctx context.Context, id int64, state, lastError string) error {
	if _, err := db.exec(ctx, `UPDATE connector_links SET state = ?, last_error = ?, updated_at = ? WHERE id = ? AND state NOT IN (?, ?)`,
		state, lastError, ts(db.now()), id, LinkArchiving, LinkArchived); err != nil {
		return fmt.Errorf("set state of link %d: %w", id, err)
	}
	return nil
}

// SetLinkPublished records that the remote container was made public.
func (db *DB) SetLinkPublished(ctx context.Context, id int64) error {
	if _, err := db.exec(ctx, `UPDATE connector_links SET published = 1, updated_at = ? WHERE id = ?`, ts(db.now()), id); err != nil {
		return fmt.Errorf("set link %d published: %w", id, err)
	}
	return nil
}

// DeleteConnectorLink forgets a link with its items and syncs.
func (db *DB) DeleteConnectorLink(ctx context.Context, id int64) error {
	res, err := db.exec(ctx, `DELETE FROM connector_links WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete connector link %d: %w", id, err)
	}
	return affected(res, ErrNotFound)
}

const itemColumns = `link_id, photo_id, state, content_sha256, external_id, media_token, remote, attempts, last_error, updated_at`

func scanItem(row interface{ Scan(...any) error }) (*ConnectorItem, error) {
	var it ConnectorItem
	var token sql.NullString
	var remote string
	if err := row.Scan(&it.LinkID, &it.PhotoID, &it.State, &it.ContentSHA256, &it.ExternalID, &token, &remote, &it.Attempts,
		&it.LastError, timeCol{&it.UpdatedAt}); err != nil {
		return nil, formatError(err)
	}
	if token.Valid {
		it.MediaToken = &token.String
	}
	it.Remote = json.RawMessage(remote)
	return &it, nil
}

// ConnectorItems returns every item of a link by photo id.
func (db *DB) ConnectorItems(ctx context.Context, linkID int64) (map[int64]*ConnectorItem, error) {
	rows, err := db.r.QueryContext(ctx, db.rebind(`SELECT `+itemColumns+` FROM connector_items WHERE link_id = ?`), linkID)
	if err != nil {
		return nil, fmt.Errorf("list items of link %d: %w", linkID, err)
	}
	items, err := collect(rows, scanItem)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]*ConnectorItem, len(items))
	for _, it := range items {
		out[it.PhotoID] = it
	}
	return out, nil
}

// SaveConnectorItem writes an item as it is now (insert or replace).
func (db *DB) SaveConnectorItem(ctx context.Context, it *ConnectorItem) error {
	it.UpdatedAt = db.now()
	if len(it.Remote) == 0 {
		it.Remote = json.RawMessage(`{}`)
	}
	_, err := db.exec(ctx, `INSERT INTO connector_items (link_id, photo_id, state, content_sha256, external_id, media_token, remote,
		attempts, last_error, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (link_id, photo_id) DO UPDATE SET state = excluded.state, content_sha256 = excluded.content_sha256,
		external_id = excluded.external_id, media_token = excluded.media_token, remote = excluded.remote,
		attempts = excluded.attempts, last_error = excluded.last_error, updated_at = excluded.updated_at`,
		it.LinkID, it.PhotoID, it.State, it.ContentSHA256, it.ExternalID, it.MediaToken, string(it.Remote), it.Attempts,
		it.LastError, ts(it.UpdatedAt))
	if err != nil {
		return fmt.Errorf("save item %d of link %d: %w", it.PhotoID, it.LinkID, err)
	}
	return nil
}

// SetConnectorItemState changes an item's state without marking it as changed by the
// current sync (a photo shown again that never left the platform, bytes never used):
// the sync's counts are of what it did on the platform.
func (db *DB) SetConnectorItemState(ctx context.Context, it *ConnectorItem, state string) error {
	if _, err := db.exec(ctx, `UPDATE connector_items SET state = ? WHERE link_id = ? AND photo_id = ?`, state, it.LinkID, it.PhotoID); err != nil {
		return fmt.Errorf("set state of item %d of link %d: %w", it.PhotoID, it.LinkID, err)
	}
	it.State = state
	return nil
}

// FindConnectorMedia returns the item, link and photo behind a public media token, for
// items whose bytes the platform may still fetch.
func (db *DB) FindConnectorMedia(ctx context.Context, token string) (*ConnectorItem, *ConnectorLink, error) {
	it, err := scanItem(db.r.QueryRowContext(ctx, db.rebind(`SELECT `+itemColumns+` FROM connector_items WHERE media_token = ?`), token))
	if err != nil {
		return nil, nil, fmt.Errorf("find connector media: %w", err)
	}
	l, err := db.FindConnectorLink(ctx, it.LinkID)
	if err != nil {
		return nil, nil, err
	}
	return it, l, nil
}

const syncColumns = `id, link_id, kind, trigger, status, added, skipped, failed, removed, failures, warnings, error, job_id,
	created_at, started_at, finished_at`

// syncColumnsS is syncColumns for a query that names connector_syncs s.
const syncColumnsS = `s.id, s.link_id, s.kind, s.trigger, s.status, s.added, s.skipped, s.failed, s.removed, s.failures, s.warnings,
	s.error, s.job_id, s.created_at, s.started_at, s.finished_at`

func scanSync(row interface{ Scan(...any) error }) (*ConnectorSync, error) {
	var s ConnectorSync
	var failures, warnings string
	var job sql.NullInt64
	var started, finished nullTime
	if err := row.Scan(&s.ID, &s.LinkID, &s.Kind, &s.Trigger, &s.Status, &s.Added, &s.Skipped, &s.Failed, &s.Removed,
		&failures, &warnings, &s.Error, &job, timeCol{&s.CreatedAt}, &started, &finished); err != nil {
		return nil, formatError(err)
	}
	if err := json.Unmarshal([]byte(failures), &s.Failures); err != nil {
		return nil, fmt.Errorf("sync %d failures: %w", s.ID, err)
	}
	if err := json.Unmarshal([]byte(warnings), &s.Warnings); err != nil {
		return nil, fmt.Errorf("sync %d warnings: %w", s.ID, err)
	}
	if job.Valid {
		s.JobID = &job.Int64
	}
	s.StartedAt, s.FinishedAt = started.t, finished.t
	return &s, nil
}

// RequestConnectorSync asks for a run of a link. A sync already waiting for the link is
// returned instead of a second one (created=false); its start moves to runAt when that
// is later (automatic syncs wait for uploads to settle). The queue job of jobKind is
// enqueued in the same transaction.
func (db *DB) RequestConnectorSync(ctx context.Context, linkID int64, kind, trigger, jobKind string, runAt time.Time) (*ConnectorSync, bool, error) {
	var out *ConnectorSync
	created := false
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		out, created, err = db.requestSync(ctx, tx, linkID, kind, trigger, jobKind, runAt)
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("request sync of link %d: %w", linkID, err)
	}
	return out, created, nil
}

func (db *DB) requestSync(ctx context.Context, tx *sql.Tx, linkID int64, kind, trigger, jobKind string, runAt time.Time) (*ConnectorSync, bool, error) {
	var state string
	if err := tx.QueryRowContext(ctx, db.rebind(`SELECT state FROM connector_links WHERE id = ?`), linkID).Scan(&state); err != nil {
		return nil, false, formatError(err)
	}
	if kind == "sync" && (state == LinkArchiving || state == LinkArchived) {
		return nil, false, fmt.Errorf("link %d is %s: %w", linkID, state, ErrLinkArchived)
	}
	waiting, err := scanSync(tx.QueryRowContext(ctx, db.rebind(`SELECT `+syncColumns+` FROM connector_syncs WHERE link_id = ? AND status = ?`), linkID, SyncQueued))
	if err == nil && !db.jobActiveTx(ctx, tx, waiting.JobID) {
		// Its job is gone (dead, or removed by hand): it would never run.
		if err := db.failSyncTx(ctx, tx, waiting.ID, "its job stopped before it ran"); err != nil {
			return nil, false, err
		}
		err = ErrNotFound
	}
	switch {
	case err == nil && waiting.Kind == kind:
		if _, err := tx.ExecContext(ctx, db.rebind(`UPDATE jobs SET run_at = ? WHERE id = ? AND status = 'queued' AND run_at < ?`),
			ts(runAt), *waiting.JobID, ts(runAt)); err != nil {
			return nil, false, err
		}
		return waiting, false, nil
	case err == nil && waiting.Kind == "archive":
		// (kind is sync, and the link is not archiving: cannot happen; keep the archive.)
		return nil, false, fmt.Errorf("link %d has an archive waiting: %w", linkID, ErrLinkArchived)
	case err == nil:
		// An archive replaces a waiting sync.
		if err := db.failSyncTx(ctx, tx, waiting.ID, "superseded by an archive"); err != nil {
			return nil, false, err
		}
		if _, err := tx.ExecContext(ctx, db.rebind(`DELETE FROM jobs WHERE id = ? AND status = 'queued'`), *waiting.JobID); err != nil {
			return nil, false, err
		}
	case !errors.Is(err, ErrNotFound):
		return nil, false, err
	}
	now := db.now()
	s := &ConnectorSync{LinkID: linkID, Kind: kind, Trigger: trigger, Status: SyncQueued, CreatedAt: now, Failures: []SyncFailure{}, Warnings: []string{}}
	if err := tx.QueryRowContext(ctx, db.rebind(`INSERT INTO connector_syncs (link_id, kind, trigger, status, created_at)
		VALUES (?, ?, ?, ?, ?) RETURNING id`), linkID, kind, trigger, SyncQueued, ts(now)).Scan(&s.ID); err != nil {
		return nil, false, formatError(err)
	}
	job, err := db.enqueueJobMax(ctx, tx, jobKind, ConnectorSyncJob{SyncID: s.ID}, runAt, 50)
	if err != nil {
		return nil, false, err
	}
	s.JobID = &job
	if _, err := tx.ExecContext(ctx, db.rebind(`UPDATE connector_syncs SET job_id = ? WHERE id = ?`), job, s.ID); err != nil {
		return nil, false, err
	}
	return s, true, nil
}

// jobActiveTx reports whether a sync's job is still queued or running.
func (db *DB) jobActiveTx(ctx context.Context, tx *sql.Tx, id *int64) bool {
	if id == nil {
		return false
	}
	var n int
	if err := tx.QueryRowContext(ctx, db.rebind(`SELECT COUNT(*) FROM jobs WHERE id = ? AND status IN ('queued', 'running')`), *id).Scan(&n); err != nil {
		return true // unknown: assume it lives, as before
	}
	return n > 0
}

// failSyncTx ends a sync that will never run or finish.
func (db *DB) failSyncTx(ctx context.Context, tx *sql.Tx, id int64, reason string) error {
	_, err := tx.ExecContext(ctx, db.rebind(`UPDATE connector_syncs SET status = ?, error = ?, finished_at = ? WHERE id = ? AND status IN (?, ?)`),
		SyncFailed, reason, ts(db.now()), id, SyncQueued, SyncRunning)
	return err
}

// autoSync is what CreatePhotosWith needs to schedule automatic syncs.
type autoSync struct {
	jobKind string
	settle  time.Duration
}

// SetConnectorAutoSync makes new photos schedule a sync (a job of jobKind) of every
// link of their event with auto_sync on, settle after the last upload.
func (db *DB) SetConnectorAutoSync(jobKind string, settle time.Duration) {
	db.autoSync = &autoSync{jobKind: jobKind, settle: settle}
}

// scheduleAutoSyncs runs in the transaction that adds photos to an event.
func (db *DB) scheduleAutoSyncs(ctx context.Context, tx *sql.Tx, eventID int64) error {
	if db.autoSync == nil {
		return nil
	}
	ids, err := db.linkIDs(ctx, tx, `SELECT id FROM connector_links WHERE event_id = ? AND auto_sync = 1 AND state IN (?, ?)`,
		eventID, LinkActive, LinkError)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, _, err := db.requestSync(ctx, tx, id, "sync", "auto", db.autoSync.jobKind, db.now().Add(db.autoSync.settle)); err != nil {
			return fmt.Errorf("schedule auto sync of link %d: %w", id, err)
		}
	}
	return nil
}

// ArchiveConnectorLink marks a link as archiving and asks for the archive run that
// removes from the platform what the link made (the run sets it archived).
func (db *DB) ArchiveConnectorLink(ctx context.Context, linkID int64, jobKind string) (*ConnectorSync, error) {
	var out *ConnectorSync
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.rebind(`UPDATE connector_links SET state = ?, updated_at = ? WHERE id = ?`),
			LinkArchiving, ts(db.now()), linkID); err != nil {
			return err
		}
		var err error
		out, _, err = db.requestSync(ctx, tx, linkID, "archive", "archive", jobKind, db.now())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("archive link %d: %w", linkID, err)
	}
	return out, nil
}

// archiveConnectorLinks runs in the transaction that archives an event: each of its
// links gets an archive run.
func (db *DB) archiveConnectorLinks(ctx context.Context, tx *sql.Tx, eventID int64) error {
	if db.autoSync == nil {
		return nil
	}
	ids, err := db.linkIDs(ctx, tx, `SELECT id FROM connector_links WHERE event_id = ? AND state NOT IN (?, ?)`, eventID, LinkArchiving, LinkArchived)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, db.rebind(`UPDATE connector_links SET state = ?, updated_at = ? WHERE id = ?`),
			LinkArchiving, ts(db.now()), id); err != nil {
			return err
		}
		if _, _, err := db.requestSync(ctx, tx, id, "archive", "archive", db.autoSync.jobKind, db.now()); err != nil {
			return fmt.Errorf("archive link %d: %w", id, err)
		}
	}
	return nil
}

func (db *DB) linkIDs(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, db.rebind(q), args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(row interface{ Scan(...any) error }) (int64, error) {
		var id int64
		return id, row.Scan(&id)
	})
}

// FindConnectorSync returns one sync.
func (db *DB) FindConnectorSync(ctx context.Context, id int64) (*ConnectorSync, error) {
	s, err := scanSync(db.r.QueryRowContext(ctx, db.rebind(`SELECT `+syncColumns+` FROM connector_syncs WHERE id = ?`), id))
	if err != nil {
		return nil, fmt.Errorf("find sync %d: %w", id, err)
	}
	return s, nil
}

// ListConnectorSyncs returns the syncs of an event's links, newest first.
func (db *DB) ListConnectorSyncs(ctx context.Context, eventID int64, limit int) ([]*ConnectorSync, error) {
	rows, err := db.r.QueryContext(ctx, db.rebind(`SELECT `+syncColumnsS+` FROM connector_syncs s
		JOIN connector_links l ON l.id = s.link_id WHERE l.event_id = ? ORDER BY s.id DESC LIMIT ?`), eventID, limit)
	if err != nil {
		return nil, fmt.Errorf("list syncs of event %d: %w", eventID, err)
	}
	return collect(rows, scanSync)
}

// StartConnectorSync marks a waiting sync as running. ErrConflict means another sync of
// the link is running (try later); a running sync whose job is gone (its process gave
// up on it) is ended first, so it cannot block the link. A sync that is already running
// (a retry after a crash) or finished is returned as it is.
func (db *DB) StartConnectorSync(ctx context.Context, id int64) (*ConnectorSync, error) {
	s, err := db.FindConnectorSync(ctx, id)
	if err != nil {
		return nil, err
	}
	if s.Status != SyncQueued {
		return s, nil
	}
	err = db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		other, err := scanSync(tx.QueryRowContext(ctx, db.rebind(`SELECT `+syncColumns+` FROM connector_syncs WHERE link_id = ? AND status = ?`),
			s.LinkID, SyncRunning))
		switch {
		case err == nil && db.jobActiveTx(ctx, tx, other.JobID):
			return fmt.Errorf("sync %d of link %d is running: %w", other.ID, s.LinkID, ErrConflict)
		case err == nil:
			if err := db.failSyncTx(ctx, tx, other.ID, "its job stopped (the process gave up on it)"); err != nil {
				return err
			}
		case !errors.Is(err, ErrNotFound):
			return err
		}
		_, err = tx.ExecContext(ctx, db.rebind(`UPDATE connector_syncs SET status = ?, started_at = ? WHERE id = ? AND status = ?`),
			SyncRunning, ts(db.now()), id, SyncQueued)
		return formatError(err)
	})
	if err != nil {
		return nil, fmt.Errorf("start sync %d: %w", id, err)
	}
	return db.FindConnectorSync(ctx, id)
}

// FinishConnectorSync records a sync's outcome and, in the same transaction, the link's
// last sync time and the announcement of the outcome (ann may be nil).
func (db *DB) FinishConnectorSync(ctx context.Context, s *ConnectorSync, ann *Announcement) error {
	now := db.now()
	s.FinishedAt = &now
	if s.Failures == nil {
		s.Failures = []SyncFailure{}
	}
	if s.Warnings == nil {
		s.Warnings = []string{}
	}
	failures, err := json.Marshal(s.Failures)
	if err != nil {
		return err
	}
	warnings, err := json.Marshal(s.Warnings)
	if err != nil {
		return err
	}
	return db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.rebind(`UPDATE connector_syncs SET status = ?, added = ?, skipped = ?, failed = ?, removed = ?,
			failures = ?, warnings = ?, error = ?, finished_at = ? WHERE id = ?`),
			s.Status, s.Added, s.Skipped, s.Failed, s.Removed, string(failures), string(warnings), s.Error, ts(now), s.ID); err != nil {
			return fmt.Errorf("finish sync %d: %w", s.ID, err)
		}
		if s.Status != SyncFailed {
			if _, err := tx.ExecContext(ctx, db.rebind(`UPDATE connector_links SET last_synced_at = ? WHERE id = ?`), ts(now), s.LinkID); err != nil {
				return err
			}
		}
		_, err := db.announce(ctx, tx, ann, 0)
		return err
	})
}

// ConnectorPhotos returns every photo of an event, by position, for a sync to compare
// with its items.
func (db *DB) ConnectorPhotos(ctx context.Context, eventID int64) ([]*Photo, error) {
	photos, err := db.queryPhotos(ctx, `SELECT `+photoColumns+` FROM photos p WHERE p.event_id = ? ORDER BY p.position, p.id`, eventID)
	if err != nil {
		return nil, fmt.Errorf("photos of event %d: %w", eventID, err)
	}
	return photos, nil
}
