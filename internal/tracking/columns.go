package tracking

import (
	"context"
	"database/sql"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/protojson"
	"github.com/mlship/mlship/internal/store"
)

// Limits of what a runs table asks about an experiment's columns.
const (
	DefaultColumnKeys = 200
	MaxColumnKeys     = 1000
	MaxSummaryRuns    = 1000
	// ColumnRuns is how many of an experiment's newest runs its keys, and the ranges of
	// its metrics when no runs are named, are taken from: the cost of an answer stays
	// the same however large the experiment grows.
	ColumnRuns = 10_000
)

// newestRuns is the scope of a column query over an experiment's newest active runs
// (the runs index's order, so no sort), named r, with its argument after exp.
const newestRuns = `(SELECT run_uuid FROM runs WHERE experiment_id = ? AND lifecycle_stage = 'active'
	ORDER BY start_time DESC LIMIT ?) r`

// KeyCount is a param, metric or tag key and how many runs have it.
type KeyCount struct {
	Key  string `json:"key"`
	Runs int64  `json:"runs"`
}

// ExperimentKeys are the keys the active runs of an experiment use, the most used first.
type ExperimentKeys struct {
	// Runs is how many runs the keys were taken from: the newest ColumnRuns active ones.
	Runs int64 `json:"runs"`
	// Partial is set when the experiment has more active runs than that.
	Partial bool       `json:"partial"`
	Params  []KeyCount `json:"params"`
	Metrics []KeyCount `json:"metrics"`
	Tags    []KeyCount `json:"tags"`
	// Truncated is set when one of the lists was cut at the limit asked for.
	Truncated bool `json:"truncated"`
}

// ExperimentKeys lists the param, metric and tag keys of an experiment's active runs,
// each list cut at limit keys, for column choosers and filter completion.
func (s *Service) ExperimentKeys(ctx context.Context, experimentID string, limit int) (*ExperimentKeys, error) {
	exp, err := s.experimentNumber(ctx, experimentID)
	if err != nil {
		return nil, err
	}
	if limit < 1 || limit > MaxColumnKeys {
		return nil, fault.Invalidf("limit must be between 1 and %d, got %d", MaxColumnKeys, limit)
	}
	out := &ExperimentKeys{}
	if out.Runs, out.Partial, err = s.countNewest(ctx, exp); err != nil {
		return nil, err
	}
	for _, l := range []struct {
		table string
		into  *[]KeyCount
	}{{"params", &out.Params}, {"latest_metrics", &out.Metrics}, {"tags", &out.Tags}} {
		keys, err := s.keyCounts(ctx, l.table, exp, limit+1)
		if err != nil {
			return nil, err
		}
		if len(keys) > limit {
			keys, out.Truncated = keys[:limit], true
		}
		*l.into = keys
	}
	return out, nil
}

// keyCounts counts the runs of each key of table (a trusted name) in the experiment.
func (s *Service) keyCounts(ctx context.Context, table string, exp int64, limit int) ([]KeyCount, error) {
	out := []KeyCount{}
	err := store.ScanEach(ctx, s.reader(), `SELECT k.key, COUNT(*) FROM `+newestRuns+` JOIN `+table+` k ON k.run_uuid = r.run_uuid
		GROUP BY k.key ORDER BY COUNT(*) DESC, k.key LIMIT ?`, []any{exp, ColumnRuns, limit}, func(rows *sql.Rows) error {
		var k KeyCount
		err := rows.Scan(&k.Key, &k.Runs)
		out = append(out, k)
		return err
	})
	return out, err
}

// MetricRange is the range of one metric's latest values over some runs. Min and Max
// leave NaN out; they are absent when every value is NaN.
type MetricRange struct {
	Key  string           `json:"key"`
	Min  *protojson.Float `json:"min,omitempty"`
	Max  *protojson.Float `json:"max,omitempty"`
	Runs int64            `json:"runs"` // runs that have the metric
}

// MetricSummary is the range of every metric over a set of an experiment's runs.
type MetricSummary struct {
	// Runs is how many runs were summarized: those named that are in the experiment, or
	// its newest ColumnRuns active ones.
	Runs int64 `json:"runs"`
	// Partial is set when no runs were named and the experiment has more active runs.
	Partial bool          `json:"partial"`
	Metrics []MetricRange `json:"metrics"`
}

// MetricSummary returns, for every metric of the runs (of the experiment; its newest
// ColumnRuns active ones when runIDs is empty), the smallest and largest latest value: what a runs table
// needs to shade a column. At most MaxColumnKeys metrics, by name.
func (s *Service) MetricSummary(ctx context.Context, experimentID string, runIDs []string) (*MetricSummary, error) {
	exp, err := s.experimentNumber(ctx, experimentID)
	if err != nil {
		return nil, err
	}
	if len(runIDs) > MaxSummaryRuns {
		return nil, fault.Invalidf("run_ids names %d runs; at most %d", len(runIDs), MaxSummaryRuns)
	}
	from, args := newestRuns, []any{exp, ColumnRuns}
	out := &MetricSummary{Metrics: []MetricRange{}}
	if len(runIDs) == 0 {
		out.Runs, out.Partial, err = s.countNewest(ctx, exp)
	} else {
		// The named runs are found by id, then kept when in the experiment.
		args = []any{}
		for _, id := range runIDs {
			if err := ValidateRunID(id); err != nil {
				return nil, err
			}
			args = append(args, id)
		}
		from = `(SELECT run_uuid FROM runs WHERE run_uuid IN (` + store.Placeholders(len(runIDs)) + `) AND +experiment_id = ?) r`
		args = append(args, exp)
		err = s.reader().QueryRowContext(ctx, `SELECT COUNT(*) FROM `+from, args...).Scan(&out.Runs)
	}
	if err != nil {
		return nil, store.Classify(ctx, err)
	}
	err = store.ScanEach(ctx, s.reader(), `SELECT m.key, MIN(CASE WHEN m.is_nan = 0 THEN m.value END),
		MAX(CASE WHEN m.is_nan = 0 THEN m.value END), COUNT(*)
		FROM `+from+` JOIN latest_metrics m ON m.run_uuid = r.run_uuid
		GROUP BY m.key ORDER BY m.key LIMIT ?`, append(args, MaxColumnKeys), func(rows *sql.Rows) error {
		var mr MetricRange
		var lo, hi sql.NullFloat64
		if err := rows.Scan(&mr.Key, &lo, &hi, &mr.Runs); err != nil {
			return err
		}
		if lo.Valid {
			mn, mx := protojson.Float(lo.Float64), protojson.Float(hi.Float64)
			mr.Min, mr.Max = &mn, &mx
		}
		out.Metrics = append(out.Metrics, mr)
		return nil
	})
	return out, err
}

// experimentNumber checks that an experiment exists and returns its number.
func (s *Service) experimentNumber(ctx context.Context, id string) (int64, error) {
	n, err := parseExperimentID(id)
	if err != nil {
		return 0, err
	}
	var one int
	err = s.reader().QueryRowContext(ctx, `SELECT 1 FROM experiments WHERE experiment_id = ?`, n).Scan(&one)
	return n, notFound(err, "No Experiment with id=%s exists", id)
}

// countNewest counts the runs the column queries read of an experiment, and whether
// there are more.
func (s *Service) countNewest(ctx context.Context, exp int64) (int64, bool, error) {
	var n int64
	err := s.reader().QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM runs WHERE experiment_id = ? AND lifecycle_stage = 'active'
		LIMIT ?) r`, exp, ColumnRuns+1).Scan(&n)
	return min(n, ColumnRuns), n > ColumnRuns, store.Classify(ctx, err)
}
