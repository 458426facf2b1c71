package gate

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"slices"
	"strings"

	"github.com/mlship/mlship/internal/fault"
)

// ErrNotBlessed is wrapped by the error of a Verdict that did not pass.
var ErrNotBlessed = errors.New("the model version did not pass its benchmark gate")

// NoBaseline says what a change check (min_absolute_change,
// min_relative_change) does when there is no baseline at all.
type NoBaseline string

// The rules for a missing baseline.
const (
	// NoBaselineFail fails the change checks, as MLflow does. The default.
	NoBaselineFail NoBaseline = "fail"
	// NoBaselineSkip skips them, so that only fixed thresholds decide, as
	// TFX's evaluator "rubber-stamps" a first model.
	NoBaselineSkip NoBaseline = "skip"
)

// relativeZeroEpsilon is MLflow's fallback when the baseline is 0 and a
// relative change cannot be computed: the candidate must beat it by this.
const relativeZeroEpsilon = 1e-10

// Gate is what a benchmark promotes on: its thresholds and the rule for a
// missing baseline.
type Gate struct {
	Thresholds Thresholds `json:"thresholds"`
	NoBaseline NoBaseline `json:"no_baseline,omitempty"`
}

// Check reports what is wrong with g as a fault.Invalid error. A gate
// without thresholds is valid; it never passes.
func (g Gate) Check() error {
	switch g.NoBaseline {
	case "", NoBaselineFail, NoBaselineSkip:
	default:
		return fault.Invalidf("no_baseline %q is not one of %q, %q", g.NoBaseline, NoBaselineFail, NoBaselineSkip)
	}
	return g.Thresholds.Check()
}

// ParseGate decodes a JSON gate strictly (unknown keys are errors,
// greater_is_better is required) and checks it.
func ParseGate(data []byte) (Gate, error) {
	var g Gate
	if err := decodeStrict(data, &g); err != nil {
		if fault.KindOf(err) == fault.Invalid {
			return Gate{}, err
		}
		return Gate{}, fault.Invalidf("gate: %v", err)
	}
	if err := g.Check(); err != nil {
		return Gate{}, err
	}
	return g, nil
}

// CheckFor reports, as a fault.Invalid error, a threshold on a metric that
// an evaluation with spec never computes: a misspelt name ("f1" for
// "f1_score"), a metric the spec leaves out, a slice of another column.
// Without it such a threshold would only fail, at every evaluation.
func (g Gate) CheckFor(spec Spec) error {
	known := MetricNames(spec.Task, len(spec.Classes))
	if len(spec.Metrics) > 0 {
		known = append([]string{ExampleCount}, spec.Metrics...)
	}
	for _, name := range slices.Sorted(maps.Keys(g.Thresholds)) {
		base, slice, sliced := strings.Cut(name, "/")
		if !slices.Contains(known, base) {
			return fault.Invalidf("threshold on %s%s: the benchmark computes %s", name, didYouMean(name), strings.Join(known, ", "))
		}
		if column, _, _ := strings.Cut(slice, ":"); sliced && (spec.SliceBy == "" || column != spec.SliceBy) {
			return fault.Invalidf("threshold on %s: the benchmark is not sliced by %q", name, column)
		}
	}
	return nil
}

// Baseline is what the candidate is compared with, typically the version
// that holds the protected alias.
type Baseline struct {
	// Name is how reasons refer to it ("production's 0.81"); "the baseline"
	// when empty.
	Name    string
	Metrics Metrics
}

// CheckKind names one of a threshold's checks.
type CheckKind string

// The checks, in the order they are reported.
const (
	CheckThreshold         CheckKind = "threshold"
	CheckMinAbsoluteChange CheckKind = "min_absolute_change"
	CheckMinRelativeChange CheckKind = "min_relative_change"
)

