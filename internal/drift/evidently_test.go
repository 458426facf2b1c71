package drift

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/dataset"
)

// The reference check: testdata/evidently_check.py builds datasets from data
// scikit-learn ships (some columns shifted on purpose), runs Evidently's
// DataDriftPreset and scipy on them, and this test runs mlship's drift on the
// same CSV files and compares every score, verdict and method.

type evidentlyResults struct {
	Scenarios []evidentlyScenario `json:"scenarios"`
}

type evidentlyScenario struct {
	Name         string                     `json:"name"`
	Reference    string                     `json:"reference"`
	Current      string                     `json:"current"`
	Options      evidentlyOptions           `json:"options"`
	Injected     []string                   `json:"injected"`
	Columns      map[string]evidentlyColumn `json:"columns"`
	Share        float64                    `json:"share_of_drifted_columns"`
	DatasetDrift bool                       `json:"dataset_drift"`
}

type evidentlyOptions struct {
	Method             Method             `json:"method"`
	NumMethod          Method             `json:"num_method"`
	CatMethod          Method             `json:"cat_method"`
	PerColumnMethod    map[string]Method  `json:"per_column_method"`
	Threshold          *float64           `json:"threshold"`
	NumThreshold       *float64           `json:"num_threshold"`
	CatThreshold       *float64           `json:"cat_threshold"`
	PerColumnThreshold map[string]float64 `json:"per_column_threshold"`
	DriftShare         float64            `json:"drift_share"`
	KindsFrom          KindsFrom          `json:"kinds_from"`
}

func (e evidentlyOptions) options() *Options {
	return &Options{
		Method: e.Method, NumMethod: e.NumMethod, CatMethod: e.CatMethod, PerColumnMethod: e.PerColumnMethod,
		Threshold: e.Threshold, NumThreshold: e.NumThreshold, CatThreshold: e.CatThreshold,
		PerColumnThreshold: e.PerColumnThreshold, DriftShare: e.DriftShare, KindsFrom: e.KindsFrom,
	}
}

type evidentlyColumn struct {
	Kind      dataset.Kind `json:"kind"`
	Method    Method       `json:"method"`
	Threshold float64      `json:"threshold"`
	Score     float64      `json:"score"`
	Drifted   bool         `json:"drifted"`
	Scipy     *struct {
		KSStatistic       float64 `json:"ks_statistic"`
		KSPValue          float64 `json:"ks_pvalue"`
		WassersteinNormed float64 `json:"wasserstein_normed"`
	} `json:"scipy"`
}

// referencePython finds a Python with evidently, scipy and scikit-learn:
// $MLSHIP_DRIFT_REFERENCE_PYTHON, else the repository's .venv-drift or .venv.
func referencePython(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("MLSHIP_DRIFT_REFERENCE_PYTHON")}
	for _, venv := range []string{".venv-drift", ".venv"} {
		candidates = append(candidates, filepath.Join("..", "..", venv, "bin", "python"))
	}
	for _, py := range candidates {
		if py == "" {
			continue
		}
		if exec.Command(py, "-c", "import evidently, scipy, sklearn, pandas").Run() == nil {
			return py
		}
	}
	t.Skip("no Python with evidently, scipy and scikit-learn: set MLSHIP_DRIFT_REFERENCE_PYTHON or install internal/drift/testdata/requirements.txt into .venv-drift")
	return ""
}

// deviation tracks the largest difference from the reference.
type deviation struct {
	values, columns int
	max             float64
	where           string
	// approximate results (profiles only): how many, how many verdicts
	// differ, the largest score difference
	approx, approxFlips int
	approxMax           float64
}

func (d *deviation) check(t *testing.T, what string, got, want float64) {
	t.Helper()
	d.values++
	diff := math.Abs(got - want)
	if math.IsNaN(got) && math.IsNaN(want) {
		diff = 0
	}
	rel := diff / math.Max(1, math.Abs(want))
	if rel > d.max {
		d.max, d.where = rel, what
	}
	if !(rel <= 1e-6) {
		t.Errorf("%s = %v, reference %v", what, got, want)
	}
}

func TestMatchesEvidently(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Evidently (a minute or more)")
	}
	if raceEnabled && os.Getenv("MLSHIP_DRIFT_REFERENCE_PYTHON") == "" {
		t.Skip("checks numbers, not concurrency: runs without -race, or with MLSHIP_DRIFT_REFERENCE_PYTHON set")
	}
	py := referencePython(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	// MLSHIP_DRIFT_SCENARIOS="text_columns kinds_differ" runs only those.
	args := append([]string{filepath.Join("testdata", "evidently_check.py"), dir}, strings.Fields(os.Getenv("MLSHIP_DRIFT_SCENARIOS"))...)
	cmd := exec.CommandContext(ctx, py, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("evidently_check.py: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var results evidentlyResults
	if err := json.Unmarshal(raw, &results); err != nil {
		t.Fatal(err)
	}
	var dev, profileDev deviation
	for _, sc := range results.Scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			ref, cur := readCSVTable(t, filepath.Join(dir, sc.Reference)), readCSVTable(t, filepath.Join(dir, sc.Current))
			report, err := Compare(context.Background(), ref, cur, sc.Options.options())
			if err != nil {
				t.Fatal(err)
			}
			checkKinds(t, report, sc)
			checkAgainstEvidently(t, report, sc, &dev, false)
			checkScipy(t, report, ref, cur, sc, &dev)
			checkInjected(t, report, sc)

			refProfile, curProfile := profileCSV(t, filepath.Join(dir, sc.Reference)), profileCSV(t, filepath.Join(dir, sc.Current))
			fromProfiles, err := CompareProfiles(context.Background(), refProfile, curProfile, sc.Options.options())
			if err != nil {
				t.Fatal(err)
			}
			checkAgainstEvidently(t, fromProfiles, sc, &profileDev, true)
		})
	}
	t.Logf("datasets: %d columns, %d values compared with Evidently and scipy, largest relative deviation %.3g (%s)",
		dev.columns, dev.values, dev.max, dev.where)
	t.Logf("profiles: %d exact columns, %d values compared, largest relative deviation %.3g (%s)",
		profileDev.columns, profileDev.values, profileDev.max, profileDev.where)
	t.Logf("profiles: %d approximate columns, %d verdicts differ from Evidently's, largest score difference %.3g",
		profileDev.approx, profileDev.approxFlips, profileDev.approxMax)
	if profileDev.approxFlips*20 > profileDev.approx {
		t.Errorf("more than 5%% of the verdicts from sketches differ from Evidently's")
	}
}

