package tracking

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/search"
	"github.com/mlship/mlship/internal/store"
)

// Batch is what one log-batch call writes to a run.
type Batch struct {
	Metrics []Metric
	Params  []Param
	Tags    []Tag
}

// LogMetric appends one point to a metric of an active run.
func (s *Service) LogMetric(ctx context.Context, runID string, m Metric) error {
	return s.LogBatch(ctx, runID, Batch{Metrics: []Metric{m}})
}

// LogParam logs a param to an active run. Logging the same value again is a no-op;
// changing it is refused.
func (s *Service) LogParam(ctx context.Context, runID string, p Param) error {
	return s.LogBatch(ctx, runID, Batch{Params: []Param{p}})
}

// LogBatch logs metrics, params and tags to an active run, all or nothing.
func (s *Service) LogBatch(ctx context.Context, runID string, b Batch) error {
	if err := ValidateRunID(runID); err != nil {
		return err
	}
	if err := s.validateBatch(&b); err != nil {
		return err
	}
	return s.writeRuns(ctx, []string{runID}, func(tx *store.Tx) error {
		if _, err := activeRun(ctx, tx, runID); err != nil {
			return err
		}
		if err := logParams(ctx, tx, runID, b.Params); err != nil {
			return err
		}
		if err := logMetrics(ctx, tx, runID, b.Metrics); err != nil {
			return err
		}
		return logTags(ctx, tx, runID, b.Tags)
	})
}

func (s *Service) validateBatch(b *Batch) error {
	if err := CheckBatchSizes(len(b.Metrics), len(b.Params), len(b.Tags)); err != nil {
		return err
	}
	for i := range b.Metrics {
		if err := validateMetric(&b.Metrics[i]); err != nil {
			return err
		}
	}
	seen := make(map[string]string, len(b.Params))
	var dups []string
	for i := range b.Params {
		if err := s.normalizeParam(&b.Params[i]); err != nil {
			return err
		}
		p := b.Params[i]
		if _, ok := seen[p.Key]; ok {
			dups = append(dups, p.Key)
		}
		seen[p.Key] = p.Value
	}
	if len(dups) > 0 {
		return fault.Invalidf("Duplicate parameter keys have been submitted: %s. Please ensure the request contains only one param value per param key.", pyList(dups))
	}
	for i := range b.Tags {
		if err := s.normalizeTag(&b.Tags[i]); err != nil {
			return err
		}
	}
	return nil
}

// logParams inserts new params and refuses to change an existing one.
func logParams(ctx context.Context, tx *store.Tx, runID string, params []Param) error {
	if len(params) == 0 {
		return nil
	}
	args := []any{runID}
	for _, p := range params {
		args = append(args, p.Key)
	}
	existing := map[string]string{}
	err := store.ScanEach(ctx, tx, `SELECT key, value FROM params WHERE run_uuid = ? AND key IN (`+store.Placeholders(len(params))+`)`,
		args, func(rows *sql.Rows) error {
			var k, v string
			err := rows.Scan(&k, &v)
			existing[k] = v
			return err
		})
	if err != nil {
		return err
	}
	var changed []string
	args = args[:0]
	for _, p := range params {
		old, ok := existing[p.Key]
		switch {
		case ok && old != p.Value:
			changed = append(changed, fmt.Sprintf("{'key': '%s', 'old_value': '%s', 'new_value': '%s'}", p.Key, old, p.Value))
		case !ok:
			existing[p.Key] = p.Value
			args = append(args, runID, p.Key, p.Value)
		}
	}
	if len(changed) > 0 {
		return fault.Invalidf("Changing param values is not allowed. Params were already logged='[%s]' for run ID='%s'.", strings.Join(changed, ", "), runID)
	}
	if len(args) == 0 {
		return nil
	}
	// A concurrent write may have logged one of these keys since the read above (on an
	// engine whose writers run side by side): the key is then kept as that write left it,
	// and this one is refused if it gave another value.
	want := make(map[string]string, len(args)/3)
	for i := 0; i < len(args); i += 3 {
		want[args[i+1].(string)] = args[i+2].(string)
	}
	err = store.ScanEach(ctx, tx, `INSERT INTO params (run_uuid, key, value) VALUES `+store.RowsOf(3, len(args)/3)+
		` ON CONFLICT DO NOTHING RETURNING key`, args, func(rows *sql.Rows) error {
		var k string
		err := rows.Scan(&k)
		delete(want, k)
		return err
	})
	if err != nil || len(want) == 0 {
		return err
	}
	args = []any{runID}
	for k := range want {
		args = append(args, k)
	}
	err = store.ScanEach(ctx, tx, `SELECT key, value FROM params WHERE run_uuid = ? AND key IN (`+store.Placeholders(len(want))+`)`,
		args, func(rows *sql.Rows) error {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				return err
			}
			if v != want[k] {
				changed = append(changed, fmt.Sprintf("{'key': '%s', 'old_value': '%s', 'new_value': '%s'}", k, v, want[k]))
			}
			return nil
		})
	if err != nil {
		return err
	}
	if len(changed) > 0 {
		sort.Strings(changed)
		return fault.Invalidf("Changing param values is not allowed. Params were already logged='[%s]' for run ID='%s'.", strings.Join(changed, ", "), runID)
	}
	return nil
}

