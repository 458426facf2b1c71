-- MLflow 3 logged models: the model artifacts a run produced, before any registration.
CREATE TABLE logged_models (
    model_id                  TEXT COLLATE "C"    PRIMARY KEY,
    experiment_id             BIGINT  NOT NULL REFERENCES experiments (experiment_id),
    name                      TEXT COLLATE "C"    NOT NULL,
    artifact_location         TEXT COLLATE "C"    NOT NULL,
    creation_timestamp_ms     BIGINT  NOT NULL,
    last_updated_timestamp_ms BIGINT  NOT NULL,
    status                    TEXT COLLATE "C"    NOT NULL,
    lifecycle_stage           TEXT COLLATE "C"    NOT NULL DEFAULT 'active',
    model_type                TEXT,
    source_run_id             TEXT,
    status_message            TEXT COLLATE "C"
);
CREATE INDEX logged_models_by_experiment ON logged_models (experiment_id, creation_timestamp_ms DESC);

CREATE TABLE logged_model_params (
    model_id TEXT COLLATE "C" NOT NULL REFERENCES logged_models (model_id) ON DELETE CASCADE,
    key      TEXT COLLATE "C" NOT NULL,
    value    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (model_id, key)
);

CREATE TABLE logged_model_tags (
    model_id TEXT COLLATE "C" NOT NULL REFERENCES logged_models (model_id) ON DELETE CASCADE,
    key      TEXT COLLATE "C" NOT NULL,
    value    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (model_id, key)
);

-- Metrics logged with a model_id belong to that model too. A point is kept once per model,
-- whichever runs sent it.
CREATE TABLE logged_model_metrics (
    model_id       TEXT COLLATE "C"    NOT NULL REFERENCES logged_models (model_id) ON DELETE CASCADE,
    key            TEXT COLLATE "C"    NOT NULL,
    timestamp      BIGINT  NOT NULL,
    step           BIGINT  NOT NULL,
    value          DOUBLE PRECISION    NOT NULL,
    is_nan         BIGINT  NOT NULL,
    run_uuid       TEXT COLLATE "C"    NOT NULL,
    dataset_name   TEXT,
    dataset_digest TEXT,
    PRIMARY KEY (model_id, key, timestamp, step, value, is_nan)
);

-- The models a run produced, at a step.
CREATE TABLE run_outputs (
    run_uuid TEXT COLLATE "C"    NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
    model_id TEXT COLLATE "C"    NOT NULL,
    step     BIGINT  NOT NULL,
    PRIMARY KEY (run_uuid, model_id)
);
