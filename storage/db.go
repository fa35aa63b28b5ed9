package storage

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations
var migrationFS embed.FS

// Config says which database to open.
type Config struct {
	// Path is the SQLite database file.
	Path string
	// BusyTimeout is how long a statement waits for a lock before failing.
	BusyTimeout time.Duration
	// ReadConns caps the read pool (default: 2 x GOMAXPROCS, at least 4).
	ReadConns int
}

// DB is the database: one writer connection and a pool of readers.
type DB struct {
	w       *sql.DB
	r       *sql.DB
	dialect string
	// Now is the clock; tests may replace it.
	Now func() time.Time
	// announcer, when set, turns changes into webhook announcements (SetAnnouncer).
	announcer       Announcer
	deliverKind     string
	deliverAttempts int
	// autoSync, when set, makes new photos schedule connector syncs (SetConnectorAutoSync).
	autoSync *autoSync
}

// writeTimeout bounds a write transaction that runs detached from its caller's context.
const writeTimeout = 30 * time.Second

// Open opens (creating if needed) the SQLite database at cfg.Path and applies pending
// migrations.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.Path == "" {
		return nil, errors.New("open database: empty path")
	}
	if cfg.BusyTimeout == 0 {
		cfg.BusyTimeout = 10 * time.Second
	}
	if cfg.ReadConns == 0 {
		cfg.ReadConns = max(4, 2*runtime.GOMAXPROCS(0))
	}
	abs, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", cfg.Path, err)
	}
	// busy_timeout comes first so that the other pragmas already wait for locks.
	// WAL lets readers run beside the writer; foreign_keys enforces the cascades;
	// synchronous(FULL) fsyncs every commit, because losing a photo row is worse than a
	// few hundred microseconds per write.
	pragmas := url.Values{}
	pragmas.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", cfg.BusyTimeout.Milliseconds()))
	pragmas.Add("_pragma", "journal_mode(WAL)")
	pragmas.Add("_pragma", "foreign_keys(ON)")
	pragmas.Add("_pragma", "synchronous(FULL)")
	base := "file:" + (&url.URL{Path: abs}).EscapedPath()

	w, err := sql.Open("sqlite", base+"?"+pragmas.Encode()+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", abs, err)
	}
	// SQLite has one writer; a pool of one makes writers queue in Go instead of
	// failing with SQLITE_BUSY, and BEGIN IMMEDIATE takes the lock up front.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)

	r, err := sql.Open("sqlite", base+"?"+pragmas.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open database %s: %w", abs, err)
	}
	r.SetMaxOpenConns(cfg.ReadConns)
	r.SetMaxIdleConns(cfg.ReadConns)

	db := &DB{w: w, r: r, dialect: "sqlite", Now: time.Now}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Close closes both pools.
func (db *DB) Close() error {
	return errors.Join(db.r.Close(), db.w.Close())
}

// Ping checks that the database answers a query.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// now returns the database clock in UTC.
func (db *DB) now() time.Time { return db.Now().UTC().Truncate(time.Microsecond) }

// rebind turns ? placeholders into the dialect's form. SQLite takes ? as written; the
// PostgreSQL dialect will number them ($1, $2, ...).
func (db *DB) rebind(q string) string {
	if db.dialect != "postgres" {
		return q
	}
	var b strings.Builder
	n := 0
	for _, ch := range q {
		if ch == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(ch)
	}
	return b.String()
}

// tx runs fn in a write transaction that the caller's cancellation cannot interrupt.
// A client that disconnects mid-request must not leave a half-applied change or a
// broken connection behind, so the transaction gets its own deadline instead. fn must
// run its statements with the ctx it is given, not the caller's.
func (db *DB) tx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(ctx, tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", formatError(err))
	}
	return nil
}

// exec runs one write statement outside an explicit transaction.
func (db *DB) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	res, err := db.w.ExecContext(ctx, db.rebind(q), args...)
	return res, formatError(err)
}

// migrate applies the embedded migrations that are not yet recorded, each in its own
// transaction. An applied file is never edited; changes come as new numbered files.
func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	dir := "migrations/" + db.dialect
	names, err := fs.Glob(migrationFS, dir+"/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		version := strings.TrimSuffix(filepath.Base(name), ".sql")
		body, err := migrationFS.ReadFile(name)
		if err != nil {
			return fmt.Errorf("read migration %s: %w", version, err)
		}
		err = db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, db.rebind(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, db.rebind(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), version, ts(db.now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %s: %w", version, err)
		}
	}
	return nil
}

// MigrationVersions lists the applied migrations, oldest first.
func (db *DB) MigrationVersions(ctx context.Context) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