func readCSVTable(t *testing.T, path string) *dataset.Table {
	t.Helper()
	r, err := dataset.OpenFile(path, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tbl, err := dataset.ReadTable(context.Background(), r, 0)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func profileCSV(t *testing.T, path string) *dataset.Profile {
	t.Helper()
	r, err := dataset.OpenFile(path, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, err := dataset.ProfileReader(context.Background(), r, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkKinds holds the kinds the columns were compared as to the kinds
// Evidently's infer_column_type gave them, and the columns compared to the
// ones Evidently compared.
func checkKinds(t *testing.T, r *Report, sc evidentlyScenario) {
	t.Helper()
	for name, want := range sc.Columns {
		if c, ok := r.Result(name); ok && c.Kind != want.Kind {
			t.Errorf("column %q: compared as %v, Evidently %v", name, c.Kind, want.Kind)
		}
	}
	for _, c := range r.Results {
		if _, ok := sc.Columns[c.Name]; !ok {
			t.Errorf("column %q: compared as %v, Evidently leaves it out", c.Name, c.Kind)
		}
	}
}

func checkAgainstEvidently(t *testing.T, r *Report, sc evidentlyScenario, dev *deviation, exactOnly bool) {
	t.Helper()
	compared := 0
	for name, want := range sc.Columns {
		got, ok := r.Result(name)
		if !ok {
			t.Errorf("column %q: not compared", name)
			continue
		}
		if exactOnly && got.Approximate {
			dev.approx++
			if got.Drifted != want.Drifted {
				dev.approxFlips++
			}
			dev.approxMax = math.Max(dev.approxMax, math.Abs(got.Score.V-want.Score))
			continue
		}
		compared++
		if got.Method != want.Method || got.Threshold != want.Threshold {
			t.Errorf("column %q: %s at %v, Evidently %s at %v", name, got.Method, got.Threshold, want.Method, want.Threshold)
		}
		dev.check(t, sc.Name+"/"+name+" score", got.Score.V, want.Score)
		if got.Drifted != want.Drifted {
			t.Errorf("column %q: drifted=%v (score %v), Evidently %v (score %v)", name, got.Drifted, got.Score.V, want.Drifted, want.Score)
		}
	}
	dev.columns += compared
	if exactOnly && compared < len(sc.Columns) {
		return // the dataset verdict depends on approximate columns
	}
	dev.check(t, sc.Name+" share of drifted columns", r.ShareDrifted, sc.Share)
	if r.DatasetDrift != sc.DatasetDrift {
		t.Errorf("dataset drift = %v, Evidently %v", r.DatasetDrift, sc.DatasetDrift)
	}
}

// checkScipy compares the K-S test and the normed Wasserstein distance on
// every numerical column with scipy's, whatever method the column used.
func checkScipy(t *testing.T, r *Report, ref, cur *dataset.Table, sc evidentlyScenario, dev *deviation) {
	t.Helper()
	for name, want := range sc.Columns {
		if want.Scipy == nil {
			continue
		}
		a, b := exactSample(ref.Column(name).Floats), exactSample(cur.Column(name).Floats)
		p, d := ksPValue(ksStatistic(a, b), a.n, b.n)
		dev.check(t, sc.Name+"/"+name+" ks statistic", d, want.Scipy.KSStatistic)
		dev.check(t, sc.Name+"/"+name+" ks p-value", p, want.Scipy.KSPValue)
		res, _ := r.Result(name)
		w := wasserstein(a, b) / math.Max(res.Reference.Std.V, 0.001)
		dev.check(t, sc.Name+"/"+name+" normed wasserstein", w, want.Scipy.WassersteinNormed)
	}
}

// checkInjected: where a scenario names the columns it shifted, exactly those
// columns drift.
func checkInjected(t *testing.T, r *Report, sc evidentlyScenario) {
	t.Helper()
	if sc.Injected == nil {
		return
	}
	var drifted []string
	for _, c := range r.Results {
		if c.Drifted {
			drifted = append(drifted, c.Name)
		}
	}
	want := slices.Clone(sc.Injected)
	slices.Sort(want)
	slices.Sort(drifted)
	if !slices.Equal(drifted, want) {
		t.Errorf("drifted columns %v, injected %v", drifted, want)
	}
}