// logMetrics appends points (an identical point is kept once) and moves each metric's
// latest value forward when a point is newer by (step, timestamp, value).
func logMetrics(ctx context.Context, tx *store.Tx, runID string, metrics []Metric) error {
	if len(metrics) == 0 {
		return nil
	}
	args := make([]any, 0, 9*len(metrics))
	latest := map[string]Metric{}
	for _, m := range metrics {
		v, nan := storedValue(float64(m.Value))
		args = append(args, runID, m.Key, m.Timestamp, m.Step, v, nan,
			nullable(m.ModelID), nullable(m.DatasetName), nullable(m.DatasetDigest))
		if cur, ok := latest[m.Key]; !ok || newer(m, cur) {
			latest[m.Key] = m
		}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO metrics (run_uuid, key, timestamp, step, value, is_nan,
		model_id, dataset_name, dataset_digest) VALUES `+store.RowsOf(9, len(metrics))+` ON CONFLICT DO NOTHING`, args...)
	if err != nil {
		return err
	}
	if err := logModelMetrics(ctx, tx, runID, metrics); err != nil {
		return err
	}
	args = args[:0]
	for _, m := range latest {
		v, nan := storedValue(float64(m.Value))
		args = append(args, runID, m.Key, v, nan, m.Timestamp, m.Step)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO latest_metrics (run_uuid, key, value, is_nan, timestamp, step)
		VALUES `+store.RowsOf(6, len(latest))+`
		ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value, is_nan = excluded.is_nan,
			timestamp = excluded.timestamp, step = excluded.step
		WHERE (excluded.step, excluded.timestamp, excluded.value) >
			(latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)`, args...)
	return err
}