// ThresholdResult is the outcome of one check of one metric.
type ThresholdResult struct {
	Metric          string    `json:"metric"`
	Check           CheckKind `json:"check"`
	Value           float64   `json:"value"` // the configured value of the check
	GreaterIsBetter bool      `json:"greater_is_better"`
	Candidate       *float64  `json:"candidate,omitempty"` // nil when missing or not finite
	Baseline        *float64  `json:"baseline,omitempty"`  // nil when missing or not finite
	// Bound is the value the candidate had to reach (at least, or at most).
	Bound   *float64 `json:"bound,omitempty"`
	Passed  bool     `json:"passed"`
	Skipped bool     `json:"skipped,omitempty"` // no baseline, and no_baseline is "skip"
	Reason  string   `json:"reason"`
}

// Verdict is the outcome of a gate: it passed when every check passed and
// there was at least one.
type Verdict struct {
	Passed  bool              `json:"passed"`
	Summary string            `json:"summary"`
	Results []ThresholdResult `json:"results"`
}

// Failures returns the checks that failed.
func (v Verdict) Failures() []ThresholdResult {
	var out []ThresholdResult
	for _, r := range v.Results {
		if !r.Passed {
			out = append(out, r)
		}
	}
	return out
}

// Err is nil when v passed; otherwise a fault.Invalid error whose message is
// the summary (naming each failing metric and threshold) and which wraps
// ErrNotBlessed.
func (v Verdict) Err() error {
	if v.Passed {
		return nil
	}
	return fault.Wrap(fault.Invalid, ErrNotBlessed, "%s", v.Summary)
}

const noThresholds = "the benchmark has no thresholds, and a gate without thresholds never passes"

// Validate is Gate{Thresholds: thresholds}.Validate: MLflow's rules, a
// missing baseline failing every change check.
func Validate(candidate Metrics, baseline *Baseline, thresholds Thresholds) Verdict {
	return Gate{Thresholds: thresholds}.Validate(candidate, baseline)
}

// Validate checks the candidate's metrics against every threshold; baseline
// is nil when there is nothing to compare with. Metrics are taken in name
// order and checks in the order threshold, min_absolute_change,
// min_relative_change, so the verdict is the same for the same inputs.
func (g Gate) Validate(candidate Metrics, baseline *Baseline) Verdict {
	if len(g.Thresholds) == 0 {
		return Verdict{Summary: noThresholds, Results: []ThresholdResult{}}
	}
	if err := g.Check(); err != nil {
		return Verdict{Summary: "the gate is misconfigured: " + fault.Message(err), Results: []ThresholdResult{}}
	}
	v := Verdict{Passed: true}
	for _, name := range slices.Sorted(maps.Keys(g.Thresholds)) {
		for _, in := range g.checks(name, candidate, baseline) {
			r := in.run()
			v.Passed = v.Passed && r.Passed
			v.Results = append(v.Results, r)
		}
	}
	v.Summary = summarize(v)
	return v
}

func summarize(v Verdict) string {
	failures := v.Failures()
	if len(failures) == 0 {
		return fmt.Sprintf("passed all %d checks", len(v.Results))
	}
	head := fmt.Sprintf("failed %d of %d checks", len(failures), len(v.Results))
	if len(failures) == 1 {
		return head + ": " + failures[0].Reason
	}
	var b strings.Builder
	b.WriteString(head + ":")
	for _, f := range failures {
		b.WriteString("\n- " + f.Reason)
	}
	return b.String()
}

// checkInput is one check to run.
type checkInput struct {
	metric       string
	kind         CheckKind
	value        float64
	greater      bool
	candidate    float64
	hasCandidate bool
	baseline     float64
	hasBaseline  bool
	noBaseline   bool // no baseline at all
	skip         bool // and the gate skips change checks then
	baselineName string
}

