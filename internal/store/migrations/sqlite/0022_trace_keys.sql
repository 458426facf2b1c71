-- A trace gets an integer key, trace_key, assigned in the order traces are created (the
-- rowid), and its tags, metadata and spans are keyed by it rather than by its random text
-- id: a new trace's rows are appended at the end of each of these tables instead of
-- landing on a random page of each, so writing a trace dirties one random page (the index
-- of trace ids) rather than four. Runs and assessments keep the trace id.
CREATE TABLE trace_info_keyed (
    trace_key          INTEGER PRIMARY KEY,
    trace_id           TEXT    NOT NULL UNIQUE,
    experiment_id      INTEGER NOT NULL REFERENCES experiments (experiment_id) ON DELETE CASCADE,
    client_request_id  TEXT,
    request_time       INTEGER NOT NULL,
    execution_duration INTEGER,
    state              TEXT    NOT NULL,
    request_preview    TEXT,
    response_preview   TEXT
);
INSERT INTO trace_info_keyed (trace_id, experiment_id, client_request_id, request_time, execution_duration, state,
    request_preview, response_preview)
SELECT trace_id, experiment_id, client_request_id, request_time, execution_duration, state, request_preview,
    response_preview
FROM trace_info ORDER BY request_time, trace_id;

CREATE TABLE trace_tags_keyed (
    trace_key INTEGER NOT NULL REFERENCES trace_info_keyed (trace_key) ON DELETE CASCADE,
    key       TEXT    NOT NULL,
    value     TEXT    NOT NULL,
    PRIMARY KEY (trace_key, key)
) WITHOUT ROWID;
INSERT INTO trace_tags_keyed (trace_key, key, value)
SELECT i.trace_key, x.key, x.value FROM trace_tags x JOIN trace_info_keyed i ON i.trace_id = x.trace_id;

CREATE TABLE trace_metadata_keyed (
    trace_key INTEGER NOT NULL REFERENCES trace_info_keyed (trace_key) ON DELETE CASCADE,
    key       TEXT    NOT NULL,
    value     TEXT    NOT NULL,
    PRIMARY KEY (trace_key, key)
) WITHOUT ROWID;
INSERT INTO trace_metadata_keyed (trace_key, key, value)
SELECT i.trace_key, x.key, x.value FROM trace_metadata x JOIN trace_info_keyed i ON i.trace_id = x.trace_id;

CREATE TABLE trace_spans_keyed (
    trace_key            INTEGER NOT NULL REFERENCES trace_info_keyed (trace_key) ON DELETE CASCADE,
    span_id              TEXT    NOT NULL,
    parent_span_id       TEXT,
    name                 TEXT    NOT NULL,
    type                 TEXT,
    status               TEXT    NOT NULL,
    start_time_unix_nano INTEGER NOT NULL,
    end_time_unix_nano   INTEGER,
    attributes           TEXT,
    content              BLOB    NOT NULL
);
INSERT INTO trace_spans_keyed (trace_key, span_id, parent_span_id, name, type, status, start_time_unix_nano,
    end_time_unix_nano, attributes, content)
SELECT i.trace_key, s.span_id, s.parent_span_id, s.name, s.type, s.status, s.start_time_unix_nano,
    s.end_time_unix_nano, s.attributes, s.content
FROM trace_spans s JOIN trace_info_keyed i ON i.trace_id = s.trace_id ORDER BY i.trace_key, s.rowid;

-- Runs and assessments are rebuilt only to refer to the new trace_info (dropping the old
-- one would otherwise delete their rows).
CREATE TABLE trace_runs_keyed (
    trace_id TEXT NOT NULL REFERENCES trace_info_keyed (trace_id) ON DELETE CASCADE,
    run_uuid TEXT NOT NULL,
    PRIMARY KEY (trace_id, run_uuid)
) WITHOUT ROWID;
INSERT INTO trace_runs_keyed (trace_id, run_uuid) SELECT trace_id, run_uuid FROM trace_runs;

CREATE TABLE trace_assessments_keyed (
    assessment_id    TEXT    PRIMARY KEY,
    trace_id         TEXT    NOT NULL REFERENCES trace_info_keyed (trace_id) ON DELETE CASCADE,
    name             TEXT    NOT NULL,
    create_time      INTEGER NOT NULL,
    last_update_time INTEGER NOT NULL,
    body             TEXT    NOT NULL
);
INSERT INTO trace_assessments_keyed (assessment_id, trace_id, name, create_time, last_update_time, body)
SELECT assessment_id, trace_id, name, create_time, last_update_time, body FROM trace_assessments;

-- The old tables go children first, so that dropping trace_info cascades to nothing.
DROP TABLE trace_tags;
DROP TABLE trace_metadata;
DROP TABLE trace_spans;
DROP TABLE trace_runs;
DROP TABLE trace_assessments;
DROP TABLE trace_info;
ALTER TABLE trace_info_keyed RENAME TO trace_info;
ALTER TABLE trace_tags_keyed RENAME TO trace_tags;
ALTER TABLE trace_metadata_keyed RENAME TO trace_metadata;
ALTER TABLE trace_spans_keyed RENAME TO trace_spans;
ALTER TABLE trace_runs_keyed RENAME TO trace_runs;
ALTER TABLE trace_assessments_keyed RENAME TO trace_assessments;
CREATE INDEX trace_info_by_experiment ON trace_info (experiment_id, request_time DESC, trace_id);
CREATE UNIQUE INDEX trace_spans_by_trace ON trace_spans (trace_key, span_id);
CREATE INDEX trace_runs_by_run ON trace_runs (run_uuid, trace_id);
CREATE INDEX trace_assessments_by_trace ON trace_assessments (trace_id, create_time);
