package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/mlship/mlship/bench/internal/benchkit"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// report is the whole output of a run; -o json prints it as is.
type report struct {
	Machine  benchkit.Machine `json:"machine"`
	Settings settings         `json:"settings"`
	Targets  []targetResult   `json:"targets"`
	// Ratios are keyed "workload/clients": "log_batch/8".
	Ratios map[string]float64 `json:"ratio_mlship_over_mlflow,omitempty"`
	// AuthRatios (--mlship-auth) are mlship's with --auth over without, by the same keys.
	AuthRatios map[string]float64 `json:"ratio_mlship_auth_over_mlship,omitempty"`
	// ReplicaRatios (--replicas N) are mlship's on N servers over mlship's on one.
	ReplicaRatios map[string]float64 `json:"ratio_mlship_replicas_over_mlship,omitempty"`
}

type settings struct {
	Clients       []int    `json:"clients"`
	Runs          int      `json:"runs"`
	SeedClients   int      `json:"seed_clients"`
	DurationS     float64  `json:"duration_s"`
	WarmupS       float64  `json:"warmup_s"`
	SearchRuns    int      `json:"search_runs_seeded"`
	BatchesPerRun int      `json:"log_batch_requests_per_run"`
	Workloads     []string `json:"workloads"`
	Started       string   `json:"started"`
	Backend       string   `json:"backend"`
	Replicas      int      `json:"replicas,omitempty"`
}

func newReport(ctx context.Context, cfg config) *report {
	m := benchkit.NewMachine(ctx, cfg.server(), cfg.targets)
	return &report{Machine: m, Settings: settings{
		Clients:       cfg.clientCounts,
		Runs:          cfg.repeats,
		SeedClients:   cfg.seedClients,
		DurationS:     cfg.duration.Seconds(),
		WarmupS:       cfg.warmup.Seconds(),
		SearchRuns:    cfg.searchRuns,
		BatchesPerRun: cfg.batchesPerRun,
		Workloads:     cfg.workloads,
		Started:       time.Now().UTC().Format(time.RFC3339),
		Backend:       cfg.backend,
		Replicas:      cfg.replicas,
	}}
}

func (r *report) computeRatios() {
	r.Ratios = ratios(r.target(targetMLflow), r.target(targetMlship))
	r.AuthRatios = ratios(r.target(targetMlship), r.target(targetMlshipAuth))
	if r.Settings.Replicas > 1 {
		r.ReplicaRatios = ratios(r.target(targetMlship), r.target(replicaTarget(r.Settings.Replicas)))
	}
}

// ratios are other's req/s over base's, by workload and client count; nil without both.
func ratios(base, other *targetResult) map[string]float64 {
	if base == nil || other == nil {
		return nil
	}
	out := map[string]float64{}
	for _, w := range other.Workloads {
		if b := base.workload(w.Name, w.Clients); b != nil && b.ReqPerSec > 0 {
			out[ratioKey(w.Name, w.Clients)] = w.ReqPerSec / b.ReqPerSec
		}
	}
	return out
}

func ratioKey(workload string, clients int) string { return workload + "/" + strconv.Itoa(clients) }

func (r *report) target(name string) *targetResult {
	for i := range r.Targets {
		if r.Targets[i].Name == name {
			return &r.Targets[i]
		}
	}
	return nil
}

func (t *targetResult) workload(name string, clients int) *workloadResult {
	if t == nil {
		return nil
	}
	for i := range t.Workloads {
		if t.Workloads[i].Name == name && t.Workloads[i].Clients == clients {
			return &t.Workloads[i]
		}
	}
	return nil
}

func (r *report) write(w io.Writer, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return r.writeTable(w)
}

