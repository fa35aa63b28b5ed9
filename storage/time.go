package storage

import (
	"database/sql"
	"fmt"
	"time"
)

// timeLayout is the one text form of a time in the database: UTC, fixed width, so that
// lexical order is time order on every dialect.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// ts renders t for a TEXT time column.
func ts(t time.Time) string { return t.UTC().Format(timeLayout) }

// tsPtr renders an optional time; nil stays NULL.
func tsPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

// parseTS reads a time written by ts.
func parseTS(s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		// Accept any RFC 3339 text as well, in case a row was written by hand.
		t, err = time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("parse stored time %q: %w", s, err)
		}
	}
	return t.UTC(), nil
}

// nullTime scans an optional TEXT time column.
type nullTime struct{ t *time.Time }

// Scan implements sql.Scanner.
func (n *nullTime) Scan(v any) error {
	var s sql.NullString
	if err := s.Scan(v); err != nil {
		return err
	}
	if !s.Valid {
		n.t = nil
		return nil
	}
	t, err := parseTS(s.String)
	if err != nil {
		return err
	}
	n.t = &t
	return nil
}

// timeCol scans a NOT NULL TEXT time column.
type timeCol struct{ t *time.Time }

// Scan implements sql.Scanner.
func (c timeCol) Scan(v any) error {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case []byte:
		s = string(x)
	case time.Time:
		*c.t = x.UTC()
		return nil
	default:
		return fmt.Errorf("scan time: unexpected %T", v)
	}
	t, err := parseTS(s)
	if err != nil {
		return err
	}
	*c.t = t
	return nil
}
