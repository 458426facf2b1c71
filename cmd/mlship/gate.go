package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/mlship/mlship/internal/client"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/gate"
	"github.com/mlship/mlship/internal/gates"
)

// errGateFailed marks an evaluation whose verdict is "not blessed".
var errGateFailed = errors.New("the version failed the benchmark gate")

func gateCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "gate",
		Short: "Hold a model to a benchmark, and its protected aliases to the benchmark's verdict",
		Long: `A registered model's benchmark pins a dataset version, a target column, a metric set and
MLflow MetricThreshold-style thresholds. Evaluations run a version on it through the
runtime that serves it, as background jobs, and compare it with the version that holds
the protected alias (production by default). A protected alias then moves only to a
version that passed, through any route (the MLflow client, the CLI, the API), or with
an override whose reason is kept in an audit trail.`,
		Example: `  mlship gate set fraud --dataset fraud-holdout/3 --target label --task classification \
      --threshold 'f1_score>=0.8' --min-absolute-change f1_score=0
  mlship gate evaluate fraud/4
  mlship models alias fraud production 4
  mlship gate history fraud
  mlship gate audit fraud`,
	}
	c.AddCommand(gateSetCommand(), gateShowCommand(), gateEvaluateCommand(), gateHistoryCommand(), gateAuditCommand())
	return c
}

func gateSetCommand() *cobra.Command {
	var f clientFlags
	var in gates.BenchmarkInput
	var task, gateFile, noBaseline, average string
	var thresholds, absChanges, relChanges []string
	c := &cobra.Command{
		Use:   "set NAME",
		Short: "Give a registered model its benchmark (a new revision replaces the one in force)",
		Long: `Set the benchmark of registered model NAME. The dataset version is pinned by its
content; a classifier's classes default to the target column's distinct values, sorted
as scikit-learn sorts them.

Thresholds (MLflow's MetricThreshold; greater_is_better follows the metric):
  --threshold 'accuracy_score>=0.85'        a fixed bound (<= for lower-is-better metrics)
  --min-absolute-change 'f1_score=0.01'     beat the holder of the alias by 0.01 (0: no worse)
  --min-relative-change 'roc_auc=0.02'      beat it by 2% of its value
or the whole gate as JSON with --gate FILE ({"thresholds": {...}, "no_baseline": "fail"}).
A benchmark without thresholds never passes a version. See docs/gates.md.`,
		Example: `  mlship gate set wine --dataset wine-test/1 --target target --task classification \
      --threshold 'accuracy_score>=0.85' --min-absolute-change f1_score=0 --no-baseline skip
  mlship gate set price --dataset houses/2 --target price --task regression \
      --threshold 'root_mean_squared_error<=30000' --protect production,champion`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			in.Spec.Task = gate.Task(task)
			in.Spec.Average = gate.Average(average)
			if gateFile != "" {
				data, err := os.ReadFile(gateFile)
				if err != nil {
					return usageError{err}
				}
				if in.Gate, err = gate.ParseGate(data); err != nil {
					return usageError{fmt.Errorf("--gate %s: %w", gateFile, err)}
				}
			}
			if in.Gate.Thresholds == nil {
				in.Gate.Thresholds = gate.Thresholds{}
			}
			if err := addThresholds(in.Gate.Thresholds, thresholds, absChanges, relChanges); err != nil {
				return usageError{err}
			}
			if noBaseline != "" {
				in.Gate.NoBaseline = gate.NoBaseline(noBaseline)
			}
			var b gates.Benchmark
			if err := cl.Send(cmd.Context(), "PUT", "/api/v1/models/"+url.PathEscape(args[0])+"/benchmark", in, &b); err != nil {
				return err
			}
			return f.out.print(cmd.OutOrStdout(), &b, func(t *tabwriter.Writer) { benchmarkTable(t, &b) })
		},
	}
	f.add(c)
	fl := c.Flags()
	fl.StringVar(&in.Dataset, "dataset", "", "the benchmark's dataset version, NAME/VERSION (required)")
	fl.StringVar(&in.Target, "target", "", "the column holding the truth (required)")
	fl.StringVar(&task, "task", "", "classification or regression (required)")
	fl.StringSliceVar(&in.Features, "features", nil, "columns given to the model, in order (default: every column but the target)")
	fl.StringSliceVar(&in.Spec.Metrics, "metrics", nil, "metrics to compute (default: all of the task's; see docs/gates.md)")
	fl.StringVar(&in.Spec.SliceBy, "slice-by", "", "also compute every metric per value of this column")
	fl.StringSliceVar(&in.Spec.Classes, "classes", nil, "a classifier's classes in its probability columns' order (default: the target's sorted values)")
	fl.StringVar(&in.Spec.Positive, "positive", "", "a binary classifier's positive class (default: the last class)")
	fl.StringVar(&average, "average", "", "multiclass averaging: weighted (default), macro or micro")
	fl.StringSliceVar(&in.Protected, "protect", nil, "aliases that move only to a version that passed (default: production)")
	fl.StringArrayVar(&thresholds, "threshold", nil, "METRIC>=VALUE or METRIC<=VALUE: a fixed bound (repeatable)")
	fl.StringArrayVar(&absChanges, "min-absolute-change", nil, "METRIC=VALUE: improvement over the alias's holder required (repeatable)")
	fl.StringArrayVar(&relChanges, "min-relative-change", nil, "METRIC=FRACTION: relative improvement required (repeatable)")
	fl.StringVar(&noBaseline, "no-baseline", "", "when nothing holds the alias, change checks fail (fail, default, as MLflow) or are skipped (skip)")
	fl.StringVar(&gateFile, "gate", "", "JSON file with the gate: thresholds and no_baseline")
	for _, name := range []string{"dataset", "target", "task"} {
		c.MarkFlagRequired(name)
	}
	return c
}

