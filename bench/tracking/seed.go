package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// seedResult describes how the search experiment was filled. It is not a result of
// the benchmark: seeding is done with a different request mix and no warm-up.
type seedResult struct {
	Runs       int     `json:"runs"`
	Seconds    float64 `json:"seconds"`
	RunsPerSec float64 `json:"runs_per_sec"`
	Retries    int64   `json:"retries"`
}

// seed fills a fresh experiment with cfg.searchRuns runs, each created and then given one
// k6 batch (10 metrics, 3 params, 5 tags), and checks that search_runs sees them.
func (tb *targetBench) seed(ctx context.Context) (seedResult, error) {
	exp, err := tb.newExperiment(ctx, "bench-search-runs")
	if err != nil {
		return seedResult{}, err
	}
	tb.searchExp = exp
	tb.log.Printf("%s: seeding %d runs with %d clients (not measured)", tb.name, tb.cfg.searchRuns, tb.cfg.seedClients)
	var done, retries atomic.Int64
	stopProgress := tb.reportProgress(&done)
	start := time.Now()
	err = parallel(ctx, tb.cfg.searchRuns, tb.cfg.seedClients, func(ctx context.Context, _ int) error {
		err := tb.seedRun(ctx, exp, &retries)
		done.Add(1)
		return err
	})
	stopProgress()
	if err != nil {
		return seedResult{}, err
	}
	elapsed := time.Since(start).Seconds()
	res := seedResult{Runs: tb.cfg.searchRuns, Seconds: elapsed, RunsPerSec: float64(tb.cfg.searchRuns) / elapsed, Retries: retries.Load()}
	tb.log.Printf("%s: seeded %d runs in %.1fs (%.0f runs/s, %d requests retried)", tb.name, res.Runs, res.Seconds, res.RunsPerSec, res.Retries)
	return res, tb.checkSeeded(ctx)
}

func (tb *targetBench) seedRun(ctx context.Context, exp string, retries *atomic.Int64) error {
	var run string
	err := retry(ctx, retries, func() (err error) {
		run, err = tb.api.createRun(ctx, exp)
		return err
	})
	if err != nil {
		return fmt.Errorf("runs/create: %w", err)
	}
	// Safe to repeat: re-logging identical params, tags and metrics changes nothing.
	if err := retry(ctx, retries, func() error { return tb.api.logBatch(ctx, run, "") }); err != nil {
		return fmt.Errorf("runs/log-batch: %w", err)
	}
	return nil
}

// checkSeeded fails unless a search returns a full page of 1000 runs (or all of them).
func (tb *targetBench) checkSeeded(ctx context.Context) error {
	var n int
	err := retry(ctx, new(atomic.Int64), func() (err error) {
		n, err = tb.api.countSearchRuns(ctx, tb.searchExp)
		return err
	})
	if err != nil {
		return fmt.Errorf("runs/search: %w", err)
	}
	if want := min(tb.cfg.searchRuns, 1000); n != want {
		return fmt.Errorf("runs/search returned %d runs, want %d", n, want)
	}
	return nil
}

func (tb *targetBench) reportProgress(done *atomic.Int64) (stop func()) {
	t := time.NewTicker(15 * time.Second)
	quit := make(chan struct{})
	go func() {
		for {
			select {
			case <-t.C:
				tb.log.Printf("%s: seeded %d/%d runs", tb.name, done.Load(), tb.cfg.searchRuns)
			case <-quit:
				return
			}
		}
	}()
	return func() { t.Stop(); close(quit) }
}

// parallel calls fn for 0..n-1 from the given number of goroutines and returns the
// first error, after which the remaining calls are skipped.
func parallel(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n && ctx.Err() == nil; i = int(next.Add(1)) - 1 {
				if err := fn(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// retryBackoff is the wait before the first retry; it doubles for each one after.
var retryBackoff = 250 * time.Millisecond

// retry tries fn up to 5 times and counts the retries. Every error is retried, not just
// 5xx: under load MLflow answers some overload conditions with 400, e.g. "QueuePool
// limit of size 5 overflow 10 reached, connection timed out".
func retry(ctx context.Context, retries *atomic.Int64, fn func() error) error {
	var err error
	for attempt := range 5 {
		if attempt > 0 {
			retries.Add(1)
			select {
			case <-ctx.Done():
				return err
			case <-time.After(retryBackoff << (attempt - 1)):
			}
		}
		if err = fn(); err == nil {
			return nil
		}
	}
	return err
}
