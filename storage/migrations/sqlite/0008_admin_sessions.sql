-- 0008_admin_sessions: signed-in photographers of the web UI.

-- id_hash is the SHA-256 of the cookie's secret, so a copy of the database opens no
-- session. csrf_token is sent back by the pages in X-CSRF-Token on every change.
CREATE TABLE admin_sessions (
    id_hash      TEXT PRIMARY KEY,
    admin_id     INTEGER NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);
CREATE INDEX admin_sessions_by_expiry ON admin_sessions (expires_at);