// addThresholds parses the threshold flags into ts.
func addThresholds(ts gate.Thresholds, bounds, abs, rel []string) error {
	get := func(metric string) (gate.Threshold, error) {
		t, ok := ts[metric]
		if !ok {
			greater, known := gate.GreaterIsBetter(metric)
			if !known {
				if s := gate.Suggest(metric); s != "" {
					return t, usageError{fmt.Errorf("metric %q is not one mlship computes: did you mean %s?", metric, s)}
				}
				return t, usageError{fmt.Errorf("metric %q is not a built-in metric, so mlship cannot tell whether higher is better: set its greater_is_better in a --gate file", metric)}
			}
			t.GreaterIsBetter = greater
		}
		return t, nil
	}
	for _, s := range bounds {
		metric, op, value, ok := cutOperator(s)
		if !ok {
			return fmt.Errorf("--threshold %q: write METRIC>=VALUE or METRIC<=VALUE", s)
		}
		t, err := get(metric)
		if err != nil {
			return err
		}
		if (op == ">=") != t.GreaterIsBetter {
			return fmt.Errorf("--threshold %q: %s is better when %s, so its bound is written with %s",
				s, metric, map[bool]string{true: "higher", false: "lower"}[t.GreaterIsBetter], map[bool]string{true: ">=", false: "<="}[t.GreaterIsBetter])
		}
		t.Threshold = &value
		ts[metric] = t
	}
	for flag, list := range map[string][]string{"min-absolute-change": abs, "min-relative-change": rel} {
		for _, s := range list {
			metric, v, ok := strings.Cut(s, "=")
			value, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if !ok || err != nil {
				return fmt.Errorf("--%s %q: write METRIC=VALUE", flag, s)
			}
			t, err := get(strings.TrimSpace(metric))
			if err != nil {
				return err
			}
			if flag == "min-absolute-change" {
				t.MinAbsoluteChange = &value
			} else {
				t.MinRelativeChange = &value
			}
			ts[strings.TrimSpace(metric)] = t
		}
	}
	return ts.Check()
}

func cutOperator(s string) (metric, op string, value float64, ok bool) {
	for _, o := range []string{">=", "<="} {
		if m, v, found := strings.Cut(s, o); found {
			x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return strings.TrimSpace(m), o, x, err == nil && m != ""
		}
	}
	return "", "", 0, false
}

