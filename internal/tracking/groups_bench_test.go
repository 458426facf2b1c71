package tracking

import (
	"context"
	"testing"

	"github.com/mlship/mlship/internal/store/storetest"
)

// BenchmarkGroupRuns measures the group headers of a runs table over an experiment of
// 100,000 runs (20 metrics, 10 params of 13 values each): grouped by a param with six
// metric columns, without and with a filter on a metric.
func BenchmarkGroupRuns(b *testing.B) {
	ctx := context.Background()
	db := storetest.Open(b, "sqlite")
	s := New(db, Options{TruncateLongValues: true})
	if err := s.Init(ctx); err != nil {
		b.Fatal(err)
	}
	exp, err := s.CreateExperiment(ctx, "groups", "", nil)
	if err != nil {
		b.Fatal(err)
	}
	seedColumnRuns(b, db, exp, 100_000)
	metrics := []string{"metric_0", "metric_1", "metric_2", "metric_3", "metric_4", "metric_5"}
	for _, bc := range []struct{ name, filter string }{
		{"all", ""},
		{"filtered", "metrics.metric_0 < 40"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cpu := cpuTime()
			for b.Loop() {
				g, err := s.GroupRuns(ctx, RunGroupsQuery{ExperimentID: exp, Param: "param_0", Filter: bc.filter, Metrics: metrics})
				if err != nil || len(g.Groups) != 13 {
					b.Fatal(err, g)
				}
			}
			b.ReportMetric(float64((cpuTime()-cpu).Milliseconds())/float64(b.N), "cpu-ms/op")
		})
	}
}
