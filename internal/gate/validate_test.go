package gate

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/fault"
)

func TestValidateRules(t *testing.T) {
	prod := func(m Metrics) *Baseline { return &Baseline{Name: "production", Metrics: m} }
	tests := []struct {
		name      string
		gate      Gate
		candidate Metrics
		baseline  *Baseline
		passed    bool
		reasons   []string // each must appear in the reasons, in order
	}{
		{
			name:      "threshold, greater is better, above",
			gate:      Gate{Thresholds: Thresholds{F1: {Threshold: new(0.85), GreaterIsBetter: true}}},
			candidate: Metrics{F1: 0.9},
			passed:    true,
			reasons:   []string{"f1_score 0.9 meets the threshold: at least 0.85"},
		},
		{
			name:      "threshold is inclusive",
			gate:      Gate{Thresholds: Thresholds{F1: {Threshold: new(0.85), GreaterIsBetter: true}}},
			candidate: Metrics{F1: 0.85},
			passed:    true,
		},
		{
			name:      "threshold, greater is better, below",
			gate:      Gate{Thresholds: Thresholds{F1: {Threshold: new(0.85), GreaterIsBetter: true}}},
			candidate: Metrics{F1: 0.812},
			reasons:   []string{"f1_score 0.812 is below the threshold 0.85"},
		},
		{
			name:      "threshold, digits enough to tell the numbers apart",
			gate:      Gate{Thresholds: Thresholds{F1: {Threshold: new(0.85), GreaterIsBetter: true}}},
			candidate: Metrics{F1: 0.84999},
			reasons:   []string{"f1_score 0.84999 is below the threshold 0.85"},
		},
		{
			name:      "threshold, lower is better",
			gate:      Gate{Thresholds: Thresholds{RootMeanSquaredError: {Threshold: new(3.0)}}},
			candidate: Metrics{RootMeanSquaredError: 3.2},
			reasons:   []string{"root_mean_squared_error 3.2 is above the threshold 3"},
		},
		{
			name:      "absolute change is computed exactly: 0.85 ≥ 0.8 + 0.05",
			gate:      Gate{Thresholds: Thresholds{Accuracy: {MinAbsoluteChange: new(0.05), GreaterIsBetter: true}}},
			candidate: Metrics{Accuracy: 0.85},
			baseline:  prod(Metrics{Accuracy: 0.8}),
			passed:    true,
			reasons:   []string{"accuracy_score 0.85 is 0.05 better than production's 0.8; at least 0.05 better is required"},
		},
		{
			name:      "absolute change not reached",
			gate:      Gate{Thresholds: Thresholds{Accuracy: {MinAbsoluteChange: new(0.05), GreaterIsBetter: true}}},
			candidate: Metrics{Accuracy: 0.82},
			baseline:  prod(Metrics{Accuracy: 0.8}),
			reasons:   []string{"accuracy_score 0.82 is 0.02 better than production's 0.8; at least 0.05 better is required"},
		},
		{
			name:      "absolute change, lower is better",
			gate:      Gate{Thresholds: Thresholds{RootMeanSquaredError: {MinAbsoluteChange: new(0.1)}}},
			candidate: Metrics{RootMeanSquaredError: 2.7},
			baseline:  prod(Metrics{RootMeanSquaredError: 2.8}),
			passed:    true,
		},
		{
			name:      "negative absolute change is a tolerance",
			gate:      Gate{Thresholds: Thresholds{RootMeanSquaredError: {MinAbsoluteChange: new(-0.1)}}},
			candidate: Metrics{RootMeanSquaredError: 3.2},
			baseline:  prod(Metrics{RootMeanSquaredError: 2.8}),
			reasons:   []string{"root_mean_squared_error 3.2 is 0.4 worse than production's 2.8; at most 0.1 worse is allowed"},
		},
		{
			name:      "tolerance met",
			gate:      Gate{Thresholds: Thresholds{RootMeanSquaredError: {MinAbsoluteChange: new(-0.1)}}},
			candidate: Metrics{RootMeanSquaredError: 2.9},
			baseline:  prod(Metrics{RootMeanSquaredError: 2.8}),
			passed:    true,
		},
		{
			name:      "zero absolute change: no worse",
			gate:      Gate{Thresholds: Thresholds{F1: {MinAbsoluteChange: new(0.0), GreaterIsBetter: true}}},
			candidate: Metrics{F1: 0.8},
			baseline:  prod(Metrics{F1: 0.8}),
			passed:    true,
			reasons:   []string{"f1_score 0.8 equals production's 0.8; it must be no worse"},
		},
		{
			name:      "relative change is computed exactly: (0.88 − 0.8) / 0.8 ≥ 0.1",
			gate:      Gate{Thresholds: Thresholds{Accuracy: {MinRelativeChange: new(0.1), GreaterIsBetter: true}}},
			candidate: Metrics{Accuracy: 0.88},
			baseline:  prod(Metrics{Accuracy: 0.8}),
			passed:    true,
			reasons:   []string{"accuracy_score 0.88 is 10% better than production's 0.8; at least 10% better is required"},
		},
		{
			name:      "relative change, lower is better, not reached",
			gate:      Gate{Thresholds: Thresholds{LogLoss: {MinRelativeChange: new(0.05)}}},
			candidate: Metrics{LogLoss: 0.4},
			baseline:  prod(Metrics{LogLoss: 0.41}),
			reasons:   []string{"log_loss 0.4 is 2.439% better than production's 0.41; at least 5% better is required"},
		},
		{
			name:      "relative change on a negative baseline uses its magnitude",
			gate:      Gate{Thresholds: Thresholds{R2: {MinRelativeChange: new(0.1), GreaterIsBetter: true}}},
			candidate: Metrics{R2: -0.4},
			baseline:  prod(Metrics{R2: -0.5}),
			passed:    true,
		},
		{
			name:      "relative change on a zero baseline: MLflow's 1e-10 fallback, met",
			gate:      Gate{Thresholds: Thresholds{R2: {MinRelativeChange: new(0.5), GreaterIsBetter: true}}},
			candidate: Metrics{R2: 1e-10},
			baseline:  prod(Metrics{R2: 0}),
			passed:    true,
		},
		{
			name:      "relative change on a zero baseline: equal fails",
			gate:      Gate{Thresholds: Thresholds{R2: {MinRelativeChange: new(0.0), GreaterIsBetter: true}}},
			candidate: Metrics{R2: 0},
			baseline:  prod(Metrics{R2: 0}),
			reasons:   []string{"r2_score 0 equals production's 0; a relative change from 0 is not defined, so it must be at least 1e-10 better"},
		},
		{
			name:      "relative tolerance on a zero baseline: no worse",
			gate:      Gate{Thresholds: Thresholds{MeanAbsoluteError: {MinRelativeChange: new(-0.05)}}},
			candidate: Metrics{MeanAbsoluteError: 0},
			baseline:  prod(Metrics{MeanAbsoluteError: 0}),
			passed:    true,
		},
		{
			name:      "missing candidate metric",
			gate:      Gate{Thresholds: Thresholds{ROCAUC: {Threshold: new(0.9), GreaterIsBetter: true}}},
			candidate: Metrics{F1: 0.9},
			reasons:   []string{"roc_auc has no value for the candidate, so the threshold 0.9 cannot be checked"},
		},
		{
			name:      "NaN candidate metric",
			gate:      Gate{Thresholds: Thresholds{ROCAUC: {Threshold: new(0.9), GreaterIsBetter: true}}},
			candidate: Metrics{ROCAUC: math.NaN()},
			reasons:   []string{"roc_auc is not a number for the candidate"},
		},
		{
			name:      "infinite candidate",
			gate:      Gate{Thresholds: Thresholds{MeanAbsolutePercentageError: {Threshold: new(0.1)}}},
			candidate: Metrics{MeanAbsolutePercentageError: math.Inf(1)},
			reasons:   []string{"is above the threshold 0.1"},
		},
		{
			name:      "no baseline fails change checks (MLflow)",
			gate:      Gate{Thresholds: Thresholds{F1: {Threshold: new(0.8), MinAbsoluteChange: new(0.01), GreaterIsBetter: true}}},
			candidate: Metrics{F1: 0.9},
			reasons: []string{
				"f1_score 0.9 meets the threshold",
				"there is no baseline to compare f1_score with, so min_absolute_change 0.01 cannot be checked",
			},
		},
		{
			name: "no baseline skips change checks when asked (TFX)",
			gate: Gate{NoBaseline: NoBaselineSkip, Thresholds: Thresholds{
				F1: {Threshold: new(0.8), MinAbsoluteChange: new(0.01), GreaterIsBetter: true},
			}},
			candidate: Metrics{F1: 0.9},
			passed:    true,
			reasons:   []string{"there is no baseline, so min_absolute_change 0.01 of f1_score is skipped"},
		},
		{
			name:      "skipping still applies fixed thresholds",
			gate:      Gate{NoBaseline: NoBaselineSkip, Thresholds: Thresholds{F1: {Threshold: new(0.95), MinRelativeChange: new(0.01), GreaterIsBetter: true}}},
			candidate: Metrics{F1: 0.9},
			reasons:   []string{"f1_score 0.9 is below the threshold 0.95"},
		},
		{
			name:      "a baseline without the metric fails even when skipping",
			gate:      Gate{NoBaseline: NoBaselineSkip, Thresholds: Thresholds{F1: {MinAbsoluteChange: new(0.01), GreaterIsBetter: true}}},
			candidate: Metrics{F1: 0.9},
			baseline:  prod(Metrics{Accuracy: 0.9}),
			reasons:   []string{"production has no value for f1_score, so min_absolute_change 0.01 cannot be checked"},
		},
		{
			name:      "threshold checks need no baseline",
			gate:      Gate{Thresholds: Thresholds{F1: {Threshold: new(0.8), GreaterIsBetter: true}}},
			candidate: Metrics{F1: 0.9},
			passed:    true,
		},
		{
			name:      "unnamed baseline",
			gate:      Gate{Thresholds: Thresholds{F1: {MinAbsoluteChange: new(0.1), GreaterIsBetter: true}}},
			candidate: Metrics{F1: 0.7},
			baseline:  &Baseline{Metrics: Metrics{F1: 0.75}},
			reasons:   []string{"f1_score 0.7 is 0.05 worse than the baseline's 0.75"},
		},
		{
			name:      "no thresholds never pass",
			gate:      Gate{},
			candidate: Metrics{F1: 1},
			reasons:   nil,
		},
		{
			name:      "a misconfigured gate does not pass",
			gate:      Gate{Thresholds: Thresholds{F1: {GreaterIsBetter: true}}},
			candidate: Metrics{F1: 1},
		},
		{
			name: "slice metrics",
			gate: Gate{Thresholds: Thresholds{
				SliceMetric(F1, "region", "eu"): {Threshold: new(0.8), GreaterIsBetter: true},
			}},
			candidate: Metrics{"f1_score/region:eu": 0.7},
			reasons:   []string{"f1_score/region:eu 0.7 is below the threshold 0.8"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.gate.Validate(tt.candidate, tt.baseline)
			if v.Passed != tt.passed {
				t.Errorf("passed = %v, want %v; %s", v.Passed, tt.passed, v.Summary)
			}
			all := ""
			for _, r := range v.Results {
				all += r.Reason + "\n"
				if r.Reason == "" {
					t.Errorf("%s %s has no reason", r.Metric, r.Check)
				}
			}
			rest := all
			for _, want := range tt.reasons {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Errorf("reasons lack %q:\n%s", want, all)
					continue
				}
				rest = rest[i+len(want):]
			}
			if (v.Err() == nil) != v.Passed {
				t.Errorf("Err() = %v with passed = %v", v.Err(), v.Passed)
			}
		})
	}
}

