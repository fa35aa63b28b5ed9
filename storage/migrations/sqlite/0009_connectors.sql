-- 0009_connectors: outbound connectors. A target is a platform account plus a
-- destination; a link pairs one event with one target; an item is what the connector
-- knows of one photo on that link (write-ahead: the intent is recorded before each remote
-- write, the result after it); a sync is one run of a link, done by a queue job.

CREATE TABLE connector_targets (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    platform    TEXT NOT NULL,
    name        TEXT NOT NULL,
    config      TEXT NOT NULL,          -- JSON: destination and base URLs (no secrets)
    secrets     TEXT NOT NULL,          -- sealed (AES-256-GCM) JSON of the credentials
    status      TEXT NOT NULL DEFAULT 'ok',
    last_error  TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE connector_links (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    target_id          INTEGER NOT NULL REFERENCES connector_targets (id) ON DELETE CASCADE,
    event_id           INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    auto_sync          INTEGER NOT NULL DEFAULT 0,
    external_source_id TEXT NOT NULL,      -- stable id of the event on the platform
    container_name     TEXT NOT NULL,      -- folder / album / post name, fixed before the first create
    container_id       TEXT NOT NULL DEFAULT '', -- folderId / image_category_id / group_id once known
    state              TEXT NOT NULL DEFAULT 'active',
    published          INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT NOT NULL DEFAULT '',
    last_synced_at     TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    UNIQUE (target_id, event_id)
);
CREATE INDEX connector_links_by_event ON connector_links (event_id);

CREATE TABLE connector_items (
    link_id        INTEGER NOT NULL REFERENCES connector_links (id) ON DELETE CASCADE,
    photo_id       INTEGER NOT NULL,       -- no foreign key: a deleted photo is still removed remotely
    state          TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    external_id    TEXT NOT NULL,
    media_token    TEXT,                   -- public media URL token (Brilliant Directories)
    remote         TEXT NOT NULL DEFAULT '{}', -- JSON: platform references (keys, uuids, ids)
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT NOT NULL DEFAULT '',
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (link_id, photo_id)
);
CREATE UNIQUE INDEX connector_items_by_media_token ON connector_items (media_token) WHERE media_token IS NOT NULL;

CREATE TABLE connector_syncs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    link_id     INTEGER NOT NULL REFERENCES connector_links (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL DEFAULT 'sync',   -- sync | archive
    trigger     TEXT NOT NULL DEFAULT 'manual', -- manual | auto | archive
    status      TEXT NOT NULL DEFAULT 'queued', -- queued, running, succeeded, partial, failed
    added       INTEGER NOT NULL DEFAULT 0,
    skipped     INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    removed     INTEGER NOT NULL DEFAULT 0,
    failures    TEXT NOT NULL DEFAULT '[]',     -- JSON [{photo_id, error}]
    warnings    TEXT NOT NULL DEFAULT '[]',     -- JSON [string]
    error       TEXT NOT NULL DEFAULT '',
    job_id      INTEGER,
    created_at  TEXT NOT NULL,
    started_at  TEXT,
    finished_at TEXT
);
CREATE INDEX connector_syncs_by_link ON connector_syncs (link_id, id);
-- At most one sync waiting and one running per link: a request joins the waiting one, and
-- a waiting sync starts only once the running one has finished.
CREATE UNIQUE INDEX connector_syncs_one_queued ON connector_syncs (link_id) WHERE status = 'queued';
CREATE UNIQUE INDEX connector_syncs_one_running ON connector_syncs (link_id) WHERE status = 'running';
