-- MLflow 3 traces. A trace's info, tags and metadata live here; its spans live either
-- here (sent over OpenTelemetry to /v1/traces) or as traces.json under the trace's
-- artifact location (uploaded by MLflow's client), as the tag
-- mlflow.trace.spansLocation says. Times are milliseconds since the epoch.
CREATE TABLE trace_info (
    trace_id           TEXT COLLATE "C" PRIMARY KEY,
    experiment_id      BIGINT  NOT NULL REFERENCES experiments (experiment_id) ON DELETE CASCADE,
    client_request_id  TEXT,
    request_time       BIGINT  NOT NULL,
    execution_duration BIGINT ,
    state              TEXT COLLATE "C"    NOT NULL,
    request_preview    TEXT,
    response_preview   TEXT
);
CREATE INDEX trace_info_by_experiment ON trace_info (experiment_id, request_time DESC, trace_id);

CREATE TABLE trace_tags (
    trace_id TEXT COLLATE "C" NOT NULL REFERENCES trace_info (trace_id) ON DELETE CASCADE,
    key      TEXT COLLATE "C" NOT NULL,
    value    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (trace_id, key)
);

CREATE TABLE trace_metadata (
    trace_id TEXT COLLATE "C" NOT NULL REFERENCES trace_info (trace_id) ON DELETE CASCADE,
    key      TEXT COLLATE "C" NOT NULL,
    value    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (trace_id, key)
);

-- The runs a trace belongs to: the run it was created in (metadata mlflow.sourceRun)
-- and the runs it was linked to since.
CREATE TABLE trace_runs (
    trace_id TEXT COLLATE "C" NOT NULL REFERENCES trace_info (trace_id) ON DELETE CASCADE,
    run_uuid TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (trace_id, run_uuid)
);
CREATE INDEX trace_runs_by_run ON trace_runs (run_uuid, trace_id);

-- Spans received over OpenTelemetry: content is the span as OTLP protobuf bytes; the
-- other columns are copied out of it for searches.
CREATE TABLE trace_spans (
    trace_id             TEXT COLLATE "C"    NOT NULL REFERENCES trace_info (trace_id) ON DELETE CASCADE,
    span_id              TEXT COLLATE "C"    NOT NULL,
    parent_span_id       TEXT,
    name                 TEXT COLLATE "C"    NOT NULL,
    type                 TEXT,
    status               TEXT COLLATE "C"    NOT NULL,
    start_time_unix_nano BIGINT  NOT NULL,
    end_time_unix_nano   BIGINT ,
    content              BYTEA   NOT NULL,
    PRIMARY KEY (trace_id, span_id)
);

-- Feedback and expectations on traces: body is the assessment as MLflow's JSON.
CREATE TABLE trace_assessments (
    assessment_id    TEXT COLLATE "C" PRIMARY KEY,
    trace_id         TEXT COLLATE "C"    NOT NULL REFERENCES trace_info (trace_id) ON DELETE CASCADE,
    name             TEXT COLLATE "C"    NOT NULL,
    create_time      BIGINT  NOT NULL,
    last_update_time BIGINT  NOT NULL,
    body             TEXT COLLATE "C"    NOT NULL
);
CREATE INDEX trace_assessments_by_trace ON trace_assessments (trace_id, create_time);
