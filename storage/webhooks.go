package storage

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Webhook delivery states.
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
)

// WebhookEndpoint is a receiver of webhook announcements.
type WebhookEndpoint struct {
	ID                  int64
	URL                 string
	Description         string
	Events              []string // announcement types, or "*" for all
	Secret              string   // whsec_...; signs every delivery
	PreviousSecret      string   // after a rotation, also signs until PreviousSecretUntil
	PreviousSecretUntil *time.Time
	Enabled             bool
	DisabledReason      string
	DisabledAt          *time.Time
	ConsecutiveFailures int
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// Wants reports whether the endpoint subscribes to announcements of type t.
func (w *WebhookEndpoint) Wants(t string) bool {
	return slices.Contains(w.Events, "*") || slices.Contains(w.Events, t)
}

// Announcement is a change to announce to webhook receivers: its type and the data of
// its payload. The envelope ({id, type, created_at, data}) is added by storage.
type Announcement struct {
	Type string
	Data any
}

// Announcer turns changes into announcements. Storage calls it inside the transaction of
// each change, so an announcement exists exactly when its change does. It is an interface
// because the payload shapes belong to the server's webhook package, which storage must
// not import. A nil result announces nothing.
type Announcer interface {
	PhotoUploaded(e *Event, p *Photo, source string) *Announcement
	PhotoDeleted(e *Event, p *Photo) *Announcement
	EventCreated(e *Event) *Announcement
	EventArchived(e *Event) *Announcement
}

// SetAnnouncer installs the announcer and the queue kind of the job that delivers one
// announcement to one endpoint, with its number of tries.
func (db *DB) SetAnnouncer(a Announcer, deliverJobKind string, maxAttempts int) {
	db.announcer, db.deliverKind, db.deliverAttempts = a, deliverJobKind, maxAttempts
}

// DeliveryJob is the payload of a delivery job.
type DeliveryJob struct {
	DeliveryID int64 `json:"delivery_id"`
}

// newMessageID returns a stable, unique announcement id (the webhook-id header).
func newMessageID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "msg_" + hex.EncodeToString(b), nil
}

// announce writes an announcement and one delivery (with its job) per subscribed,
// enabled endpoint, inside tx. onlyEndpoint, when non-zero, targets that endpoint alone
// (test deliveries). It returns the ids of the deliveries.
func (db *DB) announce(ctx context.Context, tx *sql.Tx, a *Announcement, onlyEndpoint int64) ([]int64, error) {
	if a == nil || db.deliverKind == "" {
		return nil, nil
	}
	id, err := newMessageID()
	if err != nil {
		return nil, err
	}
	now := db.now()
	body, err := json.Marshal(struct {
		ID        string    `json:"id"`
		Type      string    `json:"type"`
		CreatedAt time.Time `json:"created_at"`
		Data      any       `json:"data"`
	}{id, a.Type, now, a.Data})
	if err != nil {
		return nil, fmt.Errorf("encode %s announcement: %w", a.Type, err)
	}
	if _, err := tx.ExecContext(ctx, db.rebind(`INSERT INTO webhook_events (id, type, body, created_at) VALUES (?, ?, ?, ?)`),
		id, a.Type, string(body), ts(now)); err != nil {
		return nil, fmt.Errorf("record %s announcement: %w", a.Type, err)
	}
	rows, err := tx.QueryContext(ctx, db.rebind(`SELECT id, events, enabled FROM webhook_endpoints WHERE (? = 0 OR id = ?)`), onlyEndpoint, onlyEndpoint)
	if err != nil {
		return nil, err
	}
	var targets, disabled []int64
	for rows.Next() {
		var eid int64
		var events string
		var enabled bool
		if err := rows.Scan(&eid, &events, &enabled); err != nil {
			rows.Close()
			return nil, err
		}
		w := WebhookEndpoint{Events: splitComma(events)}
		switch {
		case onlyEndpoint == 0 && !w.Wants(a.Type):
		case enabled:
			targets = append(targets, eid)
		default:
			disabled = append(disabled, eid)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// A disabled receiver still gets its deliveries recorded, as failed and not sent, so
	// that nothing is missed without a trace: once enabled, they can be redelivered.
	for _, eid := range disabled {
		if _, err := tx.ExecContext(ctx, db.rebind(`INSERT INTO webhook_deliveries (endpoint_id, event_id, status, last_error, created_at, updated_at)
			VALUES (?, ?, 'failed', 'not sent: the receiver was disabled', ?, ?)`), eid, id, ts(now), ts(now)); err != nil {
			return nil, err
		}
	}
	var deliveries []int64
	for _, eid := range targets {
		var did int64
		if err := tx.QueryRowContext(ctx, db.rebind(`INSERT INTO webhook_deliveries (endpoint_id, event_id, status, next_attempt_at, created_at, updated_at)
			VALUES (?, ?, 'pending', ?, ?, ?) RETURNING id`), eid, id, ts(now), ts(now), ts(now)).Scan(&did); err != nil {
			return nil, err
		}
		if _, err := db.enqueueJobMax(ctx, tx, db.deliverKind, DeliveryJob{DeliveryID: did}, now, db.deliverAttempts); err != nil {
			return nil, err
		}
		deliveries = append(deliveries, did)
	}
	return deliveries, nil
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

const endpointColumns = `id, url, description, events, secret, previous_secret, previous_secret_until, enabled,
	disabled_reason, disabled_at, consecutive_failures, created_at, updated_at`

func scanEndpoint(row interface{ Scan(...any) error }) (*WebhookEndpoint, error) {
	var w WebhookEndpoint
	var events string
	var prevUntil, disabledAt nullTime
	if err := row.Scan(&w.ID, &w.URL, &w.Description, &events, &w.Secret, &w.PreviousSecret, &prevUntil, &w.Enabled,
		&w.DisabledReason, &disabledAt, &w.ConsecutiveFailures, timeCol{&w.CreatedAt}, timeCol{&w.UpdatedAt}); err != nil {
		return nil, formatError(err)
	}
	w.Events, w.PreviousSecretUntil, w.DisabledAt = splitComma(events), prevUntil.t, disabledAt.t
	return &w, nil
}

// CreateWebhookEndpoint stores a receiver and fills in ID and times.
func (db *DB) CreateWebhookEndpoint(ctx context.Context, w *WebhookEndpoint) error {
	w.CreatedAt = db.now()
	w.UpdatedAt, w.Enabled = w.CreatedAt, true
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, db.rebind(`INSERT INTO webhook_endpoints (url, description, events, secret, enabled, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`), w.URL, w.Description, strings.Join(w.Events, ","), w.Secret, true,
			ts(w.CreatedAt), ts(w.UpdatedAt)).Scan(&w.ID)
	})
	if err != nil {
		return fmt.Errorf("create webhook endpoint: %w", formatError(err))
	}
	return nil
}

