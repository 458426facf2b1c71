package dataset

import (
	"errors"
	"fmt"
)

// Type is the storage type inferred for a column.
type Type string

// Column types, from the narrowest to the widest. A column takes the narrowest
// type that holds every non-null value it has.
const (
	TypeNull    Type = "null"    // every value is missing
	TypeBoolean Type = "boolean" // true/false (CSV: True, TRUE, true, False, FALSE, false)
	TypeInteger Type = "integer" // whole numbers that fit in 64 bits
	TypeFloat   Type = "float"   // any number
	TypeString  Type = "string"  // anything else, including columns that mix types
)

// Kind is how drift detection treats a column.
type Kind string

// Column kinds, as Evidently names them.
const (
	KindNumerical   Kind = "numerical"
	KindCategorical Kind = "categorical"
	KindText        Kind = "text"
	KindUnknown     Kind = "unknown"
)

// IntegerCategoryLimit is the number of distinct values up to which an integer
// column is categorical rather than numerical (Evidently's
// INTEGER_CARDINALITY_LIMIT).
const IntegerCategoryLimit = 10

// InferKind decides a column's kind the way Evidently 0.7 does for a pandas
// DataFrame read from the same file (evidently.core.datasets.infer_column_type):
//
//   - float: numerical;
//   - integer: categorical when it has at most 10 distinct values, numerical
//     otherwise; an integer column with missing values is numerical, because
//     pandas reads it as float;
//   - boolean: categorical; with missing values unknown, because pandas
//     reads it as objects that are not strings;
//   - string: text when more than half of its non-null values are distinct,
//     categorical otherwise;
//   - a column with no values: unknown.
//
// count is the number of non-null values and distinct the number of distinct
// non-null values.
func InferKind(t Type, count, nulls, distinct int64) Kind {
	switch t {
	case TypeFloat:
		return KindNumerical
	case TypeInteger:
		if nulls > 0 || distinct > IntegerCategoryLimit {
			return KindNumerical
		}
		return KindCategorical
	case TypeBoolean:
		if nulls > 0 {
			return KindUnknown
		}
		return KindCategorical
	case TypeString:
		if float64(distinct) > 0.5*float64(count) {
			return KindText
		}
		return KindCategorical
	}
	return KindUnknown
}

// Field describes one column.
type Field struct {
	Name     string `json:"name"`
	Type     Type   `json:"type"`
	Kind     Kind   `json:"kind"`
	Nullable bool   `json:"nullable"`
}

// Schema is the ordered list of a dataset's columns.
type Schema struct {
	Fields []Field `json:"fields"`
}

// Field returns the field named name.
func (s Schema) Field(name string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// typeFlags records which kinds of value a column has held.
type typeFlags uint8

const (
	sawBool typeFlags = 1 << iota
	sawInt
	sawFloat
	sawString
)

// conflicts reports whether a value of kind k disagrees with the values seen so far:
// a word among numbers or booleans, a number among words or booleans, a boolean among
// numbers or words. Integers and floats agree.
func (f typeFlags) conflicts(k CellKind) bool {
	switch k {
	case CellBool:
		return f&(sawInt|sawFloat|sawString) != 0
	case CellInt, CellFloat:
		return f&(sawBool|sawString) != 0
	case CellString:
		return f&(sawBool|sawInt|sawFloat) != 0
	}
	return false
}

// ErrMixedTypes is a value whose type disagrees with the rest of its column.
var ErrMixedTypes = errors.New("mixed types in a column")

func mixedError(f typeFlags, k CellKind, col *BatchColumn, i int) error {
	seen := "numbers"
	switch {
	case f&sawString != 0:
		seen = "text"
	case f&sawBool != 0:
		seen = "booleans"
	}
	return fmt.Errorf("%w: %q is %s, but the column's earlier values are %s", ErrMixedTypes, truncate(string(col.Text(i)), 40), kindWord(k), seen)
}

func kindWord(k CellKind) string {
	switch k {
	case CellBool:
		return "a boolean"
	case CellString:
		return "text"
	}
	return "a number"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func (f typeFlags) see(k CellKind) typeFlags {
	switch k {
	case CellBool:
		return f | sawBool
	case CellInt:
		return f | sawInt
	case CellFloat:
		return f | sawFloat
	case CellString:
		return f | sawString
	}
	return f
}

// Type is the narrowest type holding every kind of value seen. Booleans mixed
// with numbers make a string column, as in pandas.
func (f typeFlags) Type() Type {
	switch {
	case f == 0:
		return TypeNull
	case f&sawString != 0:
		return TypeString
	case f == sawBool:
		return TypeBoolean
	case f&sawBool != 0:
		return TypeString
	case f&sawFloat != 0:
		return TypeFloat
	}
	return TypeInteger
}

func flagsOf(t Type) typeFlags {
	switch t {
	case TypeBoolean:
		return sawBool
	case TypeInteger:
		return sawInt
	case TypeFloat:
		return sawFloat
	case TypeString:
		return sawString
	}
	return 0
}
