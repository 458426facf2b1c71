package traces

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// StartTrace records a finished trace's info, as MLflow's StartTraceV3 does (the
// client calls it once the trace has ended), and returns it as stored: with the tag
// mlflow.artifactLocation where the client uploads its spans, or, when its spans came
// over OpenTelemetry first, mlflow.trace.spansLocation = TRACKING_STORE. Recording a
// trace again updates it, merging tags and metadata.
func (s *Service) StartTrace(ctx context.Context, in Info) (*Info, error) {
	if err := checkInfo(&in); err != nil {
		return nil, err
	}
	exp, err := s.activeExperiment(ctx, in.ExperimentID)
	if err != nil {
		return nil, err
	}
	in.Tags[TagArtifactLocation] = strings.TrimSuffix(exp.ArtifactLocation, "/") + "/traces/" + in.TraceID + "/artifacts"
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		key, exists, err := lockTrace(ctx, tx, in.TraceID, in.ExperimentID)
		if err != nil {
			return err
		}
		if exists {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM trace_spans WHERE trace_key = ?`, key).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				in.Tags[TagSpansLocation] = SpansInStore
			}
		}
		return upsertInfo(ctx, tx, &in, key, exists)
	})
	if err != nil {
		return nil, err
	}
	return s.GetInfo(ctx, in.TraceID)
}

func checkInfo(in *Info) error {
	if err := CheckTraceID(in.TraceID); err != nil {
		return err
	}
	switch in.State {
	case "", "STATE_UNSPECIFIED":
		in.State = StateOK
		if in.ExecutionDuration == nil {
			in.State = StateInProgress
		}
	case StateOK, StateError, StateInProgress:
	default:
		return fault.Invalidf("Invalid trace state '%s': expected OK, ERROR or IN_PROGRESS", clip(in.State))
	}
	if in.Tags == nil {
		in.Tags = map[string]string{}
	}
	for k, v := range in.Tags {
		if err := checkKeyValue("tag", k, v); err != nil {
			return err
		}
	}
	for k, v := range in.Metadata {
		if err := checkKeyValue("metadata", k, v); err != nil {
			return err
		}
	}
	return nil
}

// lockTrace reports whether the trace exists, and its key if so, locking its row, and
// refuses a trace of another experiment: moving a trace would let a writer of one
// experiment rewrite another's.
func lockTrace(ctx context.Context, tx *store.Tx, id, experimentID string) (int64, bool, error) {
	var key, exp int64
	err := tx.QueryRowContext(ctx, `SELECT trace_key, experiment_id FROM trace_info WHERE trace_id = ?`+
		tx.Dialect().ForUpdate("trace_info"), id).Scan(&key, &exp)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, err
	case strconv.FormatInt(exp, 10) != experimentID:
		return 0, false, fault.Invalidf("Trace '%s' belongs to experiment %d, not %s", clip(id), exp, experimentID)
	}
	return key, true, nil
}

// lockTraces is lockTrace for many traces in one statement: it returns the keys of the
// ones that exist.
func lockTraces(ctx context.Context, tx *store.Tx, ids []string, experimentID string) (map[string]int64, error) {
	keys := map[string]int64{}
	for chunk := range slices.Chunk(ids, tx.Dialect().MaxParams()) {
		err := store.ScanEach(ctx, tx, `SELECT trace_id, trace_key, experiment_id FROM trace_info WHERE trace_id IN (`+
			store.Placeholders(len(chunk))+`)`+tx.Dialect().ForUpdate("trace_info"), anys(chunk), func(rows *sql.Rows) error {
			var id string
			var key, exp int64
			if err := rows.Scan(&id, &key, &exp); err != nil {
				return err
			}
			if strconv.FormatInt(exp, 10) != experimentID {
				return fault.Invalidf("Trace '%s' belongs to experiment %d, not %s", clip(id), exp, experimentID)
			}
			keys[id] = key
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// traceKey returns the key of a trace (its rows in trace_tags, trace_metadata and
// trace_spans are keyed by it), or not found.
func traceKey(ctx context.Context, q store.Querier, traceID string) (int64, error) {
	var key int64
	err := q.QueryRowContext(ctx, `SELECT trace_key FROM trace_info WHERE trace_id = ?`, traceID).Scan(&key)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notFound(traceID)
	}
	return key, err
}

// insertInfos creates traces, with their tags and metadata, in multi-row statements,
// and adds their keys to keys.
func insertInfos(ctx context.Context, tx *store.Tx, infos []Info, keys map[string]int64) error {
	const width = 8
	for chunk := range slices.Chunk(infos, tx.Dialect().MaxParams()/width) {
		args := make([]any, 0, width*len(chunk))
		for _, in := range chunk {
			args = append(args, in.TraceID, in.ExperimentID, nullable(in.ClientRequestID), in.RequestTime, in.ExecutionDuration,
				in.State, nullable(in.RequestPreview), nullable(in.ResponsePreview))
		}
		err := store.ScanEach(ctx, tx, `INSERT INTO trace_info (trace_id, experiment_id, client_request_id, request_time,
			execution_duration, state, request_preview, response_preview) VALUES `+store.RowsOf(width, len(chunk))+
			` RETURNING trace_id, trace_key`, args, func(rows *sql.Rows) error {
			var id string
			var key int64
			if err := rows.Scan(&id, &key); err != nil {
				return err
			}
			keys[id] = key
			return nil
		})
		if err != nil {
			return err
		}
	}
	var tags, meta []pair
	for _, in := range infos {
		tags = appendPairs(tags, keys[in.TraceID], in.Tags)
		meta = appendPairs(meta, keys[in.TraceID], in.Metadata)
	}
	if err := upsertPairRows(ctx, tx, "trace_tags", tags); err != nil {
		return err
	}
	return upsertPairRows(ctx, tx, "trace_metadata", meta)
}

func upsertInfo(ctx context.Context, tx *store.Tx, in *Info, key int64, exists bool) error {
	var err error
	if exists {
		_, err = tx.ExecContext(ctx, `UPDATE trace_info SET client_request_id = ?, request_time = ?, execution_duration = ?,
			state = ?, request_preview = ?, response_preview = ? WHERE trace_id = ?`,
			nullable(in.ClientRequestID), in.RequestTime, in.ExecutionDuration, in.State,
			nullable(in.RequestPreview), nullable(in.ResponsePreview), in.TraceID)
	} else {
		err = tx.QueryRowContext(ctx, `INSERT INTO trace_info (trace_id, experiment_id, client_request_id, request_time,
			execution_duration, state, request_preview, response_preview) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING trace_key`,
			in.TraceID, in.ExperimentID, nullable(in.ClientRequestID), in.RequestTime, in.ExecutionDuration, in.State,
			nullable(in.RequestPreview), nullable(in.ResponsePreview)).Scan(&key)
	}
	if err != nil {
		return err
	}
	if err := upsertPairs(ctx, tx, "trace_tags", key, in.Tags); err != nil {
		return err
	}
	if err := upsertPairs(ctx, tx, "trace_metadata", key, in.Metadata); err != nil {
		return err
	}
	if run := in.Metadata[MetaSourceRun]; run != "" {
		return linkRuns(ctx, tx, run, []string{in.TraceID})
	}
	return nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// pair is a key/value row of a trace, in trace_tags or trace_metadata.
type pair struct {
	traceKey   int64
	key, value string
}

// appendPairs appends a trace's key/value pairs to rows, in the order of their keys.
func appendPairs(rows []pair, traceKey int64, pairs map[string]string) []pair {
	for _, k := range slices.Sorted(maps.Keys(pairs)) { // one lock order for concurrent writers
		rows = append(rows, pair{traceKey, k, pairs[k]})
	}
	return rows
}

// upsertPairs writes key/value rows of a trace into table (trace_tags or trace_metadata),
// replacing values of keys already there, in as few statements as the engine allows.
func upsertPairs(ctx context.Context, tx *store.Tx, table string, traceKey int64, pairs map[string]string) error {
	return upsertPairRows(ctx, tx, table, appendPairs(nil, traceKey, pairs))
}

// upsertPairRows writes key/value rows of traces into table, at most one row per
// trace and key.
func upsertPairRows(ctx context.Context, tx *store.Tx, table string, rows []pair) error {
	for chunk := range slices.Chunk(rows, tx.Dialect().MaxParams()/3) {
		args := make([]any, 0, 3*len(chunk))
		for _, p := range chunk {
			args = append(args, p.traceKey, p.key, p.value)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (trace_key, key, value) VALUES `+store.RowsOf(3, len(chunk))+
			` ON CONFLICT (trace_key, key) DO UPDATE SET value = excluded.value`, args...)
		if err != nil {
			return err
		}
	}
	return nil
}