func benchmarkTable(t *tabwriter.Writer, b *gates.Benchmark) {
	d := b.Definition
	row(t, "MODEL", b.Model)
	row(t, "REVISION", b.Revision[:12])
	digest := strings.TrimPrefix(d.DatasetDigest, "sha256:")
	row(t, "DATASET", d.Dataset+" (sha256:"+digest[:min(12, len(digest))]+")")
	row(t, "TARGET", d.Target)
	row(t, "TASK", d.Spec.Task)
	if len(d.Spec.Classes) > 0 {
		row(t, "CLASSES", strings.Join(d.Spec.Classes, ", "))
	}
	if d.Spec.SliceBy != "" {
		row(t, "SLICE BY", d.Spec.SliceBy)
	}
	row(t, "PROTECTED", strings.Join(d.Protected, ", "))
	if len(d.Gate.Thresholds) == 0 {
		row(t, "THRESHOLDS", "none: no version can pass")
	}
	for _, m := range slices.Sorted(maps.Keys(d.Gate.Thresholds)) {
		row(t, "THRESHOLD", m+": "+describeThreshold(d.Gate.Thresholds[m]))
	}
	row(t, "NO BASELINE", cmp.Or(string(d.Gate.NoBaseline), string(gate.NoBaselineFail)))
}

func describeThreshold(th gate.Threshold) string {
	op, dir := "<=", "-"
	if th.GreaterIsBetter {
		op, dir = ">=", "+"
	}
	var parts []string
	if th.Threshold != nil {
		parts = append(parts, op+" "+strconv.FormatFloat(*th.Threshold, 'g', -1, 64))
	}
	if th.MinAbsoluteChange != nil {
		parts = append(parts, op+" baseline "+dir+" "+strconv.FormatFloat(*th.MinAbsoluteChange, 'g', -1, 64))
	}
	if th.MinRelativeChange != nil {
		parts = append(parts, "relative change "+op+" "+strconv.FormatFloat(*th.MinRelativeChange, 'g', -1, 64))
	}
	return strings.Join(parts, ", ")
}

func gateShowCommand() *cobra.Command {
	var f clientFlags
	c := &cobra.Command{
		Use:     "show NAME",
		Short:   "Show a registered model's benchmark",
		Example: "  mlship gate show fraud\n  mlship gate show fraud -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			var b gates.Benchmark
			if err := cl.Get(cmd.Context(), "/api/v1/models/"+url.PathEscape(args[0])+"/benchmark", nil, &b); err != nil {
				return err
			}
			return f.out.print(cmd.OutOrStdout(), &b, func(t *tabwriter.Writer) { benchmarkTable(t, &b) })
		},
	}
	f.add(c)
	return c
}

func gateEvaluateCommand() *cobra.Command {
	var f clientFlags
	var alias, revision string
	var noWait, quiet bool
	c := &cobra.Command{
		Use:   "evaluate NAME/VERSION",
		Short: "Run a model version on its benchmark and judge it against the alias's holder",
		Long: `Queue an evaluation of NAME/VERSION on the model's benchmark and, unless --no-wait, follow
it to the end with a progress bar. The version runs in the runtime that serves it; the
holder of the protected alias (--alias, default the benchmark's first) is measured on
the same revision when it has no result yet. The result is recorded on the version
and logged as an MLflow run in the experiment "mlship-gates/NAME".

Exit codes: 0 passed, 5 failed the gate, 1 the evaluation could not run.`,
		Example: "  mlship gate evaluate fraud/4\n  mlship gate evaluate fraud/4 --alias champion -o json\n  mlship gate evaluate fraud/1 --revision 3f2a... --no-wait",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, version, ok := strings.Cut(args[0], "/")
			if !ok || name == "" || version == "" {
				return usageError{fmt.Errorf("name the version as NAME/VERSION, got %q", args[0])}
			}
			cl, err := f.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var e gates.Evaluation
			path := "/api/v1/models/" + url.PathEscape(name) + "/versions/" + url.PathEscape(strings.TrimPrefix(version, "v")) + "/evaluations"
			if err := cl.Send(ctx, "POST", path, map[string]string{"alias": alias, "revision": revision}, &e); err != nil {
				return err
			}
			if !noWait {
				if err := followEvaluation(ctx, cl, &e, quiet || f.out.format == "json" || !onTerminal(cmd.ErrOrStderr()), cmd.ErrOrStderr()); err != nil {
					return err
				}
			}
			if err := f.out.print(cmd.OutOrStdout(), &e, func(t *tabwriter.Writer) { evaluationTable(t, &e) }); err != nil {
				return err
			}
			switch {
			case e.Status == gates.StatusFailed:
				return fmt.Errorf("evaluation %d failed: %s", e.ID, e.Error)
			case e.Passed != nil && !*e.Passed:
				return errGateFailed
			}
			return nil
		},
	}
	f.add(c)
	c.Flags().StringVar(&alias, "alias", "", "the protected alias to judge for (default: the benchmark's first)")
	c.Flags().StringVar(&revision, "revision", "", "run an earlier revision of the benchmark (default: the one in force)")
	c.Flags().BoolVar(&noWait, "no-wait", false, "queue the evaluation and return")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	return c
}

