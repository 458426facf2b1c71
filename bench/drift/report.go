package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/mlship/mlship/bench/internal/benchkit"
)

// Issue 6's targets.
const (
	targetSpeedup = 50.0 // Evidently time / mlship time, end to end
)

// report is the whole output of a run; -o json prints it as is.
type report struct {
	benchkit.ReportHeader
	Drift    *driftResult    `json:"drift,omitempty"`
	Register *registerResult `json:"register,omitempty"`
}

func newReport(ctx context.Context, cfg config) *report {
	return &report{ReportHeader: benchkit.NewReportHeader(ctx, cfg.server(), []string{benchkit.Mlship})}
}

// problems are what makes the run fail after printing.
func (r *report) problems() error {
	if r.Drift == nil || r.Drift.Verdicts.Agree {
		return nil
	}
	v := r.Drift.Verdicts
	return fmt.Errorf("mlship and Evidently disagree on which columns drifted: only Evidently %v, only mlship %v",
		v.OnlyEvidently, v.OnlyMlship)
}

func (r *report) write(w io.Writer, format string) error {
	if format == "json" {
		return benchkit.WriteJSON(w, r)
	}
	r.WriteText(w)
	if r.Drift != nil {
		if err := r.Drift.write(w); err != nil {
			return err
		}
	}
	if r.Register != nil {
		return r.Register.write(w)
	}
	return nil
}

func (d *driftResult) write(w io.Writer) error {
	ev, ml := d.Evidently, d.Mlship
	fmt.Fprintf(w, "\n== Profile and drift report: %d rows x %d columns (%d numeric, %d categorical), reference against current ==\n",
		d.Rows, d.Numeric+d.Categorical, d.Numeric, d.Categorical)
	fmt.Fprintf(w, "files: reference.csv %s, current.csv %s (written in %.1f s, not measured; read from the page cache by both tools)\n",
		benchkit.MB(d.Files.Sizes[0]), benchkit.MB(d.Files.Sizes[1]), d.Files.GenerateS)
	fmt.Fprintf(w, "Evidently %s with pandas %s; mlship server: `mlship data add` x2 then `mlship drift compare -o json`\n\n",
		ev.EvidentlyVersion, ev.PandasVersion)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "step\tEvidently\tmlship\tEvidently / mlship\ttarget\t")
	steps := []struct {
		label  string
		ev, ml float64
	}{
		{"read reference (pandas.read_csv | data add: store + profile)", ev.step("load_reference").Seconds, ml.Steps[0].Seconds},
		{"read current (pandas.read_csv | data add: store + profile)", ev.step("load_current").Seconds, ml.Steps[1].Seconds},
		{"drift report (Report.run + dict | drift compare)", ev.reportSeconds(), ml.Steps[2].Seconds},
	}
	for _, s := range steps {
		fmt.Fprintf(tw, "%s\t%.2f s\t%.2f s\t%s\t\t\n", s.label, s.ev, s.ml, ratio(s.ev, s.ml))
	}
	evTotal := ev.loadSeconds() + ev.reportSeconds()
	fmt.Fprintf(tw, "end to end\t%.2f s\t%.2f s\t%s\t%s\t\n", evTotal, ml.Seconds, ratio(evTotal, ml.Seconds), verdict(evTotal/ml.Seconds))
	fmt.Fprintf(tw, "peak memory (RSS)\t%s\t%s (server)\t\t\t\n", benchkit.MiB(ev.PeakRSS), benchkit.MiB(ml.PeakRSS))
	evCPU := ev.step("load_reference").CPUSeconds + ev.step("load_current").CPUSeconds + ev.step("report").CPUSeconds + ev.step("result").CPUSeconds
	fmt.Fprintf(tw, "CPU time\t%.2f s\t%.2f s (server)\t%s\t\t\n", evCPU, ml.serverCPU(), ratio(evCPU, ml.serverCPU()))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nNot counted: Python start-up and imports %.1f s (process total %.1f s); the mlship server's start.\n",
		ev.step("import").Seconds, ev.Seconds)
	fmt.Fprintf(w, "Peak memory per step: Evidently load %s + %s, report %s; mlship server %s, %s, %s.\n",
		benchkit.MiB(ev.step("load_reference").PeakRSS), benchkit.MiB(ev.step("load_current").PeakRSS), benchkit.MiB(ev.step("report").PeakRSS),
		benchkit.MiB(ml.Steps[0].ServerPeakRSS), benchkit.MiB(ml.Steps[1].ServerPeakRSS), benchkit.MiB(ml.Steps[2].ServerPeakRSS))
	fmt.Fprintf(w, "Load before each: mlship %s; in process %s; Evidently %s.\n",
		ml.Steps[0].LoadBefore, d.InProcess.LoadBefore, ev.LoadBefore)
	d.writeInProcess(w)
	d.writeVerdicts(w)
	return nil
}

func (m *mlshipDrift) serverCPU() float64 {
	var s float64
	for _, st := range m.Steps {
		s += st.ServerCPU
	}
	return s
}

