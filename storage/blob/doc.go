// Package blob stores the bytes of originals and their variants under keys that
// Gallerist generates.
//
// Store is the interface the server uses; Local keeps blobs as files under a folder and
// an S3 implementation will keep them in a bucket. Every write is crash-safe: bytes go to
// a temporary file, are fsynced, the Close error is checked (a failed write-back shows up
// there), the file is renamed into place and the folder is fsynced, so a key either names
// complete bytes or nothing.
//
// It must not know about photos, events or HTTP, and it must never build a path from
// anything a client sent: keys are validated and come from the server.
package blob
