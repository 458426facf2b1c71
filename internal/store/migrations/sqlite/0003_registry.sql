-- Model registry: registered models, their versions, tags and aliases.
--
-- A registered model is keyed by a surrogate id (rm_id), so that a rename is one update
-- and its versions, tags and aliases follow without cascading key changes.
CREATE TABLE registered_models (
    id                INTEGER PRIMARY KEY,
    name              TEXT    NOT NULL UNIQUE,
    creation_time     INTEGER NOT NULL,
    last_updated_time INTEGER NOT NULL,
    description       TEXT    NOT NULL DEFAULT '',
    -- The highest version number ever given out. Versions are numbered from it inside the
    -- write that creates them, and the number of a deleted version is never reused.
    last_version      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX registered_models_by_update ON registered_models (last_updated_time);

CREATE TABLE registered_model_tags (
    rm_id INTEGER NOT NULL REFERENCES registered_models (id) ON DELETE CASCADE,
    key   TEXT    NOT NULL,
    value TEXT    NOT NULL,
    PRIMARY KEY (rm_id, key)
) WITHOUT ROWID;

CREATE TABLE model_versions (
    rm_id             INTEGER NOT NULL REFERENCES registered_models (id) ON DELETE CASCADE,
    version           INTEGER NOT NULL,
    creation_time     INTEGER NOT NULL,
    last_updated_time INTEGER NOT NULL,
    description       TEXT    NOT NULL DEFAULT '',
    user_id           TEXT    NOT NULL DEFAULT '',
    current_stage     TEXT    NOT NULL DEFAULT 'None',
    -- source is the canonical form of what the client registered; storage_location is
    -- where the artifacts are (a logged model's artifact location for models:/ sources).
    source            TEXT    NOT NULL,
    storage_location  TEXT    NOT NULL,
    run_id            TEXT    NOT NULL DEFAULT '',
    run_link          TEXT    NOT NULL DEFAULT '',
    logged_model_id   TEXT    NOT NULL DEFAULT '',
    status            TEXT    NOT NULL DEFAULT 'READY',
    status_message    TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (rm_id, version)
) WITHOUT ROWID;
CREATE INDEX model_versions_by_stage ON model_versions (rm_id, current_stage, version);
CREATE INDEX model_versions_by_run ON model_versions (run_id);

CREATE TABLE model_version_tags (
    rm_id   INTEGER NOT NULL,
    version INTEGER NOT NULL,
    key     TEXT    NOT NULL,
    value   TEXT    NOT NULL,
    PRIMARY KEY (rm_id, version, key),
    FOREIGN KEY (rm_id, version) REFERENCES model_versions (rm_id, version) ON DELETE CASCADE
) WITHOUT ROWID;

-- An alias names one version; deleting the version deletes the aliases that point at it.
CREATE TABLE registered_model_aliases (
    rm_id   INTEGER NOT NULL,
    alias   TEXT    NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (rm_id, alias),
    FOREIGN KEY (rm_id, version) REFERENCES model_versions (rm_id, version) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX registered_model_aliases_by_version ON registered_model_aliases (rm_id, version);