func (d *driftResult) writeInProcess(w io.Writer) {
	ip := d.InProcess
	fmt.Fprintf(w, "\nIn process (mlship's packages called directly on the same files, GOMAXPROCS %d, peak %s):\n", ip.GOMAXPROCS, benchkit.MiB(ip.PeakRSS))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "phase\tseconds\tCPU s\tMB/s\tpeak RSS\twhat the server runs it for\t")
	uses := map[string]string{
		"profile reference": "data add (besides storing)", "profile current": "data add (besides storing)",
		"compare profiles": "drift compare above 200,000 rows together",
		"read tables":      "drift compare --exact, or up to 200,000 rows", "compare exact": "drift compare, same",
	}
	for i, p := range ip.Phases {
		rate := "-"
		if i < 2 && p.Seconds > 0 {
			rate = fmt.Sprintf("%.0f", float64(ip.Profiled[i])/1e6/p.Seconds)
		} else if p.Name == "read tables" && p.Seconds > 0 {
			rate = fmt.Sprintf("%.0f", float64(ip.Profiled[0]+ip.Profiled[1])/1e6/p.Seconds)
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%s\t%s\t%s\t\n", p.Name, p.Seconds, p.CPUSeconds, rate, benchkit.MiB(p.PeakRSS), uses[p.Name])
	}
	_ = tw.Flush()
}

func (d *driftResult) writeVerdicts(w io.Writer) {
	v := d.Verdicts
	fmt.Fprintf(w, "\nDrifted columns (%d of %d injected):\n", len(v.Injected), d.Numeric+d.Categorical)
	fmt.Fprintf(w, "  injected:  %s\n", strings.Join(v.Injected, " "))
	fmt.Fprintf(w, "  Evidently: %s\n", strings.Join(v.Evidently, " "))
	fmt.Fprintf(w, "  mlship:    %s\n", strings.Join(v.Mlship, " "))
	switch {
	case v.Agree && len(v.AtThreshold) == 0:
		fmt.Fprintf(w, "  agree: yes. ")
	case v.Agree:
		fmt.Fprintf(w, "  agree: yes, except %v whose scores are at the threshold. ", v.AtThreshold)
	default:
		fmt.Fprintf(w, "  agree: NO: only Evidently %v, only mlship %v. ", v.OnlyEvidently, v.OnlyMlship)
	}
	fmt.Fprintf(w, "Largest score difference (same method): %.3g (%s).\n", v.MaxScoreDiff, v.MaxScoreColumn)
	if !v.InjectedMatch {
		fmt.Fprintln(w, "  NOTE: the drifted columns are not exactly the injected ones; see the lists above.")
	}
	for _, n := range v.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	fmt.Fprintf(w, "  in process: exact comparison agrees with the server: %v; comparison of the profiles agrees: %v",
		d.InProcessExactAgrees, d.ProfilesAgree)
	if !d.ProfilesAgree {
		fmt.Fprintf(w, " (profiles: %s)", strings.Join(d.InProcess.Profiles.drifted(), " "))
	}
	fmt.Fprintf(w, "\n  largest difference of a score from the profiles to the exact one: %.3g (%s)\n",
		d.ProfilesMaxScoreDiff, d.ProfilesMaxScoreColumn)
}

func (r *registerResult) write(w io.Writer) error {
	fmt.Fprintf(w, "\n== Registering a %s CSV file (%d bytes) ==\n", gib(r.Size), r.Size)
	fmt.Fprintf(w, "mlship: `mlship data add` to a fresh local server (stores by content and profiles in one pass)\n")
	fmt.Fprintf(w, "dvc:    `dvc add` in a fresh git + dvc repository (%s; cache.type %s; %s)\n", r.DVCVersion, r.DVCCacheType, r.FSType)
	fmt.Fprintf(w, "file written in %.1f s (not measured) and read from the page cache by both; runs in the order %s\n\n",
		r.GenerateS, strings.Join(regOrder(max(1, len(r.Runs)/2)), ", "))
	for _, n := range r.Notes {
		fmt.Fprintf(w, "NOTE: %s\n", n)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "run\ttool\tseconds\tGB/s\tCPU s\tpeak RSS\tload before\tlink\t")
	for i, run := range r.Runs {
		link := run.LinkType
		if link == "" {
			link = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%.2f\t%.3f\t%.2f\t%s\t%s\t%s\t\n", i+1, run.Tool, run.Seconds, run.GBps, run.CPUSeconds, benchkit.MiB(run.PeakRSS), run.LoadBefore, link)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	ms, ok1 := r.best(toolMlship)
	dv, ok2 := r.best(toolDVC)
	if ok1 && ok2 {
		fmt.Fprintf(w, "\nbest of each: mlship %.3f GB/s, dvc %.3f GB/s: mlship / dvc = %.2fx (GB = 10^9 bytes; dvc's time includes %.1f s of Python start-up)\n",
			ms.GBps, dv.GBps, ms.GBps/dv.GBps, r.DVCStartupS)
	}
	fmt.Fprintln(w, "peak RSS: the mlship server's (the client streams the file), the dvc process's.")
	return nil
}

func ratio(a, b float64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fx", a/b)
}

func verdict(speedup float64) string {
	if speedup >= targetSpeedup {
		return fmt.Sprintf(">= %.0fx: met", targetSpeedup)
	}
	return fmt.Sprintf(">= %.0fx: NOT MET", targetSpeedup)
}
