package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/mlship/mlship/bench/internal/benchkit"
)

// report is the whole output of a run; -o json prints it as is.
type report struct {
	benchkit.ReportHeader
	Files  files           `json:"files"`
	Model  *loggedModel    `json:"model"`
	Mlship *mlshipResult   `json:"mlship"`
	MLflow []*mlflowResult `json:"mlflow"`
	Check  metricCheck     `json:"check"`
}

func newReport(ctx context.Context, cfg config) *report {
	return &report{ReportHeader: benchkit.NewReportHeader(ctx, cfg.server(), []string{benchkit.Mlship})}
}

// checkedMetrics are the metrics both tools must agree on; the counts must be equal.
var (
	checkedMetrics = []string{"accuracy_score", "precision_score", "recall_score", "f1_score", "roc_auc", "log_loss"}
	checkedCounts  = []string{"example_count", "true_positives", "false_positives", "true_negatives", "false_negatives"}
)

// metricCheck compares mlship's metrics with every mlflow.evaluate run's.
type metricCheck struct {
	Tolerance float64  `json:"tolerance"`
	MaxDiff   float64  `json:"max_abs_difference"`
	MaxMetric string   `json:"max_abs_difference_metric"`
	Problems  []string `json:"problems,omitempty"`
}

func compareMetrics(ml map[string]float64, runs []*mlflowResult, tol float64) metricCheck {
	c := metricCheck{Tolerance: tol}
	for _, r := range runs {
		for _, name := range slices.Concat(checkedMetrics, checkedCounts) {
			a, okA := ml[name]
			b, okB := r.Metrics[name]
			if !okA || !okB {
				c.Problems = append(c.Problems, fmt.Sprintf("%s: missing (mlship %v, mlflow %s %v)", name, okA, r.Config, okB))
				continue
			}
			d := math.Abs(a - b)
			if math.IsNaN(d) {
				d = math.Inf(1)
			}
			if d > c.MaxDiff || c.MaxMetric == "" {
				c.MaxDiff, c.MaxMetric = d, name
			}
			if d > tol {
				c.Problems = append(c.Problems, fmt.Sprintf("%s: mlship %.10g, mlflow (%s) %.10g, difference %.3g > %.3g", name, a, r.Config, b, d, tol))
			}
		}
	}
	return c
}

func (c metricCheck) err() error {
	if len(c.Problems) == 0 {
		return nil
	}
	return errors.New("mlship and mlflow.evaluate disagree: " + strings.Join(c.Problems, "; "))
}

func (r *report) write(w io.Writer, format string) error {
	if format == "json" {
		return benchkit.WriteJSON(w, r)
	}
	r.WriteText(w)
	m, v := r.Model, r.Model.Versions
	fmt.Fprintf(w, "python:   mlflow %s, onnxruntime %s, skl2onnx %s, scikit-learn %s, pandas %s, numpy %s\n",
		v["mlflow"], v["onnxruntime"], v["skl2onnx"], v["scikit-learn"], v["pandas"], v["numpy"])
	fmt.Fprintf(w, "\n== Evaluating a registered ONNX classifier on a %s-row benchmark: mlship gate evaluate against mlflow.evaluate ==\n", benchkit.Thousands(r.Files.Rows))
	fmt.Fprintf(w, "model:    %s: GradientBoostingClassifier (100 trees, depth 3) fitted on %s rows, skl2onnx opset 17, zipmap off (outputs %s), %s bytes\n",
		m.ModelURI, benchkit.Thousands(m.TrainRows), strings.Join(m.ONNXOutputs, ", "), benchkit.Thousands(m.ONNXBytes))
	fmt.Fprintf(w, "data:     benchmark.csv %s, %d features + target (written in %.1f s, not measured; both tools read it from the page cache)\n",
		benchkit.MB(r.Files.BenchBytes), features, r.Files.GenerateS)
	fmt.Fprintf(w, "tracking: MLFLOW_TRACKING_URI is the mlship server; both tools log their run to it\n\n")
	if err := r.writeTimes(w); err != nil {
		return err
	}
	r.writeNotes(w)
	return r.writeMetrics(w)
}

