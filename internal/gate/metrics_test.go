package gate

import (
	"encoding/json"
	"errors"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/fault"
)

// Known values from scikit-learn's documentation and hand computation; they
// hold without Python. The reference test covers the rest.

func classify(t *testing.T, spec Spec, b ClassificationBatch) Result {
	t.Helper()
	spec.Task = TaskClassification
	c, err := NewClassification(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Add(b); err != nil {
		t.Fatal(err)
	}
	return c.Result()
}

func regress(t *testing.T, spec Spec, b RegressionBatch) Result {
	t.Helper()
	spec.Task = TaskRegression
	r, err := NewRegression(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Add(b); err != nil {
		t.Fatal(err)
	}
	return r.Result()
}

func near(got, want float64) bool {
	return math.Abs(got-want) <= 1e-12*math.Max(1, math.Abs(want))
}

func checkMetrics(t *testing.T, got Metrics, want Metrics) {
	t.Helper()
	for name, w := range want {
		g, ok := got[name]
		if !ok || !near(g, w) {
			t.Errorf("%s = %v (present %v), want %v", name, g, ok, w)
		}
	}
}

func TestClassificationKnownValues(t *testing.T) {
	// precision_recall_fscore_support's docstring: cat, dog, pig.
	catDogPig := ClassificationBatch{Truth: []int{0, 1, 2, 0, 1, 2}, Pred: []int{0, 2, 1, 0, 0, 1}}
	tests := []struct {
		name  string
		spec  Spec
		batch ClassificationBatch
		want  Metrics
		undef []string
	}{
		{
			name:  "macro",
			spec:  Spec{Classes: []string{"cat", "dog", "pig"}, Average: AverageMacro},
			batch: catDogPig,
			want:  Metrics{Precision: 2.0 / 9, Recall: 1.0 / 3, F1: 4.0 / 15, Accuracy: 1.0 / 3, ExampleCount: 6},
			undef: []string{ROCAUC, LogLoss},
		},
		{
			name:  "weighted",
			spec:  Spec{Classes: []string{"cat", "dog", "pig"}},
			batch: catDogPig,
			want:  Metrics{Precision: 2.0 / 9, Recall: 1.0 / 3, F1: 4.0 / 15},
		},
		{
			name:  "micro",
			spec:  Spec{Classes: []string{"cat", "dog", "pig"}, Average: AverageMicro},
			batch: catDogPig,
			want:  Metrics{Precision: 1.0 / 3, Recall: 1.0 / 3, F1: 1.0 / 3},
		},
		{
			// roc_auc_score's docstring: 0.75; log_loss's: 0.21616…
			name: "binary",
			spec: Spec{Classes: []string{"ham", "spam"}},
			batch: ClassificationBatch{
				Truth: []int{1, 0, 0, 1}, Pred: []int{1, 0, 0, 1},
				Proba: []float64{.1, .9, .9, .1, .8, .2, .35, .65},
			},
			want: Metrics{
				LogLoss: -(math.Log(.9) + math.Log(.9) + math.Log(.8) + math.Log(.65)) / 4,
				ROCAUC:  1, Accuracy: 1, Precision: 1, Recall: 1, F1: 1,
				TruePositives: 2, TrueNegatives: 2, FalsePositives: 0, FalseNegatives: 0,
			},
		},
		{
			name: "binary ties",
			spec: Spec{Classes: []string{"0", "1"}},
			batch: ClassificationBatch{
				Truth: []int{0, 0, 1, 1}, Pred: []int{0, 0, 0, 1},
				Proba: []float64{0.1, 0.4, 0.35, 0.8},
			},
			want: Metrics{ROCAUC: 0.75, Precision: 1, Recall: 0.5, F1: 2.0 / 3},
		},
		{
			name: "positive class 0",
			spec: Spec{Classes: []string{"no", "yes"}, Positive: "no"},
			batch: ClassificationBatch{
				Truth: []int{0, 0, 1, 1}, Pred: []int{0, 1, 1, 1},
				Proba: []float64{0.2, 0.6, 0.6, 0.9},
			},
			// Rows of class 0 are the positives; their score is 1-p.
			want: Metrics{Precision: 1, Recall: 0.5, ROCAUC: 0.875, TruePositives: 1, FalseNegatives: 1},
		},
		{
			name:  "no positive predictions, zero_division 0",
			spec:  Spec{Classes: []string{"0", "1"}},
			batch: ClassificationBatch{Truth: []int{0, 1, 1}, Pred: []int{0, 0, 0}},
			want:  Metrics{Precision: 0, Recall: 0, F1: 0},
		},
		{
			name:  "no positive predictions, zero_division 1",
			spec:  Spec{Classes: []string{"0", "1"}, ZeroDivision: ZeroDivisionOne},
			batch: ClassificationBatch{Truth: []int{0, 1, 1}, Pred: []int{0, 0, 0}},
			want:  Metrics{Precision: 1, Recall: 0, F1: 0},
		},
		{
			name:  "no positive predictions, zero_division nan",
			spec:  Spec{Classes: []string{"0", "1"}, ZeroDivision: ZeroDivisionNaN},
			batch: ClassificationBatch{Truth: []int{0, 1, 1}, Pred: []int{0, 0, 0}},
			want:  Metrics{Recall: 0, F1: 0},
			undef: []string{Precision},
		},
		{
			name:  "certain and wrong: log loss clips at eps",
			spec:  Spec{Classes: []string{"0", "1"}},
			batch: ClassificationBatch{Truth: []int{0, 1}, Pred: []int{1, 1}, Proba: []float64{1, 1}},
			want:  Metrics{LogLoss: -math.Log(0x1p-52) / 2},
		},
		{
			name:  "one class in the truth",
			spec:  Spec{Classes: []string{"0", "1"}},
			batch: ClassificationBatch{Truth: []int{1, 1}, Pred: []int{1, 0}, Proba: []float64{0.9, 0.2}},
			want:  Metrics{Recall: 0.5},
			undef: []string{ROCAUC},
		},
		{
			name: "empty",
			spec: Spec{Classes: []string{"0", "1"}},
			want: Metrics{ExampleCount: 0},
			undef: []string{Accuracy, Precision, Recall, F1, ROCAUC, LogLoss,
				TruePositives, FalsePositives, TrueNegatives, FalseNegatives},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := classify(t, tt.spec, tt.batch)
			checkMetrics(t, r.Metrics, tt.want)
			for _, m := range tt.undef {
				if _, ok := r.Metrics[m]; ok || r.Undefined[m] == "" {
					t.Errorf("%s = %v, want undefined with a reason (got %q)", m, r.Metrics[m], r.Undefined[m])
				}
			}
		})
	}
}

func TestRegressionKnownValues(t *testing.T) {
	constant := make([]float64, 1000)
	shifted := make([]float64, 1000)
	for i := range constant {
		constant[i], shifted[i] = 0.1, 0.11
	}
	tests := []struct {
		name  string
		batch RegressionBatch
		want  Metrics
		undef []string
	}{
		{
			// r2_score's and mean_absolute_percentage_error's docstrings.
			name:  "docstring",
			batch: RegressionBatch{Truth: []float64{3, -0.5, 2, 7}, Pred: []float64{2.5, 0, 2, 8}},
			want: Metrics{
				R2: 0.9486081370449679, MeanAbsoluteError: 0.5, MeanSquaredError: 0.375,
				RootMeanSquaredError: math.Sqrt(0.375), MaxError: 1,
				MeanAbsolutePercentageError: 0.3273809523809524, ExampleCount: 4,
			},
		},
		{
			name:  "zero truth: MAPE divides by eps",
			batch: RegressionBatch{Truth: []float64{0, 1}, Pred: []float64{1, 1}},
			want:  Metrics{MeanAbsolutePercentageError: (1 / 0x1p-52) / 2},
		},
		{
			name:  "constant truth, perfect",
			batch: RegressionBatch{Truth: []float64{3, 3, 3}, Pred: []float64{3, 3, 3}},
			want:  Metrics{R2: 1},
		},
		{
			name:  "constant truth, imperfect",
			batch: RegressionBatch{Truth: []float64{3, 3, 3}, Pred: []float64{3, 4, 3}},
			want:  Metrics{R2: 0},
		},
		{
			// scikit-learn's mean of 1000 × 0.1 is not 0.1, which leaves a
			// denominator of ~1e-29 and an R² of about -5e29; the truth is
			// constant, so mlship gives 0 (docs/gates.md).
			name:  "constant truth whose mean rounds",
			batch: RegressionBatch{Truth: constant, Pred: shifted},
			want:  Metrics{R2: 0},
		},
		{
			name:  "one row",
			batch: RegressionBatch{Truth: []float64{1}, Pred: []float64{2}},
			want:  Metrics{MeanAbsoluteError: 1},
			undef: []string{R2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := regress(t, Spec{}, tt.batch)
			checkMetrics(t, r.Metrics, tt.want)
			for _, m := range tt.undef {
				if _, ok := r.Metrics[m]; ok || r.Undefined[m] == "" {
					t.Errorf("%s = %v, want undefined", m, r.Metrics[m])
				}
			}
		})
	}
}

func TestSlices(t *testing.T) {
	r := regress(t, Spec{SliceBy: "region"}, RegressionBatch{
		Truth: []float64{1, 2, 3, 4, 5},
		Pred:  []float64{1, 2, 4, 4, 7},
		Slice: []string{"eu", "us", "eu", "us", "eu"},
	})
	if len(r.Slices) != 2 || r.Slices[0].Value != "eu" || r.Slices[1].Value != "us" {
		t.Fatalf("slices = %+v", r.Slices)
	}
	checkMetrics(t, r.Slices[0].Metrics, Metrics{ExampleCount: 3, MeanAbsoluteError: 1, MaxError: 2})
	checkMetrics(t, r.Slices[1].Metrics, Metrics{ExampleCount: 2, MeanAbsoluteError: 0, R2: 1})
	all := r.All()
	if all["mean_absolute_error/region:eu"] != 1 || all[MeanAbsoluteError] != 0.6 {
		t.Errorf("All() = %v", all)
	}
}

// Accumulators filled separately and merged give what one accumulator
// fed everything gives.
func TestMergeEqualsSequential(t *testing.T) {
	for _, c := range []refCase{
		multiclassCase("merge", 5, 5000, 4, multiOpts{average: AverageMacro, sliced: true}),
		binaryCase("merge", 5, 5000, binaryOpts{ties: true, sliced: true}),
		binaryCase("merge", 5, 5000, binaryOpts{oneColumn: true, sliced: true, negativeIsPositive: true}),
	} {
		classes := []string{"a", "b", "c", "d"}[:c.Classes]
		spec := Spec{Task: TaskClassification, Classes: classes, Average: c.Average, SliceBy: "s"}
		if c.Classes == 2 {
			spec.Positive = classes[c.Positive]
		}
		whole, _ := NewClassification(spec)
		if err := addInBatches(whole, c, 5000); err != nil {
			t.Fatal(err)
		}
		stride := len(c.flatProba) / 5000
		merged, _ := NewClassification(spec)
		for _, part := range [][2]int{{0, 1234}, {1234, 1235}, {1235, 5000}} {
			p, _ := NewClassification(spec)
			sub := c
			sub.ClassTrue, sub.ClassPred = c.ClassTrue[part[0]:part[1]], c.ClassPred[part[0]:part[1]]
			sub.flatProba, sub.Slice = c.flatProba[part[0]*stride:part[1]*stride], c.Slice[part[0]:part[1]]
			if err := addInBatches(p, sub, 1000); err != nil {
				t.Fatal(err)
			}
			if err := merged.Merge(p); err != nil {
				t.Fatal(err)
			}
		}
		compareResults(t, whole.Result(), merged.Result())
	}

	rc := regressionCase("merge", 6, 4000, regressionOpts{sliced: true})
	rspec := Spec{Task: TaskRegression, SliceBy: "s"}
	rwhole, _ := NewRegression(rspec)
	if err := rwhole.Add(RegressionBatch{Truth: rc.YTrue, Pred: rc.YPred, Slice: rc.Slice}); err != nil {
		t.Fatal(err)
	}
	rmerged, _ := NewRegression(rspec)
	for lo := 0; lo < 4000; lo += 999 {
		hi := min(lo+999, 4000)
		p, _ := NewRegression(rspec)
		if err := p.Add(RegressionBatch{Truth: rc.YTrue[lo:hi], Pred: rc.YPred[lo:hi], Slice: rc.Slice[lo:hi]}); err != nil {
			t.Fatal(err)
		}
		if err := rmerged.Merge(p); err != nil {
			t.Fatal(err)
		}
	}
	compareResults(t, rwhole.Result(), rmerged.Result())
}

func compareResults(t *testing.T, a, b Result) {
	t.Helper()
	am, bm := a.All(), b.All()
	if len(am) != len(bm) {
		t.Fatalf("%d metrics vs %d", len(am), len(bm))
	}
	for k, v := range am {
		if w, ok := bm[k]; !ok || !near(v, w) {
			t.Errorf("%s: %v vs %v", k, v, w)
		}
	}
}

func TestMetricsSubset(t *testing.T) {
	r := classify(t, Spec{Classes: []string{"0", "1"}, Metrics: []string{F1}}, ClassificationBatch{
		Truth: []int{0, 1}, Pred: []int{0, 1}, Proba: []float64{0.2, 0.7},
	})
	if got := slices.Sorted(maps.Keys(r.Metrics)); !slices.Equal(got, []string{ExampleCount, F1}) || len(r.Undefined) != 0 {
		t.Errorf("metrics = %v, undefined = %v", r.Metrics, r.Undefined)
	}
}

func TestBatchErrors(t *testing.T) {
	two := Spec{Task: TaskClassification, Classes: []string{"0", "1"}}
	tests := []struct {
		name  string
		spec  Spec
		first *ClassificationBatch
		batch ClassificationBatch
		want  string
	}{
		{"lengths", two, nil, ClassificationBatch{Truth: []int{0}, Pred: []int{0, 1}}, "1 true classes and 2 predicted"},
		{"class index", two, nil, ClassificationBatch{Truth: []int{2}, Pred: []int{0}}, "row 0: class index"},
		{"negative index", two, nil, ClassificationBatch{Truth: []int{0}, Pred: []int{-1}}, "row 0: class index"},
		{"probability count", two, nil, ClassificationBatch{Truth: []int{0}, Pred: []int{0}, Proba: []float64{0.1, 0.2, 0.3}}, "has 3 probabilities"},
		{"probability range", two, nil, ClassificationBatch{Truth: []int{0, 1}, Pred: []int{0, 1}, Proba: []float64{0.1, 0.9, 1.5, -0.5}}, "row 1: probability 1.5"},
		{"probability NaN", two, nil, ClassificationBatch{Truth: []int{0}, Pred: []int{0}, Proba: []float64{math.NaN()}}, "probability NaN"},
		{"mixed probabilities", two, &ClassificationBatch{Truth: []int{0}, Pred: []int{0}, Proba: []float64{0.3}},
			ClassificationBatch{Truth: []int{0}, Pred: []int{0}}, "some batches have probabilities"},
		{"slices without slice_by", two, nil, ClassificationBatch{Truth: []int{0}, Pred: []int{0}, Slice: []string{"a"}}, "not sliced"},
		{"slice count", Spec{Task: TaskClassification, Classes: []string{"0", "1"}, SliceBy: "s"}, nil,
			ClassificationBatch{Truth: []int{0, 1}, Pred: []int{0, 1}, Slice: []string{"a"}}, "2 rows but 1 values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClassification(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if tt.first != nil {
				if err := c.Add(*tt.first); err != nil {
					t.Fatal(err)
				}
			}
			err = c.Add(tt.batch)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, fault.Invalid) {
				t.Fatalf("err = %v, want an invalid error containing %q", err, tt.want)
			}
		})
	}
}

