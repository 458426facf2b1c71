-- Spans received over OpenTelemetry move to a table whose rows are appended in the order
-- they arrive (a rowid table), with an index by trace and span id: a request's spans are
-- written one after the other rather than spread over the pages of a table ordered by
-- random trace ids, which had to split a page for nearly every trace. attributes is the
-- span's attributes as MLflow shows them, a JSON object of each attribute's value as
-- JSON text ({"mlflow.spanType": "\"LLM\""}), for searches on span attributes.
CREATE TABLE trace_spans_appended (
    trace_id             TEXT    NOT NULL REFERENCES trace_info (trace_id) ON DELETE CASCADE,
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
INSERT INTO trace_spans_appended (trace_id, span_id, parent_span_id, name, type, status, start_time_unix_nano,
    end_time_unix_nano, content)
SELECT trace_id, span_id, parent_span_id, name, type, status, start_time_unix_nano, end_time_unix_nano, content
FROM trace_spans ORDER BY trace_id, span_id;
DROP TABLE trace_spans;
ALTER TABLE trace_spans_appended RENAME TO trace_spans;
CREATE UNIQUE INDEX trace_spans_by_trace ON trace_spans (trace_id, span_id);
