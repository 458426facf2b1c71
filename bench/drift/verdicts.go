package main

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/mlship/mlship/internal/drift"
)

// driftReport is the part of mlship's drift report (`drift compare -o json`, or a
// drift.Report) that the benchmark checks.
type driftReport struct {
	Source         string        `json:"source"`
	ReferenceRows  int64         `json:"reference_rows"`
	CurrentRows    int64         `json:"current_rows"`
	DriftedColumns int           `json:"number_of_drifted_columns"`
	DatasetDrift   bool          `json:"dataset_drift"`
	Columns        []driftColumn `json:"columns"`
	Skipped        []struct {
		Name   string `json:"name"`
		Reason string `json:"reason"`
	} `json:"skipped,omitempty"`
}

type driftColumn struct {
	Name        string   `json:"name"`
	Kind        string   `json:"kind"`
	Method      string   `json:"method"`
	Score       *float64 `json:"score"` // null for NaN
	Threshold   float64  `json:"threshold"`
	Drifted     bool     `json:"drifted"`
	Approximate bool     `json:"approximate,omitempty"`
}

// parseDriftReport reads mlship's JSON drift report.
func parseDriftReport(data []byte) (*driftReport, error) {
	var r driftReport
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("drift report: %w", err)
	}
	if len(r.Columns) == 0 {
		return nil, fmt.Errorf("drift report compares no column: %.300s", data)
	}
	return &r, nil
}

// fromDriftReport keeps what driftReport holds of an in-process report, through the
// same JSON the server sends.
func fromDriftReport(r *drift.Report) *driftReport {
	data, err := json.Marshal(r)
	if err != nil {
		return &driftReport{Source: "unencodable: " + err.Error()}
	}
	out, err := parseDriftReport(data)
	if err != nil {
		return &driftReport{Source: err.Error()}
	}
	return out
}

func (r *driftReport) drifted() []string {
	var out []string
	for _, c := range r.Columns {
		if c.Drifted {
			out = append(out, c.Name)
		}
	}
	sort.Strings(out)
	return out
}

// evidentlyResult is what evidently_drift.py writes.
type evidentlyResult struct {
	EvidentlyVersion string                     `json:"evidently_version"`
	PandasVersion    string                     `json:"pandas_version"`
	ReferenceRows    int64                      `json:"reference_rows"`
	CurrentRows      int64                      `json:"current_rows"`
	Steps            map[string]evidentlyStep   `json:"steps"`
	PeakRSS          int64                      `json:"peak_rss_bytes"`
	MaxRSS           int64                      `json:"ru_maxrss_bytes"`
	Columns          map[string]evidentlyColumn `json:"columns"`
	Share            float64                    `json:"share_of_drifted_columns"`
}

type evidentlyStep struct {
	Seconds        float64 `json:"seconds"`
	CPUSeconds     float64 `json:"cpu_seconds"`
	PeakRSS        int64   `json:"peak_rss_bytes"`
	PeakIsStepOnly bool    `json:"peak_is_step_only"`
}

type evidentlyColumn struct {
	Kind      string  `json:"kind"`
	Method    string  `json:"method"`
	Threshold float64 `json:"threshold"`
	Score     float64 `json:"score"`
	Drifted   bool    `json:"drifted"`
}

func parseEvidentlyResult(data []byte) (*evidentlyResult, error) {
	var r evidentlyResult
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("evidently result: %w", err)
	}
	if len(r.Columns) == 0 {
		return nil, fmt.Errorf("evidently result has no column: %.300s", data)
	}
	return &r, nil
}

