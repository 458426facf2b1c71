package tracking

import (
	"context"
	"database/sql"
	"math"

	"github.com/mlship/mlship/internal/protojson"
	"github.com/mlship/mlship/internal/store"
)

// loadChunk bounds the ids in one IN list, well under every engine's parameter limit.
const loadChunk = 500

const runColumns = `run_uuid, experiment_id, name, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage`

// loadRuns returns the runs with the given ids, in that order, with their latest
// metrics, params, tags and inputs; ids that do not exist are skipped.
//
// Runs may come from the cache, so callers must not change them.
func (s *Service) loadRuns(ctx context.Context, ids []string) ([]*Run, error) {
	byID := make(map[string]*Run, len(ids))
	missing := ids
	var since uint64
	if s.cache != nil {
		since = s.cache.snapshot()
		missing = make([]string, 0, len(ids))
		for _, id := range ids {
			if r := s.cache.get(id); r != nil {
				byID[id] = r
			} else {
				missing = append(missing, id)
			}
		}
	}
	for start := 0; start < len(missing); start += loadChunk {
		chunk := missing[start:min(start+loadChunk, len(missing))]
		if err := s.loadChunk(ctx, chunk, byID); err != nil {
			return nil, err
		}
	}
	if s.cache != nil {
		for _, id := range missing {
			if r, ok := byID[id]; ok {
				s.cache.put(r, since)
			}
		}
	}
	runs := make([]*Run, 0, len(ids))
	for _, id := range ids {
		if r, ok := byID[id]; ok {
			runs = append(runs, r)
		}
	}
	return runs, nil
}

func (s *Service) loadChunk(ctx context.Context, ids []string, byID map[string]*Run) error {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	in := `(` + store.Placeholders(len(ids)) + `)`
	q := s.reader()
	if err := store.ScanEach(ctx, q, `SELECT `+runColumns+` FROM runs WHERE run_uuid IN `+in, args, func(rows *sql.Rows) error {
		r, err := scanRunInfo(rows)
		if err == nil {
			byID[r.Info.RunID] = r
		}
		return err
	}); err != nil {
		return err
	}
	if err := store.ScanEach(ctx, q, `SELECT run_uuid, key, value, is_nan, timestamp, step FROM latest_metrics
		WHERE run_uuid IN `+in+` ORDER BY run_uuid, key`, args, func(rows *sql.Rows) error {
		var id string
		var m Metric
		var v float64
		var nan bool
		if err := rows.Scan(&id, &m.Key, &v, &nan, &m.Timestamp, &m.Step); err != nil {
			return err
		}
		m.Value = metricValue(v, nan)
		if r := byID[id]; r != nil {
			r.Data.Metrics = append(r.Data.Metrics, m)
		}
		return nil
	}); err != nil {
		return err
	}
	if err := loadKeyValues(ctx, q, "params", in, args, func(r *Run, k, v string) {
		r.Data.Params = append(r.Data.Params, Param{Key: k, Value: v})
	}, byID); err != nil {
		return err
	}
	if err := loadKeyValues(ctx, q, "tags", in, args, func(r *Run, k, v string) {
		r.Data.Tags = append(r.Data.Tags, Tag{Key: k, Value: v})
	}, byID); err != nil {
		return err
	}
	if err := store.ScanEach(ctx, q, `SELECT run_uuid, model_id, step FROM run_outputs WHERE run_uuid IN `+in+` ORDER BY run_uuid, step, model_id`,
		args, func(rows *sql.Rows) error {
			var id string
			var o ModelOutput
			if err := rows.Scan(&id, &o.ModelID, &o.Step); err != nil {
				return err
			}
			if r := byID[id]; r != nil {
				if r.Outputs == nil {
					r.Outputs = &RunOutputs{}
				}
				r.Outputs.ModelOutputs = append(r.Outputs.ModelOutputs, o)
			}
			return nil
		}); err != nil {
		return err
	}
	return s.loadInputs(ctx, in, args, byID)
}

// loadKeyValues reads a run key/value table (params, tags) for the runs in byID and
// hands each row to add, in key order.
func loadKeyValues(ctx context.Context, q store.Querier, table, in string, args []any, add func(r *Run, k, v string), byID map[string]*Run) error {
	return store.ScanEach(ctx, q, `SELECT run_uuid, key, value FROM `+table+` WHERE run_uuid IN `+in+` ORDER BY run_uuid, key`,
		args, func(rows *sql.Rows) error {
			var id, k, v string
			if err := rows.Scan(&id, &k, &v); err != nil {
				return err
			}
			if r := byID[id]; r != nil {
				add(r, k, v)
			}
			return nil
		})
}

func scanRunInfo(rows *sql.Rows) (*Run, error) {
	var r Run
	var exp int64
	var start, end sql.NullInt64
	i := &r.Info
	if err := rows.Scan(&i.RunID, &exp, &i.RunName, &i.UserID, &i.Status, &start, &end, &i.ArtifactURI, &i.LifecycleStage); err != nil {
		return nil, err
	}
	i.RunUUID = i.RunID
	i.ExperimentID = formatID(exp)
	if start.Valid {
		i.StartTime = &start.Int64
	}
	if end.Valid {
		i.EndTime = &end.Int64
	}
	return &r, nil
}

// metricValue rebuilds a stored value: NaN is stored as 0 with a flag, because SQL
// engines do not keep NaN.
func metricValue(v float64, nan bool) protojson.Float {
	if nan {
		return protojson.Float(math.NaN())
	}
	return protojson.Float(v)
}

// storedValue is the inverse of metricValue. Infinities are stored as the largest
// finite doubles, as MLflow stores them, so they read back as those.
func storedValue(v float64) (float64, bool) {
	switch {
	case math.IsNaN(v):
		return 0, true
	case math.IsInf(v, 1):
		return math.MaxFloat64, false
	case math.IsInf(v, -1):
		return -math.MaxFloat64, false
	}
	return v, false
}
