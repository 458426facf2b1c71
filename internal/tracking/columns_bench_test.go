package tracking

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/store/storetest"
)

// BenchmarkRunColumns measures what a runs table asks of an experiment of 100,000 runs,
// each with 20 metrics, 10 params and 5 tags: the keys of its columns, the ranges of its
// metrics over a page of 100 runs, and over every run.
func BenchmarkRunColumns(b *testing.B) {
	const runs, page = 100_000, 100
	ctx := context.Background()
	db := storetest.Open(b, "sqlite")
	s := New(db, Options{TruncateLongValues: true})
	if err := s.Init(ctx); err != nil {
		b.Fatal(err)
	}
	exp, err := s.CreateExperiment(ctx, "columns", "", nil)
	if err != nil {
		b.Fatal(err)
	}
	ids := seedColumnRuns(b, db, exp, runs)
	for _, bc := range []struct {
		name string
		fn   func() error
	}{
		{"keys", func() error { _, err := s.ExperimentKeys(ctx, exp, DefaultColumnKeys); return err }},
		{"summary-page", func() error { _, err := s.MetricSummary(ctx, exp, ids[5000:5000+page]); return err }},
		{"summary-all", func() error { _, err := s.MetricSummary(ctx, exp, nil); return err }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cpu := cpuTime()
			for b.Loop() {
				if err := bc.fn(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cpuTime()-cpu).Milliseconds())/float64(b.N), "cpu-ms/op")
		})
	}
}

// seedColumnRuns writes n runs straight into the tables, a thousand per transaction,
// as literal rows (the values are the benchmark's own).
func seedColumnRuns(b *testing.B, db *store.DB, exp string, n int) []string {
	var ids []string
	for start := 0; start < n; start += 1000 {
		var rs, ms, ps, ts []string
		for i := start; i < start+1000; i++ {
			id := fmt.Sprintf("%032x", i+1)
			ids = append(ids, id)
			rs = append(rs, fmt.Sprintf("('%s', %s, 'FINISHED', %d, 'x')", id, exp, i))
			for k := range 20 {
				ms = append(ms, fmt.Sprintf("('%s', 'metric_%d', %d, 0, 1, 0)", id, k, i%97+k))
			}
			for k := range 10 {
				ps = append(ps, fmt.Sprintf("('%s', 'param_%d', '%d')", id, k, i%13))
			}
			for k := range 5 {
				ts = append(ts, fmt.Sprintf("('%s', 'tag_%d', 'v')", id, k))
			}
		}
		err := db.Write(context.Background(), func(tx *store.Tx) error {
			for _, q := range []string{
				`INSERT INTO runs (run_uuid, experiment_id, status, start_time, artifact_uri) VALUES ` + strings.Join(rs, ","),
				`INSERT INTO latest_metrics (run_uuid, key, value, is_nan, timestamp, step) VALUES ` + strings.Join(ms, ","),
				`INSERT INTO params (run_uuid, key, value) VALUES ` + strings.Join(ps, ","),
				`INSERT INTO tags (run_uuid, key, value) VALUES ` + strings.Join(ts, ","),
			} {
				if _, err := tx.ExecContext(context.Background(), q); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return ids
}
