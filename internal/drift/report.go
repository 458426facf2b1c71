package drift

import (
	"encoding/json"
	"math"
	"strconv"

	"github.com/mlship/mlship/internal/dataset"
)

// Report is the result of a drift comparison.
type Report struct {
	// Source is "datasets" for Compare, "profiles" for CompareProfiles.
	Source         string  `json:"source"`
	ReferenceRows  int64   `json:"reference_rows"`
	CurrentRows    int64   `json:"current_rows"`
	DriftShare     float64 `json:"drift_share"`
	Columns        int     `json:"number_of_columns"`
	DriftedColumns int     `json:"number_of_drifted_columns"`
	ShareDrifted   float64 `json:"share_of_drifted_columns"`
	// DatasetDrift is true when at least DriftShare of the compared columns
	// drifted.
	DatasetDrift bool            `json:"dataset_drift"`
	Results      []ColumnResult  `json:"columns"`
	Skipped      []SkippedColumn `json:"skipped,omitempty"`
}

// ColumnResult is the comparison of one column.
type ColumnResult struct {
	Name       string       `json:"name"`
	Type       dataset.Type `json:"type"`
	Kind       dataset.Kind `json:"kind"`
	Method     Method       `json:"method"`
	MethodName string       `json:"method_name"`
	// Score is Evidently's drift score: the p-value of p-value tests, the
	// distance otherwise.
	Score Number `json:"score"`
	// Statistic is the test statistic of p-value tests (K-S D, chi-squared,
	// z); it equals Score for distances.
	Statistic Number `json:"statistic"`
	// ScoreIsPValue says how to read Score against Threshold: a p-value drifts
	// below it, a distance above it.
	ScoreIsPValue bool    `json:"score_is_p_value"`
	Threshold     float64 `json:"threshold"`
	Drifted       bool    `json:"drifted"`
	// Approximate is true when a sketch, not the data, gave the score.
	Approximate bool      `json:"approximate,omitempty"`
	Reference   Summary   `json:"reference"`
	Current     Summary   `json:"current"`
	Histogram   Histogram `json:"histogram"`
}

// SkippedColumn is a column that was not compared, and why.
type SkippedColumn struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// Summary describes one side of a column.
type Summary struct {
	Count    int64  `json:"count"`   // non-null values
	Missing  int64  `json:"missing"` // nulls
	Distinct int64  `json:"distinct"`
	Min      Number `json:"min,omitzero"`
	Max      Number `json:"max,omitzero"`
	Mean     Number `json:"mean,omitzero"`
	Std      Number `json:"std,omitzero"`
	// Quantiles are the 5th, 25th, 50th, 75th and 95th percentiles.
	Quantiles []Number   `json:"quantiles,omitempty"`
	Top       []TopValue `json:"top,omitempty"`
}

// TopValue is a frequent category.
type TopValue struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// Histogram holds both sides' shares over the same bins: numerical columns
// have Edges (len(shares)+1), categorical ones Labels.
type Histogram struct {
	Edges     []float64 `json:"edges,omitempty"`
	Labels    []string  `json:"labels,omitempty"`
	Reference []float64 `json:"reference"`
	Current   []float64 `json:"current"`
}

// SummaryQuantiles are the quantiles a Summary reports.
var SummaryQuantiles = []float64{0.05, 0.25, 0.5, 0.75, 0.95}

// Number is a float64 that encodes NaN and infinities as JSON null, and its
// zero value as absent where the field says omitzero.
type Number struct {
	V     float64
	valid bool
}

func num(v float64) Number { return Number{V: v, valid: true} }

// IsZero reports whether the number is unset.
func (n Number) IsZero() bool { return !n.valid }

// MarshalJSON writes the number, or null when it is not finite.
func (n Number) MarshalJSON() ([]byte, error) {
	if !n.valid || math.IsNaN(n.V) || math.IsInf(n.V, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, n.V, 'g', -1, 64), nil
}

// UnmarshalJSON reads a number or null (NaN).
func (n *Number) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*n = num(math.NaN())
		return nil
	}
	var v float64
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*n = num(v)
	return nil
}

// Result returns the named column's result.
func (r *Report) Result(name string) (ColumnResult, bool) {
	for _, c := range r.Results {
		if c.Name == name {
			return c, true
		}
	}
	return ColumnResult{}, false
}

// finish counts drifted columns and decides dataset drift.
func (r *Report) finish() {
	r.Columns = len(r.Results)
	r.DriftedColumns = 0
	for _, c := range r.Results {
		if c.Drifted {
			r.DriftedColumns++
		}
	}
	r.ShareDrifted = 0
	if r.Columns > 0 {
		r.ShareDrifted = float64(r.DriftedColumns) / float64(r.Columns)
	}
	r.DatasetDrift = r.Columns > 0 && r.ShareDrifted >= r.DriftShare
}
