package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mlship/mlship/bench/internal/benchkit"
)

// report is the whole output of a run; -o json prints it as is.
type report struct {
	Machine    benchkit.Machine             `json:"machine"`
	Versions   map[string]map[string]string `json:"versions"` // per Python environment
	Settings   settings                     `json:"settings"`
	Commands   []string                     `json:"commands"`
	Rows       []rowResult                  `json:"rows"`
	Comparison *comparison                  `json:"comparison,omitempty"`
	Ceiling    *ceiling                     `json:"ceiling,omitempty"`  // scikit-learn alone, no server
	Failures   []string                     `json:"failures,omitempty"` // servers not measured, and why
}

type settings struct {
	Concurrency int       `json:"concurrency"`
	Runs        int       `json:"runs"`
	DurationS   float64   `json:"duration_s"`
	WarmupS     float64   `json:"warmup_s"`
	TimeoutS    float64   `json:"request_timeout_s"`
	Workers     string    `json:"python_server_workers"`
	MlshipArgs  []string  `json:"mlship_args,omitempty"`
	Model       string    `json:"model"`
	ModelName   string    `json:"model_name"`
	Bodies      []bodyUse `json:"request_bodies"`
	Started     string    `json:"started"`
}

// bodyUse is one request body and the rows that sent it.
type bodyUse struct {
	Body string   `json:"body"`
	Rows []string `json:"rows"`
}

// addTarget records a measured target's command and request bodies.
func (r *report) addTarget(t *target, rows []rowResult) {
	r.Rows = append(r.Rows, rows...)
	r.Commands = append(r.Commands, t.command)
	for _, ep := range t.endpoints {
		row := t.label() + " " + ep.Path
		i := slices.IndexFunc(r.Settings.Bodies, func(b bodyUse) bool { return b.Body == string(ep.Body) })
		if i < 0 {
			r.Settings.Bodies = append(r.Settings.Bodies, bodyUse{Body: string(ep.Body)})
			i = len(r.Settings.Bodies) - 1
		}
		r.Settings.Bodies[i].Rows = append(r.Settings.Bodies[i].Rows, row)
	}
}

// comparison sets every mlship row against the best of the other servers' rows.
type comparison struct {
	BestThroughput ref         `json:"best_other_throughput"`
	LowestP99      ref         `json:"lowest_other_p99"`
	LowestCPU      ref         `json:"lowest_other_cpu_ms_per_request"`
	Mlship         []mlshipRow `json:"mlship"`
}

type ref struct {
	Row   string  `json:"row"`
	Value float64 `json:"value"`
}

type mlshipRow struct {
	Row             string  `json:"row"`
	ThroughputRatio float64 `json:"throughput_ratio"` // mlship req/s ÷ best other req/s: above 1 favours mlship
	P99Ratio        float64 `json:"p99_ratio"`        // mlship p99 ÷ lowest other p99: below 1 favours mlship
	// CPURatio is the lowest server CPU per request of the others ÷ mlship's: above 1
	// favours mlship. It depends much less than req/s on what else runs on the machine.
	CPURatio  float64 `json:"cpu_ratio"`
	Target    string  `json:"target,omitempty"`
	TargetMet bool    `json:"target_met"`
}

func newReport(ctx context.Context, cfg config, m *model) *report {
	mach := benchkit.Machine{CPUs: runtime.NumCPU(), CPUModel: benchkit.CPUModel(),
		OSArch: runtime.GOOS + "/" + runtime.GOARCH, GoVersion: runtime.Version(), LoadAvgStart: benchkit.LoadAvg()}
	if cfg.wants(serverMlship) {
		mach.MlshipBin, mach.MlshipVersion = cfg.mlshipBin, benchkit.MlshipVersion(ctx, cfg.mlshipBin)
	}
	versions := map[string]map[string]string{envName(cfg.benchPython): m.Versions}
	if cfg.wants(serverMLServer) {
		versions[envName(cfg.mlserverPython)] = mlserverVersions(ctx, cfg.mlserverPython)
	}
	return &report{Machine: mach, Versions: versions, Settings: settings{
		Concurrency: cfg.concurrency,
		Runs:        cfg.runs,
		DurationS:   cfg.duration.Seconds(),
		WarmupS:     cfg.warmup.Seconds(),
		TimeoutS:    cfg.timeout.Seconds(),
		Workers:     workersSetting(cfg.workers),
		MlshipArgs:  cfg.mlshipArgs,
		Model: fmt.Sprintf("scikit-learn GradientBoostingClassifier, 100 trees, %d float64 features, saved with mlflow.sklearn; batch of 1 row",
			m.NFeatures),
		ModelName: m.Name,
		Started:   time.Now().UTC().Format(time.RFC3339),
	}}
}

