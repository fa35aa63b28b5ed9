package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Job states.
const (
	JobQueued  = "queued"
	JobRunning = "running"
	JobDead    = "dead"
)

// Job is durable background work: a row that survives restarts until a worker finishes it.
type Job struct {
	ID          int64
	Kind        string
	Payload     json.RawMessage
	Status      string
	RunAt       time.Time
	Attempts    int
	MaxAttempts int
	LeaseOwner  string
	LeaseUntil  *time.Time
	LastError   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// DefaultJobMaxAttempts bounds the tries of a job before it is kept as dead.
const DefaultJobMaxAttempts = 10

const jobColumns = `id, kind, payload, status, run_at, attempts, max_attempts, lease_owner, lease_until, last_error, created_at, updated_at`

func scanJob(row interface{ Scan(...any) error }) (*Job, error) {
	var j Job
	var payload string
	var lease nullTime
	if err := row.Scan(&j.ID, &j.Kind, &payload, &j.Status, timeCol{&j.RunAt}, &j.Attempts, &j.MaxAttempts, &j.LeaseOwner,
		&lease, &j.LastError, timeCol{&j.CreatedAt}, timeCol{&j.UpdatedAt}); err != nil {
		return nil, formatError(err)
	}
	j.Payload, j.LeaseUntil = json.RawMessage(payload), lease.t
	return &j, nil
}

// enqueueJob adds a job inside the caller's transaction, so that the job exists exactly
// when the change that causes it does.
func (db *DB) enqueueJob(ctx context.Context, tx *sql.Tx, kind string, payload any, runAt time.Time) (int64, error) {
	return db.enqueueJobMax(ctx, tx, kind, payload, runAt, DefaultJobMaxAttempts)
}

// enqueueJobMax is enqueueJob with its own number of tries.
func (db *DB) enqueueJobMax(ctx context.Context, tx *sql.Tx, kind string, payload any, runAt time.Time, maxAttempts int) (int64, error) {
	if maxAttempts < 1 {
		maxAttempts = DefaultJobMaxAttempts
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return 0, fmt.Errorf("encode %s job: %w", kind, err)
	}
	now := ts(db.now())
	var id int64
	err = tx.QueryRowContext(ctx, db.rebind(`INSERT INTO jobs (kind, payload, run_at, max_attempts, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`), kind, string(body), ts(runAt), maxAttempts, now, now).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("enqueue %s job: %w", kind, formatError(err))
	}
	return id, nil
}

// EnqueueJob adds a job on its own.
func (db *DB) EnqueueJob(ctx context.Context, kind string, payload any, runAt time.Time) (int64, error) {
	var id int64
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		id, err = db.enqueueJob(ctx, tx, kind, payload, runAt)
		return err
	})
	return id, err
}

// ClaimJob leases the next due job to owner for lease. A running job whose lease has
// expired (its process died) is due again. The conditional UPDATE re-checks the state, so
// two processes on one database never hold the same job. ErrNotFound means nothing is due.
func (db *DB) ClaimJob(ctx context.Context, owner string, lease time.Duration) (*Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("claim job: %w", err)
	}
	// Once started the claim runs detached, like every write: cancelled half-way, it would
	// lease the job in the database yet report an error, stranding the job until the
	// lease ran out.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	now := db.now()
	due := `((status = 'queued' AND run_at <= ?) OR (status = 'running' AND lease_until < ?))`
	j, err := scanJob(db.w.QueryRowContext(ctx, db.rebind(`UPDATE jobs SET status = 'running', lease_owner = ?, lease_until = ?,
		attempts = attempts + 1, updated_at = ?
		WHERE id = (SELECT id FROM jobs WHERE `+due+` ORDER BY run_at, id LIMIT 1) AND `+due+`
		RETURNING `+jobColumns),
		owner, ts(now.Add(lease)), ts(now), ts(now), ts(now), ts(now), ts(now)))
	if err != nil {
		return nil, fmt.Errorf("claim job: %w", err)
	}
	return j, nil
}

// CompleteJob removes a finished job held by owner.
func (db *DB) CompleteJob(ctx context.Context, id int64, owner string) error {
	if _, err := db.exec(ctx, `DELETE FROM jobs WHERE id = ? AND lease_owner = ?`, id, owner); err != nil {
		return fmt.Errorf("complete job %d: %w", id, err)
	}
	return nil
}

