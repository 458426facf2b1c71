-- Drift monitoring: one row per compared window of a deployment's traffic.
CREATE TABLE drift_windows (
    id              INTEGER PRIMARY KEY,
    deployment      TEXT    NOT NULL,
    model           TEXT    NOT NULL,
    version         TEXT    NOT NULL,
    reference       TEXT    NOT NULL, -- dataset NAME/VERSION compared with
    start_ms        INTEGER NOT NULL,
    end_ms          INTEGER NOT NULL,
    rows            INTEGER NOT NULL,
    dataset_drift   INTEGER NOT NULL,
    drifted_columns TEXT    NOT NULL, -- JSON array of names
    report          TEXT    NOT NULL  -- the drift report, JSON
);
CREATE INDEX drift_windows_by_deployment ON drift_windows (deployment, id);
