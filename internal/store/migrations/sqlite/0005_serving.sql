-- Serving: deployment specs, and the payload log of sampled requests and responses.
CREATE TABLE deployments (
    name       TEXT    PRIMARY KEY,
    spec       TEXT    NOT NULL, -- the spec as the user gave it, JSON
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- One sampled request and its answer. request and response are JSON in the Open
-- Inference Protocol's tensor shape ({"inputs": [...]}, {"outputs": [...]}), whatever
-- protocol the request came in by, so drift monitoring reads one format.
CREATE TABLE payload_log (
    id         INTEGER PRIMARY KEY,
    deployment TEXT    NOT NULL,
    model      TEXT    NOT NULL,
    version    TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    request_id TEXT    NOT NULL,
    time_ms    INTEGER NOT NULL,
    latency_us INTEGER NOT NULL,
    request    TEXT    NOT NULL,
    response   TEXT    NOT NULL DEFAULT '',
    error      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX payload_log_by_time ON payload_log (deployment, time_ms);
