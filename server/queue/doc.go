// Package queue runs Gallerist's durable background jobs.
//
// Jobs are rows of the storage jobs table, enqueued in the same transaction as the change
// that causes them. A Runner claims due jobs with a lease (a conditional UPDATE, safe with
// several processes on one database), runs the handler registered for the job's kind on a
// bounded pool of workers, and then deletes the job, retries it later with exponential
// backoff and jitter, or keeps it as dead when it has no tries left or failed permanently.
// A job whose process died is claimed again when its lease expires, so handlers must be
// idempotent.
//
// It must not know what jobs do: handlers are registered by the server.
package queue