func (r *report) writeTimes(w io.Writer) error {
	ml := r.Mlship
	rows := float64(r.Files.Rows)
	mlRate := rows / ml.Evaluate.Seconds
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "tool\trows\twall s\tjob s\tload s\tevaluate s\trows/s\trows/s (job)\tratio\tpeak RSS\t")
	fmt.Fprintf(tw, "mlship gate evaluate (%s runtime)\t%s\t%.2f\t%.2f\t-\t-\t%s\t%s\t\t%s (server)\t\n",
		ml.Runtime, benchkit.Thousands(ml.RowsDone), ml.Evaluate.Seconds, ml.JobSeconds, rate(rows, ml.Evaluate.Seconds), rate(rows, ml.JobSeconds), benchkit.MiB(ml.Evaluate.ServerPeakRSS))
	for _, e := range r.MLflow {
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t-\t%.2f\t%.2f\t%s\t-\t%.1fx\t%s (python)\t\n",
			e.label(), benchkit.Thousands(e.Rows), e.seconds(), e.loadSeconds(), e.evaluateSeconds(), rate(rows, e.seconds()),
			mlRate/(rows/e.seconds()), benchkit.MiB(e.MaxRSS))
	}
	return tw.Flush()
}

func (r *report) writeNotes(w io.Writer) {
	ml := r.Mlship
	fmt.Fprintf(w, "\nratio: mlship's rows/s (wall) ÷ this row's rows/s (load + evaluate): above 1 favours mlship.\n")
	fmt.Fprintf(w, "mlship: wall is `mlship gate evaluate NAME/%s -o json -q` from start to exit (it queues the job and polls it every 200 ms);\n", r.Model.Version)
	fmt.Fprintf(w, "  job is the evaluation's finished_at - started_at: reading the stored file, the model, the metrics, logging the run.\n")
	fmt.Fprintf(w, "  server CPU during the evaluation %.2f s; before it: `data add` %.2f s, `gate set` %.2f s (not counted).\n",
		ml.Evaluate.ServerCPU, ml.Register.Seconds, ml.SetGate.Seconds)
	for _, e := range r.MLflow {
		cpu := e.Steps["load"].CPUSeconds + e.Steps["evaluate"].CPUSeconds
		if e.Config == configFloor {
			fmt.Fprintf(w, "%s: wall is pandas.read_csv + loading the model, one session.run and the same metrics with\n", e.label())
			fmt.Fprintf(w, "  scikit-learn, no run logged: the Python work without mlflow.evaluate. CPU %.2f s.\n", cpu)
			continue
		}
		fmt.Fprintf(w, "%s: wall is pandas.read_csv + loading the model and mlflow.evaluate; CPU %.2f s;\n", e.label(), cpu)
		fmt.Fprintf(w, "  evaluator_config %s, artifacts logged: %s; not counted: start-up and imports %.1f s (process %.1f s).\n",
			e.configText(), strings.Join(e.Artifacts, ", "), e.Steps["import"].Seconds, e.ProcessSeconds)
	}
	if a := r.Model.AsLogged; !a.OK {
		fmt.Fprintf(w, "mlflow.evaluate(model=%q) on the model as logged FAILS (on its first 1,000 training rows): %s (%s).\n",
			r.Model.ModelURI, a.Error, a.Where)
		fmt.Fprintf(w, "  The anchor therefore calls the same registered model through a function (see bench/README.md).\n")
	}
	fmt.Fprintf(w, "load before: mlship %s; mlflow %s.\n", ml.Evaluate.LoadBefore, r.loadsBefore())
}

func (e *mlflowResult) configText() string {
	if e.EvaluatorConfig == nil {
		return "None (the default)"
	}
	b, _ := json.Marshal(e.EvaluatorConfig)
	return string(b)
}

func (r *report) loadsBefore() string {
	var s []string
	for _, e := range r.MLflow {
		s = append(s, e.LoadBefore)
	}
	return strings.Join(s, "; ")
}

func (r *report) writeMetrics(w io.Writer) error {
	fmt.Fprintf(w, "\nMetrics (the run fails when any differs by more than %g, or a count differs):\n", r.Check.Tolerance)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "metric\tmlship\t"
	for _, e := range r.MLflow {
		head += e.Config + "\t"
	}
	fmt.Fprintln(tw, head)
	for _, name := range slices.Concat(checkedMetrics, checkedCounts) {
		line := name + "\t" + metric(r.Mlship.Metrics, name) + "\t"
		for _, e := range r.MLflow {
			line += metric(e.Metrics, name) + "\t"
		}
		fmt.Fprintln(tw, line)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Check.Problems) == 0 {
		fmt.Fprintf(w, "agree: yes; largest difference %.3g (%s)\n", r.Check.MaxDiff, r.Check.MaxMetric)
		return nil
	}
	fmt.Fprintf(w, "agree: NO\n  %s\n", strings.Join(r.Check.Problems, "\n  "))
	return nil
}

func metric(m map[string]float64, name string) string {
	v, ok := m[name]
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.10g", v)
}

func rate(rows, seconds float64) string {
	if seconds <= 0 {
		return "-"
	}
	return benchkit.Thousands(int64(math.Round(rows / seconds)))
}
