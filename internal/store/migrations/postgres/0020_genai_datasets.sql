-- MLflow 3's GenAI evaluation datasets and registered scorers. A dataset belongs to the
-- experiments it is associated with; its records are JSON documents (inputs, outputs,
-- expectations, tags, source) keyed within the dataset by a hash of their inputs, so
-- that merging a record with the same inputs updates it. Times are milliseconds since
-- the epoch.
CREATE TABLE genai_datasets (
    dataset_id       TEXT COLLATE "C" PRIMARY KEY,
    name             TEXT COLLATE "C"    NOT NULL,
    digest           TEXT    NOT NULL,
    schema_json      TEXT,
    profile_json     TEXT,
    created_time     BIGINT  NOT NULL,
    last_update_time BIGINT  NOT NULL,
    created_by       TEXT,
    last_updated_by  TEXT
);
CREATE INDEX genai_datasets_by_time ON genai_datasets (created_time DESC, dataset_id);

CREATE TABLE genai_dataset_tags (
    dataset_id TEXT COLLATE "C" NOT NULL REFERENCES genai_datasets (dataset_id) ON DELETE CASCADE,
    key        TEXT COLLATE "C" NOT NULL,
    value      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (dataset_id, key)
);

CREATE TABLE genai_dataset_experiments (
    dataset_id    TEXT COLLATE "C"    NOT NULL REFERENCES genai_datasets (dataset_id) ON DELETE CASCADE,
    experiment_id BIGINT  NOT NULL REFERENCES experiments (experiment_id) ON DELETE CASCADE,
    PRIMARY KEY (dataset_id, experiment_id)
);
CREATE INDEX genai_dataset_experiments_by_experiment ON genai_dataset_experiments (experiment_id, dataset_id);

CREATE TABLE genai_dataset_records (
    dataset_record_id TEXT COLLATE "C"    PRIMARY KEY,
    dataset_id        TEXT COLLATE "C"    NOT NULL REFERENCES genai_datasets (dataset_id) ON DELETE CASCADE,
    input_hash        TEXT COLLATE "C"    NOT NULL,
    inputs            TEXT    NOT NULL,
    outputs           TEXT,
    expectations      TEXT,
    tags              TEXT,
    source            TEXT,
    source_id         TEXT,
    source_type       TEXT,
    created_time      BIGINT  NOT NULL,
    last_update_time  BIGINT  NOT NULL,
    created_by        TEXT,
    last_updated_by   TEXT,
    UNIQUE (dataset_id, input_hash)
);
CREATE INDEX genai_dataset_records_in_order ON genai_dataset_records (dataset_id, created_time, dataset_record_id);

-- Scorers registered on an experiment: every registration under a name is a new version.
CREATE TABLE genai_scorers (
    scorer_id     TEXT COLLATE "C"    PRIMARY KEY,
    experiment_id BIGINT  NOT NULL REFERENCES experiments (experiment_id) ON DELETE CASCADE,
    name          TEXT COLLATE "C"    NOT NULL,
    UNIQUE (experiment_id, name)
);

CREATE TABLE genai_scorer_versions (
    scorer_id         TEXT COLLATE "C"    NOT NULL REFERENCES genai_scorers (scorer_id) ON DELETE CASCADE,
    version           BIGINT  NOT NULL,
    serialized_scorer TEXT    NOT NULL,
    creation_time     BIGINT  NOT NULL,
    PRIMARY KEY (scorer_id, version)
);
