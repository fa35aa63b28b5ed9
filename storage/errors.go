package storage

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors returned by storage methods. Callers test them with errors.Is; the
// server maps them to HTTP codes in one table.
var (
	// ErrNotFound means the row does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a unique rule would be broken (a slug or email already taken).
	ErrConflict = errors.New("conflict")
	// ErrPhotoCapReached means storing the photos would take the event past its photo_cap.
	ErrPhotoCapReached = errors.New("photo cap reached")
	// ErrEventArchived means the event is archived and takes no new photos.
	ErrEventArchived = errors.New("event archived")
	// ErrInvalid means the arguments break a rule the database keeps (an unknown category, say).
	ErrInvalid = errors.New("invalid")
)

// sqliteCoder is implemented by modernc's *sqlite.Error; we depend on the method, not the type.
type sqliteCoder interface{ Code() int }

// Extended SQLite result codes we translate (https://sqlite.org/rescode.html).
const (
	sqliteConstraintUnique     = 2067
	sqliteConstraintPrimaryKey = 1555
	sqliteConstraintForeignKey = 787
)

// formatError translates driver errors into the package sentinels, in one place.
func formatError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	var c sqliteCoder
	if errors.As(err, &c) {
		switch c.Code() {
		case sqliteConstraintUnique, sqliteConstraintPrimaryKey:
			return fmt.Errorf("%w: %v", ErrConflict, err)
		case sqliteConstraintForeignKey:
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	// PostgreSQL drivers report SQLSTATE 23505 for unique violations.
	if strings.Contains(err.Error(), "SQLSTATE 23505") {
		return fmt.Errorf("%w: %v", ErrConflict, err)
	}
	return err
}