func linkRuns(ctx context.Context, tx *store.Tx, runID string, traceIDs []string) error {
	for chunk := range slices.Chunk(traceIDs, tx.Dialect().MaxParams()/2) {
		args := make([]any, 0, 2*len(chunk))
		for _, id := range chunk {
			args = append(args, id, runID)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO trace_runs (trace_id, run_uuid) VALUES `+store.RowsOf(2, len(chunk))+
			` ON CONFLICT (trace_id, run_uuid) DO NOTHING`, args...)
		if err != nil {
			return err
		}
	}
	return nil
}

// serverTags are the tags the server sets: where a trace's spans are. A client may
// not move them (MLflow's client refuses to, too).
var serverTags = map[string]bool{TagArtifactLocation: true, TagSpansLocation: true}

func checkClientTag(key string) error {
	if serverTags[key] {
		return fault.Invalidf("The tag '%s' is set by the server and cannot be changed", key)
	}
	return nil
}

// SetTag sets a tag on a trace.
func (s *Service) SetTag(ctx context.Context, traceID, key, value string) error {
	if err := checkKeyValue("tag", key, value); err != nil {
		return err
	}
	if err := checkClientTag(key); err != nil {
		return err
	}
	return s.db.Write(ctx, func(tx *store.Tx) error {
		tk, err := traceKey(ctx, tx, traceID)
		if err != nil {
			return err
		}
		return upsertPairs(ctx, tx, "trace_tags", tk, map[string]string{key: value})
	})
}

// DeleteTag removes a tag from a trace.
func (s *Service) DeleteTag(ctx context.Context, traceID, key string) error {
	if err := checkClientTag(key); err != nil {
		return err
	}
	return s.db.Write(ctx, func(tx *store.Tx) error {
		tk, err := traceKey(ctx, tx, traceID)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM trace_tags WHERE trace_key = ? AND key = ?`, tk, key)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fault.NotFoundf("No trace tag with key '%s' for trace with ID '%s'", clip(key), clip(traceID))
		}
		return nil
	})
}