// followEvaluation polls an evaluation until it is done, drawing its progress.
func followEvaluation(ctx context.Context, cl *client.Client, e *gates.Evaluation, quiet bool, w io.Writer) error {
	var bar *progressbar.ProgressBar
	defer func() {
		if bar != nil {
			bar.Finish()
		}
	}()
	path := "/api/v1/evaluations/" + strconv.FormatInt(e.ID, 10)
	for !e.Done() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped waiting; evaluation %d goes on (mlship gate history %s): %w", e.ID, e.Model, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
		if err := cl.Get(ctx, path, nil, e); err != nil {
			return err
		}
		if !quiet && e.RowsTotal > 0 {
			if bar == nil {
				bar = progressbar.NewOptions64(e.RowsTotal, progressbar.OptionSetWriter(w), progressbar.OptionClearOnFinish(),
					progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("rows"),
					progressbar.OptionSetDescription(fmt.Sprintf("evaluating %s/%s", e.Model, e.Version)))
			}
			bar.ChangeMax64(e.RowsTotal)
			bar.Set64(e.RowsDone)
		}
	}
	return nil
}

func evaluationTable(t *tabwriter.Writer, e *gates.Evaluation) {
	row(t, "EVALUATION", e.ID)
	row(t, "VERSION", e.Model+"/"+e.Version)
	row(t, "STATUS", e.Status)
	if e.Error != "" {
		row(t, "ERROR", e.Error)
	}
	row(t, "DATASET", e.Dataset)
	if e.Runtime != "" {
		row(t, "RUNTIME", e.Runtime)
	}
	if e.RunID != "" {
		row(t, "MLFLOW RUN", e.RunID)
	}
	if e.Alias != "" {
		holder := "no version"
		if e.BaselineVersion != "" {
			holder = "version " + e.BaselineVersion
		}
		row(t, "ALIAS", e.Alias+" (held by "+holder+")")
	}
	if e.Result != nil {
		all := e.Result.All()
		for _, m := range slices.Sorted(maps.Keys(all)) {
			row(t, "  "+m, strconv.FormatFloat(all[m], 'g', 10, 64))
		}
	}
	if e.Verdict != nil {
		verdict := "FAILED"
		if e.Verdict.Passed {
			verdict = "PASSED"
		}
		row(t, "VERDICT", verdict+": "+strings.ReplaceAll(e.Verdict.Summary, "\n", " "))
	}
}

func gateHistoryCommand() *cobra.Command {
	var f clientFlags
	var version, rank string
	c := &cobra.Command{
		Use:   "history NAME",
		Short: "Every version's results on the model's benchmarks: a leaderboard over time",
		Long: `List the evaluations of NAME's versions, newest first, with the metrics the gate checks
(all with -o json), the verdict and the alias's holder each was judged against.
Evaluations on an earlier revision of the benchmark are marked with its revision.

With --rank METRIC, the leaderboard: each version's newest result on the benchmark in
force, best first by METRIC (in the metric's better direction).`,
		Example: "  mlship gate history fraud\n  mlship gate history fraud --rank f1_score\n  mlship gate history fraud --version 3 -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var out struct {
				Evaluations []*gates.Evaluation `json:"evaluations"`
			}
			q := url.Values{}
			if version != "" {
				q.Set("version", version)
			}
			base := "/api/v1/models/" + url.PathEscape(args[0])
			if err := cl.Get(ctx, base+"/evaluations", q, &out); err != nil {
				return err
			}
			var b gates.Benchmark
			if err := cl.Get(ctx, base+"/benchmark", nil, &b); err != nil && !errors.Is(err, fault.NotFound) {
				return err
			}
			if rank != "" {
				if out.Evaluations, err = leaderboard(out.Evaluations, b.Revision, rank); err != nil {
					return err
				}
			}
			return f.out.print(cmd.OutOrStdout(), &out, func(t *tabwriter.Writer) { historyTable(t, out.Evaluations, &b) })
		},
	}
	f.add(c)
	c.Flags().StringVar(&version, "version", "", "only this version's evaluations")
	c.Flags().StringVar(&rank, "rank", "", "rank versions by this metric: each version's newest result on the benchmark in force, best first")
	return c
}

