package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// report is the whole output of a run; -o json prints it as is.
type report struct {
	Machine  machine            `json:"machine"`
	Settings settings           `json:"settings"`
	Targets  []targetResult     `json:"targets"`
	Ratios   map[string]float64 `json:"ratio_mlship_over_mlflow,omitempty"`
}

type machine struct {
	CPUs          int    `json:"cpus"`
	CPUModel      string `json:"cpu_model,omitempty"`
	OSArch        string `json:"os_arch"`
	GoVersion     string `json:"go_version"`
	MLflowVersion string `json:"mlflow_version,omitempty"`
	MLflowWorkers string `json:"mlflow_workers,omitempty"`
	MlshipBin     string `json:"mlship_bin,omitempty"`
	MlshipVersion string `json:"mlship_version,omitempty"`
	// Load averages when the run started and ended: other work on the machine
	// takes CPU from the servers and the load generator alike.
	LoadAvgStart string `json:"loadavg_start"`
	LoadAvgEnd   string `json:"loadavg_end,omitempty"`
}

type settings struct {
	Clients       int      `json:"clients"`
	SeedClients   int      `json:"seed_clients"`
	DurationS     float64  `json:"duration_s"`
	WarmupS       float64  `json:"warmup_s"`
	SearchRuns    int      `json:"search_runs_seeded"`
	BatchesPerRun int      `json:"log_batch_requests_per_run"`
	Workloads     []string `json:"workloads"`
	Started       string   `json:"started"`
}

func newReport(ctx context.Context, cfg config) *report {
	m := machine{
		CPUs:      runtime.NumCPU(),
		CPUModel:  cpuModel(),
		OSArch:    runtime.GOOS + "/" + runtime.GOARCH,
		GoVersion: runtime.Version(),

		LoadAvgStart: loadAvg(),
	}
	if slices.Contains(cfg.targets, targetMLflow) {
		m.MLflowVersion, m.MLflowWorkers = mlflowFacts(ctx, cfg.mlflowPython)
	}
	if slices.Contains(cfg.targets, targetMlship) {
		m.MlshipBin = cfg.mlshipBin
		m.MlshipVersion = mlshipVersion(ctx, cfg.mlshipBin)
	}
	return &report{Machine: m, Settings: settings{
		Clients:       cfg.clients,
		SeedClients:   cfg.seedClients,
		DurationS:     cfg.duration.Seconds(),
		WarmupS:       cfg.warmup.Seconds(),
		SearchRuns:    cfg.runs,
		BatchesPerRun: cfg.batchesPerRun,
		Workloads:     cfg.workloads,
		Started:       time.Now().UTC().Format(time.RFC3339),
	}}
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// loadAvg returns the 1, 5 and 15 minute load averages from /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

var workersDefault = regexp.MustCompile(`--workers TEXT Number of worker processes to handle requests \(default: (\d+)\)`)

// mlflowFacts returns the installed MLflow version and the default worker count that
// `mlflow server --help` documents, which is what the benchmark runs with.
func mlflowFacts(ctx context.Context, python string) (version, workers string) {
	out, err := exec.CommandContext(ctx, python, "-c", "import mlflow; print(mlflow.__version__)").Output()
	if err != nil {
		return "unknown (" + err.Error() + ")", ""
	}
	version = strings.TrimSpace(string(out))
	help, err := exec.CommandContext(ctx, python, "-m", "mlflow", "server", "--help").Output()
	if err != nil {
		return version, "unknown"
	}
	// Click wraps the help text; join it back into single spaces before matching.
	if m := workersDefault.FindStringSubmatch(strings.Join(strings.Fields(string(help)), " ")); m != nil {
		return version, m[1] + " (uvicorn, default of `mlflow server --workers`)"
	}
	return version, "unknown"
}

func mlshipVersion(ctx context.Context, bin string) string {
	out, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return strings.TrimSpace(string(out))
}

func (m machine) summary() string {
	s := fmt.Sprintf("%d CPUs (%s), %s, %s", m.CPUs, m.CPUModel, m.OSArch, m.GoVersion)
	if m.MLflowVersion != "" {
		s += fmt.Sprintf("; mlflow %s, workers %s, SQLite backend", m.MLflowVersion, m.MLflowWorkers)
	}
	if m.MlshipBin != "" {
		s += fmt.Sprintf("; mlship %s (%s)", m.MlshipVersion, m.MlshipBin)
	}
	return s
}

func (r *report) computeRatios() {
	base, other := r.target(targetMLflow), r.target(targetMlship)
	if base == nil || other == nil {
		return
	}
	r.Ratios = map[string]float64{}
	for _, w := range other.Workloads {
		if b := base.workload(w.Name); b != nil && b.ReqPerSec > 0 {
			r.Ratios[w.Name] = w.ReqPerSec / b.ReqPerSec
		}
	}
}

func (r *report) target(name string) *targetResult {
	for i := range r.Targets {
		if r.Targets[i].Name == name {
			return &r.Targets[i]
		}
	}
	return nil
}

func (t *targetResult) workload(name string) *workloadResult {
	if t == nil {
		return nil
	}
	for i := range t.Workloads {
		if t.Workloads[i].Name == name {
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
	fmt.Fprintf(w, "\nmachine:  %s\n", r.Machine.summary())
	fmt.Fprintf(w, "load:     %s at start, %s at end (1/5/15 min; above %d CPUs means other work competed)\n",
		r.Machine.LoadAvgStart, r.Machine.LoadAvgEnd, r.Machine.CPUs)
	fmt.Fprintf(w, "settings: %d clients, %gs per workload after %gs warm-up; search over %d seeded runs\n\n",
		s.Clients, s.DurationS, s.WarmupS, s.SearchRuns)
	mlflow, mlship := r.target(targetMLflow), r.target(targetMlship)
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "workload\tMLflow req/s\tmlship req/s\tratio (mlship/MLflow)\t")
	for _, name := range s.Workloads {
		ratio := "-"
		if v, ok := r.Ratios[name]; ok {
			ratio = fmt.Sprintf("%.2fx", v)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", name, rate(mlflow.workload(name)), rate(mlship.workload(name)), ratio)
	}
	fmt.Fprintln(tw, "\t\t\t\t")
	fmt.Fprintln(tw, "latency ms (p50 / p95 / p99)\tMLflow\tmlship\t\t")
	for _, name := range s.Workloads {
		fmt.Fprintf(tw, "%s\t%s\t%s\t\t\n", name, latency(mlflow.workload(name)), latency(mlship.workload(name)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	r.writeNotes(w)
	return nil
}

func (r *report) writeNotes(w io.Writer) {
	fmt.Fprintln(w)
	for _, t := range r.Targets {
		if t.Seed != nil {
			fmt.Fprintf(w, "%s: seeded %d runs in %.1fs (%.0f runs/s, %d requests retried; not a result)\n",
				t.Name, t.Seed.Runs, t.Seed.Seconds, t.Seed.RunsPerSec, t.Seed.Retries)
		}
		for _, wl := range t.Workloads {
			fmt.Fprintf(w, "%s %s: %d requests, %d ok, %d errors (%.2f%%) in %.1fs",
				t.Name, wl.Name, wl.Requests, wl.Successes, wl.Errors, 100*wl.ErrorRate, wl.Seconds)
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
				errs = append(errs, fmt.Errorf("%s %s: %d of %d requests failed (%.2f%%, limit %.2f%%), e.g. %q",
					t.Name, w.Name, w.Errors, w.Requests, 100*w.ErrorRate, 100*maxRate, w.ErrorSamples))
			}
		}
	}
	return errors.Join(errs...)
}