// DeleteQuery says which traces of an experiment to delete: the ones named, or the
// oldest up to a time (and at most MaxTraces of them), as MLflow's DeleteTraces does.
type DeleteQuery struct {
	ExperimentID   string
	TraceIDs       []string
	MaxTimestampMs *int64
	MaxTraces      *int64
}

// Delete deletes traces of an experiment and returns how many.
func (s *Service) Delete(ctx context.Context, q DeleteQuery) (int, error) {
	if q.ExperimentID == "" {
		return 0, fault.Missing("experiment_id")
	}
	if (q.MaxTimestampMs == nil) == (len(q.TraceIDs) == 0) {
		return 0, fault.Invalidf("Exactly one of 'max_timestamp_millis' and 'request_ids' must be specified.")
	}
	if len(q.TraceIDs) > MaxDeleteIDs {
		return 0, fault.Invalidf("At most %d traces may be deleted by id in one request; got %d", MaxDeleteIDs, len(q.TraceIDs))
	}
	if len(q.TraceIDs) > 0 && q.MaxTraces != nil {
		return 0, fault.Invalidf("'max_traces' can't be specified if 'request_ids' is specified.")
	}
	var n int64
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		var text string
		args := []any{q.ExperimentID}
		if len(q.TraceIDs) > 0 {
			text = `DELETE FROM trace_info WHERE experiment_id = ? AND trace_id IN (` + store.Placeholders(len(q.TraceIDs)) + `)`
			for _, id := range q.TraceIDs {
				args = append(args, id)
			}
		} else {
			inner := `SELECT trace_id FROM trace_info WHERE experiment_id = ? AND request_time <= ? ORDER BY request_time, trace_id`
			args = append(args, *q.MaxTimestampMs)
			if q.MaxTraces != nil {
				inner += ` LIMIT ?`
				args = append(args, *q.MaxTraces)
			}
			text = `DELETE FROM trace_info WHERE trace_id IN (` + inner + `)`
		}
		res, err := tx.ExecContext(ctx, text, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// LinkToRun makes traces of the run's experiment belong to a run too, so that
// searching the run's traces finds them.
func (s *Service) LinkToRun(ctx context.Context, runID string, traceIDs []string) error {
	if runID == "" {
		return fault.Missing("run_id")
	}
	if len(traceIDs) > MaxLinkedTraces {
		return fault.Invalidf("Cannot link more than %d traces to a run in a single request; got %d", MaxLinkedTraces, len(traceIDs))
	}
	exp, err := s.exps.ExperimentOfRun(ctx, runID)
	if err != nil {
		return err
	}
	return s.db.Write(ctx, func(tx *store.Tx) error {
		for _, id := range traceIDs {
			var e int64
			err := tx.QueryRowContext(ctx, `SELECT experiment_id FROM trace_info WHERE trace_id = ?`, id).Scan(&e)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return notFound(id)
			case err != nil:
				return err
			case strconv.FormatInt(e, 10) != exp:
				return fault.Invalidf("Trace '%s' is in experiment %d and run '%s' in experiment %s; a trace can only be linked to a run of its experiment",
					clip(id), e, clip(runID), exp)
			}
		}
		return linkRuns(ctx, tx, runID, traceIDs)
	})
}

// NewRequestID returns an id for a trace started through MLflow 2's StartTrace, in its
// form: 32 hex digits.
func NewRequestID() string { return randomHex(16) }

// EndTrace completes a trace started through MLflow 2's StartTrace: its duration runs to
// endMs, its state becomes state, and tags and metadata are merged into its own.
func (s *Service) EndTrace(ctx context.Context, id string, endMs int64, state string, metadata, tags map[string]string) (*Info, error) {
	in, err := s.GetInfo(ctx, id)
	if err != nil {
		return nil, err
	}
	in.State = state
	if in.State == "" || in.State == "STATE_UNSPECIFIED" || in.State == "TRACE_STATUS_UNSPECIFIED" {
		in.State = StateOK
	}
	d := max(endMs-in.RequestTime, 0)
	in.ExecutionDuration = &d
	for k, v := range metadata {
		in.Metadata[k] = v
	}
	for k, v := range tags {
		in.Tags[k] = v
	}
	in.Assessments = nil
	return s.StartTrace(ctx, *in)
}
