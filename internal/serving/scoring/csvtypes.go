package scoring

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/mlship/mlship/internal/runtime"
)

// ColumnTypes are the datatypes a model's input signature gives the columns of a CSV
// table, as MLflow's scoring server reads CSV with pandas.read_csv(dtype=...) from the
// signature. A column it names is parsed as its type; any other column is inferred.
type ColumnTypes struct {
	// Named are the columns' datatypes by name.
	Named map[string]runtime.Datatype
	// Rest, when set, is the datatype of every column Named leaves out: the model takes
	// its table as one input of that type (BYTES for a [rows, n] input of strings).
	Rest runtime.Datatype
}

// ColumnTypesOf reads the column types from what a loaded model says about its inputs:
// every column of a column-based signature (an MLflow pyfunc model's); every input of
// a tensor signature that is one column ([rows] or [rows, 1], as an ONNX model converted
// from a table takes its columns); and, for a model whose one input is a [rows, n]
// table of strings, every column as a string. A model without a signature yields none,
// and its columns are inferred.
func ColumnTypesOf(meta runtime.Metadata) ColumnTypes {
	var ct ColumnTypes
	for _, in := range meta.Inputs {
		if !meta.Columns && !isColumnShape(in.Shape) {
			continue
		}
		if ct.Named == nil {
			ct.Named = map[string]runtime.Datatype{}
		}
		ct.Named[in.Name] = in.Datatype
	}
	if len(meta.Inputs) == 1 && ct.Named == nil && meta.Inputs[0].Datatype == runtime.Bytes {
		ct.Rest = runtime.Bytes
	}
	return ct
}

func isColumnShape(shape []int64) bool {
	return len(shape) == 1 || (len(shape) == 2 && shape[1] == 1)
}

// typeOf is the datatype the signature gives the named column; "" means infer it.
func (ct ColumnTypes) typeOf(name string) runtime.Datatype {
	if d, ok := ct.Named[name]; ok {
		return d
	}
	return ct.Rest
}

// typedColumn parses a column's fields as datatype d, as pandas.read_csv does with a
// dtype: strings as written (leading zeros kept); integers and booleans with no
// missing value; floats with missing values as NaN. A field that does not parse is the
// client's mistake, named by its row (counting from 1 after the header) and column. A
// datatype CSV cannot carry (FP16, BF16) is inferred instead.
func typedColumn(name string, d runtime.Datatype, fields []string) (runtime.Tensor, error) {
	t := runtime.Tensor{Name: name, Datatype: d, Shape: []int64{int64(len(fields))}}
	switch d {
	case runtime.Bytes:
		t.Strings = make([][]byte, len(fields))
		for i, f := range fields {
			t.Strings[i] = []byte(f)
		}
		return t, nil
	case runtime.FP32, runtime.FP64:
		return t, fillFloats(&t, fields)
	case runtime.Bool:
		return t, fillBools(&t, fields)
	case runtime.Int8, runtime.Int16, runtime.Int32, runtime.Int64,
		runtime.Uint8, runtime.Uint16, runtime.Uint32, runtime.Uint64:
		return t, fillInts(&t, fields)
	}
	return csvColumn(name, fields), nil
}

// fieldError says why row i of column t could not be read as the signature's type.
func fieldError(t *runtime.Tensor, i int, why string) error {
	return csvError(fmt.Sprintf("row %d, column %q: %s; the model's signature makes the column %s", i+1, t.Name, why, t.Datatype))
}

func fillFloats(t *runtime.Tensor, fields []string) error {
	size := t.Datatype.Size()
	t.Data = make([]byte, size*len(fields))
	for i, f := range fields {
		v := math.NaN()
		if !naValues[f] {
			s := strings.TrimSpace(f)
			if !isDecimal(s) {
				return fieldError(t, i, fmt.Sprintf("%q is not a number", f))
			}
			v, _ = strconv.ParseFloat(s, 64)
		}
		if size == 4 {
			binary.LittleEndian.PutUint32(t.Data[4*i:], math.Float32bits(float32(v)))
		} else {
			binary.LittleEndian.PutUint64(t.Data[8*i:], math.Float64bits(v))
		}
	}
	return nil
}

