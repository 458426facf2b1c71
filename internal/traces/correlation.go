package traces

import (
	"context"
	"math"
	"strings"

	"github.com/mlship/mlship/internal/search"
	"github.com/mlship/mlship/internal/search/sqlsearch"
)

// Correlation says how two trace filters go together over the traces of some
// experiments (those matching a base filter, if one is given): how many traces match
// each, both, and in all, and their normalized pointwise mutual information, as
// MLflow's calculate-filter-correlation computes it.
type Correlation struct {
	Total, Filter1, Filter2, Joint int64
	// NPMI is from -1 (never together) to 1 (always together); NaN when undefined (a
	// filter matches nothing). NPMISmoothed is NPMI with Jeffreys' prior (0.5 added to
	// each cell), steadier over few traces.
	NPMI, NPMISmoothed float64
}

// FilterCorrelation counts the traces of the experiments that match filter1, filter2
// and both, among those that match base (all, when base is empty), in one statement.
func (s *Service) FilterCorrelation(ctx context.Context, experimentIDs []string, filter1, filter2, base string) (*Correlation, error) {
	d := filterSQL(s.db.Dialect().Name())
	cond := func(filter string) (string, []any, error) {
		comparisons, err := search.ParseFilter(filter, search.Traces)
		if err != nil {
			return "", nil, err
		}
		var q sqlsearch.Query
		if err := d.add(&q, comparisons); err != nil {
			return "", nil, err
		}
		if len(q.Where) == 0 {
			return "1 = 1", nil, nil
		}
		return "(" + strings.Join(q.Where, " AND ") + ")", q.Args, nil
	}
	c1, args1, err := cond(filter1)
	if err != nil {
		return nil, err
	}
	c2, args2, err := cond(filter2)
	if err != nil {
		return nil, err
	}
	cb, argsBase, err := cond(base)
	if err != nil {
		return nil, err
	}
	var scope sqlsearch.Query
	if err := experimentScope(&scope, experimentIDs); err != nil {
		return nil, err
	}
	text := `SELECT COUNT(*),
		COALESCE(SUM(CASE WHEN ` + c1 + ` THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN ` + c2 + ` THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN ` + c1 + ` AND ` + c2 + ` THEN 1 ELSE 0 END), 0)
		FROM trace_info t WHERE ` + strings.Join(scope.Where, " AND ") + ` AND ` + cb
	var args []any
	for _, a := range [][]any{args1, args2, args1, args2, scope.Args, argsBase} {
		args = append(args, a...)
	}
	var c Correlation
	err = s.db.Reader().QueryRowContext(ctx, text, args...).Scan(&c.Total, &c.Filter1, &c.Filter2, &c.Joint)
	if err != nil {
		return nil, invalidRegexp(err)
	}
	c.NPMI, c.NPMISmoothed = npmi(c.Joint, c.Filter1, c.Filter2, c.Total)
	return &c, nil
}

// npmi is MLflow's calculate_npmi_from_counts (mlflow/store/analytics/trace_correlation.py):
// the unsmoothed and smoothed NPMI of a 2x2 table of counts.
func npmi(joint, n1, n2, total int64) (float64, float64) {
	nan := math.NaN()
	if total <= 0 || n1 == 0 || n2 == 0 {
		return nan, nan
	}
	n11, n10, n01 := float64(joint), float64(n1-joint), float64(n2-joint)
	n00 := float64(total - n1 - n2 + joint)
	if min(n11, n10, n01, n00) < 0 {
		return nan, nan
	}
	raw := -1.0
	if joint != 0 {
		raw = npmiCore(n11, n10, n01, n00, 0)
	}
	return raw, npmiCore(n11, n10, n01, n00, 0.5)
}

func npmiCore(n11, n10, n01, n00, smoothing float64) float64 {
	s11, s10, s01, s00 := n11+smoothing, n10+smoothing, n01+smoothing, n00+smoothing
	n := s11 + s10 + s01 + s00
	p1, p2 := s11+s10, s11+s01
	if p1 <= 0 || p2 <= 0 || s11 <= 0 {
		return math.NaN()
	}
	if n10 == 0 && n01 == 0 && n00 == 0 {
		return 1
	}
	pmi := (math.Log(s11) + math.Log(n)) - (math.Log(p1) + math.Log(p2))
	v := pmi / -(math.Log(s11) - math.Log(n))
	return max(-1, min(1, v))
}
