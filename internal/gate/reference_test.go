package gate

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// The reference check: this test writes random predictions (binary,
// multiclass and regression; ties, probabilities of exactly 0 and 1,
// constant columns, zero truths, slices), testdata/sklearn_reference.py
// computes scikit-learn's metrics on them, and every metric mlship computes
// must match within 1e-9 (relative to the value when it is above 1), and be
// undefined exactly where scikit-learn's is NaN or an error.

const referenceTolerance = 1e-9

type refCase struct {
	Name         string    `json:"name"`
	Task         Task      `json:"task"`
	Classes      int       `json:"classes,omitempty"`
	Positive     int       `json:"positive"`
	Average      Average   `json:"average,omitempty"`
	ZeroDivision string    `json:"zero_division,omitempty"`
	ClassTrue    []int     `json:"class_true,omitempty"`
	ClassPred    []int     `json:"class_pred,omitempty"`
	Proba        any       `json:"proba,omitempty"` // [][]float64, or []float64 for one column
	YTrue        []float64 `json:"y_true,omitempty"`
	YPred        []float64 `json:"y_pred,omitempty"`
	Slice        []string  `json:"slice,omitempty"`
	flatProba    []float64 // the probabilities as mlship is given them
}

type refResults struct {
	Sklearn string `json:"sklearn"`
	Numpy   string `json:"numpy"`
	Cases   map[string]struct {
		Overall map[string]*float64            `json:"overall"`
		Slices  map[string]map[string]*float64 `json:"slices"`
	} `json:"cases"`
}

// referencePython finds a Python with scikit-learn and numpy:
// $MLSHIP_GATE_REFERENCE_PYTHON, else the repository's .venv.
func referencePython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{os.Getenv("MLSHIP_GATE_REFERENCE_PYTHON"), filepath.Join("..", "..", ".venv", "bin", "python")} {
		if py != "" && exec.Command(py, "-c", "import sklearn, numpy").Run() == nil {
			return py
		}
	}
	t.Skip("no Python with scikit-learn and numpy: set MLSHIP_GATE_REFERENCE_PYTHON or create .venv with scikit-learn 1.9.1")
	return ""
}

func TestMatchesScikitLearn(t *testing.T) {
	py := referencePython(t)
	cases := referenceCases()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "cases.json"), filepath.Join(dir, "results.json")
	writeJSON(t, in, cases)
	cmd := exec.Command(py, filepath.Join("testdata", "sklearn_reference.py"), in, out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sklearn_reference.py: %v\n%s", err, msg)
	}
	var want refResults
	readJSON(t, out, &want)
	t.Logf("reference: scikit-learn %s, numpy %s", want.Sklearn, want.Numpy)

	var dev deviation
	for _, c := range cases {
		got := evaluateCase(t, c)
		ref, ok := want.Cases[c.Name]
		if !ok {
			t.Fatalf("%s: no reference result", c.Name)
		}
		dev.compare(t, c.Name, got.Metrics, ref.Overall)
		if len(got.Slices) != len(ref.Slices) {
			t.Errorf("%s: %d slices, reference %d", c.Name, len(got.Slices), len(ref.Slices))
		}
		for _, s := range got.Slices {
			dev.compare(t, c.Name+"/"+s.Value, s.Metrics, ref.Slices[s.Value])
		}
	}
	t.Logf("%d values compared over %d cases; max deviation %.3g (%s)", dev.values, len(cases), dev.max, dev.where)
}

type deviation struct {
	values int
	max    float64
	where  string
}

func (d *deviation) compare(t *testing.T, name string, got Metrics, want map[string]*float64) {
	t.Helper()
	for metric, w := range want {
		g, ok := got[metric]
		where := name + " " + metric
		switch {
		case w == nil && ok:
			t.Errorf("%s = %v, scikit-learn leaves it undefined", where, g)
		case w != nil && !ok:
			t.Errorf("%s is undefined, scikit-learn has %v", where, *w)
		case w != nil:
			d.values++
			diff := math.Abs(g-*w) / math.Max(1, math.Abs(*w))
			if diff > d.max {
				d.max, d.where = diff, where
			}
			if !(diff <= referenceTolerance) {
				t.Errorf("%s = %.17g, scikit-learn %.17g", where, g, *w)
			}
		}
	}
	for metric := range got {
		if _, ok := want[metric]; !ok {
			t.Errorf("%s %s: computed but not in the reference", name, metric)
		}
	}
}

