package tracking

import (
	"context"
	"math"
	"syscall"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/protojson"
	"github.com/mlship/mlship/internal/store/storetest"
)

// cpuTime is the CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMetricHistory measures a chart's read of a 1,000,000-point history cut down
// to 1000 buckets, along steps and along time.
func BenchmarkMetricHistory(b *testing.B) {
	const points = 1_000_000
	ctx := context.Background()
	s := New(storetest.Open(b, "sqlite"), Options{TruncateLongValues: true})
	if err := s.Init(ctx); err != nil {
		b.Fatal(err)
	}
	run, err := s.CreateRun(ctx, CreateRunInput{ExperimentID: "0"})
	if err != nil {
		b.Fatal(err)
	}
	for start := 0; start < points; start += MaxBatchMetrics {
		var batch Batch
		for i := start; i < start+MaxBatchMetrics; i++ {
			batch.Metrics = append(batch.Metrics, Metric{Key: "loss", Value: protojson.Float(math.Sin(float64(i))),
				Timestamp: 1_700_000_000_000 + int64(i)*10, Step: int64(i)})
		}
		if err := s.LogBatch(ctx, run.Info.RunID, batch); err != nil {
			b.Fatal(err)
		}
	}
	for _, x := range []string{AxisStep, AxisTime} {
		b.Run(x, func(b *testing.B) {
			cpu := cpuTime()
			for b.Loop() {
				h, err := s.MetricHistory(ctx, HistoryQuery{RunID: run.Info.RunID, Key: "loss", X: x, Points: 1000})
				if err != nil || h.TotalPoints != points || len(h.Buckets) != 1000 {
					b.Fatal(h.TotalPoints, len(h.Buckets), err)
				}
			}
			// The machine may be shared: the CPU a read costs is the steadier figure.
			b.ReportMetric(float64((cpuTime()-cpu).Milliseconds())/float64(b.N), "cpu-ms/op")
		})
	}
}
