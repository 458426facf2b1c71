package tracking

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/protojson"
	"github.com/mlship/mlship/internal/search"
	"github.com/mlship/mlship/internal/search/sqlsearch"
	"github.com/mlship/mlship/internal/store"
)

// Limits of a grouping of runs.
const (
	// MaxRunGroups is how many distinct values of the param a grouping answers; a param
	// with more (an id, a seed) makes a poor grouping and the answer says it was cut.
	MaxRunGroups = 1000
	// MaxGroupMetrics is how many metrics a grouping aggregates.
	MaxGroupMetrics = 50
)

// RunGroupsQuery groups an experiment's active runs that match Filter by the value of
// the param Param, with the aggregates of the metrics Metrics in each group.
type RunGroupsQuery struct {
	ExperimentID string
	Param        string
	Filter       string
	Metrics      []string
}

// MetricAggregate is one metric's latest values over a group's runs. Mean, Min and Max
// leave NaN out and are absent when no run has a number.
type MetricAggregate struct {
	Key  string           `json:"key"`
	Mean *protojson.Float `json:"mean,omitempty"`
	Min  *protojson.Float `json:"min,omitempty"`
	Max  *protojson.Float `json:"max,omitempty"`
	Runs int64            `json:"runs"` // runs of the group that have a number
}

// RunGroup is the runs that share a value of the param; Value is absent for the runs
// that do not have the param.
type RunGroup struct {
	Value   *string           `json:"value"`
	Runs    int64             `json:"runs"`
	Metrics []MetricAggregate `json:"metrics"`
}

// RunGroups is a grouping of every matching run, whatever a runs table has loaded.
type RunGroups struct {
	Param string `json:"param"`
	// Runs is how many runs match the filter, in all groups.
	Runs   int64      `json:"runs"`
	Groups []RunGroup `json:"groups"`
	// Truncated is set when the param has more than MaxRunGroups values: the groups
	// answered are those with the smallest values.
	Truncated bool `json:"truncated"`
}

// GroupRuns groups the active runs of an experiment that match a filter (MLflow's
// search grammar, as runs/search reads it) by a param's value, with each group's run
// count and the mean, smallest and largest latest value of each metric asked for. The
// aggregates are computed over all matching runs, in SQL. Groups come in the order of
// their values: as numbers when every value is one, else as strings; the group without
// the param last.
func (s *Service) GroupRuns(ctx context.Context, gq RunGroupsQuery) (*RunGroups, error) {
	if err := validateKey("param", gq.Param); err != nil {
		return nil, err
	}
	if len(gq.Metrics) > MaxGroupMetrics {
		return nil, fault.Invalidf("metrics names %d metrics; at most %d", len(gq.Metrics), MaxGroupMetrics)
	}
	exp, err := s.experimentNumber(ctx, gq.ExperimentID)
	if err != nil {
		return nil, err
	}
	filter, err := search.ParseFilter(gq.Filter, search.Runs)
	if err != nil {
		return nil, err
	}
	var q sqlsearch.Query
	q.Cond("r.experiment_id = ?", exp)
	q.Cond("r.lifecycle_stage = ?", StageActive)
	for _, c := range filter {
		runCondition(&q, c)
	}
	out := &RunGroups{Param: gq.Param, Groups: []RunGroup{}}
	text, args := groupStatement(q, gq.Param, gq.Metrics)
	err = store.ScanEach(ctx, s.reader(), text, append(args, MaxRunGroups+1), func(rows *sql.Rows) error {
		g, err := scanGroup(rows, gq.Metrics)
		out.Runs += g.Runs
		out.Groups = append(out.Groups, g)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(out.Groups) > MaxRunGroups {
		out.Groups, out.Truncated = out.Groups[:MaxRunGroups], true
		count := `SELECT COUNT(*) FROM runs r WHERE ` + strings.Join(q.Where, " AND ")
		if err := s.reader().QueryRowContext(ctx, count, q.Args...).Scan(&out.Runs); err != nil {
			return nil, store.Classify(ctx, err)
		}
	}
	sortGroups(out.Groups)
	return out, nil
}

// groupStatement is one pass over the matching runs: each run's value of the param
// (NULL without it) and its latest value of each metric, joined by key, aggregated per
// value. Its last argument, the LIMIT, is the caller's.
func groupStatement(q sqlsearch.Query, param string, metrics []string) (string, []any) {
	var sel, joins strings.Builder
	var joinArgs []any
	for j, k := range metrics {
		m := fmt.Sprintf("m%d", j)
		number := fmt.Sprintf("CASE WHEN %s.is_nan = 0 THEN %s.value END", m, m)
		fmt.Fprintf(&sel, ", AVG(%s), MIN(%s), MAX(%s), COUNT(%s)", number, number, number, number)
		fmt.Fprintf(&joins, " LEFT JOIN latest_metrics %s ON %s.run_uuid = r.run_uuid AND %s.key = ?", m, m, m)
		joinArgs = append(joinArgs, k)
	}
	text := `SELECT p.value, COUNT(*)` + sel.String() + ` FROM runs r
		LEFT JOIN params p ON p.run_uuid = r.run_uuid AND p.key = ?` + joins.String() + `
		WHERE ` + strings.Join(q.Where, " AND ") + `
		GROUP BY p.value ORDER BY p.value IS NULL, p.value LIMIT ?`
	return text, append(append([]any{param}, joinArgs...), q.Args...)
}

// scanGroup reads a row of groupStatement.
func scanGroup(rows *sql.Rows, metrics []string) (RunGroup, error) {
	var v sql.NullString
	g := RunGroup{Metrics: make([]MetricAggregate, len(metrics))}
	nums := make([]sql.NullFloat64, 3*len(metrics))
	dest := []any{&v, &g.Runs}
	for j := range metrics {
		dest = append(dest, &nums[3*j], &nums[3*j+1], &nums[3*j+2], &g.Metrics[j].Runs)
	}
	if err := rows.Scan(dest...); err != nil {
		return g, err
	}
	if v.Valid {
		g.Value = &v.String
	}
	for j, k := range metrics {
		a := &g.Metrics[j]
		a.Key = k
		if mean := nums[3*j]; mean.Valid {
			a.Mean, a.Min, a.Max = floatOf(mean.Float64), floatOf(nums[3*j+1].Float64), floatOf(nums[3*j+2].Float64)
		}
	}
	return g, nil
}

func floatOf(f float64) *protojson.Float {
	v := protojson.Float(f)
	return &v
}

// sortGroups orders groups by value, as numbers when every value is one (a learning
// rate's 0.001 before 0.01 before 0.1), the group without a value last.
func sortGroups(groups []RunGroup) {
	numeric := true
	nums := map[string]float64{}
	for _, g := range groups {
		if g.Value == nil {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(*g.Value), 64)
		if err != nil {
			numeric = false
			break
		}
		nums[*g.Value] = f
	}
	slices.SortStableFunc(groups, func(a, b RunGroup) int {
		switch {
		case a.Value == nil || b.Value == nil:
			return cmp.Compare(boolInt(a.Value == nil), boolInt(b.Value == nil))
		case numeric:
			return cmp.Or(cmp.Compare(nums[*a.Value], nums[*b.Value]), strings.Compare(*a.Value, *b.Value))
		}
		return strings.Compare(*a.Value, *b.Value)
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