func TestRegressionBatchErrors(t *testing.T) {
	r, _ := NewRegression(Spec{Task: TaskRegression})
	for _, b := range []RegressionBatch{
		{Truth: []float64{1}, Pred: []float64{}},
		{Truth: []float64{math.NaN()}, Pred: []float64{1}},
		{Truth: []float64{1}, Pred: []float64{math.Inf(1)}},
	} {
		if err := r.Add(b); !errors.Is(err, fault.Invalid) {
			t.Errorf("Add(%v) = %v, want invalid", b, err)
		}
	}
	if got := r.Result().Metrics[ExampleCount]; got != 0 {
		t.Errorf("rejected batches were counted: %v rows", got)
	}
}

func TestTooManySlices(t *testing.T) {
	r, _ := NewRegression(Spec{Task: TaskRegression, SliceBy: "id"})
	n := MaxSlices + 1
	b := RegressionBatch{Truth: make([]float64, n), Pred: make([]float64, n), Slice: make([]string, n)}
	for i := range b.Slice {
		b.Slice[i] = FormatValue(i)
	}
	if err := r.Add(b); err == nil || !strings.Contains(err.Error(), "more than 1000") {
		t.Fatalf("err = %v", err)
	}
	if len(r.Result().Slices) != 0 {
		t.Error("a rejected batch left slices behind")
	}
}

