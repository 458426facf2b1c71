package main

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/mlship/mlship/bench/internal/benchkit"
)

// step sends one request on behalf of one client and returns nil only for a 200.
type step func(ctx context.Context) error

// workloadResult is what one workload measured against one server.
type workloadResult struct {
	Name             string           `json:"name"`
	Clients          int              `json:"clients"`
	Requests         int              `json:"requests"`
	Successes        int              `json:"successes"`
	Errors           int              `json:"errors"`
	ErrorRate        float64          `json:"error_rate"`
	Seconds          float64          `json:"seconds"`
	ReqPerSec        float64          `json:"req_per_sec"`
	LatencyMs        benchkit.Latency `json:"latency_ms"`
	ErrorSamples     []string         `json:"error_samples,omitempty"`
	InlineRunCreates int              `json:"inline_run_creates,omitempty"`
	// ServerCPUSeconds is the server process's CPU time (user and system) during the
	// measured window, or all windows' together.
	ServerCPUSeconds float64 `json:"server_cpu_seconds,omitempty"`
	// DatabaseCPUSeconds is PostgreSQL's CPU time (the postmaster and its backends) in
	// the same windows, with --backend postgres on a cluster this run started.
	DatabaseCPUSeconds float64 `json:"database_cpu_seconds,omitempty"`
	// ClientCPUSeconds is this benchmark's own CPU time in the same windows: its
	// clients share the machine with the servers.
	ClientCPUSeconds float64 `json:"client_cpu_seconds,omitempty"`
	// WindowsSeconds is how long all windows lasted together, the time the CPU figures
	// were read over (a window lasts until its last request has ended).
	WindowsSeconds float64 `json:"windows_seconds,omitempty"`
	// Runs is every measured window's figures, in the order they ran; a result of
	// several is summed up by medianWindow.
	Runs []runFigures `json:"runs,omitempty"`
}

// runFigures is one measured window of a workload.
type runFigures struct {
	ReqPerSec float64 `json:"req_per_sec"`
	Requests  int     `json:"requests"`
	Errors    int     `json:"errors"`
	P99Ms     float64 `json:"p99_ms"`
}

// medianWindow sums up the windows of one workload at one client count: req/s and
// latency are those of the window with the median req/s (the lower middle one for an
// even count), requests and errors are all windows' together.
func medianWindow(runs []workloadResult, clients int) workloadResult {
	order := slices.Clone(runs)
	slices.SortStableFunc(order, func(a, b workloadResult) int { return cmp.Compare(a.ReqPerSec, b.ReqPerSec) })
	med := order[(len(order)-1)/2]
	med.Clients = clients
	med.Requests, med.Successes, med.Errors, med.InlineRunCreates, med.ErrorSamples, med.ServerCPUSeconds = 0, 0, 0, 0, nil, 0
	med.DatabaseCPUSeconds, med.ClientCPUSeconds = 0, 0
	for _, r := range runs {
		med.Runs = append(med.Runs, runFigures{ReqPerSec: r.ReqPerSec, Requests: r.Requests, Errors: r.Errors, P99Ms: r.LatencyMs.P99})
		med.Requests += r.Requests
		med.Successes += r.Successes
		med.Errors += r.Errors
		med.InlineRunCreates += r.InlineRunCreates
		med.ServerCPUSeconds += r.ServerCPUSeconds
		med.DatabaseCPUSeconds += r.DatabaseCPUSeconds
		med.ClientCPUSeconds += r.ClientCPUSeconds
		med.WindowsSeconds += r.Seconds
		for _, s := range r.ErrorSamples {
			if len(med.ErrorSamples) < maxErrorSamples && !slices.Contains(med.ErrorSamples, s) {
				med.ErrorSamples = append(med.ErrorSamples, s)
			}
		}
	}
	med.ErrorRate = 0
	if med.Requests > 0 {
		med.ErrorRate = float64(med.Errors) / float64(med.Requests)
	}
	return med
}

// tally is one client's count; each client owns its own, so no locking is needed.
type tally struct {
	successes int
	errors    int
	latencies []time.Duration
	samples   []string
}

const maxErrorSamples = 3

// measure runs one goroutine per step until d has passed. A request started before
// the deadline is waited for and counted, and the rate is taken over the time until
// the last one ended, so slow requests are neither dropped nor flattered.
func measure(ctx context.Context, steps []step, d time.Duration) workloadResult {
	start := time.Now()
	deadline := start.Add(d)
	tallies := make([]tally, len(steps))
	var wg sync.WaitGroup
	for i, s := range steps {
		wg.Go(func() { tallies[i] = drive(ctx, s, deadline) })
	}
	wg.Wait()
	return summarize(tallies, time.Since(start))
}

func drive(ctx context.Context, s step, deadline time.Time) tally {
	var t tally
	for ctx.Err() == nil && time.Now().Before(deadline) {
		begin := time.Now()
		if err := s(ctx); err != nil {
			t.errors++
			if len(t.samples) < maxErrorSamples {
				t.samples = append(t.samples, err.Error())
			}
			// A refused connection fails in microseconds; don't spin on it.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		t.successes++
		t.latencies = append(t.latencies, time.Since(begin))
	}
	return t
}

func summarize(tallies []tally, elapsed time.Duration) workloadResult {
	var r workloadResult
	var all []time.Duration
	for _, t := range tallies {
		r.Successes += t.successes
		r.Errors += t.errors
		all = append(all, t.latencies...)
		for _, s := range t.samples {
			if len(r.ErrorSamples) < maxErrorSamples && !slices.Contains(r.ErrorSamples, s) {
				r.ErrorSamples = append(r.ErrorSamples, s)
			}
		}
	}
	r.Requests = r.Successes + r.Errors
	r.Seconds = elapsed.Seconds()
	r.ReqPerSec = float64(r.Successes) / r.Seconds
	if r.Requests > 0 {
		r.ErrorRate = float64(r.Errors) / float64(r.Requests)
	}
	r.LatencyMs = benchkit.SummarizeLatency(all)
	return r
}