func evaluateCase(t *testing.T, c refCase) Result {
	t.Helper()
	if c.Task == TaskRegression {
		acc, err := NewRegression(Spec{Task: TaskRegression, SliceBy: sliceName(c.Slice)})
		if err != nil {
			t.Fatal(err)
		}
		if err := acc.Add(RegressionBatch{Truth: c.YTrue, Pred: c.YPred, Slice: c.Slice}); err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		return acc.Result()
	}
	classes := make([]string, c.Classes)
	for i := range classes {
		classes[i] = strconv.Itoa(i)
	}
	spec := Spec{
		Task: TaskClassification, Classes: classes,
		Average: c.Average, ZeroDivision: ZeroDivision(c.ZeroDivision), SliceBy: sliceName(c.Slice),
	}
	if c.Classes == 2 {
		spec.Positive = classes[c.Positive]
	}
	acc, err := NewClassification(spec)
	if err != nil {
		t.Fatal(err)
	}
	// Feed in uneven batches, so that batch boundaries are exercised too.
	if err := addInBatches(acc, c, 7919); err != nil {
		t.Fatalf("%s: %v", c.Name, err)
	}
	return acc.Result()
}

func addInBatches(acc *Classification, c refCase, size int) error {
	n := len(c.ClassTrue)
	stride := 0
	if len(c.flatProba) > 0 {
		stride = len(c.flatProba) / n
	}
	for lo := 0; lo < n; lo += size {
		hi := min(lo+size, n)
		b := ClassificationBatch{Truth: c.ClassTrue[lo:hi], Pred: c.ClassPred[lo:hi]}
		if stride > 0 {
			b.Proba = c.flatProba[lo*stride : hi*stride]
		}
		if c.Slice != nil {
			b.Slice = c.Slice[lo:hi]
		}
		if err := acc.Add(b); err != nil {
			return err
		}
	}
	return nil
}