func fillBools(t *runtime.Tensor, fields []string) error {
	t.Data = make([]byte, len(fields))
	for i, f := range fields {
		if naValues[f] {
			return fieldError(t, i, "a missing value, which a boolean column cannot hold")
		}
		s := strings.TrimSpace(f)
		b, ok := csvBools[s]
		switch {
		case ok:
		case s == "1" || s == "0":
			b = s == "1"
		default:
			return fieldError(t, i, fmt.Sprintf("%q is not a boolean (True, False, 1 or 0)", f))
		}
		if b {
			t.Data[i] = 1
		}
	}
	return nil
}

// fillInts parses integers; a number written with a point or an exponent is taken
// when its value is a whole number, as pandas takes 1.0 and 1e3 for an integer column.
func fillInts(t *runtime.Tensor, fields []string) error {
	size := t.Datatype.Size()
	lo, hi := intRange(t.Datatype)
	t.Data = make([]byte, size*len(fields))
	for i, f := range fields {
		if naValues[f] {
			return fieldError(t, i, "a missing value, which an integer column cannot hold")
		}
		s := strings.TrimSpace(f)
		n, err := parseWhole(s)
		if err != nil {
			return fieldError(t, i, fmt.Sprintf("%q is not an integer", f))
		}
		if n.neg && n.abs > uint64(-lo) || !n.neg && n.abs > hi {
			return fieldError(t, i, fmt.Sprintf("%s is out of the range of %s", s, t.Datatype))
		}
		v := n.abs
		if n.neg {
			v = -v
		}
		switch size {
		case 1:
			t.Data[i] = byte(v)
		case 2:
			binary.LittleEndian.PutUint16(t.Data[2*i:], uint16(v))
		case 4:
			binary.LittleEndian.PutUint32(t.Data[4*i:], uint32(v))
		default:
			binary.LittleEndian.PutUint64(t.Data[8*i:], v)
		}
	}
	return nil
}

// whole is an integer as a sign and a magnitude, so that every int64 and uint64 fits.
type whole struct {
	neg bool
	abs uint64
}

// parseWhole parses a decimal integer, or a decimal number whose value is whole.
func parseWhole(s string) (whole, error) {
	digits, neg := strings.TrimPrefix(strings.TrimPrefix(s, "+"), "-"), strings.HasPrefix(s, "-")
	if len(digits) < len(s)-1 {
		return whole{}, strconv.ErrSyntax
	}
	if abs, err := strconv.ParseUint(digits, 10, 64); err == nil {
		return whole{neg: neg && abs != 0, abs: abs}, nil
	}
	if !isDecimal(s) {
		return whole{}, strconv.ErrSyntax
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v != math.Trunc(v) || math.Abs(v) >= 1<<64 {
		if err == nil && v == math.Trunc(v) {
			return whole{neg: v < 0, abs: math.MaxUint64}, nil // out of range, reported so
		}
		return whole{}, strconv.ErrSyntax
	}
	return whole{neg: v < 0, abs: uint64(math.Abs(v))}, nil
}

// intRange is the range of an integer datatype: the most negative value (as an
// int64) and the largest (as a uint64).
func intRange(d runtime.Datatype) (lo int64, hi uint64) {
	switch d {
	case runtime.Int8:
		return math.MinInt8, math.MaxInt8
	case runtime.Int16:
		return math.MinInt16, math.MaxInt16
	case runtime.Int32:
		return math.MinInt32, math.MaxInt32
	case runtime.Int64:
		return math.MinInt64, math.MaxInt64
	case runtime.Uint8:
		return 0, math.MaxUint8
	case runtime.Uint16:
		return 0, math.MaxUint16
	case runtime.Uint32:
		return 0, math.MaxUint32
	}
	return 0, math.MaxUint64
}
