package tracking

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/mlship/mlship/internal/protojson"
	"github.com/mlship/mlship/internal/store/storetest"
)

// BenchmarkSearchRuns measures one page of 1000 runs, each with MLflow's benchmark
// payload (10 metrics, 3 params, 5 tags), out of an experiment of b.N-independent size.
func BenchmarkSearchRuns(b *testing.B) {
	ctx := context.Background()
	s := New(storetest.Open(b, "sqlite"), Options{TruncateLongValues: true})
	if err := s.Init(ctx); err != nil {
		b.Fatal(err)
	}
	exp, err := s.CreateExperiment(ctx, "bench", "", nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 3000 {
		start := int64(i)
		run, err := s.CreateRun(ctx, CreateRunInput{ExperimentID: exp, StartTime: &start})
		if err != nil {
			b.Fatal(err)
		}
		var batch Batch
		for k := range 10 {
			batch.Metrics = append(batch.Metrics, Metric{Key: fmt.Sprintf("m%d", k), Value: protojson.Float(k), Timestamp: 1})
		}
		for k := range 3 {
			batch.Params = append(batch.Params, Param{Key: fmt.Sprintf("p%d", k), Value: "v"})
		}
		for k := range 5 {
			batch.Tags = append(batch.Tags, Tag{Key: fmt.Sprintf("t%d", k), Value: "v"})
		}
		if err := s.LogBatch(ctx, run.Info.RunID, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		runs, _, err := s.SearchRuns(ctx, SearchRunsQuery{ExperimentIDs: []string{exp}, MaxResults: 1000})
		if err != nil || len(runs) != 1000 {
			b.Fatal(len(runs), err)
		}
	}
}

// BenchmarkLogBatch measures MLflow's benchmark batch (10 metrics, 3 params, 5 tags)
// from 20 concurrent writers, each on its own run.
func BenchmarkLogBatch(b *testing.B) {
	ctx := context.Background()
	s := New(storetest.Open(b, "sqlite"), Options{TruncateLongValues: true})
	if err := s.Init(ctx); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(10)
	var seq atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		run, err := s.CreateRun(ctx, CreateRunInput{ExperimentID: "0"})
		if err != nil {
			b.Error(err)
			return
		}
		for i := 0; pb.Next(); i++ {
			n := seq.Add(1)
			var batch Batch
			for k := range 10 {
				batch.Metrics = append(batch.Metrics, Metric{Key: fmt.Sprintf("m%d", k), Value: protojson.Float(k), Timestamp: n})
			}
			for k := range 3 {
				batch.Params = append(batch.Params, Param{Key: fmt.Sprintf("p%d-%d", i, k), Value: "v"})
			}
			for k := range 5 {
				batch.Tags = append(batch.Tags, Tag{Key: fmt.Sprintf("t%d", k), Value: "v"})
			}
			if err := s.LogBatch(ctx, run.Info.RunID, batch); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
