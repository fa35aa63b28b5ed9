-- 0002_uploads: resumable chunked upload sessions and their received chunks.

CREATE TABLE uploads (
    id               TEXT PRIMARY KEY,
    event_id         INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    owner            TEXT NOT NULL,
    filename         TEXT NOT NULL,
    size             INTEGER NOT NULL,
    mime_type        TEXT NOT NULL DEFAULT '',
    sha256           TEXT NOT NULL DEFAULT '',
    chunk_size       INTEGER NOT NULL,
    chunk_count      INTEGER NOT NULL,
    status           TEXT NOT NULL DEFAULT 'open',
    completing_until TEXT,
    photo_id         INTEGER REFERENCES photos (id) ON DELETE SET NULL,
    expires_at       TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX uploads_by_expiry ON uploads (expires_at);
CREATE INDEX uploads_by_event ON uploads (event_id);

CREATE TABLE upload_chunks (
    upload_id   TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL,
    size        INTEGER NOT NULL,
    sha256      TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (upload_id, idx)
);
