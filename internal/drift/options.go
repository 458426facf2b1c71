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
	TextMethod      Method            // text columns
	PerColumnMethod map[string]Method // by column name

	Threshold          *float64
	NumThreshold       *float64
	CatThreshold       *float64
	TextThreshold      *float64
	PerColumnThreshold map[string]float64

	// Columns limits the comparison to these columns; nil compares every
	// column of the reference.
	Columns []string
	// KindsFrom says which side's inferred kinds decide how columns are
	// compared: KindsFromCurrent (the default, as Evidently does) or
	// KindsFromReference (stable across current windows).
	KindsFrom KindsFrom
	// Kinds overrides the kind of columns; a text column can be compared as
	// categorical this way, a boolean column with missing values (unknown
	// kind) as categorical.
	Kinds map[string]dataset.Kind
	// Workers bounds the columns compared in parallel; GOMAXPROCS when 0.
	Workers int
}

// KindsFrom names the data whose inferred kinds a comparison uses.
type KindsFrom string

// The sides kinds can be taken from.
const (
	KindsFromCurrent   KindsFrom = "current"
	KindsFromReference KindsFrom = "reference"
)

// ParseKindsFrom checks a KindsFrom name; "" is the default, current.
func ParseKindsFrom(s string) (KindsFrom, error) {
	switch k := KindsFrom(s); k {
	case "", KindsFromCurrent:
		return KindsFromCurrent, nil
	case KindsFromReference:
		return k, nil
	}
	return "", fmt.Errorf("%w: kinds from %q: use current or reference", ErrBadOptions, s)
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
	var err error
	if d.KindsFrom, err = ParseKindsFrom(string(d.KindsFrom)); err != nil {
		return d, err
	}
	for _, m := range append([]Method{d.Method, d.NumMethod, d.CatMethod, d.TextMethod}, mapValues(d.PerColumnMethod)...) {
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

// kindOf returns the kind a column is compared as, and the side it was
// inferred on ("" when an option set it): the current data's inferred kind
// unless KindsFrom says reference or the current data lacks the column.
func (o *Options) kindOf(name string, ref dataset.Field, cur dataset.Schema) (dataset.Kind, string) {
	if k, ok := o.Kinds[name]; ok {
		return k, ""
	}
	if f, ok := cur.Field(name); ok && o.KindsFrom != KindsFromReference {
		return f.Kind, "current"
	}
	return ref.Kind, "reference"
}

// methodFor returns the requested method for a column, "" for the default
// selection. Method, meant for every column, passes over text columns when
// it does not apply to text (Evidently would fail): they keep their default.
func (o *Options) methodFor(name string, kind dataset.Kind) Method {
	if m, ok := o.PerColumnMethod[name]; ok {
		return m
	}
	switch {
	case kind == dataset.KindNumerical && o.NumMethod != "":
		return o.NumMethod
	case kind == dataset.KindCategorical && o.CatMethod != "":
		return o.CatMethod
	case kind == dataset.KindText && o.TextMethod != "":
		return o.TextMethod
	case kind == dataset.KindText && !o.Method.allows(kind):
		return ""
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
	case kind == dataset.KindText && o.TextThreshold != nil:
		return *o.TextThreshold
	case kind == dataset.KindText && o.Method != "" && !o.Method.allows(kind):
		return m.DefaultThreshold() // Threshold goes with a Method text columns do not use
	case o.Threshold != nil:
		return *o.Threshold
	}
	return m.DefaultThreshold()
}
