package drift

import (
	"fmt"
	"runtime"

	"github.com/mlship/mlship/internal/dataset"
)

// DefaultDriftShare is the share of drifted columns at and above which the
// dataset as a whole has drifted (DataDriftPreset's drift_share).
const DefaultDriftShare = 0.5

// Options choose columns, methods and thresholds; the zero value (or nil)
// reproduces Evidently's DataDriftPreset() defaults. Overrides take
// precedence as in Evidently: for the method, per column over per kind over
// Method; for the threshold, per column over per kind over Threshold over the
// method's default.
type Options struct {
	DriftShare float64 // 0: DefaultDriftShare

	Method          Method            // every column
	NumMethod       Method            // numerical columns
	CatMethod       Method            // categorical columns
	PerColumnMethod map[string]Method // by column name

	Threshold          *float64
	NumThreshold       *float64
	CatThreshold       *float64
	PerColumnThreshold map[string]float64

	// Columns limits the comparison to these columns; nil compares every
	// column of the reference.
	Columns []string
	// Kinds overrides the kind of columns (by default the reference's
	// inferred kind); a text column, which is otherwise skipped, can be
	// compared as categorical this way.
	Kinds map[string]dataset.Kind
	// Workers bounds the columns compared in parallel; GOMAXPROCS when 0.
	Workers int
}

// Threshold returns a pointer to v, for the threshold options.
func Threshold(v float64) *float64 { return &v }

func (o *Options) withDefaults() (Options, error) {
	var d Options
	if o != nil {
		d = *o
	}
	if d.DriftShare == 0 {
		d.DriftShare = DefaultDriftShare
	}
	if d.DriftShare < 0 || d.DriftShare > 1 {
		return d, fmt.Errorf("%w: drift share %v is not between 0 and 1", ErrBadOptions, d.DriftShare)
	}
	if d.Workers <= 0 {
		d.Workers = runtime.GOMAXPROCS(0)
	}
	for _, m := range append([]Method{d.Method, d.NumMethod, d.CatMethod}, mapValues(d.PerColumnMethod)...) {
		if _, ok := methods[m]; m != "" && !ok {
			return d, fmt.Errorf("%w: %q", ErrUnknownMethod, m)
		}
	}
	return d, nil
}

func mapValues(m map[string]Method) []Method {
	out := make([]Method, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// kindOf returns the kind a column is compared as.
func (o *Options) kindOf(name string, inferred dataset.Kind) dataset.Kind {
	if k, ok := o.Kinds[name]; ok {
		return k
	}
	return inferred
}

// methodFor returns the requested method for a column, "" for the default
// selection.
func (o *Options) methodFor(name string, kind dataset.Kind) Method {
	if m, ok := o.PerColumnMethod[name]; ok {
		return m
	}
	switch {
	case kind == dataset.KindNumerical && o.NumMethod != "":
		return o.NumMethod
	case kind == dataset.KindCategorical && o.CatMethod != "":
		return o.CatMethod
	}
	return o.Method
}

// thresholdFor returns the threshold for a column tested with m.
func (o *Options) thresholdFor(name string, kind dataset.Kind, m Method) float64 {
	if t, ok := o.PerColumnThreshold[name]; ok {
		return t
	}
	switch {
	case kind == dataset.KindNumerical && o.NumThreshold != nil:
		return *o.NumThreshold
	case kind == dataset.KindCategorical && o.CatThreshold != nil:
		return *o.CatThreshold
	case o.Threshold != nil:
		return *o.Threshold
	}
	return m.DefaultThreshold()
}