func sliceName(s []string) string {
	if s == nil {
		return ""
	}
	return "segment"
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

// referenceCases builds the cases; every generator is seeded, so the
// cases are the same on every run.
func referenceCases() []refCase {
	var cases []refCase
	for seed := range uint64(4) {
		cases = append(cases,
			binaryCase(fmt.Sprintf("binary/seed%d", seed), seed, 3000, binaryOpts{}),
			binaryCase(fmt.Sprintf("binary-ties/seed%d", seed), seed, 3000, binaryOpts{ties: true, sliced: true}),
			binaryCase(fmt.Sprintf("binary-one-column/seed%d", seed), seed, 2000, binaryOpts{oneColumn: true, ties: true}),
			binaryCase(fmt.Sprintf("binary-positive-0/seed%d", seed), seed, 2000, binaryOpts{negativeIsPositive: true}),
			multiclassCase(fmt.Sprintf("multiclass-weighted/seed%d", seed), seed, 3000, 3, multiOpts{}),
			multiclassCase(fmt.Sprintf("multiclass-macro/seed%d", seed), seed, 3000, 5, multiOpts{average: AverageMacro, ties: true, sliced: true}),
			multiclassCase(fmt.Sprintf("multiclass-micro/seed%d", seed), seed, 3000, 4, multiOpts{average: AverageMicro, ties: true}),
			regressionCase(fmt.Sprintf("regression/seed%d", seed), seed, 3000, regressionOpts{sliced: true}),
			regressionCase(fmt.Sprintf("regression-zeros/seed%d", seed), seed, 3000, regressionOpts{zeros: true}),
		)
	}
	return append(cases, edgeCases()...)
}

func edgeCases() []refCase {
	return []refCase{
		binaryCase("binary-large", 11, 200_000, binaryOpts{ties: true}),
		multiclassCase("multiclass-large", 12, 100_000, 4, multiOpts{average: AverageMacro}),
		binaryCase("binary-constant-prediction", 13, 500, binaryOpts{constantPred: true}),
		binaryCase("binary-constant-prediction-zd1", 13, 500, binaryOpts{constantPred: true, zeroDivision: "1"}),
		binaryCase("binary-constant-prediction-zdnan", 13, 500, binaryOpts{constantPred: true, zeroDivision: "nan"}),
		binaryCase("binary-one-class-truth", 14, 500, binaryOpts{constantTruth: true}),
		binaryCase("binary-constant-score", 15, 500, binaryOpts{constantScore: true}),
		binaryCase("binary-certain", 16, 500, binaryOpts{certain: true}),
		binaryCase("binary-no-proba", 17, 500, binaryOpts{noProba: true}),
		multiclassCase("multiclass-absent-class-macro", 18, 2000, 4, multiOpts{average: AverageMacro, absentTruth: true}),
		multiclassCase("multiclass-absent-class-weighted", 18, 2000, 4, multiOpts{absentTruth: true}),
		multiclassCase("multiclass-unused-class-macro", 19, 2000, 4, multiOpts{average: AverageMacro, unused: true}),
		multiclassCase("multiclass-not-probabilities", 20, 2000, 3, multiOpts{offSimplex: true}),
		multiclassCase("multiclass-zdnan-macro", 21, 2000, 4, multiOpts{average: AverageMacro, zeroDivision: "nan", absentTruth: true}),
		multiclassCase("multiclass-zd1-weighted", 21, 2000, 4, multiOpts{zeroDivision: "1", absentTruth: true}),
		regressionCase("regression-constant-truth", 22, 1000, regressionOpts{constant: 3}),
		regressionCase("regression-constant-truth-half", 22, 1000, regressionOpts{constant: 2.5}),
		regressionCase("regression-constant-perfect", 22, 1000, regressionOpts{constant: 3, perfect: true}),
		regressionCase("regression-perfect", 23, 1000, regressionOpts{perfect: true}),
		regressionCase("regression-one-row", 24, 1, regressionOpts{}),
		regressionCase("regression-large", 25, 300_000, regressionOpts{zeros: true}),
	}
}

type binaryOpts struct {
	ties, oneColumn, sliced, noProba                    bool
	constantPred, constantTruth, constantScore, certain bool
	negativeIsPositive                                  bool
	zeroDivision                                        string
}

func binaryCase(name string, seed uint64, n int, o binaryOpts) refCase {
	rng := rand.New(rand.NewPCG(seed, 0xb1))
	c := refCase{Name: name, Task: TaskClassification, Classes: 2, Positive: 1, ZeroDivision: o.zeroDivision}
	if o.negativeIsPositive {
		c.Positive = 0
	}
	c.ClassTrue, c.ClassPred = make([]int, n), make([]int, n)
	p1 := make([]float64, n)
	for i := range n {
		t := 0
		if rng.Float64() < 0.35 && !o.constantTruth {
			t = 1
		}
		p := 1 / (1 + math.Exp(-(2*float64(t)-1)*1.2-rng.NormFloat64()))
		switch {
		case o.ties:
			p = math.Round(p*20) / 20 // 0, 0.05, …, 1: ties and exact 0 and 1
		case o.constantScore:
			p = 0.3
		case o.certain:
			p = float64(t) // a perfect, certain model: log loss clips at eps
			if i%50 == 0 {
				p = 1 - p // and a few certain mistakes
			}
		}
		c.ClassTrue[i], p1[i] = t, p
		c.ClassPred[i] = predictBinary(p, rng, o.constantPred)
	}
	c.Slice = maybeSlices(rng, n, o.sliced)
	if o.noProba {
		return c
	}
	if o.oneColumn {
		c.Proba, c.flatProba = p1, p1
		return c
	}
	rows := make([][]float64, n)
	for i, p := range p1 {
		rows[i] = []float64{1 - p, p}
		c.flatProba = append(c.flatProba, 1-p, p)
	}
	c.Proba = rows
	return c
}

func predictBinary(p float64, rng *rand.Rand, constant bool) int {
	switch {
	case constant:
		return 0
	case rng.Float64() < 0.1:
		return rng.IntN(2)
	case p >= 0.5:
		return 1
	}
	return 0
}

type multiOpts struct {
	average                                       Average
	zeroDivision                                  string
	ties, sliced, absentTruth, unused, offSimplex bool
}

func multiclassCase(name string, seed uint64, n, k int, o multiOpts) refCase {
	rng := rand.New(rand.NewPCG(seed, 0x3c))
	c := refCase{Name: name, Task: TaskClassification, Classes: k, Positive: k - 1, Average: o.average, ZeroDivision: o.zeroDivision}
	prototypes := make([][]float64, 2*k) // tied rows: copies of a few rows
	for j := range prototypes {
		prototypes[j] = softmax(rng, k, j%k)
	}
	rows := make([][]float64, n)
	for i := range n {
		t := classOfRow(rng, k, o)
		row := softmax(rng, k, t)
		if o.ties && rng.IntN(3) == 0 {
			row = prototypes[t+k*rng.IntN(2)]
		}
		if o.offSimplex && i%97 == 0 {
			row = scaled(row, 0.9)
		}
		c.ClassTrue = append(c.ClassTrue, t)
		c.ClassPred = append(c.ClassPred, predictClass(rng, row, o))
		rows[i] = row
		c.flatProba = append(c.flatProba, row...)
	}
	c.Proba = rows
	c.Slice = maybeSlices(rng, n, o.sliced)
	return c
}

// classOfRow draws a true class, skewed towards low classes; absentTruth
// leaves the last class out of the truth, unused leaves it out of the
// truth and the predictions.
func classOfRow(rng *rand.Rand, k int, o multiOpts) int {
	hi := k
	if o.absentTruth || o.unused {
		hi = k - 1
	}
	return min(rng.IntN(hi), rng.IntN(hi+1)) % hi
}

func predictClass(rng *rand.Rand, row []float64, o multiOpts) int {
	k := len(row)
	if rng.Float64() < 0.15 {
		j := rng.IntN(k)
		if o.unused {
			j %= k - 1
		}
		return j
	}
	best := 0
	for j, p := range row {
		if p > row[best] {
			best = j
		}
	}
	if o.unused && best == k-1 {
		best = 0
	}
	return best
}

// softmax draws a probability row leaning towards class t.
func softmax(rng *rand.Rand, k, t int) []float64 {
	row := make([]float64, k)
	s := 0.0
	for j := range row {
		z := rng.NormFloat64()
		if j == t {
			z += 1.5
		}
		row[j] = math.Exp(z)
		s += row[j]
	}
	for j := range row {
		row[j] /= s
	}
	return row
}

func scaled(row []float64, f float64) []float64 {
	out := make([]float64, len(row))
	for j, p := range row {
		out[j] = p * f
	}
	return out
}

func maybeSlices(rng *rand.Rand, n int, sliced bool) []string {
	if !sliced {
		return nil
	}
	values := []string{"north", "south", "east", "west"}
	s := make([]string, n)
	for i := range s {
		s[i] = values[rng.IntN(len(values))]
	}
	s[n/2] = "solo" // a one-row slice
	return s
}

type regressionOpts struct {
	sliced, zeros, perfect bool
	constant               float64
}

func regressionCase(name string, seed uint64, n int, o regressionOpts) refCase {
	rng := rand.New(rand.NewPCG(seed, 0x7e))
	c := refCase{Name: name, Task: TaskRegression}
	for range n {
		y := 50 + 20*rng.NormFloat64()
		if o.constant != 0 {
			y = o.constant
		}
		if o.zeros && rng.IntN(10) == 0 {
			y = 0
		}
		p := y + 4*rng.NormFloat64()
		if o.perfect {
			p = y
		}
		c.YTrue, c.YPred = append(c.YTrue, y), append(c.YPred, p)
	}
	c.Slice = maybeSlices(rng, n, o.sliced)
	return c
}
