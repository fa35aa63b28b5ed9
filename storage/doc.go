// Package storage is Gallerist's model and database.
//
// It holds the record types that are the nouns of the product (Event, Category, Photo,
// Token, Admin, Job) and the hand-written SQL that reads and writes them through
// database/sql. SQLite (modernc.org/sqlite, no cgo) is the embedded default; the SQL is kept
// portable so that a PostgreSQL dialect can serve the same methods.
//
// Rules this package keeps:
//   - Every method takes ctx first and wraps its errors with context.
//   - Driver errors are translated once (see errors.go) into the sentinels ErrNotFound,
//     ErrConflict and the rule errors such as ErrPhotoCapReached; callers never see a
//     driver error code.
//   - Writes go through one connection (SQLite allows one writer); reads use a pool.
//   - A write transaction is never cancelled by the client going away: it runs under
//     context.WithoutCancel with its own timeout, so a disconnect cannot half-commit.
//
// It must not know about HTTP, media decoding or blob bytes: it stores blob keys only.
package storage
