package storage

// This file gives the external tests (package storage_test) a narrow look inside *DB:
// the two connection pools, and pools that record the SQL they run so that a test can
// EXPLAIN exactly the query a method sent, not a copy of it.

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// Pools returns the read pool and the single-connection write pool.
func (db *DB) Pools() (r, w *sql.DB) { return db.r, db.w }

// RecordedQuery is one query a recording pool ran, with its arguments.
type RecordedQuery struct {
	SQL  string
	Args []any
}

// RecordQueries replaces db's pools with ones that open the same file through the same
// driver and record every query they run; the returned func reports the queries so far.
// The recording pools are closed by db.Close. They are meant for EXPLAIN: the writer keeps
// the pool of one and the transaction mode, and both keep the pragmas of Open.
func RecordQueries(t testing.TB, db *DB, path string) func() []RecordedQuery {
	t.Helper()
	drv := db.r.Driver()
	var mu sync.Mutex
	var log []RecordedQuery
	rec := func(q string, args []driver.NamedValue) {
		vals := make([]any, len(args))
		for i, a := range args {
			vals[i] = a.Value
		}
		mu.Lock()
		log = append(log, RecordedQuery{SQL: q, Args: vals})
		mu.Unlock()
	}
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(ON)&_pragma=synchronous(FULL)"
	oldR, oldW := db.r, db.w
	db.r = sql.OpenDB(recordingConnector{drv: drv, dsn: dsn, rec: rec})
	db.w = sql.OpenDB(recordingConnector{drv: drv, dsn: dsn + "&_txlock=immediate", rec: rec})
	db.w.SetMaxOpenConns(1)
	if err := errors.Join(oldR.Close(), oldW.Close()); err != nil {
		t.Fatalf("close the original pools: %v", err)
	}
	return func() []RecordedQuery {
		mu.Lock()
		defer mu.Unlock()
		return append([]RecordedQuery(nil), log...)
	}
}

type recordingConnector struct {
	drv driver.Driver
	dsn string
	rec func(string, []driver.NamedValue)
}

func (c recordingConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return recordingConn{Conn: conn, rec: c.rec}, nil
}

func (c recordingConnector) Driver() driver.Driver { return c.drv }

// recordingConn forwards to the driver's connection; only QueryContext is recorded.
type recordingConn struct {
	driver.Conn
	rec func(string, []driver.NamedValue)
}

func (c recordingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	c.rec(q, args)
	qc, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, fmt.Errorf("driver connection %T has no QueryContext", c.Conn)
	}
	return qc.QueryContext(ctx, q, args)
}
