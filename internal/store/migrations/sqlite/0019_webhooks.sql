-- Webhooks (MLflow's webhook API, and mlship's own events on it). A webhook's secret is
-- sealed with the server's webhook key (AES-256-GCM) and never returned by the API.
-- webhook_outbox holds every event, written in the transaction of the change that caused
-- it; delivery jobs take it from there. Times are milliseconds since the epoch.
CREATE TABLE webhooks (
    id          TEXT PRIMARY KEY,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    url         TEXT    NOT NULL,
    secret      TEXT    NOT NULL DEFAULT '',
    status      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX webhooks_by_creation ON webhooks (created_at DESC, id);

CREATE TABLE webhook_events (
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event      TEXT NOT NULL,
    position   INTEGER NOT NULL, -- the order the events were given in: a test delivery uses the first
    PRIMARY KEY (webhook_id, event)
);
CREATE INDEX webhook_events_by_event ON webhook_events (event, webhook_id);

CREATE TABLE webhook_outbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    uid           TEXT    NOT NULL,
    event         TEXT    NOT NULL,
    data          TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    dispatched_at INTEGER
);
CREATE INDEX webhook_outbox_pending ON webhook_outbox (id) WHERE dispatched_at IS NULL;