// leaderboard keeps each version's newest successful evaluation on revision (es is
// newest first) and sorts them best first by metric; versions without the metric go
// last.
func leaderboard(es []*gates.Evaluation, revision, metric string) ([]*gates.Evaluation, error) {
	greater, known := gate.GreaterIsBetter(metric)
	if !known {
		return nil, usageError{fmt.Errorf("--rank %q: not a metric with a better direction (e.g. f1_score, roc_auc, root_mean_squared_error)", metric)}
	}
	seen := map[string]bool{}
	var out []*gates.Evaluation
	for _, e := range es {
		if e.Revision == revision && e.Status == gates.StatusSucceeded && e.Result != nil && !seen[e.Version] {
			seen[e.Version] = true
			out = append(out, e)
		}
	}
	value := func(e *gates.Evaluation) (float64, bool) {
		v, ok := e.Result.All()[metric]
		return v, ok
	}
	slices.SortStableFunc(out, func(a, b *gates.Evaluation) int {
		va, oka := value(a)
		vb, okb := value(b)
		switch {
		case oka != okb:
			return map[bool]int{true: -1, false: 1}[oka]
		case !oka || va == vb:
			return 0
		case (va > vb) == greater:
			return -1
		}
		return 1
	})
	return out, nil
}

func historyTable(t *tabwriter.Writer, es []*gates.Evaluation, b *gates.Benchmark) {
	metrics := slices.Sorted(maps.Keys(b.Definition.Gate.Thresholds))
	if len(metrics) == 0 {
		metrics = []string{gate.Accuracy, gate.F1, gate.RootMeanSquaredError}
	}
	head := []any{"EVAL", "VERSION", "STATUS"}
	for _, m := range metrics {
		head = append(head, strings.ToUpper(m))
	}
	row(t, append(head, "VERDICT", "VS", "BENCHMARK", "WHEN")...)
	for _, e := range es {
		cells := []any{e.ID, e.Version, e.Status}
		var all gate.Metrics
		if e.Result != nil {
			all = e.Result.All()
		}
		for _, m := range metrics {
			if v, ok := all[m]; ok {
				cells = append(cells, strconv.FormatFloat(v, 'f', 4, 64))
			} else {
				cells = append(cells, "-")
			}
		}
		verdict := "-"
		if e.Passed != nil {
			verdict = map[bool]string{true: "passed", false: "failed"}[*e.Passed]
		}
		vs := "-"
		if e.Alias != "" {
			vs = e.Alias + "@" + cmp.Or(e.BaselineVersion, "none")
		}
		rev := e.Revision[:min(12, len(e.Revision))]
		if e.Revision == b.Revision {
			rev += " (current)"
		}
		cells = append(cells, verdict, vs, rev, time.UnixMilli(e.CreatedAt).Format(time.DateTime))
		row(t, cells...)
	}
}

func gateAuditCommand() *cobra.Command {
	var f clientFlags
	c := &cobra.Command{
		Use:     "audit NAME",
		Short:   "Every move of a model's protected aliases: passed, overridden (with the reason) or deleted",
		Example: "  mlship gate audit fraud\n  mlship gate audit fraud -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			var out struct {
				Entries []*gates.AuditEntry `json:"entries"`
			}
			if err := cl.Get(cmd.Context(), "/api/v1/models/"+url.PathEscape(args[0])+"/alias-audit", nil, &out); err != nil {
				return err
			}
			return f.out.print(cmd.OutOrStdout(), &out, func(t *tabwriter.Writer) {
				row(t, "WHEN", "ALIAS", "FROM", "TO", "ACTION", "EVALUATION", "ACTOR", "REASON")
				for _, a := range out.Entries {
					eval := "-"
					if a.EvaluationID != 0 {
						eval = strconv.FormatInt(a.EvaluationID, 10)
					}
					row(t, time.UnixMilli(a.CreatedAt).Format(time.DateTime), a.Alias, cmp.Or(a.Previous, "-"),
						cmp.Or(a.Version, "-"), a.Action, eval, cmp.Or(a.Actor, "-"), cmp.Or(a.Reason, "-"))
				}
			})
		},
	}
	f.add(c)
	return c
}
