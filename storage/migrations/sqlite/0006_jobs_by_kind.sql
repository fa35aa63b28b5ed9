-- 0006_jobs_by_kind: finding a waiting job of one kind (periodic work is enqueued once).
CREATE INDEX jobs_by_kind ON jobs (kind, status);