func TestEncode(t *testing.T) {
	c, _ := NewClassification(Spec{Task: TaskClassification, Classes: []string{"cat", "dog"}})
	got, err := c.Encode([]string{"dog", "cat"}, nil)
	if err != nil || !slices.Equal(got, []int{1, 0}) {
		t.Errorf("Encode = %v, %v", got, err)
	}
	if _, err := c.Encode([]string{"cow"}, nil); err == nil || !strings.Contains(err.Error(), `"cow"`) {
		t.Errorf("unknown label: %v", err)
	}
}

func TestSpecCheck(t *testing.T) {
	tests := []struct {
		spec Spec
		want string // "" when valid
	}{
		{Spec{Task: TaskRegression}, ""},
		{Spec{Task: TaskClassification, Classes: []string{"a", "b", "c"}, Average: AverageMacro, ZeroDivision: ZeroDivisionNaN}, ""},
		{Spec{Task: "ranking"}, "task"},
		{Spec{Task: TaskClassification, Classes: []string{"a"}}, "between 2"},
		{Spec{Task: TaskClassification, Classes: []string{"a", "a"}}, "twice"},
		{Spec{Task: TaskClassification, Classes: []string{"a", "b"}, Positive: "c"}, "positive"},
		{Spec{Task: TaskClassification, Classes: []string{"a", "b"}, Average: "samples"}, "average"},
		{Spec{Task: TaskClassification, Classes: []string{"a", "b"}, ZeroDivision: "warn"}, "zero_division"},
		{Spec{Task: TaskRegression, Classes: []string{"a", "b"}}, "classification only"},
		{Spec{Task: TaskRegression, Metrics: []string{F1}}, "f1_score"},
		{Spec{Task: TaskClassification, Classes: []string{"a", "b", "c"}, Metrics: []string{TruePositives}}, "true_positives"},
	}
	for _, tt := range tests {
		err := tt.spec.Check()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%+v: Check() = %v, want %q", tt.spec, err, tt.want)
		}
	}
}

