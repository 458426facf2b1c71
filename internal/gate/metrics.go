package gate

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Metric names: those of MLflow's default evaluator, so that thresholds
// written for mlflow.validate_evaluation_results mean the same here.
const (
	ExampleCount = "example_count"

	Accuracy       = "accuracy_score"
	Precision      = "precision_score"
	Recall         = "recall_score"
	F1             = "f1_score"
	ROCAUC         = "roc_auc"
	LogLoss        = "log_loss"
	TruePositives  = "true_positives" // binary classifiers only, as the next three
	FalsePositives = "false_positives"
	TrueNegatives  = "true_negatives"
	FalseNegatives = "false_negatives"

	MeanAbsoluteError           = "mean_absolute_error"
	MeanSquaredError            = "mean_squared_error"
	RootMeanSquaredError        = "root_mean_squared_error"
	R2                          = "r2_score"
	MaxError                    = "max_error"
	MeanAbsolutePercentageError = "mean_absolute_percentage_error"
)

var (
	classificationMetrics = []string{ExampleCount, Accuracy, Precision, Recall, F1, ROCAUC, LogLoss}
	binaryCounts          = []string{TruePositives, FalsePositives, TrueNegatives, FalseNegatives}
	regressionMetrics     = []string{ExampleCount, MeanAbsoluteError, MeanSquaredError,
		RootMeanSquaredError, R2, MaxError, MeanAbsolutePercentageError}
)

// greaterIsBetter is the direction of every metric that has one; counts have
// none.
var greaterIsBetter = map[string]bool{
	Accuracy: true, Precision: true, Recall: true, F1: true, ROCAUC: true, R2: true,
	LogLoss: false, MeanAbsoluteError: false, MeanSquaredError: false,
	RootMeanSquaredError: false, MaxError: false, MeanAbsolutePercentageError: false,
}

// MetricNames lists the metrics computed for a task; classes is the number of
// classes of a classifier (binary classifiers also get the confusion counts).
func MetricNames(task Task, classes int) []string {
	switch task {
	case TaskClassification:
		if classes == 2 {
			return slices.Concat(classificationMetrics, binaryCounts)
		}
		return slices.Clone(classificationMetrics)
	case TaskRegression:
		return slices.Clone(regressionMetrics)
	}
	return nil
}

// GreaterIsBetter reports whether a higher value of a built-in metric is
// better, and whether the metric has a direction at all. A slice metric name
// (see SliceMetric) has its base metric's direction.
func GreaterIsBetter(metric string) (greater, known bool) {
	base, _, _ := strings.Cut(metric, "/")
	greater, known = greaterIsBetter[base]
	return greater, known
}

// SliceMetric names a metric computed on one slice, as it appears in
// Result.All and in thresholds: "f1_score/region:EU".
func SliceMetric(metric, column, value string) string {
	return metric + "/" + column + ":" + value
}

// Metrics maps metric names to values. A metric that is not defined on the
// data (ROC AUC when the truth holds one class) is absent, never NaN.
type Metrics map[string]float64

// Result is what an evaluation computed.
type Result struct {
	Metrics Metrics `json:"metrics"`
	// Undefined says, for each metric left out of Metrics, why it has no value.
	Undefined map[string]string `json:"undefined,omitempty"`
	Slices    []SliceResult     `json:"slices,omitempty"`
}

// SliceResult is the metrics of the rows whose slice column holds Value.
type SliceResult struct {
	Column    string            `json:"column"`
	Value     string            `json:"value"`
	Metrics   Metrics           `json:"metrics"`
	Undefined map[string]string `json:"undefined,omitempty"`
}

// All returns the overall metrics and every slice's, the latter named by
// SliceMetric: the map to validate and to log.
func (r Result) All() Metrics {
	out := make(Metrics, len(r.Metrics)*(1+len(r.Slices)))
	for k, v := range r.Metrics {
		out[k] = v
	}
	for _, s := range r.Slices {
		for k, v := range s.Metrics {
			out[SliceMetric(k, s.Column, s.Value)] = v
		}
	}
	return out
}

// metricSet collects one group's metrics, keeping those the spec asks for
// and recording why the undefined ones have no value.
type metricSet struct {
	want      []string // nil: all
	metrics   Metrics
	undefined map[string]string
}

func newMetricSet(want []string) *metricSet {
	return &metricSet{want: want, metrics: Metrics{}}
}

func (m *metricSet) wanted(name string) bool {
	return m.want == nil || name == ExampleCount || slices.Contains(m.want, name)
}

// set records v, or why when v is NaN. A value that overflowed float64 is
// undefined too: JSON cannot hold it.
func (m *metricSet) set(name string, v float64, why string) {
	switch {
	case !m.wanted(name):
	case math.IsNaN(v):
		m.undefine(name, why)
	case math.IsInf(v, 0):
		m.undefine(name, "the value overflows a float64")
	default:
		m.metrics[name] = v
	}
}

func (m *metricSet) undefine(name, why string) {
	if !m.wanted(name) {
		return
	}
	if m.undefined == nil {
		m.undefined = map[string]string{}
	}
	m.undefined[name] = why
}

// shortNames are the names people write for the built-in metrics (scikit-learn's
// function names without _score, the usual abbreviations).
var shortNames = map[string]string{
	"accuracy": Accuracy, "acc": Accuracy, "precision": Precision, "recall": Recall,
	"f1": F1, "auc": ROCAUC, "roc_auc_score": ROCAUC, "logloss": LogLoss,
	"mae": MeanAbsoluteError, "mse": MeanSquaredError, "rmse": RootMeanSquaredError,
	"r2": R2, "mape": MeanAbsolutePercentageError,
}

// Suggest returns the built-in metric a name probably means ("accuracy" means
// accuracy_score), or "" when it means none. A slice metric keeps its slice.
func Suggest(metric string) string {
	base, slice, sliced := strings.Cut(metric, "/")
	full, ok := shortNames[strings.ToLower(base)]
	if !ok {
		return ""
	}
	if sliced {
		return full + "/" + slice
	}
	return full
}

// didYouMean is " (did you mean NAME?)" when Suggest knows what metric meant.
func didYouMean(metric string) string {
	if s := Suggest(metric); s != "" {
		return fmt.Sprintf(" (did you mean %s?)", s)
	}
	return ""
}
