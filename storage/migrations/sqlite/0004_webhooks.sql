-- 0004_webhooks: receivers, the announcements (outbox) and each delivery with its attempts.

CREATE TABLE webhook_endpoints (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    url                  TEXT NOT NULL,
    description          TEXT NOT NULL DEFAULT '',
    events               TEXT NOT NULL,
    secret               TEXT NOT NULL,
    previous_secret      TEXT NOT NULL DEFAULT '',
    previous_secret_until TEXT,
    enabled              INTEGER NOT NULL DEFAULT 1,
    disabled_reason      TEXT NOT NULL DEFAULT '',
    disabled_at          TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);

-- webhook_events is the outbox: one row per announcement, written in the transaction of
-- the change it announces. Its id is the webhook-id every delivery of it carries.
CREATE TABLE webhook_events (
    id         TEXT PRIMARY KEY,
    type       TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX webhook_events_by_created ON webhook_events (created_at);

CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id      INTEGER NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    status           TEXT NOT NULL DEFAULT 'pending',
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_status_code INTEGER,
    last_error       TEXT NOT NULL DEFAULT '',
    next_attempt_at  TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_by_endpoint_status ON webhook_deliveries (endpoint_id, status, id);
CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (event_id);

CREATE TABLE webhook_attempts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id   INTEGER NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at  TEXT NOT NULL,
    status_code   INTEGER,
    error         TEXT NOT NULL DEFAULT '',
    latency_ms    INTEGER NOT NULL,
    response_body TEXT NOT NULL DEFAULT ''
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, id);