func (g Gate) checks(name string, candidate Metrics, baseline *Baseline) []checkInput {
	t := g.Thresholds[name]
	base := checkInput{metric: name, greater: t.GreaterIsBetter, baselineName: "the baseline"}
	base.candidate, base.hasCandidate = candidate[name]
	if baseline == nil {
		base.noBaseline, base.skip = true, g.NoBaseline == NoBaselineSkip
	} else {
		base.baseline, base.hasBaseline = baseline.Metrics[name]
		base.hasBaseline = base.hasBaseline && isFinite(base.baseline)
		if baseline.Name != "" {
			base.baselineName = baseline.Name
		}
	}
	var out []checkInput
	for _, c := range []struct {
		kind  CheckKind
		value *float64
	}{
		{CheckThreshold, t.Threshold},
		{CheckMinAbsoluteChange, t.MinAbsoluteChange},
		{CheckMinRelativeChange, t.MinRelativeChange},
	} {
		if c.value != nil {
			in := base
			in.kind, in.value = c.kind, *c.value
			out = append(out, in)
		}
	}
	return out
}

func (in checkInput) run() ThresholdResult {
	r := ThresholdResult{Metric: in.metric, Check: in.kind, Value: in.value, GreaterIsBetter: in.greater}
	if in.hasCandidate && isFinite(in.candidate) {
		r.Candidate = new(in.candidate) // an infinite one is in the reason: JSON cannot hold it
	}
	if in.hasBaseline {
		r.Baseline = new(in.baseline)
	}
	switch {
	case !in.hasCandidate || math.IsNaN(in.candidate):
		r.Reason = in.missingCandidate()
	case in.kind == CheckThreshold:
		in.compare(&r, exact(in.value))
	case in.noBaseline && in.skip:
		r.Passed, r.Skipped = true, true
		r.Reason = fmt.Sprintf("there is no baseline, so %s of %s is skipped", in.describe(), in.metric)
	case in.noBaseline:
		r.Reason = fmt.Sprintf("there is no baseline to compare %s with, so %s cannot be checked", in.metric, in.describe())
	case !in.hasBaseline:
		r.Reason = fmt.Sprintf("%s has no value for %s, so %s cannot be checked", in.baselineName, in.metric, in.describe())
	default:
		in.compare(&r, in.changeBound())
	}
	return r
}

func (in checkInput) describe() string {
	if in.kind == CheckThreshold {
		return "the threshold " + formatNumber(in.value)
	}
	return string(in.kind) + " " + formatNumber(in.value)
}

func (in checkInput) missingCandidate() string {
	what := "has no value"
	if in.hasCandidate {
		what = "is not a number"
	}
	return fmt.Sprintf("%s %s for the candidate, so %s cannot be checked", in.metric, what, in.describe())
}

// changeBound is the value the candidate must reach in a change check:
// baseline ± min_absolute_change, or baseline ± min_relative_change ×
// |baseline| (+ when greater is better). A relative check on a zero
// baseline falls back to MLflow's: beat the baseline by 1e-10 (or, for a
// tolerance, be no worse).
func (in checkInput) changeBound() *big.Rat {
	b := exact(in.baseline)
	step := exact(in.value)
	if in.kind == CheckMinRelativeChange {
		switch {
		case in.baseline == 0 && in.value >= 0:
			step = exact(relativeZeroEpsilon)
		case in.baseline == 0:
			step = new(big.Rat)
		default:
			step.Mul(step, new(big.Rat).Abs(b))
		}
	}
	if !in.greater {
		step.Neg(step)
	}
	return b.Add(b, step)
}

// compare sets r.Passed: candidate ≥ bound when greater is better, ≤ bound
// otherwise, both inclusive and computed exactly on the numbers' shortest
// decimal forms, so that 0.85 against 0.8 + 0.05 passes.
func (in checkInput) compare(r *ThresholdResult, bound *big.Rat) {
	bf, _ := bound.Float64()
	r.Bound = new(bf)
	var c int
	switch {
	case math.IsInf(in.candidate, 1):
		c = 1
	case math.IsInf(in.candidate, -1):
		c = -1
	default:
		c = exact(in.candidate).Cmp(bound)
	}
	r.Passed = c == 0 || (c > 0) == in.greater
	if in.kind == CheckThreshold {
		r.Reason = in.thresholdReason(r.Passed)
	} else {
		r.Reason = in.changeReason()
	}
}

// exact is x's shortest decimal form as an exact rational.
func exact(x float64) *big.Rat {
	r, _ := new(big.Rat).SetString(formatShortest(x))
	return r
}