func (r *evidentlyResult) drifted() []string {
	var out []string
	for name, c := range r.Columns {
		if c.Drifted {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// verdictCheck compares the columns mlship and Evidently found drifted.
type verdictCheck struct {
	Injected  []string `json:"injected"`
	Evidently []string `json:"evidently"`
	Mlship    []string `json:"mlship"`
	// Agree is true when both tools flag the same columns, or every column they
	// disagree on has a score within 1e-9 of its threshold (a tie that rounding
	// decides).
	Agree bool `json:"agree"`
	// OnlyEvidently and OnlyMlship are the columns one tool flags and the other not.
	OnlyEvidently []string `json:"only_evidently,omitempty"`
	OnlyMlship    []string `json:"only_mlship,omitempty"`
	AtThreshold   []string `json:"at_threshold,omitempty"`
	// Notes are the other differences: methods, columns one tool did not compare.
	Notes []string `json:"notes,omitempty"`
	// MaxScoreDiff is the largest |mlship score - Evidently score| over the columns
	// both compared with the same method, and MaxScoreColumn its column.
	MaxScoreDiff   float64 `json:"max_score_difference"`
	MaxScoreColumn string  `json:"max_score_difference_column,omitempty"`
	// InjectedMatch is true when the drifted columns are exactly those the generator
	// shifted past the threshold.
	InjectedMatch bool `json:"injected_match"`
}

func checkVerdicts(ev *evidentlyResult, ml *driftReport, injected []string) verdictCheck {
	v := verdictCheck{Injected: slices.Sorted(slices.Values(injected)), Evidently: ev.drifted(), Mlship: ml.drifted()}
	seen := map[string]bool{}
	for _, c := range ml.Columns {
		seen[c.Name] = true
		e, ok := ev.Columns[c.Name]
		if !ok {
			v.Notes = append(v.Notes, fmt.Sprintf("%s: compared by mlship only", c.Name))
			if c.Drifted {
				v.OnlyMlship = append(v.OnlyMlship, c.Name)
			}
			continue
		}
		v.compareColumn(c, e)
	}
	for name, e := range ev.Columns {
		if !seen[name] {
			v.Notes = append(v.Notes, fmt.Sprintf("%s: compared by Evidently only", name))
			if e.Drifted {
				v.OnlyEvidently = append(v.OnlyEvidently, name)
			}
		}
	}
	sort.Strings(v.OnlyEvidently)
	sort.Strings(v.OnlyMlship)
	sort.Strings(v.Notes)
	v.Agree = len(v.OnlyEvidently)+len(v.OnlyMlship) == len(v.AtThreshold)
	v.InjectedMatch = slices.Equal(v.Mlship, v.Injected) && slices.Equal(v.Evidently, v.Injected)
	return v
}

func (v *verdictCheck) compareColumn(c driftColumn, e evidentlyColumn) {
	if c.Method != e.Method {
		v.Notes = append(v.Notes, fmt.Sprintf("%s: method %s in mlship, %s in Evidently", c.Name, c.Method, e.Method))
	} else if c.Score != nil {
		if d := math.Abs(*c.Score - e.Score); d > v.MaxScoreDiff || v.MaxScoreColumn == "" {
			v.MaxScoreDiff, v.MaxScoreColumn = d, c.Name
		}
	}
	if c.Drifted == e.Drifted {
		return
	}
	if e.Drifted {
		v.OnlyEvidently = append(v.OnlyEvidently, c.Name)
	} else {
		v.OnlyMlship = append(v.OnlyMlship, c.Name)
	}
	if atThreshold(e.Score, e.Threshold) || (c.Score != nil && atThreshold(*c.Score, c.Threshold)) {
		v.AtThreshold = append(v.AtThreshold, c.Name)
	}
}

// atThreshold reports whether a score is so close to its threshold that the last
// bits of floating point decide the verdict.
func atThreshold(score, threshold float64) bool {
	return math.Abs(score-threshold) <= 1e-9*math.Max(1, math.Abs(threshold))
}

// maxScoreDiff returns the largest |a score - b score| over the columns both reports
// scored with the same method, and its column.
func maxScoreDiff(a, b *driftReport) (float64, string) {
	byName := map[string]driftColumn{}
	for _, c := range b.Columns {
		byName[c.Name] = c
	}
	var worst float64
	var column string
	for _, c := range a.Columns {
		o, ok := byName[c.Name]
		if !ok || o.Method != c.Method || c.Score == nil || o.Score == nil {
			continue
		}
		if d := math.Abs(*c.Score - *o.Score); d > worst || column == "" {
			worst, column = d, c.Name
		}
	}
	return worst, column
}
