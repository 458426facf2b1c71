package onnx

import (
	"fmt"
	"strings"
)

// DType is a tensor element type.
type DType uint8

// The element types the engine computes with. Their values are ONNX's
// TensorProto.DataType codes.
const (
	Float32 DType = 1
	Uint8   DType = 2
	Int8    DType = 3
	Int32   DType = 6
	Int64   DType = 7
	String  DType = 8
	Bool    DType = 9
	Float64 DType = 11
)

var dtypeNames = map[DType]string{
	Float32: "float32", Uint8: "uint8", Int8: "int8", Int32: "int32", Int64: "int64",
	String: "string", Bool: "bool", Float64: "float64",
}

func (d DType) String() string {
	if s, ok := dtypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// Value is what flows along a graph's edges: a *Tensor, a *Map or a *Sequence.
type Value interface {
	// Type describes the value as ONNX types are written: "tensor(float32)",
	// "map(int64,tensor(float32))", "seq(map(string,tensor(float32)))".
	Type() string
}

// Element is a Go type a tensor can hold.
type Element interface {
	~float32 | ~float64 | ~int64 | ~int32 | ~uint8 | ~int8 | ~bool | ~string
}

// Tensor is a row-major array of one element type.
type Tensor struct {
	DType DType
	Shape []int64
	data  any // []float32, []float64, []int64, []int32, []uint8, []int8, []bool or []string
}

// NewTensor returns a tensor over data, which it does not copy. It panics if the
// shape does not hold len(data) elements: a programming error, not an input error.
func NewTensor[T Element](shape []int64, data []T) *Tensor {
	if n, ok := numElements(shape); !ok || n != len(data) {
		panic(fmt.Sprintf("onnx.NewTensor: shape %v does not hold %d elements", shape, len(data)))
	}
	return &Tensor{DType: dtypeOf[T](), Shape: shape, data: data}
}

// Data returns the tensor's elements, or nil if they are not of type T.
func Data[T Element](t *Tensor) []T {
	d, _ := t.data.([]T)
	return d
}

// Len is the number of elements.
func (t *Tensor) Len() int {
	switch d := t.data.(type) {
	case []float32:
		return len(d)
	case []float64:
		return len(d)
	case []int64:
		return len(d)
	case []int32:
		return len(d)
	case []uint8:
		return len(d)
	case []int8:
		return len(d)
	case []bool:
		return len(d)
	case []string:
		return len(d)
	}
	return 0
}

// Type implements Value.
func (t *Tensor) Type() string { return "tensor(" + t.DType.String() + ")" }

func (t *Tensor) String() string { return fmt.Sprintf("%s%v", t.Type(), t.Shape) }

func dtypeOf[T Element]() DType {
	var z T
	switch any(z).(type) {
	case float32:
		return Float32
	case float64:
		return Float64
	case int64:
		return Int64
	case int32:
		return Int32
	case uint8:
		return Uint8
	case int8:
		return Int8
	case bool:
		return Bool
	case string:
		return String
	}
	panic("unreachable")
}

// newTensorOf allocates a zeroed tensor of a given type and shape.
func newTensorOf(dt DType, shape []int64) (*Tensor, error) {
	n, ok := numElements(shape)
	if !ok {
		return nil, fmt.Errorf("%w: shape %v is invalid or too large", ErrInvalidInput, shape)
	}
	var data any
	switch dt {
	case Float32:
		data = make([]float32, n)
	case Float64:
		data = make([]float64, n)
	case Int64:
		data = make([]int64, n)
	case Int32:
		data = make([]int32, n)
	case Uint8:
		data = make([]uint8, n)
	case Int8:
		data = make([]int8, n)
	case Bool:
		data = make([]bool, n)
	case String:
		data = make([]string, n)
	default:
		return nil, fmt.Errorf("%w: element type %s", ErrUnsupported, dt)
	}
	return &Tensor{DType: dt, Shape: shape, data: data}, nil
}

// MaxElements caps the elements of any one tensor the engine makes.
const MaxElements = 1 << 28

// elementLimit is MaxElements; tests lower it.
var elementLimit int64 = MaxElements

func numElements(shape []int64) (int, bool) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 || (d > 0 && n > elementLimit/d) {
			return 0, false
		}
		n *= d
	}
	return int(n), true
}

// Map is an ONNX map: int64 or string keys to scalar values, stored as parallel slices.
type Map struct {
	KeyType    DType // Int64 or String
	Int64Keys  []int64
	StringKeys []string
	// Values is one-dimensional, as long as the keys.
	Values *Tensor
}

// Len is the number of entries.
func (m *Map) Len() int {
	if m.KeyType == String {
		return len(m.StringKeys)
	}
	return len(m.Int64Keys)
}

// Type implements Value.
func (m *Map) Type() string {
	return "map(" + m.KeyType.String() + "," + m.Values.Type() + ")"
}

// Sequence is an ONNX sequence; the engine makes sequences of maps (ZipMap's output).
type Sequence struct {
	ElemType string // the Type of its elements, so that an empty sequence has one
	Elems    []Value
}

// Type implements Value.
func (s *Sequence) Type() string { return "seq(" + s.ElemType + ")" }

func shapeString(shape []int64) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ",") + "]"
}