func workersSetting(n int) string {
	const mlship = "; mlship serve: its own defaults and --mlship-args"
	if n == 0 {
		return "each server's default: mlflow models serve 1 uvicorn worker; MLServer 1 HTTP process + parallel_workers=1 inference process" + mlship
	}
	return fmt.Sprintf("%d: mlflow models serve --workers %d; MLServer parallel_workers=%d", n, n, n) + mlship
}

// mlserverVersions reads the versions installed in MLServer's venv.
func mlserverVersions(ctx context.Context, python string) map[string]string {
	const script = `import importlib.metadata as m, json
print(json.dumps({p: m.version(p) for p in ["mlserver", "mlserver-mlflow", "mlflow", "scikit-learn", "numpy"]}))`
	out, err := exec.CommandContext(ctx, python, "-c", script).Output()
	v := map[string]string{}
	if err != nil || json.Unmarshal(out, &v) != nil {
		return map[string]string{"mlserver": "unknown"}
	}
	return v
}

// finish records the end of the run and compares mlship with the others.
func (r *report) finish() {
	r.Machine.LoadAvgEnd = benchkit.LoadAvg()
	var best, lowest, frugal *rowResult
	for i := range r.Rows {
		row := &r.Rows[i]
		if row.Server == serverMlship || row.OK == 0 {
			continue
		}
		if best == nil || row.ReqPerSec > best.ReqPerSec {
			best = row
		}
		if lowest == nil || row.LatencyMs.P99 < lowest.LatencyMs.P99 {
			lowest = row
		}
		if frugal == nil || row.CPUPerRequestMs < frugal.CPUPerRequestMs {
			frugal = row
		}
	}
	if best == nil {
		return
	}
	if r.Ceiling != nil && best.ReqPerSec > 0 {
		r.Ceiling.OfBestOther = r.Ceiling.CallsPerSec / best.ReqPerSec
	}
	c := &comparison{
		BestThroughput: ref{Row: best.label() + " " + best.Path, Value: best.ReqPerSec},
		LowestP99:      ref{Row: lowest.label() + " " + lowest.Path, Value: lowest.LatencyMs.P99},
		LowestCPU:      ref{Row: frugal.label() + " " + frugal.Path, Value: frugal.CPUPerRequestMs},
	}
	for _, row := range r.Rows {
		if row.Server != serverMlship {
			continue
		}
		m := mlshipRow{Row: row.label() + " " + row.Path, ThroughputRatio: row.ReqPerSec / best.ReqPerSec}
		if lowest.LatencyMs.P99 > 0 {
			m.P99Ratio = row.LatencyMs.P99 / lowest.LatencyMs.P99
		}
		if row.CPUPerRequestMs > 0 {
			m.CPURatio = frugal.CPUPerRequestMs / row.CPUPerRequestMs
		}
		m.Target, m.TargetMet = goal(row, m)
		c.Mlship = append(c.Mlship, m)
	}
	r.Comparison = c
}

// goal is the target the issues set for a row: the process runtime at least 3x the
// better of MLflow and MLServer with a lower p99; the native ONNX runtime at least 20x
// over OIP v2 JSON.
func goal(row rowResult, m mlshipRow) (string, bool) {
	switch {
	case row.Runtime == "python":
		return ">= 3x req/s and a lower p99", m.ThroughputRatio >= 3 && m.P99Ratio < 1
	case row.Runtime == "onnx" && row.Protocol == protoOIP:
		return ">= 20x req/s", m.ThroughputRatio >= 20
	}
	return "", false
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
	fmt.Fprintf(w, "versions: %s\n", formatVersions(r.Versions))
	fmt.Fprintf(w, "model:    %s, served as %q\n", s.Model, s.ModelName)
	fmt.Fprintf(w, "load:     %d clients in a closed loop over keep-alive, %gs warm-up then %d runs of %gs per row;\n"+
		"          a row's figures are its median run's (by req/s), its error counts all runs'\n",
		s.Concurrency, s.WarmupS, s.Runs, s.DurationS)
	fmt.Fprintf(w, "workers:  %s\n", s.Workers)
	if len(s.MlshipArgs) > 0 {
		fmt.Fprintf(w, "mlship:   extra serve arguments %q\n", s.MlshipArgs)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "server\tprotocol\treq/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\tnon-2xx\ttransport errors\tserver CPU ms/req\tload avg before\treq/s of each run\t")
	for _, row := range r.Rows {
		l := row.LatencyMs
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%d\t%.2f\t%s\t%s\t\n", row.label(), row.Path, row.ReqPerSec,
			l.P50, l.P90, l.P99, l.Max, row.Non2xx, row.TransportErrors, row.CPUPerRequestMs, firstField(row.LoadAvg), formatRuns(row.RunsReqPerSec))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := r.writeComparison(w); err != nil {
		return err
	}
	r.writeCeiling(w)
	for _, f := range r.Failures {
		fmt.Fprintf(w, "\nNOT MEASURED: %s\n", f)
	}
	r.writeNotes(w)
	return nil
}

