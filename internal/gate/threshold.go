package gate

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/mlship/mlship/internal/fault"
)

// Threshold is MLflow's MetricThreshold: up to three checks on one metric.
// Every value that MLflow accepts means here what it means in MLflow; values
// MLflow refuses are given a meaning (see MinAbsoluteChange) rather than an
// error. docs/gates.md writes out every rule.
type Threshold struct {
	// Threshold is a fixed bound: the candidate passes when its value is
	// ≥ Threshold (greater is better) or ≤ Threshold (otherwise).
	Threshold *float64 `json:"threshold,omitempty"`
	// MinAbsoluteChange is the improvement over the baseline the candidate
	// must show: candidate ≥ baseline + MinAbsoluteChange (greater is better)
	// or ≤ baseline − MinAbsoluteChange. MLflow requires it to be positive;
	// zero here means "no worse than the baseline" and a negative value is a
	// tolerance: the candidate may be worse by at most its magnitude.
	MinAbsoluteChange *float64 `json:"min_absolute_change,omitempty"`
	// MinRelativeChange is the same as a fraction of the baseline's
	// magnitude, in [-1, 1] (MLflow: [0, 1]); 0.05 asks for a 5%
	// improvement, -0.05 tolerates a 5% regression.
	MinRelativeChange *float64 `json:"min_relative_change,omitempty"`
	// GreaterIsBetter is required, as in MLflow.
	GreaterIsBetter bool `json:"greater_is_better"`
}

// Thresholds maps metric names (see Result.All for slice metrics) to their
// thresholds.
type Thresholds map[string]Threshold

// Check reports what is wrong with t, as MLflow's MetricThreshold
// constructor would, as a fault.Invalid error.
func (t Threshold) Check() error {
	switch {
	case t.Threshold == nil && t.MinAbsoluteChange == nil && t.MinRelativeChange == nil:
		return fault.Invalidf("no threshold was specified: set threshold, min_absolute_change or min_relative_change")
	case t.Threshold != nil && !isFinite(*t.Threshold):
		return fault.Invalidf("threshold must be a finite number")
	case t.MinAbsoluteChange != nil && !isFinite(*t.MinAbsoluteChange):
		return fault.Invalidf("min_absolute_change must be a finite number")
	case t.MinRelativeChange != nil && !(math.Abs(*t.MinRelativeChange) <= 1):
		return fault.Invalidf("min_relative_change must be between -1 and 1")
	}
	return nil
}

// Check checks every threshold, naming the metric of the first bad one, and
// refuses a direction that contradicts a built-in metric's (a gate on
// root_mean_squared_error with greater_is_better would bless worse models).
func (ts Thresholds) Check() error {
	for _, name := range slices.Sorted(maps.Keys(ts)) {
		t := ts[name]
		if name == "" {
			return fault.Invalidf("a threshold has an empty metric name")
		}
		if err := t.Check(); err != nil {
			return fault.Invalidf("metric %s: %s", name, fault.Message(err))
		}
		if greater, known := GreaterIsBetter(name); known && greater != t.GreaterIsBetter {
			return fault.Invalidf("metric %s: greater_is_better is %v, but for %s %s", name, t.GreaterIsBetter, name, betterWord(greater))
		}
	}
	return nil
}

func betterWord(greater bool) string {
	if greater {
		return "higher is better"
	}
	return "lower is better"
}

// UnmarshalJSON decodes a threshold strictly: unknown keys are errors and
// greater_is_better must be present, as MLflow requires.
func (t *Threshold) UnmarshalJSON(data []byte) error {
	var raw struct {
		Threshold         *float64 `json:"threshold"`
		MinAbsoluteChange *float64 `json:"min_absolute_change"`
		MinRelativeChange *float64 `json:"min_relative_change"`
		GreaterIsBetter   *bool    `json:"greater_is_better"`
	}
	if err := decodeStrict(data, &raw); err != nil {
		return fault.Invalidf("threshold: %v", err)
	}
	if raw.GreaterIsBetter == nil {
		return fault.Invalidf("greater_is_better must be set")
	}
	*t = Threshold{raw.Threshold, raw.MinAbsoluteChange, raw.MinRelativeChange, *raw.GreaterIsBetter}
	return nil
}

// ParseThresholds decodes and checks a JSON object of metric names to
// thresholds.
func ParseThresholds(data []byte) (Thresholds, error) {
	var ts Thresholds
	if err := decodeStrict(data, &ts); err != nil {
		if fault.KindOf(err) == fault.Invalid {
			return nil, err
		}
		return nil, fault.Invalidf("thresholds must be a JSON object of metric names to thresholds: %v", err)
	}
	if err := ts.Check(); err != nil {
		return nil, err
	}
	return ts, nil
}

// String describes t as a user would write it.
func (t Threshold) String() string {
	var b bytes.Buffer
	add := func(name string, v *float64) {
		if v != nil {
			fmt.Fprintf(&b, "%s=%s ", name, formatShortest(*v))
		}
	}
	add("threshold", t.Threshold)
	add("min_absolute_change", t.MinAbsoluteChange)
	add("min_relative_change", t.MinRelativeChange)
	fmt.Fprintf(&b, "greater_is_better=%v", t.GreaterIsBetter)
	return b.String()
}
