package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/mlship/mlship/bench/internal/benchkit"
)

type report struct {
	benchkit.ReportHeader
	Config  map[string]any `json:"config"`
	Targets []targetResult `json:"targets"`
	// IngestRatio is mlship's median spans/s over MLflow's; SearchRatio MLflow's
	// median search latency over mlship's (both: above 1 means mlship is faster).
	IngestRatio float64 `json:"ingest_ratio,omitempty"`
	SearchRatio float64 `json:"search_ratio,omitempty"`
}

type targetResult struct {
	Name   string         `json:"name"`
	Ingest []ingestWindow `json:"ingest_windows"`
	// IngestMedian is the window with the median spans/s.
	IngestMedian ingestWindow `json:"ingest_median"`
	Seed         seedResult   `json:"seed"`
	Search       searchResult `json:"search"`
}

func reportConfig(c config) map[string]any {
	return map[string]any{"clients": c.clients, "spans_per_trace": c.spans, "traces_per_request": c.tracesPerRequest,
		"runs": c.runs, "duration": c.duration.String(), "warmup": c.warmup.String(), "search_traces": c.searchTraces,
		"seed_clients": c.seedClients, "seed_batch": c.seedBatch, "searches": c.searches}
}

// summarize picks the median ingest window (the lower middle one for an even count).
func (t *targetResult) summarize() {
	if len(t.Ingest) == 0 {
		return
	}
	order := slices.Clone(t.Ingest)
	slices.SortStableFunc(order, func(a, b ingestWindow) int { return cmp.Compare(a.SpansPerSec, b.SpansPerSec) })
	t.IngestMedian = order[(len(order)-1)/2]
}

func (r *report) target(name string) *targetResult {
	for i := range r.Targets {
		if r.Targets[i].Name == name {
			return &r.Targets[i]
		}
	}
	return nil
}

func (r *report) computeRatios() {
	mf, ms := r.target(benchkit.MLflow), r.target(benchkit.Mlship)
	if mf == nil || ms == nil {
		return
	}
	if mf.IngestMedian.SpansPerSec > 0 {
		r.IngestRatio = ms.IngestMedian.SpansPerSec / mf.IngestMedian.SpansPerSec
	}
	if ms.Search.LatencyMs.P50 > 0 {
		r.SearchRatio = mf.Search.LatencyMs.P50 / ms.Search.LatencyMs.P50
	}
}

// check fails the run when a target's ingest windows failed more than 1% of their
// requests.
func (r *report) check() error {
	var errs []error
	for _, t := range r.Targets {
		var reqs, fails int
		for _, w := range t.Ingest {
			reqs, fails = reqs+w.Requests, fails+w.Errors
		}
		if reqs > 0 && float64(fails) > 0.01*float64(reqs) {
			errs = append(errs, fmt.Errorf("%s: %d of %d ingest requests failed", t.Name, fails, reqs))
		}
	}
	return errors.Join(errs...)
}

func ratio(x float64) string {
	if x == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fx", x)
}

func (r *report) writeText(w io.Writer) {
	r.ReportHeader.WriteText(w)
	c := r.Config
	fmt.Fprintf(w, "ingest:   POST /v1/traces (OTLP protobuf), %v traces of %v spans a request, %v clients, median of %v windows of %v after %v warm-up\n",
		c["traces_per_request"], c["spans_per_trace"], c["clients"], c["runs"], c["duration"], c["warmup"])
	fmt.Fprintf(w, "search:   POST /api/3.0/mlflow/traces/search over %s traces, max_results 100, order_by timestamp_ms DESC, %v searches one at a time\n",
		benchkit.Thousands(int64(toInt(c["search_traces"]))), c["searches"])
	if len(r.Targets) > 0 {
		fmt.Fprintf(w, "          filter: %s\n", r.Targets[0].Search.Filter)
	}
	fmt.Fprintln(w)
	names := []string{}
	for _, t := range r.Targets {
		names = append(names, t.Name)
	}
	fmt.Fprintf(w, "| | %s | ratio |\n|---|%s---|\n", strings.Join(names, " | "), strings.Repeat("---|", len(names)))
	row := func(label string, f func(t targetResult) string, rat string) {
		cells := []string{}
		for _, t := range r.Targets {
			cells = append(cells, f(t))
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", label, strings.Join(cells, " | "), rat)
	}
	row("ingest spans/s (median window)", func(t targetResult) string { return fmt.Sprintf("%.0f", t.IngestMedian.SpansPerSec) }, ratio(r.IngestRatio))
	row("ingest request p50 / p95 ms", func(t targetResult) string {
		return fmt.Sprintf("%.0f / %.0f", t.IngestMedian.LatencyMs.P50, t.IngestMedian.LatencyMs.P95)
	}, "")
	row("ingest server / client CPU s per 1,000 spans", func(t targetResult) string {
		k := float64(t.IngestMedian.Spans) / 1000
		if k == 0 {
			return "-"
		}
		return fmt.Sprintf("%.3f / %.3f", t.IngestMedian.ServerCPUSeconds/k, t.IngestMedian.ClientCPUSeconds/k)
	}, "")
	row("search p50 ms", func(t targetResult) string { return fmt.Sprintf("%.1f", t.Search.LatencyMs.P50) }, ratio(r.SearchRatio))
	row("search p95 ms", func(t targetResult) string { return fmt.Sprintf("%.1f", t.Search.LatencyMs.P95) }, "")
	row("search server CPU ms per search", func(t targetResult) string {
		return fmt.Sprintf("%.1f", 1000*t.Search.ServerCPUSeconds/float64(max(t.Search.Searches, 1)))
	}, "")
	row("seeding (not a result)", func(t targetResult) string {
		return fmt.Sprintf("%.0f s, %d retries", t.Seed.Seconds, t.Seed.Retries)
	}, "")
	fmt.Fprintln(w)
	for _, t := range r.Targets {
		var ws []string
		fails := 0
		for _, x := range t.Ingest {
			ws = append(ws, fmt.Sprintf("%.0f", x.SpansPerSec))
			fails += x.Errors
		}
		fmt.Fprintf(w, "%s: ingest windows %s spans/s, %d failed requests", t.Name, strings.Join(ws, ", "), fails)
		for _, x := range t.Ingest {
			if x.ErrorSample != "" {
				fmt.Fprintf(w, " (e.g. %s)", x.ErrorSample)
				break
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "ratio: ingest is mlship's spans/s over MLflow's; search is MLflow's median latency over mlship's. CPU is the server's processes' (all of MLflow's workers).")
}

func toInt(v any) int {
	if n, ok := v.(int); ok {
		return n
	}
	return 0
}