// FindWebhookEndpoint returns one receiver.
func (db *DB) FindWebhookEndpoint(ctx context.Context, id int64) (*WebhookEndpoint, error) {
	w, err := scanEndpoint(db.r.QueryRowContext(ctx, db.rebind(`SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = ?`), id))
	if err != nil {
		return nil, fmt.Errorf("find webhook endpoint %d: %w", id, err)
	}
	return w, nil
}

// FindWebhookEndpoints lists every receiver, oldest first.
func (db *DB) FindWebhookEndpoints(ctx context.Context) ([]*WebhookEndpoint, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	defer rows.Close()
	out := []*WebhookEndpoint{}
	for rows.Next() {
		w, err := scanEndpoint(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// WebhookEndpointUpdate lists the fields of a receiver to change.
type WebhookEndpointUpdate struct {
	URL         *string
	Description *string
	Events      *[]string
	Enabled     *bool // enabling clears the failure count and the disabled reason
}

// UpdateWebhookEndpoint applies u.
func (db *DB) UpdateWebhookEndpoint(ctx context.Context, id int64, u WebhookEndpointUpdate) (*WebhookEndpoint, error) {
	sets, args := []string{"updated_at = ?"}, []any{ts(db.now())}
	if u.URL != nil {
		sets, args = append(sets, "url = ?"), append(args, *u.URL)
	}
	if u.Description != nil {
		sets, args = append(sets, "description = ?"), append(args, *u.Description)
	}
	if u.Events != nil {
		sets, args = append(sets, "events = ?"), append(args, strings.Join(*u.Events, ","))
	}
	if u.Enabled != nil {
		if *u.Enabled {
			sets = append(sets, "enabled = ?", "disabled_reason = ''", "disabled_at = NULL", "consecutive_failures = 0")
		} else {
			sets = append(sets, "enabled = ?", "disabled_reason = 'disabled by an admin'", "disabled_at = ?")
		}
		args = append(args, *u.Enabled)
		if !*u.Enabled {
			args = append(args, ts(db.now()))
		}
	}
	res, err := db.exec(ctx, `UPDATE webhook_endpoints SET `+strings.Join(sets, ", ")+` WHERE id = ?`, append(args, id)...)
	if err != nil {
		return nil, fmt.Errorf("update webhook endpoint %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, fmt.Errorf("update webhook endpoint %d: %w", id, ErrNotFound)
	}
	return db.FindWebhookEndpoint(ctx, id)
}

// RotateWebhookSecret replaces a receiver's secret; the old one keeps signing (beside the
// new) until graceUntil, so receivers can switch without missing a delivery.
func (db *DB) RotateWebhookSecret(ctx context.Context, id int64, secret string, graceUntil time.Time) error {
	res, err := db.exec(ctx, `UPDATE webhook_endpoints SET previous_secret = secret, previous_secret_until = ?, secret = ?, updated_at = ? WHERE id = ?`,
		ts(graceUntil), secret, ts(db.now()), id)
	if err != nil {
		return fmt.Errorf("rotate secret of webhook endpoint %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("rotate secret of webhook endpoint %d: %w", id, ErrNotFound)
	}
	return nil
}

// DeleteWebhookEndpoint removes a receiver with its deliveries.
func (db *DB) DeleteWebhookEndpoint(ctx context.Context, id int64) error {
	res, err := db.exec(ctx, `DELETE FROM webhook_endpoints WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete webhook endpoint %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete webhook endpoint %d: %w", id, ErrNotFound)
	}
	return nil
}

// WebhookDelivery is one announcement on its way to one receiver.
type WebhookDelivery struct {
	ID             int64
	EndpointID     int64
	EventID        string // the webhook-id
	EventType      string
	Body           string // the signed JSON payload
	Status         string
	Attempts       int
	LastStatusCode *int
	LastError      string
	NextAttemptAt  *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// WebhookAttempt is one HTTP try of a delivery.
type WebhookAttempt struct {
	AttemptedAt  time.Time
	StatusCode   *int
	Error        string
	LatencyMS    int64
	ResponseBody string
}

const deliveryColumns = `d.id, d.endpoint_id, d.event_id, e.type, e.body, d.status, d.attempts, d.last_status_code, d.last_error,
	d.next_attempt_at, d.created_at, d.updated_at`

func scanDelivery(row interface{ Scan(...any) error }) (*WebhookDelivery, error) {
	var d WebhookDelivery
	var code sql.NullInt64
	var next nullTime
	if err := row.Scan(&d.ID, &d.EndpointID, &d.EventID, &d.EventType, &d.Body, &d.Status, &d.Attempts, &code, &d.LastError,
		&next, timeCol{&d.CreatedAt}, timeCol{&d.UpdatedAt}); err != nil {
		return nil, formatError(err)
	}
	if code.Valid {
		c := int(code.Int64)
		d.LastStatusCode = &c
	}
	d.NextAttemptAt = next.t
	return &d, nil
}

// FindWebhookDelivery returns one delivery with its payload.
func (db *DB) FindWebhookDelivery(ctx context.Context, id int64) (*WebhookDelivery, error) {
	d, err := scanDelivery(db.r.QueryRowContext(ctx, db.rebind(`SELECT `+deliveryColumns+`
		FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id WHERE d.id = ?`), id))
	if err != nil {
		return nil, fmt.Errorf("find webhook delivery %d: %w", id, err)
	}
	return d, nil
}

// FindWebhookDeliveries lists a receiver's deliveries, newest first, optionally in one
// state, and how many match.
func (db *DB) FindWebhookDeliveries(ctx context.Context, endpointID int64, status *string, limit, offset int) ([]*WebhookDelivery, int, error) {
	where, args := "d.endpoint_id = ?", []any{endpointID}
	if status != nil {
		where, args = where+" AND d.status = ?", append(args, *status)
	}
	var total int
	if err := db.r.QueryRowContext(ctx, db.rebind(`SELECT COUNT(*) FROM webhook_deliveries d WHERE `+where), args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count webhook deliveries: %w", err)
	}
	rows, err := db.r.QueryContext(ctx, db.rebind(`SELECT `+deliveryColumns+` FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
		WHERE `+where+` ORDER BY d.id DESC LIMIT ? OFFSET ?`), append(args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list webhook deliveries: %w", err)
	}
	defer rows.Close()
	out := []*WebhookDelivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, d)
	}
	return out, total, rows.Err()
}

// FindWebhookAttempts lists a delivery's attempts, oldest first.
func (db *DB) FindWebhookAttempts(ctx context.Context, deliveryID int64) ([]WebhookAttempt, error) {
	rows, err := db.r.QueryContext(ctx, db.rebind(`SELECT attempted_at, status_code, error, latency_ms, response_body
		FROM webhook_attempts WHERE delivery_id = ? ORDER BY id`), deliveryID)
	if err != nil {
		return nil, fmt.Errorf("list webhook attempts: %w", err)
	}
	defer rows.Close()
	out := []WebhookAttempt{}
	for rows.Next() {
		var a WebhookAttempt
		var code sql.NullInt64
		if err := rows.Scan(timeCol{&a.AttemptedAt}, &code, &a.Error, &a.LatencyMS, &a.ResponseBody); err != nil {
			return nil, err
		}
		if code.Valid {
			c := int(code.Int64)
			a.StatusCode = &c
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// DeliveryOutcome is what an attempt means for its delivery and its endpoint.
type DeliveryOutcome struct {
	Status        string     // DeliverySucceeded, DeliveryPending (retry at NextAttemptAt) or DeliveryFailed
	NextAttemptAt *time.Time // for DeliveryPending
	// DisableEndpoint, when set, disables the receiver with this reason (410 Gone, or
	// failing for too long).
	DisableEndpoint string
}

// RecordWebhookAttempt stores an attempt and its outcome in one transaction: the
// delivery's state, and the receiver's failure count (reset by a success).
func (db *DB) RecordWebhookAttempt(ctx context.Context, deliveryID int64, a WebhookAttempt, o DeliveryOutcome) error {
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var code any
		if a.StatusCode != nil {
			code = *a.StatusCode
		}
		if _, err := tx.ExecContext(ctx, db.rebind(`INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, error, latency_ms, response_body)
			VALUES (?, ?, ?, ?, ?, ?)`), deliveryID, ts(a.AttemptedAt), code, a.Error, a.LatencyMS, a.ResponseBody); err != nil {
			return err
		}
		var endpointID int64
		if err := tx.QueryRowContext(ctx, db.rebind(`UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1, last_status_code = ?,
			last_error = ?, next_attempt_at = ?, updated_at = ? WHERE id = ? RETURNING endpoint_id`),
			o.Status, code, a.Error, tsPtr(o.NextAttemptAt), ts(db.now()), deliveryID).Scan(&endpointID); err != nil {
			return formatError(err)
		}
		if o.Status == DeliverySucceeded {
			_, err := tx.ExecContext(ctx, db.rebind(`UPDATE webhook_endpoints SET consecutive_failures = 0 WHERE id = ?`), endpointID)
			return err
		}
		if _, err := tx.ExecContext(ctx, db.rebind(`UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1 WHERE id = ?`), endpointID); err != nil {
			return err
		}
		if o.DisableEndpoint != "" {
			_, err := tx.ExecContext(ctx, db.rebind(`UPDATE webhook_endpoints SET enabled = ?, disabled_reason = ?, disabled_at = ?, updated_at = ? WHERE id = ?`),
				false, o.DisableEndpoint, ts(db.now()), ts(db.now()), endpointID)
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record attempt of webhook delivery %d: %w", deliveryID, err)
	}
	return nil
}

// SendWebhookTest announces a test event to one receiver; it returns the delivery id.
func (db *DB) SendWebhookTest(ctx context.Context, endpointID int64, a Announcement) (int64, error) {
	var id int64
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var enabled bool
		if err := tx.QueryRowContext(ctx, db.rebind(`SELECT enabled FROM webhook_endpoints WHERE id = ?`), endpointID).Scan(&enabled); err != nil {
			return formatError(err)
		}
		if !enabled {
			return fmt.Errorf("endpoint is disabled: %w", ErrConflict)
		}
		ids, err := db.announce(ctx, tx, &a, endpointID)
		if err != nil {
			return err
		}
		if len(ids) == 1 {
			id = ids[0]
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("send test to webhook endpoint %d: %w", endpointID, err)
	}
	return id, nil
}

// RedeliverWebhook sends a delivery again: it becomes pending with a new job (the
// webhook-id stays the same, so receivers can tell it is the same announcement).
func (db *DB) RedeliverWebhook(ctx context.Context, deliveryID int64) error {
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		now := db.now()
		res, err := tx.ExecContext(ctx, db.rebind(`UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?, updated_at = ? WHERE id = ?`),
			ts(now), ts(now), deliveryID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		_, err = db.enqueueJobMax(ctx, tx, db.deliverKind, DeliveryJob{DeliveryID: deliveryID}, now, db.deliverAttempts)
		return err
	})
	if err != nil {
		return fmt.Errorf("redeliver webhook delivery %d: %w", deliveryID, formatError(err))
	}
	return nil
}

// RedeliverFailedWebhooks sends every failed delivery of a receiver again and returns how
// many; for a receiver that was disabled and is enabled again.
func (db *DB) RedeliverFailedWebhooks(ctx context.Context, endpointID int64) (int, error) {
	n := 0
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, db.rebind(`SELECT id FROM webhook_deliveries WHERE endpoint_id = ? AND status = 'failed' ORDER BY id`), endpointID)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		now := db.now()
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, db.rebind(`UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?, updated_at = ? WHERE id = ?`),
				ts(now), ts(now), id); err != nil {
				return err
			}
			if _, err := db.enqueueJobMax(ctx, tx, db.deliverKind, DeliveryJob{DeliveryID: id}, now, db.deliverAttempts); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("redeliver failed deliveries of webhook endpoint %d: %w", endpointID, err)
	}
	return n, nil
}