func (r *report) writeTable(w io.Writer) error {
	s := r.Settings
	fmt.Fprintf(w, "\nmachine:  %s\n", r.Machine.Summary())
	fmt.Fprintf(w, "load:     %s at start, %s at end (1/5/15 min; above %d CPUs means other work competed)\n",
		r.Machine.LoadAvgStart, r.Machine.LoadAvgEnd, r.Machine.CPUs)
	if s.Backend == backendPostgres {
		fmt.Fprintf(w, "backend:  PostgreSQL, one database for each server (mlship's replicas share one)\n")
	}
	fmt.Fprintf(w, "settings: %d runs of %gs after %gs warm-up for each workload at each client count; search over %d seeded runs\n",
		s.Runs, s.DurationS, s.WarmupS, s.SearchRuns)
	fmt.Fprintf(w, "          req/s is the median run's; failed counts the non-200 answers of all runs\n\n")
	mlflow, mlship := r.target(targetMLflow), r.target(targetMlship)
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "workload\tclients\tMLflow req/s\tMLflow failed\tmlship req/s\tmlship failed\tratio (mlship/MLflow)\t")
	for _, name := range s.Workloads {
		for _, c := range s.Clients {
			ratio := "-"
			if v, ok := r.Ratios[ratioKey(name, c)]; ok {
				ratio = fmt.Sprintf("%.1fx", v)
			}
			m, o := mlflow.workload(name, c), mlship.workload(name, c)
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t\n", name, c, rate(m), failed(m), rate(o), failed(o), ratio)
		}
	}
	fmt.Fprintln(tw, "\t\t\t\t\t\t\t")
	fmt.Fprintln(tw, "latency ms (p50 / p95 / p99)\tclients\tMLflow\t\tmlship\t\t\t")
	for _, name := range s.Workloads {
		for _, c := range s.Clients {
			fmt.Fprintf(tw, "%s\t%d\t%s\t\t%s\t\t\t\n", name, c, latency(mlflow.workload(name, c)), latency(mlship.workload(name, c)))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := r.writeAuthTable(w); err != nil {
		return err
	}
	if err := r.writeReplicaTable(w); err != nil {
		return err
	}
	r.writeNotes(w)
	return nil
}

// writeAuthTable prints mlship with --auth beside mlship without (--mlship-auth).
func (r *report) writeAuthTable(w io.Writer) error {
	off, on := r.target(targetMlship), r.target(targetMlshipAuth)
	if off == nil || on == nil {
		return nil
	}
	fmt.Fprintf(w, "\nmlship with --auth (a user's token on every request) against without:\n\n")
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "workload\tclients\tauth off req/s\tauth on req/s\tauth on failed\tratio (on/off)\tall windows' successes, on/off\tserver CPU ms per success, off / on\tp50 ms off / on\tp99 ms off / on\t")
	for _, name := range r.Settings.Workloads {
		for _, c := range r.Settings.Clients {
			ratio := "-"
			if v, ok := r.AuthRatios[ratioKey(name, c)]; ok {
				ratio = fmt.Sprintf("%.3f", v)
			}
			a, b := off.workload(name, c), on.workload(name, c)
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, c, rate(a), rate(b), failed(b), ratio, successRatio(a, b), cpuPair(a, b),
				pair(a, b, func(l benchkit.Latency) float64 { return l.P50 }), pair(a, b, func(l benchkit.Latency) float64 { return l.P99 }))
		}
	}
	return tw.Flush()
}

// writeReplicaTable prints mlship on --replicas servers beside mlship on one, with the
// CPU both used: on a machine without the cores for the replicas, the figure is bounded
// by the CPU that the servers, PostgreSQL and the clients share.
func (r *report) writeReplicaTable(w io.Writer) error {
	n := r.Settings.Replicas
	one, many := r.target(targetMlship), r.target(replicaTarget(n))
	if one == nil || many == nil {
		return nil
	}
	fmt.Fprintf(w, "\nmlship on %d replicas (one database, requests round-robin) against one server:\n\n", n)
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintf(tw, "workload\tclients\t1 replica req/s\t%d replicas req/s\t%d replicas failed\tratio (%d/1)\tCPU per success ms, 1: server + PostgreSQL\t%d: server + PostgreSQL\tcores busy, 1 / %d (servers + PostgreSQL + clients, of %d)\t\n",
		n, n, n, n, n, r.Machine.CPUs)
	for _, name := range r.Settings.Workloads {
		for _, c := range r.Settings.Clients {
			ratio := "-"
			if v, ok := r.ReplicaRatios[ratioKey(name, c)]; ok {
				ratio = fmt.Sprintf("%.2fx", v)
			}
			a, b := one.workload(name, c), many.workload(name, c)
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s / %s\t\n", name, c, rate(a), rate(b), failed(b), ratio,
				cpuPerSuccess(a), cpuPerSuccess(b), coresBusy(a), coresBusy(b))
		}
	}
	return tw.Flush()
}

// cpuPerSuccess is the server's and PostgreSQL's CPU time per successful request over
// all windows: "1.20 + 0.80".
func cpuPerSuccess(w *workloadResult) string {
	if w == nil || w.Successes == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f + %.2f", 1000*w.ServerCPUSeconds/float64(w.Successes), 1000*w.DatabaseCPUSeconds/float64(w.Successes))
}