func TestResultEncodesAsJSON(t *testing.T) {
	// Undefined metrics are left out rather than NaN, which JSON cannot hold.
	r := classify(t, Spec{Classes: []string{"0", "1"}, ZeroDivision: ZeroDivisionNaN},
		ClassificationBatch{Truth: []int{1, 1}, Pred: []int{0, 0}, Proba: []float64{0.1, 0.2}})
	if _, err := json.Marshal(r); err != nil {
		t.Fatal(err)
	}
}

func TestSortKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 255, 256, 1000, 70_000} {
		keys := make([]uint64, n)
		for i := range keys {
			switch i % 3 {
			case 0:
				keys[i] = scoreKey(rng.Float64())
			case 1:
				keys[i] = scoreKey(math.Round(rng.Float64()*10) / 10)
			default:
				keys[i] = rng.Uint64()
			}
		}
		want := slices.Clone(keys)
		slices.Sort(want)
		sortKeys(keys, make([]uint64, n))
		if !slices.Equal(keys, want) {
			t.Errorf("n=%d: not sorted", n)
		}
	}
}

func TestSortClasses(t *testing.T) {
	tests := []struct{ in, want []string }{
		{[]string{"10", "9", "1", "9"}, []string{"1", "9", "10"}},
		{[]string{"b", "a", "B", "10", "9"}, []string{"10", "9", "B", "a", "b"}},
		{[]string{"-1", "1"}, []string{"-1", "1"}},
	}
	for _, tt := range tests {
		if got := SortClasses(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("SortClasses(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestFormatValue(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{"x", "x"}, {1.0, "1"}, {int64(3), "3"}, {2.5, "2.5"}, {true, "true"},
		{nil, "null"}, {math.NaN(), "null"}, {float32(0.5), "0.5"}, {[]byte("b"), "b"},
	}
	for _, tt := range tests {
		if got := FormatValue(tt.in); got != tt.want {
			t.Errorf("FormatValue(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseSpec(t *testing.T) {
	s, err := ParseSpec([]byte(`{"task": "classification", "classes": ["a", "b"], "positive": "a", "slice_by": "region"}`))
	if err != nil || s.Positive != "a" || s.SliceBy != "region" {
		t.Fatalf("%+v, %v", s, err)
	}
	for _, bad := range []string{
		`{"task": "classification", "classes": ["a", "b"], "pos_label": "a"}`,
		`{"task": "classification", "classes": ["a", "b", "c"], "positive": "a"}`,
		`{"task": "regression"} {}`,
	} {
		if _, err := ParseSpec([]byte(bad)); !errors.Is(err, fault.Invalid) {
			t.Errorf("ParseSpec(%s) = %v", bad, err)
		}
	}
}

func TestOverflowIsUndefined(t *testing.T) {
	r := regress(t, Spec{}, RegressionBatch{Truth: []float64{0, 1e300}, Pred: []float64{1e300, 0}})
	for _, m := range []string{MeanSquaredError, RootMeanSquaredError, MeanAbsolutePercentageError} {
		if _, ok := r.Metrics[m]; ok || r.Undefined[m] == "" {
			t.Errorf("%s = %v, want undefined", m, r.Metrics[m])
		}
	}
	if _, err := json.Marshal(r); err != nil {
		t.Fatal(err)
	}
}
