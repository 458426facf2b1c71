package tracking_test

import (
	"math"
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/protojson"
	"github.com/mlship/mlship/internal/tracking"
)

// TestGroupRuns groups runs by a param on every engine: numeric order, the runs without
// the param last, NaN left out of the aggregates, values with quotes and a value that is
// empty kept apart from a missing one, deleted runs and other experiments left out.
func TestGroupRuns(t *testing.T) {
	conform(t, func(t *testing.T, s *tracking.Service) {
		exp := mustExperiment(t, s, "groups")
		other := mustExperiment(t, s, "other")
		for _, r := range []struct {
			exp, lr string
			auc     float64
			deleted bool
			withAUC bool
			withLR  bool
		}{
			{exp, "10", 0.5, false, true, true},
			{exp, "9", 0.7, false, true, true},
			{exp, "9", 0.9, false, true, true},
			{exp, "9", math.NaN(), false, true, true},
			{exp, "9", 100, true, true, true}, // deleted
			{exp, "it's", 0.1, false, true, true},
			{exp, "", 0.2, false, true, true},
			{exp, "", 0.3, false, true, false}, // no lr
			{exp, "10", 0, false, false, true}, // no auc
			{other, "9", 50, false, true, true},
		} {
			run := mustRun(t, s, tracking.CreateRunInput{ExperimentID: r.exp})
			var b tracking.Batch
			if r.withLR {
				b.Params = []tracking.Param{{Key: "lr", Value: r.lr}}
			}
			if r.withAUC {
				b.Metrics = []tracking.Metric{{Key: "auc", Value: protojson.Float(r.auc), Timestamp: 1}}
			}
			mustLog(t, s, run.Info.RunID, b)
			if r.deleted {
				if err := s.DeleteRun(t.Context(), run.Info.RunID); err != nil {
					t.Fatal(err)
				}
			}
		}
		g, err := s.GroupRuns(t.Context(), tracking.RunGroupsQuery{ExperimentID: exp, Param: "lr", Metrics: []string{"auc", "none"}})
		if err != nil {
			t.Fatal(err)
		}
		// Not every value is a number: string order, "" first, the missing last.
		type want struct {
			value          *string
			runs, aucRuns  int64
			mean, min, max float64
		}
		for i, w := range []want{
			{ptr(""), 1, 1, 0.2, 0.2, 0.2},
			{ptr("10"), 2, 1, 0.5, 0.5, 0.5},
			{ptr("9"), 3, 2, 0.8, 0.7, 0.9},
			{ptr("it's"), 1, 1, 0.1, 0.1, 0.1},
			{nil, 1, 1, 0.3, 0.3, 0.3},
		} {
			if i >= len(g.Groups) {
				t.Fatalf("groups = %+v", g.Groups)
			}
			got := g.Groups[i]
			a := got.Metrics[0]
			if (got.Value == nil) != (w.value == nil) || (w.value != nil && *got.Value != *w.value) || got.Runs != w.runs ||
				a.Runs != w.aucRuns || math.Abs(float64(*a.Mean)-w.mean) > 1e-12 || float64(*a.Min) != w.min || float64(*a.Max) != w.max {
				t.Errorf("group %d = %+v, auc %+v; want %+v", i, got, a, w)
			}
			if none := got.Metrics[1]; none.Key != "none" || none.Runs != 0 || none.Mean != nil {
				t.Errorf("group %d: a metric never logged = %+v", i, none)
			}
		}
		if g.Runs != 8 || len(g.Groups) != 5 || g.Truncated {
			t.Errorf("runs %d, %d groups, truncated %v", g.Runs, len(g.Groups), g.Truncated)
		}

		// A filter on the param itself; numbers in numeric order.
		g, err = s.GroupRuns(t.Context(), tracking.RunGroupsQuery{ExperimentID: exp, Param: "lr", Filter: `params.lr != '' and params.lr != "it's"`})
		if err != nil || len(g.Groups) != 2 || *g.Groups[0].Value != "9" || *g.Groups[1].Value != "10" || g.Runs != 5 {
			t.Errorf("filtered = %+v, %v", g, err)
		}
		for _, bad := range []tracking.RunGroupsQuery{
			{ExperimentID: exp, Param: "lr", Filter: "metrics.auc >"},
			{ExperimentID: exp, Param: ""},
			{ExperimentID: exp, Param: "lr", Metrics: make([]string, tracking.MaxGroupMetrics+1)},
		} {
			_, err := s.GroupRuns(t.Context(), bad)
			wantKind(t, err, fault.Invalid)
		}
	})
}
