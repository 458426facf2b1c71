package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mlship/mlship/internal/drift"
	"github.com/mlship/mlship/internal/monitor"
)

func driftCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "drift",
		Short: "Compare datasets, and watch deployments' traffic, for drift",
		Long: `Compare two dataset versions column by column with Evidently's tests, defaults and
thresholds (K-S, chi-squared or Z-test up to 1000 reference rows; normed Wasserstein
or Jensen-Shannon above), and list the drift found in a deployment's live traffic.`,
		Example: `  mlship drift compare credit/1 credit/2
  mlship drift compare credit/1 credit/latest --html report.html
  mlship drift list fraud`,
	}
	c.AddCommand(driftCompareCommand(), driftListCommand())
	return c
}

func parseDatasetRef(arg string) map[string]string {
	name, version, _ := strings.Cut(arg, "/")
	if version == "" {
		version = "latest"
	}
	return map[string]string{"dataset": name, "version": version}
}

func driftCompareCommand() *cobra.Command {
	var f clientFlags
	var method, html string
	var threshold float64
	var exact bool
	var kindsFrom string
	c := &cobra.Command{
		Use:   "compare REFERENCE CURRENT",
		Short: "Report the drift from one dataset version to another",
		Long: `Compare dataset versions REFERENCE and CURRENT (NAME/VERSION, or NAME for the newest)
column by column. The exit code is 0 whether or not drift is found; the report says
which columns drifted and whether the dataset did (at least half of its columns).`,
		Example: "  mlship drift compare credit/1 credit/2\n  mlship drift compare credit/1 credit --method psi --html drift.html",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			body := map[string]any{"reference": parseDatasetRef(args[0]), "current": parseDatasetRef(args[1])}
			if method != "" {
				body["method"] = method
			}
			if cmd.Flags().Changed("threshold") {
				body["threshold"] = threshold
			}
			if exact {
				body["exact"] = true
			}
			if kindsFrom != "" {
				body["kinds_from"] = kindsFrom
			}
			var report drift.Report
			if err := cl.Send(cmd.Context(), "POST", "/api/v1/drift", body, &report); err != nil {
				return err
			}
			if html != "" {
				if err := writeReportHTML(&report, html); err != nil {
					return err
				}
			}
			return f.out.print(cmd.OutOrStdout(), &report, func(t *tabwriter.Writer) { driftTable(t, &report) })
		},
	}
	f.add(c)
	c.Flags().StringVar(&method, "method", "", "one test for every column: ks, chisquare, z, wasserstein, jensenshannon, psi or kl_div; text columns keep text content drift unless it is abs_text_content_drift or perc_text_content_drift (default: Evidently's choice per column)")
	c.Flags().StringVar(&kindsFrom, "kinds-from", "", "whose inferred column kinds decide the tests: current (the default, as Evidently) or reference")
	c.Flags().Float64Var(&threshold, "threshold", 0, "the drift threshold (default: the test's own)")
	c.Flags().BoolVar(&exact, "exact", false, "compare the data itself even when the versions are large (by default above 200,000 rows together the stored profiles are compared)")
	c.Flags().StringVar(&html, "html", "", "also write the report as a self-contained HTML page to this file")
	return c
}

func writeReportHTML(report *drift.Report, path string) error {
	var buf bytes.Buffer
	if err := report.WriteHTML(&buf); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func driftTable(t *tabwriter.Writer, r *drift.Report) {
	verdict := "no dataset drift"
	if r.DatasetDrift {
		verdict = "DATASET DRIFT"
	}
	row(t, "Verdict:", fmt.Sprintf("%s: %d of %d columns drifted (threshold share %.2f), %d reference rows, %d current rows",
		verdict, r.DriftedColumns, r.Columns, r.DriftShare, r.ReferenceRows, r.CurrentRows))
	row(t, "COLUMN", "KIND", "TEST", "SCORE", "THRESHOLD", "DRIFT")
	for _, c := range r.Results {
		score, _ := json.Marshal(c.Score)
		mark := "no"
		if c.Drifted {
			mark = "YES"
		}
		row(t, c.Name, c.Kind, c.MethodName, string(score), c.Threshold, mark)
	}
	for _, s := range r.Skipped {
		row(t, s.Name, "-", "skipped", "-", "-", s.Reason)
	}
}

func driftListCommand() *cobra.Command {
	var f clientFlags
	var limit int
	c := &cobra.Command{
		Use:   "list DEPLOYMENT",
		Short: "List the drift found in a deployment's traffic, newest window first",
		Long: `List the windows of DEPLOYMENT's traffic that monitoring compared with the served
model's training data, and the columns that drifted in each. A deployment is monitored
when it is created with --drift-window (or spec.monitoring).`,
		Example: "  mlship drift list fraud\n  mlship drift list fraud --limit 100 -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			var out struct {
				Windows []monitor.Summary `json:"windows"`
			}
			q := url.Values{"limit": {strconv.Itoa(limit)}}
			if f.out.format == "json" {
				q.Set("reports", "true")
			}
			if err := cl.Get(cmd.Context(), "/api/v1/deployments/"+url.PathEscape(args[0])+"/drift", q, &out); err != nil {
				return err
			}
			return f.out.print(cmd.OutOrStdout(), out, func(t *tabwriter.Writer) {
				row(t, "WINDOW END", "ROWS", "MODEL", "REFERENCE", "DATASET DRIFT", "DRIFTED COLUMNS")
				for _, w := range out.Windows {
					row(t, millis(w.EndMs), w.Rows, w.Model+"/v"+w.Version, w.Reference, w.DatasetDrift, strings.Join(w.DriftedColumns, ","))
				}
			})
		},
	}
	f.add(c)
	c.Flags().IntVar(&limit, "limit", 20, "at most this many windows")
	return c
}
