package gate

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/mlship/mlship/internal/fault"
)

// Task is the kind of model a benchmark measures.
type Task string

// The tasks.
const (
	TaskClassification Task = "classification"
	TaskRegression     Task = "regression"
)

// Average says how the per-class precision, recall, F1 and ROC AUC of a
// multiclass model become one number, as scikit-learn's average parameter.
// A two-class model is always scored on its positive class.
type Average string

// The averages. The default is weighted, as in MLflow's default evaluator, so
// a metric named f1_score means the same number in both.
const (
	AverageWeighted Average = "weighted" // mean over classes weighted by their count in the truth
	AverageMacro    Average = "macro"    // unweighted mean over classes
	AverageMicro    Average = "micro"    // one score over all (row, class) decisions
)

// ZeroDivision is the value given to a precision, recall or F1 whose
// denominator is zero, as scikit-learn's zero_division parameter.
type ZeroDivision string

// The zero-division values. The default, "0", is what scikit-learn returns
// by default ("warn").
const (
	ZeroDivisionZero ZeroDivision = "0"
	ZeroDivisionOne  ZeroDivision = "1"
	ZeroDivisionNaN  ZeroDivision = "nan" // leave the class out of the average
)

// Limits that keep one evaluation's memory bounded.
const (
	MaxClasses = 10_000 // classes of a classifier
	MaxSlices  = 1_000  // distinct values of the slice column
)

// Spec says what to compute for a benchmark: the task, the classes of a
// classifier, how to average, and the column to slice by. The zero values of
// the optional fields are the defaults.
type Spec struct {
	Task Task `json:"task"`
	// Classes are the classifier's labels in the order of its probability
	// columns (scikit-learn's classes_, which is sorted: see SortClasses).
	// Two classes make a binary classifier.
	Classes []string `json:"classes,omitempty"`
	// Positive is the positive class of a binary classifier; default the last
	// of Classes, which for sorted classes is scikit-learn's pos_label=1 and
	// MLflow's default.
	Positive     string       `json:"positive,omitempty"`
	Average      Average      `json:"average,omitempty"`
	ZeroDivision ZeroDivision `json:"zero_division,omitempty"`
	// SliceBy names the column whose values split the rows into slices; each
	// slice gets its own metrics. Empty: no slices.
	SliceBy string `json:"slice_by,omitempty"`
	// Metrics limits the result to these metrics (example_count is always
	// there). Empty: every metric of the task.
	Metrics []string `json:"metrics,omitempty"`
}

// ParseSpec decodes a JSON spec strictly (unknown keys are errors) and
// checks it.
func ParseSpec(data []byte) (Spec, error) {
	var s Spec
	if err := decodeStrict(data, &s); err != nil {
		return Spec{}, fault.Invalidf("spec: %v", err)
	}
	if err := s.Check(); err != nil {
		return Spec{}, err
	}
	return s, nil
}

// decodeStrict decodes exactly one JSON value with no unknown keys.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// Check reports the first thing wrong with s as a fault.Invalid error.
func (s Spec) Check() error {
	switch s.Task {
	case TaskClassification:
		if err := s.checkClassification(); err != nil {
			return err
		}
	case TaskRegression:
		if len(s.Classes) > 0 || s.Positive != "" || s.Average != "" || s.ZeroDivision != "" {
			return fault.Invalidf("classes, positive, average and zero_division apply to classification only")
		}
	default:
		return fault.Invalidf("task %q is not one of %q, %q", s.Task, TaskClassification, TaskRegression)
	}
	return s.checkMetrics()
}

func (s Spec) checkClassification() error {
	if len(s.Classes) < 2 || len(s.Classes) > MaxClasses {
		return fault.Invalidf("a classifier needs between 2 and %d classes, got %d", MaxClasses, len(s.Classes))
	}
	seen := make(map[string]bool, len(s.Classes))
	for _, c := range s.Classes {
		if seen[c] {
			return fault.Invalidf("class %q is listed twice", c)
		}
		seen[c] = true
	}
	switch {
	case s.Positive != "" && len(s.Classes) > 2:
		return fault.Invalidf("positive applies to binary classifiers only; this one has %d classes", len(s.Classes))
	case s.Positive != "" && !seen[s.Positive]:
		return fault.Invalidf("positive class %q is not one of the classes", s.Positive)
	}
	switch s.Average {
	case "", AverageWeighted, AverageMacro, AverageMicro:
	default:
		return fault.Invalidf("average %q is not one of weighted, macro, micro", s.Average)
	}
	switch s.ZeroDivision {
	case "", ZeroDivisionZero, ZeroDivisionOne, ZeroDivisionNaN:
	default:
		return fault.Invalidf("zero_division %q is not one of 0, 1, nan", s.ZeroDivision)
	}
	return nil
}

func (s Spec) checkMetrics() error {
	known := MetricNames(s.Task, len(s.Classes))
	for _, m := range s.Metrics {
		if !slices.Contains(known, m) {
			return fault.Invalidf("metric %q is not computed for this model%s; the metrics are %v", m, didYouMean(m), known)
		}
	}
	return nil
}

func (s Spec) average() Average {
	return cmp.Or(s.Average, AverageWeighted)
}

func (s Spec) zeroDivision() float64 {
	switch s.ZeroDivision {
	case ZeroDivisionOne:
		return 1
	case ZeroDivisionNaN:
		return math.NaN()
	}
	return 0
}

func (s Spec) positive() int {
	if s.Positive == "" {
		return len(s.Classes) - 1
	}
	return slices.Index(s.Classes, s.Positive)
}

// SortClasses returns the distinct labels in the order scikit-learn gives a
// classifier's classes_ (np.unique): by numeric value when every label is a
// number, else by string (Unicode code point) order.
func SortClasses(labels []string) []string {
	out := slices.Clone(labels)
	nums := make(map[string]float64, len(out))
	for _, l := range out {
		v, err := strconv.ParseFloat(l, 64)
		if err != nil {
			nums = nil
			break
		}
		nums[l] = v
	}
	slices.SortFunc(out, func(a, b string) int {
		if nums != nil {
			if c := cmp.Compare(nums[a], nums[b]); c != 0 {
				return c
			}
		}
		return cmp.Compare(a, b)
	})
	return slices.Compact(out)
}

// FormatValue turns a cell of a label or slice column into the string that
// identifies it: strings as they are, integral numbers without a fraction (so
// a target of 1.0 matches a predicted label 1), other numbers in their
// shortest form, booleans as true/false, nil and NaN as "null".
func FormatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case []byte:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return formatFloatLabel(x)
	case float32:
		return formatFloatLabel(float64(x))
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

func formatFloatLabel(x float64) string {
	if math.IsNaN(x) {
		return "null"
	}
	if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
		return strconv.FormatInt(int64(x), 10)
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// FormatValues applies FormatValue to a column, for ClassificationBatch.Slice
// and RegressionBatch.Slice.
func FormatValues(column []any) []string {
	out := make([]string, len(column))
	for i, v := range column {
		out[i] = FormatValue(v)
	}
	return out
}