func (r *report) writeComparison(w io.Writer) error {
	c := r.Comparison
	if c == nil || len(c.Mlship) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nmlship against the best of the others: %.1f req/s (%s), p99 %.2f ms (%s), server CPU %.2f ms/req (%s)\n",
		c.BestThroughput.Value, c.BestThroughput.Row, c.LowestP99.Value, c.LowestP99.Row, c.LowestCPU.Value, c.LowestCPU.Row)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "mlship row\treq/s ratio (above 1: mlship faster)\tp99 ratio (below 1: mlship lower)\tCPU/req ratio (above 1: mlship uses less)\ttarget\t")
	for _, m := range c.Mlship {
		t := "-"
		if m.Target != "" {
			t = m.Target + ": " + map[bool]string{true: "met", false: "not met"}[m.TargetMet]
		}
		fmt.Fprintf(tw, "%s\t%.2fx\t%.2fx\t%.2fx\t%s\t\n", m.Row, m.ThroughputRatio, m.P99Ratio, m.CPURatio, t)
	}
	return tw.Flush()
}

// writeCeiling says how many requests a second scikit-learn alone allows one worker, and
// what lead over the others that is.
func (r *report) writeCeiling(w io.Writer) {
	c := r.Ceiling
	if c == nil {
		return
	}
	fmt.Fprintf(w, "\nscikit-learn alone (ceiling.py: predict of the measured row in a loop, one process, no server; load %s before):\n"+
		"  %.0f calls/s, %.3f ms of CPU each: no server with one Python worker and batches of one answers more requests a second\n",
		firstField(c.LoadAvgBefore), c.CallsPerSec, c.CPUPerCallMs)
	if c.OfBestOther > 0 && r.Comparison != nil {
		fmt.Fprintf(w, "  that is %.2fx the best of the others (%.1f req/s): the most a like-for-like row can lead them by on this machine\n",
			c.OfBestOther, r.Comparison.BestThroughput.Value)
	}
}

func (r *report) writeNotes(w io.Writer) {
	fmt.Fprintln(w)
	for _, row := range r.Rows {
		fmt.Fprintf(w, "%s %s: %d requests in %.1fs (%d ok, %.2f%% failed, %d of %d answers checked wrong), %d in warm-up; CPU cores used: server %.2f, load tool %.2f\n",
			row.label(), row.Path, row.Requests, row.Seconds, row.OK, 100*row.ErrorRate, row.WrongAnswers, row.Checked,
			row.WarmupRequests, row.ServerCPU, row.ClientCPU)
		for _, e := range row.ErrorSamples {
			fmt.Fprintf(w, "    error: %s\n", e)
		}
	}
	fmt.Fprintln(w, "\nrequest bodies:")
	for _, b := range r.Settings.Bodies {
		fmt.Fprintf(w, "  %s\n    sent by %s\n", b.Body, strings.Join(b.Rows, ", "))
	}
	fmt.Fprintln(w, "servers:")
	for _, c := range r.Commands {
		fmt.Fprintf(w, "  %s\n", c)
	}
}

// envName names a Python environment by its directory: .venv-bench for .venv-bench/bin/python.
func envName(python string) string { return filepath.Base(filepath.Dir(filepath.Dir(python))) }

func formatVersions(envs map[string]map[string]string) string {
	var out []string
	for _, env := range slices.Sorted(maps.Keys(envs)) {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(envs[env])) {
			parts = append(parts, k+" "+envs[env][k])
		}
		out = append(out, env+": "+strings.Join(parts, ", "))
	}
	return strings.Join(out, "; ")
}

func formatRuns(runs []float64) string {
	parts := make([]string, len(runs))
	for i, v := range runs {
		parts[i] = fmt.Sprintf("%.0f", v)
	}
	return strings.Join(parts, " ")
}

func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return s
}

// checkErrorRates fails the run when any row saw too many failures, no success, or a
// wrong answer.
func (r *report) checkErrorRates(maxRate float64) error {
	var errs []error
	for _, row := range r.Rows {
		if row.WrongAnswers > 0 {
			errs = append(errs, fmt.Errorf("%s %s: %d of %d answers checked under load were wrong, e.g. %q",
				row.label(), row.Path, row.WrongAnswers, row.Checked, row.ErrorSamples))
		}
		if row.OK == 0 || row.ErrorRate > maxRate {
			errs = append(errs, fmt.Errorf("%s %s: %d of %d requests failed (%.2f%%, limit %.2f%%), e.g. %q",
				row.label(), row.Path, row.Non2xx+row.TransportErrors, row.Requests, 100*row.ErrorRate, 100*maxRate, row.ErrorSamples))
		}
	}
	return errors.Join(errs...)
}