// RetryJob puts a failed job back in the queue for retryAt, or keeps it as dead when
// retryAt is nil.
func (db *DB) RetryJob(ctx context.Context, id int64, owner, lastError string, retryAt *time.Time) error {
	status, runAt := JobQueued, db.now()
	if retryAt == nil {
		status = JobDead
	} else {
		runAt = *retryAt
	}
	if _, err := db.exec(ctx, `UPDATE jobs SET status = ?, run_at = ?, lease_until = NULL, last_error = ?, updated_at = ?
		WHERE id = ? AND lease_owner = ?`, status, ts(runAt), lastError, ts(db.now()), id, owner); err != nil {
		return fmt.Errorf("retry job %d: %w", id, err)
	}
	return nil
}

// ReleaseJob gives a job back without counting the attempt (for a clean shutdown).
func (db *DB) ReleaseJob(ctx context.Context, id int64, owner string) error {
	if _, err := db.exec(ctx, `UPDATE jobs SET status = 'queued', attempts = attempts - 1, lease_until = NULL, updated_at = ?
		WHERE id = ? AND lease_owner = ? AND status = 'running'`, ts(db.now()), id, owner); err != nil {
		return fmt.Errorf("release job %d: %w", id, err)
	}
	return nil
}

// JobCounts tells how many jobs are in each state.
func (db *DB) JobCounts(ctx context.Context) (map[string]int, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT status, COUNT(*) FROM jobs GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	defer rows.Close()
	out := map[string]int{JobQueued: 0, JobRunning: 0, JobDead: 0}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}

// FindJobs lists jobs in a state, oldest first.
func (db *DB) FindJobs(ctx context.Context, status string, limit int) ([]*Job, error) {
	rows, err := db.r.QueryContext(ctx, db.rebind(`SELECT `+jobColumns+` FROM jobs WHERE status = ? ORDER BY run_at, id LIMIT ?`), status, limit)
	if err != nil {
		return nil, fmt.Errorf("list %s jobs: %w", status, err)
	}
	defer rows.Close()
	var out []*Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// ErrLeaseLost means another worker holds the job now: its lease ran out (the worker
// stalled longer than the lease) and the job was claimed again.
var ErrLeaseLost = errors.New("job lease lost")

// ExtendJobLease renews the lease of a running job held by owner; ErrLeaseLost when
// owner holds it no more.
func (db *DB) ExtendJobLease(ctx context.Context, id int64, owner string, lease time.Duration) error {
	res, err := db.exec(ctx, `UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_owner = ? AND status = 'running'`,
		ts(db.now().Add(lease)), id, owner)
	if err != nil {
		return fmt.Errorf("extend lease of job %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("extend lease of job %d: %w", id, ErrLeaseLost)
	}
	return nil
}

// DeferJob puts a job held by owner back in the queue for runAt without counting the
// attempt: the job is waiting for something (another job, a platform), not failing.
func (db *DB) DeferJob(ctx context.Context, id int64, owner, reason string, runAt time.Time) error {
	if _, err := db.exec(ctx, `UPDATE jobs SET status = 'queued', run_at = ?, attempts = attempts - 1, lease_until = NULL,
		last_error = ?, updated_at = ? WHERE id = ? AND lease_owner = ? AND status = 'running'`,
		ts(runAt), reason, ts(db.now()), id, owner); err != nil {
		return fmt.Errorf("defer job %d: %w", id, err)
	}
	return nil
}

// EnqueueJobOnce adds a job of kind unless one is already waiting or running, and
// reports whether it added one (for periodic work such as cleanup).
func (db *DB) EnqueueJobOnce(ctx context.Context, kind string, payload any, runAt time.Time) (bool, error) {
	added := false
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, db.rebind(`SELECT COUNT(*) FROM jobs WHERE kind = ? AND status IN ('queued', 'running')`), kind).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		_, err := db.enqueueJob(ctx, tx, kind, payload, runAt)
		added = err == nil
		return err
	})
	if err != nil {
		return false, fmt.Errorf("enqueue %s job: %w", kind, err)
	}
	return added, nil
}