func TestNoThresholds(t *testing.T) {
	for _, g := range []Gate{{}, {Thresholds: Thresholds{}}, {NoBaseline: NoBaselineSkip}} {
		v := g.Validate(Metrics{F1: 1}, &Baseline{Metrics: Metrics{F1: 0}})
		if v.Passed || !strings.Contains(v.Summary, "never passes") || v.Results == nil {
			t.Errorf("%+v: %+v", g, v)
		}
	}
}

func TestVerdictErr(t *testing.T) {
	v := Validate(Metrics{F1: 0.5, Accuracy: 0.9}, nil, Thresholds{
		F1:       {Threshold: new(0.85), GreaterIsBetter: true},
		Accuracy: {Threshold: new(0.8), GreaterIsBetter: true},
	})
	err := v.Err()
	if !errors.Is(err, ErrNotBlessed) || !errors.Is(err, fault.Invalid) {
		t.Fatalf("err = %v", err)
	}
	if msg := fault.Message(err); !strings.Contains(msg, "failed 1 of 2 checks: f1_score 0.5 is below the threshold 0.85") {
		t.Errorf("message = %q", msg)
	}
	if f := v.Failures(); len(f) != 1 || f[0].Metric != F1 || *f[0].Candidate != 0.5 || *f[0].Bound != 0.85 {
		t.Errorf("failures = %+v", f)
	}
	// Results come in metric order, then check order.
	if v.Results[0].Metric != Accuracy || v.Results[1].Metric != F1 {
		t.Errorf("order: %s, %s", v.Results[0].Metric, v.Results[1].Metric)
	}
	if _, err := json.Marshal(v); err != nil {
		t.Fatal(err)
	}
}

