// Command seedruns fills a stopped server's data directory with an experiment of many runs,
// each with 20 metrics and 3 params, through the tracking service the server itself uses
// (the same validation and writes as runs/create and runs/log-batch, without HTTP), so that
// the UI's tests and bench/ui can open a runs page of 100,000 runs without minutes of
// seeding. Run i is the same here as in bench/ui/bench_ui.py's run_data(i).
//
//	go run ./tests/seedruns --data-dir DIR --runs 100000
//
// It prints the experiment's id. The server must not be running on DIR.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/mlship/mlship/internal/protojson"
	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/tracking"
)

// t0 is the first run's start time (ms); run i starts i seconds later.
const t0 = 1_700_000_000_000

func main() {
	dataDir := flag.String("data-dir", "", "the server's --data-dir (required; the server must be stopped)")
	runs := flag.Int("runs", 100_000, "runs to create")
	metrics := flag.Int("metrics", 20, "metrics per run")
	name := flag.String("experiment", "bench-ui", "the experiment's name")
	workers := flag.Int("workers", 16, "concurrent writers (their writes share group commits)")
	flag.Parse()
	if *dataDir == "" || *runs < 1 || *metrics < 0 || *workers < 1 {
		flag.Usage()
		os.Exit(2)
	}
	id, err := seed(context.Background(), *dataDir, *name, *runs, *metrics, *workers)
	if err != nil {
		fmt.Fprintln(os.Stderr, "seedruns:", err)
		os.Exit(1)
	}
	fmt.Println(id)
}

func seed(ctx context.Context, dataDir, name string, runs, metrics, workers int) (string, error) {
	db, err := store.Open(ctx, "sqlite://"+filepath.Join(dataDir, "mlship.db"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return "", err
	}
	defer db.Close()
	tr := tracking.New(db, tracking.Options{TruncateLongValues: true})
	if err := tr.Init(ctx); err != nil {
		return "", err
	}
	exp, err := tr.CreateExperiment(ctx, name, "", nil)
	if err != nil {
		return "", err
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= runs {
					return
				}
				if err := seedRun(ctx, tr, exp, i, metrics); err != nil {
					errs <- fmt.Errorf("run %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return "", err
	}
	return exp, nil
}

func seedRun(ctx context.Context, tr *tracking.Service, exp string, i, metrics int) error {
	start := int64(t0 + i*1000)
	run, err := tr.CreateRun(ctx, tracking.CreateRunInput{ExperimentID: exp, UserID: "bench",
		RunName: fmt.Sprintf("run-%06d", i), StartTime: &start})
	if err != nil {
		return err
	}
	var b tracking.Batch
	for k := range metrics {
		v := float64((i*7919+k*104729)%100_000) / 100_000
		b.Metrics = append(b.Metrics, tracking.Metric{Key: fmt.Sprintf("m_%02d", k), Value: protojson.Float(v), Timestamp: start})
	}
	b.Params = []tracking.Param{
		{Key: "lr", Value: []string{"0.1", "0.03", "0.01", "0.003"}[i%4]},
		{Key: "batch_size", Value: strconv.Itoa(32 << (i % 3))},
		{Key: "model", Value: []string{"linear", "tree", "mlp"}[i%3]},
	}
	return tr.LogBatch(ctx, run.Info.RunID, b)
}
