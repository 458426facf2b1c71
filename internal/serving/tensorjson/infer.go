package tensorjson

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
)

// Inference of datatypes from JSON, for the protocols whose requests carry none
// (MLflow's and KServe v1's). The rules follow what numpy.array and pandas make of
// the values Python's json module reads, where a tensor can say the same:
//
//   - integers (numbers written without a fraction or an exponent) that fit in an
//     int64: INT64;
//   - any other number, or integers mixed with other numbers: FP64;
//   - null among numbers, or only nulls: FP64, with NaN for each null;
//   - true and false: BOOL;
//   - strings: BYTES;
//   - no elements at all: FP64, as numpy.array([]) is float64.
//
// Any other mixture (strings with numbers or nulls, booleans with numbers or nulls) is
// an error: pandas would make an object column of it, which a tensor cannot hold.

// kindSet records which kinds of scalars a tensor holds.
type kindSet uint8

const (
	hasNull kindSet = 1 << iota
	hasBool
	hasInt
	hasFloat
	hasString
)

var kindSetNames = []struct {
	k    kindSet
	name string
}{{hasString, "strings"}, {hasBool, "booleans"}, {hasInt | hasFloat, "numbers"}, {hasNull, "nulls"}}

func (s kindSet) datatype() (runtime.Datatype, bool) {
	switch {
	case s == 0 || s&^(hasNull|hasInt|hasFloat) == 0 && s != hasInt:
		return runtime.FP64, true
	case s == hasInt:
		return runtime.Int64, true
	case s == hasBool:
		return runtime.Bool, true
	case s == hasString:
		return runtime.Bytes, true
	}
	return "", false
}

func (s kindSet) String() string {
	var names []string
	for _, n := range kindSetNames {
		if s&n.k != 0 {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, " and ")
}

func kindOf(v Value) kindSet {
	switch v.Kind() {
	case Missing, Null:
		return hasNull
	case True, False:
		return hasBool
	case String:
		return hasString
	case Number:
		if _, ok := v.Int64(); ok {
			return hasInt
		}
		return hasFloat
	}
	return 0
}

// Infer builds a tensor named name from v as numpy.array(v) would: its shape is the
// nesting of v's arrays, which must be rectangular, and its datatype follows the rules
// above. A scalar gives a tensor of rank 0. Objects are not allowed.
func Infer(name string, v Value) (runtime.Tensor, error) {
	if v.Kind() != Array {
		if err := checkNoObject(label(name), v); err != nil {
			return runtime.Tensor{}, err
		}
		return build(name, func() string { return label(name) }, []int64{}, []Value{v})
	}
	rows := make([]Value, 0, v.Len())
	for e := range v.Elems() {
		rows = append(rows, e)
	}
	return InferRows(name, rows)
}

// InferRows builds a tensor named name whose rows are rows, as
// numpy.array([row, ...]) would: every row must have the nesting of the first.
func InferRows(name string, rows []Value) (runtime.Tensor, error) {
	what := label(name)
	for _, r := range rows {
		if err := checkNoObject(what, r); err != nil {
			return runtime.Tensor{}, err
		}
	}
	inner := []int64{}
	if len(rows) > 0 {
		for e := rows[0]; e.Kind() == Array; e = (Value{e.d, e.i + 1}) {
			inner = append(inner, int64(e.Len()))
			if e.Len() == 0 {
				break
			}
		}
	}
	shape := append([]int64{int64(len(rows))}, inner...)
	for i, r := range rows {
		if err := checkRowNesting(r, i, shape, what); err != nil {
			return runtime.Tensor{}, err
		}
	}
	n := runtime.Elements(shape)
	if n < 0 {
		return runtime.Tensor{}, fault.Invalidf("%s has more than %d elements", what, runtime.MaxElements)
	}
	cells := make([]Value, 0, n)
	for _, r := range rows {
		cells = appendScalars(cells, r)
	}
	return build(name, func() string { return what }, shape, cells)
}

// label names an input in errors.
func label(name string) string {
	if name == "" {
		return "the input"
	}
	return fmt.Sprintf("input %q", name)
}

func checkNoObject(what string, v Value) error {
	if v.Kind() == Object || v.IsContainer() && hasObject(v) {
		return fault.Invalidf("%s holds an object where a tensor needs numbers, booleans or strings", what)
	}
	return nil
}

func hasObject(v Value) bool {
	for i := v.i; i < v.node().next; i++ {
		if v.d.nodes[i].kind == Object {
			return true
		}
	}
	return false
}

// appendScalars appends the scalars under v, which holds no objects, in document
// order.
func appendScalars(dst []Value, v Value) []Value {
	if !v.IsContainer() {
		return append(dst, v)
	}
	for i := v.i + 1; i < v.node().next; i++ {
		if k := v.d.nodes[i].kind; k != Array {
			dst = append(dst, Value{v.d, i})
		}
	}
	return dst
}

// Column builds a column of a table, of shape [len(cells)], from one scalar per row. A
// Missing cell (a record without the column) counts as null.
func Column(name string, cells []Value) (runtime.Tensor, error) {
	for row, c := range cells {
		if c.IsContainer() {
			return runtime.Tensor{}, fault.Invalidf("column %q, row %d: %s where a column needs a number, boolean, string or null", name, row, Describe(c))
		}
	}
	return build(name, func() string { return fmt.Sprintf("column %q", name) }, []int64{int64(len(cells))}, cells)
}

// build makes a tensor of the given shape from its cells, with the datatype the rules
// above infer; what names it in errors.
func build(name string, what func() string, shape []int64, cells []Value) (runtime.Tensor, error) {
	var kinds kindSet
	for _, c := range cells {
		kinds |= kindOf(c)
	}
	dt, ok := kinds.datatype()
	if !ok {
		return runtime.Tensor{}, fault.Invalidf("%s mixes %s; its values must be all numbers (with nulls for missing values), all booleans or all strings", what(), kinds)
	}
	t := runtime.Tensor{Name: name, Datatype: dt, Shape: shape}
	switch dt {
	case runtime.Bytes:
		t.Strings = make([][]byte, len(cells))
		for k, c := range cells {
			t.Strings[k] = c.Bytes()
		}
	case runtime.Bool:
		t.Data = make([]byte, len(cells))
		for k, c := range cells {
			if c.Kind() == True {
				t.Data[k] = 1
			}
		}
	case runtime.Int64:
		t.Data = make([]byte, 8*len(cells))
		for k, c := range cells {
			n, _ := c.Int64()
			binary.LittleEndian.PutUint64(t.Data[8*k:], uint64(n))
		}
	default:
		t.Data = make([]byte, 8*len(cells))
		for k, c := range cells {
			f := math.NaN()
			if c.Kind() == Number {
				f = c.Float64()
			}
			binary.LittleEndian.PutUint64(t.Data[8*k:], math.Float64bits(f))
		}
	}
	return t, nil
}