func TestThresholdsCheck(t *testing.T) {
	tests := []struct {
		name string
		ts   Thresholds
		want string
	}{
		{"valid", Thresholds{F1: {Threshold: new(0.8), MinAbsoluteChange: new(0.01), MinRelativeChange: new(0.0), GreaterIsBetter: true}}, ""},
		{"custom metric, any direction", Thresholds{"latency_p99": {Threshold: new(30.0)}}, ""},
		{"tolerances", Thresholds{LogLoss: {MinAbsoluteChange: new(-0.01), MinRelativeChange: new(-1.0)}}, ""},
		{"nothing set", Thresholds{F1: {GreaterIsBetter: true}}, "no threshold was specified"},
		{"relative above 1", Thresholds{F1: {MinRelativeChange: new(1.5), GreaterIsBetter: true}}, "between -1 and 1"},
		{"relative NaN", Thresholds{F1: {MinRelativeChange: new(math.NaN()), GreaterIsBetter: true}}, "between -1 and 1"},
		{"threshold infinite", Thresholds{F1: {Threshold: new(math.Inf(1)), GreaterIsBetter: true}}, "finite"},
		{"absolute NaN", Thresholds{F1: {MinAbsoluteChange: new(math.NaN()), GreaterIsBetter: true}}, "finite"},
		{"wrong direction", Thresholds{RootMeanSquaredError: {Threshold: new(3.0), GreaterIsBetter: true}}, "lower is better"},
		{"wrong direction on a slice", Thresholds{"f1_score/region:eu": {Threshold: new(0.8)}}, "higher is better"},
		{"empty name", Thresholds{"": {Threshold: new(0.8)}}, "empty metric name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.ts.Check()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, fault.Invalid)) {
				t.Errorf("Check() = %v, want %q", err, tt.want)
			}
		})
	}
	if err := (Gate{NoBaseline: "pass", Thresholds: Thresholds{}}).Check(); err == nil {
		t.Error("an unknown no_baseline rule was accepted")
	}
}

