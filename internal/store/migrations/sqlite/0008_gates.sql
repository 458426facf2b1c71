-- Benchmark gates. A registered model's benchmark is one revision of a definition
-- (pinned dataset version, target, metrics, thresholds, protected aliases); revisions are
-- kept so that an old evaluation can be run again exactly.
CREATE TABLE benchmark_revisions (
    revision   TEXT    PRIMARY KEY, -- sha256 of the definition's canonical JSON
    definition TEXT    NOT NULL,    -- JSON
    created_at INTEGER NOT NULL
);

CREATE TABLE benchmarks (
    rm_id      INTEGER PRIMARY KEY REFERENCES registered_models (id) ON DELETE CASCADE,
    revision   TEXT    NOT NULL REFERENCES benchmark_revisions (revision),
    updated_at INTEGER NOT NULL
);

-- One evaluation of a model version on a benchmark revision, queued as a background job.
CREATE TABLE evaluations (
    id               INTEGER PRIMARY KEY,
    rm_id            INTEGER NOT NULL REFERENCES registered_models (id) ON DELETE CASCADE,
    version          INTEGER NOT NULL,
    revision         TEXT    NOT NULL REFERENCES benchmark_revisions (revision),
    alias            TEXT    NOT NULL DEFAULT '', -- the protected alias the verdict is for
    status           TEXT    NOT NULL,            -- queued, running, succeeded, failed
    rows_done        INTEGER NOT NULL DEFAULT 0,
    rows_total       INTEGER NOT NULL DEFAULT 0,
    runtime          TEXT    NOT NULL DEFAULT '',
    dataset_digest   TEXT    NOT NULL,
    result           TEXT,                        -- JSON: metrics, slices, undefined metrics
    baseline_version INTEGER,                     -- the alias's holder compared with; NULL: none
    baseline_eval    INTEGER,                     -- the holder's evaluation used
    verdict          TEXT,                        -- JSON
    passed           INTEGER,                     -- 1 or 0 once judged
    run_id           TEXT    NOT NULL DEFAULT '', -- the MLflow run holding the result
    error            TEXT    NOT NULL DEFAULT '',
    job_id           INTEGER,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER
);
CREATE INDEX evaluations_by_version ON evaluations (rm_id, version, revision, id);
CREATE INDEX evaluations_by_model ON evaluations (rm_id, id);

-- Every move of a protected alias, gated or overridden. Rows outlive the model: an
-- audit trail is not deleted with what it audits.
CREATE TABLE alias_audit (
    id            INTEGER PRIMARY KEY,
    model         TEXT    NOT NULL,
    alias         TEXT    NOT NULL,
    version       INTEGER,          -- NULL: the alias was deleted
    previous      INTEGER,          -- NULL: nothing held it
    action        TEXT    NOT NULL, -- passed, override, deleted
    reason        TEXT    NOT NULL DEFAULT '',
    evaluation_id INTEGER,
    actor         TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL
);
CREATE INDEX alias_audit_by_model ON alias_audit (model, id);
