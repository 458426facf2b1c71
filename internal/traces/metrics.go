package traces

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/search"
	"github.com/mlship/mlship/internal/search/sqlsearch"
	"github.com/mlship/mlship/internal/store"
)

// MetricsQuery is a traces/metrics request (MLflow's QueryTraceMetrics): a metric of a
// view (TRACES, SPANS or ASSESSMENTS) aggregated over the traces of some experiments,
// grouped by dimensions and, with TimeIntervalSeconds, by time bucket.
type MetricsQuery struct {
	ExperimentIDs       []string
	View                string
	Metric              string
	Aggregations        []Aggregation
	Dimensions          []string
	Filters             []string
	TimeIntervalSeconds int64
	StartTimeMs         *int64
	EndTimeMs           *int64
	MaxResults          int
}

// Aggregation is one of COUNT, SUM, AVG, MIN, MAX and PERCENTILE (with Percentile, 0 to 100).
type Aggregation struct {
	Type       string
	Percentile float64
}

// Label is the aggregation's key in a data point's values, as MLflow names it: "AVG",
// "P50.0".
func (a Aggregation) Label() string {
	if a.Type == "PERCENTILE" {
		return "P" + pyFloat(a.Percentile)
	}
	return a.Type
}

// pyFloat formats a float as Python's str does for the usual values: 50.0, 99.9.
func pyFloat(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// DataPoint is one group's aggregated values.
type DataPoint struct {
	Metric     string
	Dimensions map[string]string
	Values     map[string]float64
}

// Limits of a metrics query.
const (
	DefaultMetricsResults = 1000
	MaxMetricsResults     = 10000
	// maxTimeBuckets bounds the buckets a time range is cut into.
	maxTimeBuckets = 100_000
)

// metricSpec says how MLflow's store computes one metric: its value (nil: a count),
// the aggregations and dimensions it allows.
type metricSpec struct {
	aggs []string
	dims []string
}

var (
	countOnly   = []string{"COUNT"}
	statistics  = []string{"AVG", "MIN", "MAX", "PERCENTILE"}
	metricSpecs = map[string]map[string]metricSpec{
		"TRACES": {
			"trace_count": {countOnly, []string{"trace_name", "trace_status"}},
			"latency":     {statistics, []string{"trace_name"}},
		},
		"SPANS": {
			"span_count": {countOnly, []string{"span_name", "span_type", "span_status"}},
			"latency":    {statistics, []string{"span_name", "span_status"}},
		},
		"ASSESSMENTS": {
			"assessment_count": {countOnly, []string{"assessment_name", "assessment_value"}},
			"assessment_value": {statistics, []string{"assessment_name"}},
		},
	}
)

// The time bucket dimension, when the query asks for TimeIntervalSeconds.
const timeBucket = "time_bucket"

// errPageFull stops reading rows once a page of groups is complete.
var errPageFull = errors.New("page full")

// QueryMetrics answers a metrics query. Groups come ordered by time bucket, then by
// their dimensions, at most MaxResults of them. Token usage, costs, sessions and span
// models are not kept here: asking for them is a client error.
func (s *Service) QueryMetrics(ctx context.Context, mq MetricsQuery) ([]DataPoint, error) {
	if err := checkMetricsQuery(mq); err != nil {
		return nil, err
	}
	limit := mq.MaxResults
	if limit <= 0 {
		limit = DefaultMetricsResults
	}
	limit = min(limit, MaxMetricsResults)
	d := filterSQL(s.db.Dialect().Name())
	v := d.metricsView(mq.View, mq.Metric)
	var q sqlsearch.Query
	if err := experimentScope(&q, mq.ExperimentIDs); err != nil {
		return nil, err
	}
	for _, f := range mq.Filters {
		cond, args, err := v.filter(f)
		if err != nil {
			return nil, err
		}
		q.Add(cond, args)
	}
	if mq.StartTimeMs != nil {
		q.Cond(v.rangeTime+" >= ?", *mq.StartTimeMs)
	}
	if mq.EndTimeMs != nil {
		q.Cond(v.rangeTime+" <= ?", *mq.EndTimeMs)
	}
	q.Cond(v.value + " IS NOT NULL")
	var dims, names []string
	if mq.TimeIntervalSeconds > 0 {
		ms := mq.TimeIntervalSeconds * 1000
		dims, names = append(dims, fmt.Sprintf("((%s / %d) * %d)", v.bucketTime, ms, ms)), append(names, timeBucket)
	}
	for _, name := range mq.Dimensions {
		expr := v.dims[name]
		q.Cond(expr + " IS NOT NULL")
		dims, names = append(dims, expr), append(names, name)
	}
	cols := append(slices.Clone(dims), v.value)
	q.Order = slices.Clone(dims)
	// Every row of the groups is read (a percentile needs them all), a group at a time in
	// order; the page is cut after limit groups.
	text, args := q.Build("SELECT "+strings.Join(cols, ", ")+" FROM "+v.from, math.MaxInt32, 0)
	var out []DataPoint
	var cur []any
	var values []float64
	flush := func() {
		if cur == nil {
			return
		}
		if p, ok := aggregate(mq, names, cur, values); ok {
			out = append(out, p)
		}
	}
	err := store.ScanEach(ctx, s.db.Reader(), text, args, func(rows *sql.Rows) error {
		if len(out) >= limit {
			return errPageFull
		}
		row := make([]any, len(dims))
		var val sql.NullFloat64
		ptrs := make([]any, 0, len(dims)+1)
		for i := range row {
			ptrs = append(ptrs, &row[i])
		}
		if err := rows.Scan(append(ptrs, &val)...); err != nil {
			return err
		}
		if cur == nil || !sameGroup(cur, row) {
			flush()
			cur, values = row, values[:0]
		}
		values = append(values, val.Float64)
		return nil
	})
	if err != nil && !errors.Is(err, errPageFull) {
		return nil, err
	}
	if len(out) < limit {
		flush()
	}
	if len(dims) == 0 && len(out) == 0 {
		// No rows and no groups: an aggregate over nothing, as SQL answers it.
		if p, ok := aggregate(mq, nil, nil, nil); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

func checkMetricsQuery(mq MetricsQuery) error {
	view, ok := metricSpecs[mq.View]
	if !ok {
		return fault.Invalidf("view_type must be one of ['TRACES', 'SPANS', 'ASSESSMENTS'], got '%s'", clip(mq.View))
	}
	spec, ok := view[mq.Metric]
	if !ok {
		names := make([]string, 0, len(view))
		for n := range view {
			names = append(names, n)
		}
		slices.Sort(names)
		return fault.Invalidf("metric_name must be one of %s for view type %s here, got '%s' "+
			"(token usage, costs, sessions and span models are not kept)", strings.Join(names, ", "), mq.View, clip(mq.Metric))
	}
	if len(mq.Aggregations) == 0 {
		return fault.Missing("aggregations")
	}
	for _, a := range mq.Aggregations {
		if !slices.Contains(spec.aggs, a.Type) {
			return fault.Invalidf("Found invalid aggregation_type(s): ['%s']. Supported aggregation types: %s",
				clip(a.Type), strings.Join(spec.aggs, ", "))
		}
		if a.Type == "PERCENTILE" && (a.Percentile < 0 || a.Percentile > 100 || math.IsNaN(a.Percentile)) {
			return fault.Invalidf("Percentile value must be between 0 and 100, got %v", a.Percentile)
		}
	}
	for _, d := range mq.Dimensions {
		if !slices.Contains(spec.dims, d) {
			return fault.Invalidf("Found invalid dimension(s): ['%s']. Supported dimensions: %s", clip(d), strings.Join(spec.dims, ", "))
		}
	}
	if mq.TimeIntervalSeconds < 0 {
		return fault.Invalidf("time_interval_seconds must be positive")
	}
	if mq.TimeIntervalSeconds > 0 {
		if mq.StartTimeMs == nil || mq.EndTimeMs == nil {
			return fault.Invalidf("start_time_ms and end_time_ms are required if time_interval_seconds is set")
		}
		if (*mq.EndTimeMs-*mq.StartTimeMs)/(mq.TimeIntervalSeconds*1000) > maxTimeBuckets {
			return fault.Invalidf("The time range holds more than %d buckets of %d s", maxTimeBuckets, mq.TimeIntervalSeconds)
		}
	}
	return nil
}

func sameGroup(a, b []any) bool {
	for i := range a {
		if fmt.Sprint(a[i]) != fmt.Sprint(b[i]) {
			return false
		}
	}
	return true
}

// aggregate computes a group's values; a group whose values are all undefined (an
// average of nothing) gives no data point, as in MLflow.
func aggregate(mq MetricsQuery, names []string, group []any, values []float64) (DataPoint, bool) {
	p := DataPoint{Metric: mq.Metric, Dimensions: map[string]string{}, Values: map[string]float64{}}
	for i, name := range names {
		p.Dimensions[name] = dimensionString(name, group[i])
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	for _, a := range mq.Aggregations {
		if a.Type == "COUNT" {
			p.Values[a.Label()] = float64(len(values))
			continue
		}
		if len(values) == 0 {
			continue
		}
		var v float64
		switch a.Type {
		case "SUM", "AVG":
			for _, x := range values {
				v += x
			}
			if a.Type == "AVG" {
				v /= float64(len(values))
			}
		case "MIN":
			v = sorted[0]
		case "MAX":
			v = sorted[len(sorted)-1]
		case "PERCENTILE":
			v = percentile(sorted, a.Percentile)
		}
		p.Values[a.Label()] = v
	}
	return p, len(p.Values) > 0
}

// percentile interpolates linearly between the closest ranks (numpy's default, and
// PostgreSQL's PERCENTILE_CONT, as MLflow computes it).
func percentile(sorted []float64, pct float64) float64 {
	pos := pct / 100 * float64(len(sorted)-1)
	j := int(math.Floor(pos))
	g := pos - float64(j)
	if j+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return (1-g)*sorted[j] + g*sorted[j+1]
}

func dimensionString(name string, v any) string {
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	if name != timeBucket {
		return fmt.Sprint(v)
	}
	var ms float64
	switch x := v.(type) {
	case float64:
		ms = x
	case int64:
		ms = float64(x)
	case string:
		ms, _ = strconv.ParseFloat(x, 64)
	}
	// Python's datetime.isoformat() of an aware UTC time.
	t := time.UnixMilli(int64(ms)).UTC()
	if t.Nanosecond() != 0 {
		return t.Format("2006-01-02T15:04:05.000000+00:00")
	}
	return t.Format("2006-01-02T15:04:05+00:00")
}

// metricsView is how one view's rows are read: from trace_info t, joined with
// trace_spans s or trace_assessments a.
type metricsView struct {
	d          filterSQL
	view       string
	from       string
	value      string            // the metric's value; 1 for counts
	rangeTime  string            // milliseconds compared with start_time_ms and end_time_ms
	bucketTime string            // milliseconds cut into time buckets
	dims       map[string]string // dimension -> expression
}

func (d filterSQL) metricsView(view, metric string) metricsView {
	traceName := "(SELECT x.value FROM trace_tags x WHERE x.trace_key = t.trace_key AND x.key = '" + TagTraceName + "')"
	switch view {
	case "SPANS":
		v := metricsView{d: d, view: view, from: "trace_info t JOIN trace_spans s ON s.trace_key = t.trace_key", value: "1",
			rangeTime: "t.request_time", bucketTime: "(s.start_time_unix_nano / 1000000)",
			dims: map[string]string{"span_name": "s.name", "span_type": "s.type", "span_status": "s.status"}}
		if metric == "latency" {
			v.value = "((s.end_time_unix_nano - s.start_time_unix_nano) / 1000000)"
		}
		return v
	case "ASSESSMENTS":
		j := d.assessmentJSON("feedback")
		e := d.assessmentJSON("expectation")
		v := metricsView{d: d, view: view, from: "trace_info t JOIN trace_assessments a ON a.trace_id = t.trace_id", value: "1",
			rangeTime: "t.request_time", bucketTime: "t.request_time",
			dims: map[string]string{"assessment_name": "a.name", "assessment_value": "COALESCE(" + j.text + ", " + e.text + ")"}}
		if metric == "assessment_value" {
			v.value = "COALESCE(" + d.assessmentAggregate("feedback") + ", " + d.assessmentAggregate("expectation") + ")"
		}
		return v
	}
	v := metricsView{d: d, view: "TRACES", from: "trace_info t", value: "1", rangeTime: "t.request_time", bucketTime: "t.request_time",
		dims: map[string]string{"trace_name": traceName, "trace_status": "t.state"}}
	if metric == "latency" {
		v.value = "t.execution_duration"
	}
	return v
}

// assessmentAggregate is the number MLflow aggregates for an assessment's value: a
// number itself, true and "yes" 1, false and "no" 0, anything else none.
func (d filterSQL) assessmentAggregate(kind string) string {
	if d == postgres {
		v := fmt.Sprintf("((a.body::jsonb) -> '%s' -> 'value')", kind)
		return fmt.Sprintf(`(CASE jsonb_typeof(%[1]s) WHEN 'number' THEN (%[1]s)::text::double precision
			WHEN 'boolean' THEN CASE WHEN %[1]s = 'true'::jsonb THEN 1 ELSE 0 END
			WHEN 'string' THEN CASE LOWER(TRIM(%[1]s #>> '{}')) WHEN 'yes' THEN 1 WHEN 'no' THEN 0 END END)`, v)
	}
	path := "'$." + kind + ".value'"
	return fmt.Sprintf(`(CASE json_type(a.body, %[1]s) WHEN 'integer' THEN a.body ->> %[1]s WHEN 'real' THEN a.body ->> %[1]s
		WHEN 'true' THEN 1 WHEN 'false' THEN 0
		WHEN 'text' THEN CASE LOWER(TRIM(a.body ->> %[1]s)) WHEN 'yes' THEN 1 WHEN 'no' THEN 0 END END)`, path)
}

// filter renders one metrics filter (search.MetricsFilter) for the view.
func (v metricsView) filter(s string) (string, []any, error) {
	f, err := search.ParseMetricsFilter(s)
	if err != nil {
		return "", nil, err
	}
	switch {
	case f.View == "trace" && f.Entity == "status":
		return "t.state = ?", []any{f.Value}, nil
	case f.View == "trace" && f.Entity == "tag":
		return "EXISTS (SELECT 1 FROM trace_tags x WHERE x.trace_key = t.trace_key AND x.key = ? AND x.value = ?)", []any{f.Key, f.Value}, nil
	case f.View == "trace" && f.Entity == "metadata" && f.Key == MetaSourceRun:
		return "EXISTS (SELECT 1 FROM trace_runs x WHERE x.trace_id = t.trace_id AND x.run_uuid = ?)", []any{f.Value}, nil
	case f.View == "trace":
		return "EXISTS (SELECT 1 FROM trace_metadata x WHERE x.trace_key = t.trace_key AND x.key = ? AND x.value = ?)", []any{f.Key, f.Value}, nil
	case f.View == "span" && v.view != "SPANS":
		return "", nil, fault.Invalidf("Filtering by span is only supported for SPANS view type, got %s", v.view)
	case f.View == "span":
		return "s." + f.Entity + " = ?", []any{f.Value}, nil
	case v.view != "ASSESSMENTS":
		return "", nil, fault.Invalidf("Filtering by assessment is only supported for ASSESSMENTS view type, got %s", v.view)
	case f.Entity == "name":
		return "a.name = ?", []any{f.Value}, nil
	}
	kind := v.d.assessmentJSON(f.Value)
	if f.Value != "feedback" && f.Value != "expectation" && f.Value != "issue" {
		return "1 = 0", nil, nil
	}
	return kind.isKind, nil, nil
}