func TestParseThresholds(t *testing.T) {
	ts, err := ParseThresholds([]byte(`{"f1_score": {"threshold": 0.8, "min_relative_change": 0.05, "greater_is_better": true}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := ts[F1]; *got.Threshold != 0.8 || *got.MinRelativeChange != 0.05 || got.MinAbsoluteChange != nil || !got.GreaterIsBetter {
		t.Errorf("parsed %+v", got)
	}
	for _, bad := range []string{
		`{"f1_score": {"threshold": 0.8}}`,
		`{"f1_score": {"threshold": 0.8, "greater_is_better": true, "higher_is_better": true}}`,
		`{"f1_score": {"greater_is_better": true}}`,
		`{"f1_score": {"threshold": "0.8", "greater_is_better": true}}`,
		`{"f1_score": {"threshold": 0.8, "greater_is_better": true}} {}`,
		`[]`,
		`{"rmse": {"min_relative_change": 2, "greater_is_better": false}}`,
	} {
		if _, err := ParseThresholds([]byte(bad)); !errors.Is(err, fault.Invalid) || fault.Message(err) == "" {
			t.Errorf("ParseThresholds(%s) = %v, want an invalid error with a message", bad, err)
		}
	}
}

// mlflowPasses is MLflow's _validate for one metric, transcribed in float
// arithmetic (mlflow/models/evaluation/validation.py), for a present
// candidate, positive baseline and MLflow-valid threshold values.
func mlflowPasses(t Threshold, c, b float64) bool {
	ge := func(x, y float64) bool {
		if t.GreaterIsBetter {
			return x >= y
		}
		return x <= y
	}
	op := func(x, y float64) float64 {
		if t.GreaterIsBetter {
			return x + y
		}
		return x - y
	}
	ok := true
	if t.Threshold != nil {
		ok = ok && ge(c, *t.Threshold)
	}
	if t.MinAbsoluteChange != nil {
		ok = ok && ge(c, op(b, *t.MinAbsoluteChange))
	}
	if t.MinRelativeChange != nil {
		change := (c - b) / b
		if !t.GreaterIsBetter {
			change = (b - c) / b
		}
		ok = ok && change >= *t.MinRelativeChange
	}
	return ok
}

// For every threshold MLflow accepts and a positive baseline, the verdict
// is MLflow's, except within rounding of a boundary, where MLflow's float
// arithmetic and mlship's exact decimals may differ on purpose.
func TestAgreesWithMLflow(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	round := func(x float64) float64 { return math.Round(x*1000) / 1000 }
	checked := 0
	for range 20000 {
		th := Threshold{GreaterIsBetter: rng.IntN(2) == 0}
		if rng.IntN(2) == 0 {
			th.Threshold = new(round(rng.Float64()))
		}
		if rng.IntN(2) == 0 {
			th.MinAbsoluteChange = new(round(rng.Float64()*0.1) + 0.001)
		}
		if th.Threshold == nil || rng.IntN(2) == 0 {
			th.MinRelativeChange = new(round(rng.Float64() * 0.2))
		}
		c, b := round(rng.Float64()), round(rng.Float64()*0.9)+0.05
		if nearBoundary(th, c, b) {
			continue
		}
		checked++
		v := Validate(Metrics{"m": c}, &Baseline{Metrics: Metrics{"m": b}}, Thresholds{"m": th})
		if want := mlflowPasses(th, c, b); v.Passed != want {
			t.Fatalf("%v, candidate %v, baseline %v: passed %v, MLflow %v (%s)", th, c, b, v.Passed, want, v.Summary)
		}
	}
	if checked < 10000 {
		t.Fatalf("only %d cases away from a boundary", checked)
	}
}

func nearBoundary(t Threshold, c, b float64) bool {
	nearly := func(x, y float64) bool { return math.Abs(x-y) < 1e-9 }
	sign := 1.0
	if !t.GreaterIsBetter {
		sign = -1
	}
	return t.Threshold != nil && nearly(c, *t.Threshold) ||
		t.MinAbsoluteChange != nil && nearly(c, b+sign**t.MinAbsoluteChange) ||
		t.MinRelativeChange != nil && nearly(c, b+sign**t.MinRelativeChange*b)
}

func TestInfiniteCandidateInChangeCheck(t *testing.T) {
	v := Validate(Metrics{MeanAbsolutePercentageError: math.Inf(1)},
		&Baseline{Name: "production", Metrics: Metrics{MeanAbsolutePercentageError: 0.1}},
		Thresholds{MeanAbsolutePercentageError: {MinAbsoluteChange: new(-0.5), MinRelativeChange: new(-0.5)}})
	if v.Passed || !strings.Contains(v.Summary, "is infinitely worse than production's 0.1") {
		t.Errorf("%+v", v)
	}
}

func TestGateCheckFor(t *testing.T) {
	binary := Spec{Task: TaskClassification, Classes: []string{"0", "1"}, SliceBy: "region"}
	tests := []struct {
		spec Spec
		name string
		want string
	}{
		{binary, F1, ""},
		{binary, TruePositives, ""},
		{binary, "f1_score/region:eu", ""},
		{binary, "f1", "f1 (did you mean f1_score?): the benchmark computes"},
		{binary, "Accuracy/region:eu", "(did you mean accuracy_score/region:eu?)"},
		{binary, "f2_score", "threshold on f2_score: the benchmark computes"},
		{binary, "f1_score/country:fr", `not sliced by "country"`},
		{Spec{Task: TaskClassification, Classes: []string{"a", "b", "c"}}, TruePositives, "the benchmark computes"},
		{Spec{Task: TaskRegression}, "r2_score/region:eu", `not sliced by "region"`},
		{Spec{Task: TaskRegression, Metrics: []string{R2}}, MeanAbsoluteError, "the benchmark computes"},
	}
	for _, tt := range tests {
		g := Gate{Thresholds: Thresholds{tt.name: {Threshold: new(1.0), GreaterIsBetter: true}}}
		err := g.CheckFor(tt.spec)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s for %+v: %v, want %q", tt.name, tt.spec, err, tt.want)
		}
	}
}

func TestParseGate(t *testing.T) {
	g, err := ParseGate([]byte(`{"thresholds": {"log_loss": {"min_absolute_change": 0.01, "greater_is_better": false}}, "no_baseline": "skip"}`))
	if err != nil || g.NoBaseline != NoBaselineSkip || *g.Thresholds[LogLoss].MinAbsoluteChange != 0.01 {
		t.Fatalf("%+v, %v", g, err)
	}
	for _, bad := range []string{
		`{"thresholds": {}, "no_baseline": "pass"}`,
		`{"thresholds": {}, "rubber_stamp": true}`,
		`{"thresholds": {"log_loss": {"threshold": 1}}}`,
		`{"thresholds": {"log_loss": {"threshold": 1, "greater_is_better": true}}}`,
	} {
		if _, err := ParseGate([]byte(bad)); !errors.Is(err, fault.Invalid) {
			t.Errorf("ParseGate(%s) = %v", bad, err)
		}
	}
}

// FuzzValidate: whatever the numbers, Validate neither panics nor passes a
// gate with a failing check, and its verdict encodes as JSON.
func FuzzValidate(f *testing.F) {
	f.Add(0.9, 0.8, 0.85, 0.05, 0.1, true)
	f.Add(math.Inf(1), 0.0, 0.0, -1.0, -1.0, false)
	f.Add(math.NaN(), math.Inf(-1), 1e308, 1e-308, 0.5, true)
	f.Fuzz(func(t *testing.T, c, b, th, abs, rel float64, greater bool) {
		ts := Thresholds{"m": {Threshold: new(th), MinAbsoluteChange: new(abs), MinRelativeChange: new(rel), GreaterIsBetter: greater}}
		v := Validate(Metrics{"m": c}, &Baseline{Metrics: Metrics{"m": b}}, ts)
		for _, r := range v.Results {
			if !r.Passed && v.Passed || r.Reason == "" {
				t.Fatalf("%+v", v)
			}
		}
		if _, err := json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	})
}
