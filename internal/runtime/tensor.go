package runtime

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/mlship/mlship/internal/fault"
)

// Datatype is a tensor element type, named as the Open Inference Protocol names them.
type Datatype string

// The datatypes of the Open Inference Protocol (and Triton's BF16).
const (
	Bool   Datatype = "BOOL"
	Uint8  Datatype = "UINT8"
	Uint16 Datatype = "UINT16"
	Uint32 Datatype = "UINT32"
	Uint64 Datatype = "UINT64"
	Int8   Datatype = "INT8"
	Int16  Datatype = "INT16"
	Int32  Datatype = "INT32"
	Int64  Datatype = "INT64"
	FP16   Datatype = "FP16"
	BF16   Datatype = "BF16"
	FP32   Datatype = "FP32"
	FP64   Datatype = "FP64"
	Bytes  Datatype = "BYTES"
)

var elementSizes = map[Datatype]int{
	Bool: 1, Uint8: 1, Uint16: 2, Uint32: 4, Uint64: 8, Int8: 1, Int16: 2, Int32: 4, Int64: 8,
	FP16: 2, BF16: 2, FP32: 4, FP64: 8, Bytes: 0,
}

// Size is the size of one element in bytes; 0 for BYTES, whose elements vary.
func (d Datatype) Size() int { return elementSizes[d] }

// Valid reports whether d is a known datatype.
func (d Datatype) Valid() bool {
	_, ok := elementSizes[d]
	return ok
}

// ParseDatatype checks a datatype named by a client.
func ParseDatatype(s string) (Datatype, error) {
	d := Datatype(s)
	if !d.Valid() {
		return "", fault.Invalidf("unknown datatype %q: use one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, BF16, FP32, FP64, BYTES", s)
	}
	return d, nil
}

// MaxElements caps the elements of one tensor, so that a shape cannot ask for more
// memory than any real request needs.
const MaxElements = 1 << 28

// Tensor is one named, typed, row-major array. Fixed-size elements are stored
// little-endian in Data, as the Open Inference Protocol's binary extension and the
// worker protocol carry them, so a tensor crosses both without conversion. BYTES
// elements are in Strings; a nil element is a missing value (a model's None or NaN in
// a string column), which JSON answers carry as null.
type Tensor struct {
	Name     string
	Datatype Datatype
	Shape    []int64
	Data     []byte
	Strings  [][]byte
}

// Elements is the product of the shape: the number of elements the tensor holds.
// It is -1 when the shape is invalid (a negative dimension, or too many elements).
func Elements(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		if d < 0 || (d > 0 && n > MaxElements/d) {
			return -1
		}
		n *= d
	}
	return n
}

// Rows is the size of the first dimension, the batch; 1 for a scalar.
func (t *Tensor) Rows() int64 {
	if len(t.Shape) == 0 {
		return 1
	}
	return t.Shape[0]
}

// Check reports whether the tensor's data agrees with its datatype and shape.
func (t *Tensor) Check() error {
	if !t.Datatype.Valid() {
		return fault.Invalidf("input %q: unknown datatype %q", t.Name, t.Datatype)
	}
	n := Elements(t.Shape)
	if n < 0 {
		return fault.Invalidf("input %q: invalid shape %v: dimensions must be non-negative and hold at most %d elements", t.Name, t.Shape, MaxElements)
	}
	if t.Datatype == Bytes {
		if int64(len(t.Strings)) != n {
			return fault.Invalidf("input %q: shape %v needs %d elements, got %d", t.Name, t.Shape, n, len(t.Strings))
		}
		return nil
	}
	size := int64(t.Datatype.Size())
	if int64(len(t.Data)) != n*size {
		if int64(len(t.Data))%size == 0 {
			return fault.Invalidf("input %q: shape %v needs %d elements, got %d", t.Name, t.Shape, n, int64(len(t.Data))/size)
		}
		return fault.Invalidf("input %q: %d bytes is not a whole number of %s elements", t.Name, len(t.Data), t.Datatype)
	}
	return nil
}

// Float64s returns the elements of a numeric tensor as float64s.
func (t *Tensor) Float64s() ([]float64, error) {
	n := Elements(t.Shape)
	if t.Datatype == Bytes || n < 0 || int64(len(t.Data)) != n*int64(t.Datatype.Size()) {
		return nil, fmt.Errorf("tensor %q: not a numeric tensor of shape %v", t.Name, t.Shape)
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = t.Float64At(i)
	}
	return out, nil
}

// Float64At returns element i of a numeric tensor as a float64.
func (t *Tensor) Float64At(i int) float64 {
	d := t.Data
	le := binary.LittleEndian
	switch t.Datatype {
	case Bool, Uint8:
		return float64(d[i])
	case Int8:
		return float64(int8(d[i]))
	case Uint16:
		return float64(le.Uint16(d[2*i:]))
	case Int16:
		return float64(int16(le.Uint16(d[2*i:])))
	case Uint32:
		return float64(le.Uint32(d[4*i:]))
	case Int32:
		return float64(int32(le.Uint32(d[4*i:])))
	case Uint64:
		return float64(le.Uint64(d[8*i:]))
	case Int64:
		return float64(int64(le.Uint64(d[8*i:])))
	case FP16:
		return float64(halfToFloat32(le.Uint16(d[2*i:])))
	case BF16:
		return float64(math.Float32frombits(uint32(le.Uint16(d[2*i:])) << 16))
	case FP32:
		return float64(math.Float32frombits(le.Uint32(d[4*i:])))
	case FP64:
		return math.Float64frombits(le.Uint64(d[8*i:]))
	}
	return math.NaN()
}

// halfToFloat32 widens an IEEE 754 half-precision value.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		f := float32(frac) / 1024 / 16384
		if sign != 0 {
			return -f
		}
		return f
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}

// NewFloat64 returns an FP64 tensor.
func NewFloat64(name string, shape []int64, values []float64) Tensor {
	data := make([]byte, 8*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint64(data[8*i:], math.Float64bits(v))
	}
	return Tensor{Name: name, Datatype: FP64, Shape: shape, Data: data}
}

// NewInt64 returns an INT64 tensor.
func NewInt64(name string, shape []int64, values []int64) Tensor {
	data := make([]byte, 8*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint64(data[8*i:], uint64(v))
	}
	return Tensor{Name: name, Datatype: Int64, Shape: shape, Data: data}
}

// NewStrings returns a BYTES tensor.
func NewStrings(name string, shape []int64, values []string) Tensor {
	s := make([][]byte, len(values))
	for i, v := range values {
		s[i] = []byte(v)
	}
	return Tensor{Name: name, Datatype: Bytes, Shape: shape, Strings: s}
}