// logModelMetrics also files the points that carry a model id under that logged model.
func logModelMetrics(ctx context.Context, tx *store.Tx, runID string, metrics []Metric) error {
	var args []any
	for _, m := range metrics {
		if m.ModelID == "" {
			continue
		}
		v, nan := storedValue(float64(m.Value))
		args = append(args, m.ModelID, m.Key, m.Timestamp, m.Step, v, nan, runID, nullable(m.DatasetName), nullable(m.DatasetDigest))
	}
	if len(args) == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO logged_model_metrics (model_id, key, timestamp, step, value, is_nan,
		run_uuid, dataset_name, dataset_digest) SELECT v.* FROM (VALUES `+store.TypedRowsOf(len(args)/9,
		"TEXT", "TEXT", "BIGINT", "BIGINT", "DOUBLE PRECISION", "BIGINT", "TEXT", "TEXT", "TEXT")+`) v
		JOIN logged_models m ON m.model_id = v.column1 ON CONFLICT DO NOTHING`, args...)
	return err
}

// newer reports whether a comes after b in MLflow's latest-metric order.
func newer(a, b Metric) bool {
	if a.Step != b.Step {
		return a.Step > b.Step
	}
	if a.Timestamp != b.Timestamp {
		return a.Timestamp > b.Timestamp
	}
	av, _ := storedValue(float64(a.Value))
	bv, _ := storedValue(float64(b.Value))
	return av > bv
}

// logTags upserts run tags; the mlflow.runName tag also renames the run.
func logTags(ctx context.Context, tx *store.Tx, runID string, tags []Tag) error {
	for _, t := range tags {
		if t.Key == TagRunName {
			if _, err := tx.ExecContext(ctx, `UPDATE runs SET name = ? WHERE run_uuid = ?`, t.Value, runID); err != nil {
				return err
			}
		}
	}
	return upsertTags(ctx, tx, runID, tags)
}

// pyList formats keys the way MLflow's Python messages print a list.
func pyList(keys []string) string {
	return "['" + strings.Join(keys, "', '") + "']"
}

const metricColumns = `key, value, is_nan, timestamp, step, COALESCE(model_id, ''), COALESCE(dataset_name, ''), COALESCE(dataset_digest, '')`

func scanMetric(rows *sql.Rows) (Metric, error) {
	var m Metric
	var v float64
	var nan bool
	err := rows.Scan(&m.Key, &v, &nan, &m.Timestamp, &m.Step, &m.ModelID, &m.DatasetName, &m.DatasetDigest)
	m.Value = metricValue(v, nan)
	return m, err
}

// GetMetricHistory returns a page of a metric's points, ordered by (timestamp, step,
// value). maxResults <= 0 returns the rest of the history.
func (s *Service) GetMetricHistory(ctx context.Context, runID, key string, maxResults int, pageToken string) ([]Metric, string, error) {
	if err := ValidateRunID(runID); err != nil {
		return nil, "", err
	}
	if err := Required("metric_key", key); err != nil {
		return nil, "", err
	}
	offset, err := search.DecodePageToken(pageToken)
	if err != nil {
		return nil, "", err
	}
	// No limit is the largest one: a negative LIMIT means none to SQLite but is an error
	// to PostgreSQL, and maxResults+1 must not overflow into one.
	limit := math.MaxInt
	if maxResults > 0 && maxResults < math.MaxInt {
		limit = maxResults + 1
	}
	var out []Metric
	err = store.ScanEach(ctx, s.reader(), `SELECT `+metricColumns+` FROM metrics WHERE run_uuid = ? AND key = ?
		ORDER BY timestamp, step, value LIMIT ? OFFSET ?`, []any{runID, key, limit, offset}, func(rows *sql.Rows) error {
		m, err := scanMetric(rows)
		out = append(out, m)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if maxResults > 0 && len(out) > maxResults {
		out = out[:maxResults]
		next = search.EncodePageToken(offset + maxResults)
	}
	return out, next, nil
}

// BulkIntervalQuery asks for a sampled history of one metric across runs, for charts.
type BulkIntervalQuery struct {
	RunIDs     []string
	Key        string
	StartStep  *int64
	EndStep    *int64
	MaxResults int // 1 to MaxBulkIntervalPoints
}

// GetMetricHistoryBulkInterval returns, for each run, the metric's points at up to
// MaxResults steps spread evenly over the run's steps (always keeping the first and
// last), ordered by run, step and timestamp.
func (s *Service) GetMetricHistoryBulkInterval(ctx context.Context, q BulkIntervalQuery) ([]Metric, error) {
	if err := q.validate(); err != nil {
		return nil, err
	}
	var out []Metric
	for _, runID := range q.RunIDs {
		points, err := s.sampledHistory(ctx, runID, q)
		if err != nil {
			return nil, err
		}
		out = append(out, points...)
	}
	return out, nil
}

func (q *BulkIntervalQuery) validate() error {
	switch {
	case len(q.RunIDs) == 0:
		return fault.Invalidf("GetMetricHistoryBulkInterval request must specify at least one run_id.")
	case len(q.RunIDs) > MaxBulkIntervalRuns:
		return fault.Invalidf("GetMetricHistoryBulkInterval request cannot specify more than %d run_ids. Received %d run_ids.", MaxBulkIntervalRuns, len(q.RunIDs))
	case q.Key == "":
		return Required("metric_key", q.Key)
	case (q.StartStep == nil) != (q.EndStep == nil):
		return fault.Invalidf("If either start step or end step are specified, both must be specified.")
	case q.StartStep != nil && *q.StartStep > *q.EndStep:
		return fault.Invalidf("The start step must be less than or equal to the end step.")
	case q.MaxResults < 1 || q.MaxResults > MaxBulkIntervalPoints:
		return fault.Invalidf("max_results must be between 1 and %d.", MaxBulkIntervalPoints)
	}
	for _, id := range q.RunIDs {
		if err := ValidateRunID(id); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) sampledHistory(ctx context.Context, runID string, q BulkIntervalQuery) ([]Metric, error) {
	rng, args := "", []any{runID, q.Key}
	if q.StartStep != nil {
		rng = ` AND step BETWEEN ? AND ?`
		args = append(args, *q.StartStep, *q.EndStep)
	}
	var steps []int64
	err := store.ScanEach(ctx, s.reader(), `SELECT DISTINCT step FROM metrics WHERE run_uuid = ? AND key = ?`+rng+` ORDER BY step`,
		args, func(rows *sql.Rows) error {
			var st int64
			err := rows.Scan(&st)
			steps = append(steps, st)
			return err
		})
	if err != nil || len(steps) == 0 {
		return nil, err
	}
	steps = sampleSteps(steps, q.MaxResults)
	stepArgs := []any{runID, q.Key}
	for _, st := range steps {
		stepArgs = append(stepArgs, st)
	}
	var out []Metric
	err = store.ScanEach(ctx, s.reader(), `SELECT `+metricColumns+` FROM metrics WHERE run_uuid = ? AND key = ? AND step IN (`+
		store.Placeholders(len(steps))+`) ORDER BY step, timestamp, value`, stepArgs, func(rows *sql.Rows) error {
		m, err := scanMetric(rows)
		m.RunID = runID
		out = append(out, m)
		return err
	})
	return out, err
}

// sampleSteps picks at most n of the sorted steps, evenly spaced, keeping the first and
// the last.
func sampleSteps(steps []int64, n int) []int64 {
	if len(steps) <= n {
		return steps
	}
	if n == 1 {
		return steps[:1]
	}
	out := make([]int64, 0, n)
	for i := range n {
		out = append(out, steps[i*(len(steps)-1)/(n-1)])
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
