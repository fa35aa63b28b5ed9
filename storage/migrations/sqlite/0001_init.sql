-- 0001_init: accounts, tokens, settings, events, categories, photos, jobs and the blob GC ledger.
-- Times are stored as fixed-width RFC 3339 UTC text (see storage/time.go) so that they sort
-- lexically and read the same on SQLite and PostgreSQL.

CREATE TABLE admins (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    revoked_at   TEXT,
    last_used_at TEXT
);

CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    slug             TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    event_date       TEXT,
    password_hash    TEXT NOT NULL DEFAULT '',
    expires_at       TEXT,
    photo_cap        INTEGER,
    allow_downloads  INTEGER NOT NULL DEFAULT 1,
    protection_level TEXT NOT NULL DEFAULT 'basic',
    is_archived      INTEGER NOT NULL DEFAULT 0,
    archived_at      TEXT,
    photo_count      INTEGER NOT NULL DEFAULT 0,
    total_size       INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX events_by_archived ON events (is_archived, created_at, id);
CREATE INDEX events_by_created ON events (created_at, id);

CREATE TABLE categories (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id   INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    slug       TEXT NOT NULL,
    position   INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    UNIQUE (event_id, slug)
);

CREATE TABLE photos (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id           INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    category_id        INTEGER REFERENCES categories (id) ON DELETE SET NULL,
    stem               TEXT NOT NULL,
    filename           TEXT NOT NULL,
    original_name      TEXT NOT NULL,
    sort_name          TEXT NOT NULL,
    blob_key           TEXT NOT NULL UNIQUE,
    format             TEXT NOT NULL,
    media_type         TEXT NOT NULL,
    mime_type          TEXT NOT NULL,
    size               INTEGER NOT NULL,
    sha256             TEXT NOT NULL,
    width              INTEGER,
    height             INTEGER,
    orientation        INTEGER NOT NULL DEFAULT 1,
    captured_at        TEXT,
    captured_sort      TEXT NOT NULL,
    camera_make        TEXT NOT NULL DEFAULT '',
    camera_model       TEXT NOT NULL DEFAULT '',
    lens               TEXT NOT NULL DEFAULT '',
    f_number           REAL,
    exposure_time      TEXT NOT NULL DEFAULT '',
    iso                INTEGER,
    focal_length       REAL,
    duration           REAL,
    is_hidden          INTEGER NOT NULL DEFAULT 0,
    position           INTEGER NOT NULL,
    like_count         INTEGER NOT NULL DEFAULT 0,
    rating_count       INTEGER NOT NULL DEFAULT 0,
    rating_sum         INTEGER NOT NULL DEFAULT 0,
    rating_avg         REAL NOT NULL DEFAULT 0,
    comment_count      INTEGER NOT NULL DEFAULT 0,
    download_count     INTEGER NOT NULL DEFAULT 0,
    view_count         INTEGER NOT NULL DEFAULT 0,
    derivatives_status TEXT NOT NULL DEFAULT 'pending',
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    UNIQUE (event_id, sha256),
    UNIQUE (event_id, stem)
);
-- One index per sort key of the list endpoint; each ends in id so ties are stable.
CREATE INDEX photos_by_upload   ON photos (event_id, created_at, id);
CREATE INDEX photos_by_capture  ON photos (event_id, captured_sort, id);
CREATE INDEX photos_by_name     ON photos (event_id, sort_name, id);
CREATE INDEX photos_by_size     ON photos (event_id, size, id);
CREATE INDEX photos_by_rating   ON photos (event_id, rating_avg, id);
CREATE INDEX photos_by_position ON photos (event_id, position, id);
CREATE INDEX photos_by_category ON photos (category_id);
CREATE INDEX photos_missing_dims ON photos (width, height);

-- jobs is the durable queue: a row is work that survives restarts.
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'queued',
    run_at       TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 10,
    lease_owner  TEXT NOT NULL DEFAULT '',
    lease_until  TEXT,
    last_error   TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX jobs_ready ON jobs (status, run_at, id);
CREATE INDEX jobs_leased ON jobs (status, lease_until);

-- blob_gc records blobs that may have to be removed: intents written before a blob is
-- stored (removed in the transaction that adopts the blob) and blobs of deleted rows.
-- The janitor deletes each blob once not_before has passed.
CREATE TABLE blob_gc (
    key        TEXT PRIMARY KEY,
    not_before TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX blob_gc_due ON blob_gc (not_before);
