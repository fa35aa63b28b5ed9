// Package ingest turns uploaded bytes into stored photos. It is the one path shared by
// multipart uploads, chunked uploads and importers.
//
// The order is fixed so that nothing is ever half-made: Stage streams the bytes to a
// temporary file (hashing them, deciding the type from the bytes, enforcing the per-file
// caps, reading the metadata from the header); Commit then records an intent for each
// blob, moves the files into the blob store, and inserts the rows (with their jobs) in one
// transaction. A failure at any step removes what was written; a crash leaves only
// intents and temporary files, which the janitor removes.
//
// It must not know about HTTP: callers turn a Rejection into their own answer.
package ingest
