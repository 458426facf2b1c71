package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/mlship/mlship/bench/internal/benchkit"
	"io"
	"text/tabwriter"
	"time"
)

// report is the whole output of a run; -o json prints it as is.
type report struct {
	Machine  benchkit.Machine `json:"machine"`
	Settings settings         `json:"settings"`
	Targets  []targetResult   `json:"targets"`
}

type settings struct {
	Clients   int     `json:"clients"`
	DurationS float64 `json:"duration_s"`
	WarmupS   float64 `json:"warmup_s"`
	Files     int     `json:"big_model_files"`
	FileSize  int64   `json:"big_model_file_size"`
	Parallel  int     `json:"parallel_transfers"`
	Started   string  `json:"started"`
}

func newReport(ctx context.Context, cfg config) *report {
	m := benchkit.NewMachine(ctx, cfg.server(), cfg.targets)
	files := cfg.files
	if cfg.skipBig {
		files = 0
	}
	return &report{Machine: m, Settings: settings{
		Clients:   cfg.clients,
		DurationS: cfg.duration.Seconds(),
		WarmupS:   cfg.warmup.Seconds(),
		Files:     files,
		FileSize:  cfg.fileSize,
		Parallel:  cfg.parallel,
		Started:   time.Now().UTC().Format(time.RFC3339),
	}}
}

func (r *report) target(name string) *targetResult {
	for i := range r.Targets {
		if r.Targets[i].Name == name {
			return &r.Targets[i]
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
	s := r.Settings
	fmt.Fprintf(w, "\nmachine:  %s\n", r.Machine.Summary())
	fmt.Fprintf(w, "load:     %s at start, %s at end (1/5/15 min; above %d CPUs means other work competed)\n",
		r.Machine.LoadAvgStart, r.Machine.LoadAvgEnd, r.Machine.CPUs)
	fmt.Fprintf(w, "settings: create_version with %d clients, %gs after %gs warm-up", s.Clients, s.DurationS, s.WarmupS)
	if s.Files > 0 {
		fmt.Fprintf(w, "; big model %d x %s = %s, %d transfers at once", s.Files, benchkit.FormatSize(s.FileSize),
			mib(int64(s.Files)*s.FileSize), s.Parallel)
	}
	fmt.Fprint(w, "\n\n")

	mlflow, mlship := r.target(targetMLflow), r.target(targetMlship)
	// row prints one figure of both targets; higherBetter picks the ratio's direction so
	// that above 1 always favours mlship.
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "measure\tMLflow\tmlship\tmlship advantage\ttarget\t")
	row := func(label string, get func(*targetResult) (float64, bool), format string, higherBetter bool, goal string) {
		vf, okf := get(mlflow)
		vs, oks := get(mlship)
		cell := func(v float64, ok bool) string {
			if !ok {
				return "-"
			}
			return fmt.Sprintf(format, v)
		}
		ratio := "-"
		if okf && oks {
			switch {
			case higherBetter && vf > 0:
				ratio = fmt.Sprintf("%.2fx", vs/vf)
			case !higherBetter && vs > 0:
				ratio = fmt.Sprintf("%.2fx", vf/vs)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", label, cell(vf, okf), cell(vs, oks), ratio, goal)
	}
	cv := func(f func(*createResult) float64) func(*targetResult) (float64, bool) {
		return func(t *targetResult) (float64, bool) {
			if t == nil || t.CreateVersion == nil {
				return 0, false
			}
			return f(t.CreateVersion), true
		}
	}
	bm := func(f func(*bigResult) float64) func(*targetResult) (float64, bool) {
		return func(t *targetResult) (float64, bool) {
			if t == nil || t.BigModel == nil || !t.BigModel.Verified {
				return 0, false
			}
			return f(t.BigModel), true
		}
	}
	row("create_version req/s", cv(func(c *createResult) float64 { return c.ReqPerSec }), "%.1f", true, "")
	row("create_version p50 ms", cv(func(c *createResult) float64 { return c.P50Ms }), "%.1f", false, "")
	row("create_version p99 ms", cv(func(c *createResult) float64 { return c.P99Ms }), "%.1f", false, "")
	if s.Files > 0 {
		row("big_model upload s", bm(func(b *bigResult) float64 { return b.UploadS }), "%.1f", false, "")
		row("big_model register s", bm(func(b *bigResult) float64 { return b.RegisterS }), "%.2f", false, "")
		row("big_model download s", bm(func(b *bigResult) float64 { return b.DownloadS }), "%.1f", false, "")
		row("big_model memory growth MiB", bm(func(b *bigResult) float64 { return float64(b.MemGrowthBytes) / (1 << 20) }),
			"%.1f", false, "< 100 MiB")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\n(mlship advantage: MLflow time / mlship time, or mlship req/s / MLflow req/s; above 1 favours mlship)")
	for _, t := range r.Targets {
		if c := t.CreateVersion; c != nil {
			fmt.Fprintf(w, "%s create_version: %d requests, %d ok, %d errors in %.1fs; %d versions stored, check %s\n",
				t.Name, c.Requests, c.Successes, c.Errors, c.Seconds, c.Versions, c.VersionsCheck)
			for _, e := range c.ErrorSamples {
				fmt.Fprintf(w, "    error: %s\n", e)
			}
		}
		if b := t.BigModel; b != nil {
			fmt.Fprintf(w, "%s big_model: download URI %s; sha256 verified %v; memory %s baseline, %s peak (%s)\n",
				t.Name, b.DownloadURI, b.Verified, mib(b.MemBaselineBytes), mib(b.MemPeakBytes), b.MemHow)
		}
		for _, p := range t.Problems {
			fmt.Fprintf(w, "%s PROBLEM: %s\n", t.Name, p)
		}
	}
	return nil
}