// coresBusy is how many cores the server, PostgreSQL and the benchmark's clients kept
// busy on average over the measured windows: "1.10 + 0.60 + 0.25".
func coresBusy(w *workloadResult) string {
	if w == nil || w.WindowsSeconds <= 0 {
		return "-"
	}
	t := w.WindowsSeconds
	return fmt.Sprintf("%.2f + %.2f + %.2f", w.ServerCPUSeconds/t, w.DatabaseCPUSeconds/t, w.ClientCPUSeconds/t)
}

// successRatio compares two targets by the successes of all their windows, which lasted
// as long: "0.987 (38751 / 39279)". Unlike the medians' ratio, every window counts.
func successRatio(off, on *workloadResult) string {
	if off == nil || on == nil || off.Successes == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f (%d / %d)", float64(on.Successes)/float64(off.Successes), on.Successes, off.Successes)
}

// cpuPair prints the server's CPU time per successful request over all windows of two
// targets, and its ratio: "7.10 / 7.25 (1.021)".
func cpuPair(off, on *workloadResult) string {
	if off == nil || on == nil || off.Successes == 0 || on.Successes == 0 || off.ServerCPUSeconds == 0 {
		return "-"
	}
	a, b := 1000*off.ServerCPUSeconds/float64(off.Successes), 1000*on.ServerCPUSeconds/float64(on.Successes)
	return fmt.Sprintf("%.2f / %.2f (%.3f)", a, b, b/a)
}

// pair prints one latency figure of two windows: "1.2 / 1.3".
func pair(a, b *workloadResult, f func(benchkit.Latency) float64) string {
	if a == nil || b == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f / %.1f", f(a.LatencyMs), f(b.LatencyMs))
}

func (r *report) writeNotes(w io.Writer) {
	fmt.Fprintln(w)
	for _, t := range r.Targets {
		if t.Seed != nil {
			fmt.Fprintf(w, "%s: seeded %d runs in %.1fs (%.0f runs/s, %d requests retried; not a result)\n",
				t.Name, t.Seed.Runs, t.Seed.Seconds, t.Seed.RunsPerSec, t.Seed.Retries)
		}
		for _, wl := range t.Workloads {
			fmt.Fprintf(w, "%s %s, %d clients: %d requests, %d ok, %d errors (%.2f%%) in %d runs; req/s of each run: %s",
				t.Name, wl.Name, wl.Clients, wl.Requests, wl.Successes, wl.Errors, 100*wl.ErrorRate, len(wl.Runs), runRates(wl.Runs))
			if wl.DatabaseCPUSeconds > 0 || (r.Settings.Backend == backendPostgres && wl.ServerCPUSeconds > 0) {
				fmt.Fprintf(w, "; CPU per success ms: server + PostgreSQL %s; cores busy: server + PostgreSQL + clients %s", cpuPerSuccess(&wl), coresBusy(&wl))
			}
			if wl.InlineRunCreates > 0 {
				fmt.Fprintf(w, ", %d runs created inside the window", wl.InlineRunCreates)
			}
			fmt.Fprintln(w)
			for _, e := range wl.ErrorSamples {
				fmt.Fprintf(w, "    error: %s\n", e)
			}
		}
	}
}

func rate(w *workloadResult) string {
	if w == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f", w.ReqPerSec)
}

// failed is the non-200 answers of all runs and their share: "12 (3.3%)".
func failed(w *workloadResult) string {
	if w == nil {
		return "-"
	}
	return fmt.Sprintf("%d (%.1f%%)", w.Errors, 100*w.ErrorRate)
}

func runRates(runs []runFigures) string {
	parts := make([]string, len(runs))
	for i, r := range runs {
		parts[i] = fmt.Sprintf("%.1f", r.ReqPerSec)
		if r.Errors > 0 {
			parts[i] += fmt.Sprintf(" (%d failed, p99 %.0f ms)", r.Errors, r.P99Ms)
		}
	}
	return strings.Join(parts, ", ")
}

func latency(w *workloadResult) string {
	if w == nil {
		return "-"
	}
	l := w.LatencyMs
	return fmt.Sprintf("%.1f / %.1f / %.1f", l.P50, l.P95, l.P99)
}

// checkErrorRates fails the run when any workload saw too many errors or no success.
func (r *report) checkErrorRates(maxRate float64) error {
	var errs []error
	for _, t := range r.Targets {
		for _, w := range t.Workloads {
			if w.Successes == 0 || w.ErrorRate > maxRate {
				errs = append(errs, fmt.Errorf("%s %s, %d clients: %d of %d requests failed (%.2f%%, limit %.2f%%), e.g. %q",
					t.Name, w.Name, w.Clients, w.Errors, w.Requests, 100*w.ErrorRate, 100*maxRate, w.ErrorSamples))
			}
		}
	}
	return errors.Join(errs...)
}
