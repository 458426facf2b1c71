-- MLflow 3's GenAI evaluation datasets and registered scorers. A dataset belongs to the
-- experiments it is associated with; its records are JSON documents (inputs, outputs,
-- expectations, tags, source) keyed within the dataset by a hash of their inputs, so
-- that merging a record with the same inputs updates it. Times are milliseconds since
-- the epoch.
CREATE TABLE genai_datasets (
    dataset_id       TEXT    PRIMARY KEY,
    name             TEXT    NOT NULL,
    digest           TEXT    NOT NULL,
    schema_json      TEXT,
    profile_json     TEXT,
    created_time     INTEGER NOT NULL,
    last_update_time INTEGER NOT NULL,
    created_by       TEXT,
    last_updated_by  TEXT
);
CREATE INDEX genai_datasets_by_time ON genai_datasets (created_time DESC, dataset_id);

CREATE TABLE genai_dataset_tags (
    dataset_id TEXT NOT NULL REFERENCES genai_datasets (dataset_id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (dataset_id, key)
) WITHOUT ROWID;

CREATE TABLE genai_dataset_experiments (
    dataset_id    TEXT    NOT NULL REFERENCES genai_datasets (dataset_id) ON DELETE CASCADE,
    experiment_id INTEGER NOT NULL REFERENCES experiments (experiment_id) ON DELETE CASCADE,
    PRIMARY KEY (dataset_id, experiment_id)
) WITHOUT ROWID;
CREATE INDEX genai_dataset_experiments_by_experiment ON genai_dataset_experiments (experiment_id, dataset_id);

CREATE TABLE genai_dataset_records (
    dataset_record_id TEXT    PRIMARY KEY,
    dataset_id        TEXT    NOT NULL REFERENCES genai_datasets (dataset_id) ON DELETE CASCADE,
    input_hash        TEXT    NOT NULL,
    inputs            TEXT    NOT NULL,
    outputs           TEXT,
    expectations      TEXT,
    tags              TEXT,
    source            TEXT,
    source_id         TEXT,
    source_type       TEXT,
    created_time      INTEGER NOT NULL,
    last_update_time  INTEGER NOT NULL,
    created_by        TEXT,
    last_updated_by   TEXT,
    UNIQUE (dataset_id, input_hash)
);
CREATE INDEX genai_dataset_records_in_order ON genai_dataset_records (dataset_id, created_time, dataset_record_id);

-- Scorers registered on an experiment: every registration under a name is a new version.
CREATE TABLE genai_scorers (
    scorer_id     TEXT    PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments (experiment_id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    UNIQUE (experiment_id, name)
);

CREATE TABLE genai_scorer_versions (
    scorer_id         TEXT    NOT NULL REFERENCES genai_scorers (scorer_id) ON DELETE CASCADE,
    version           INTEGER NOT NULL,
    serialized_scorer TEXT    NOT NULL,
    creation_time     INTEGER NOT NULL,
    PRIMARY KEY (scorer_id, version)
) WITHOUT ROWID;
