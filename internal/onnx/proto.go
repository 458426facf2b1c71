package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/mlship/mlship/internal/onnx/onnxpb"
)

// tensorFromProto decodes an initializer or a tensor attribute.
func tensorFromProto(tp *onnxpb.TensorProto) (*Tensor, error) {
	if tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		return nil, fmt.Errorf("%w: tensor %q keeps its data in an external file", ErrUnsupported, tp.GetName())
	}
	shape := append([]int64{}, tp.GetDims()...)
	n, ok := numElements(shape)
	if !ok {
		return nil, fmt.Errorf("%w: tensor %q has invalid dimensions %v", ErrInvalidModel, tp.GetName(), shape)
	}
	dt := DType(tp.GetDataType())
	raw := tp.GetRawData()
	if stored := storedElements(tp, dt); stored != n {
		return nil, fmt.Errorf("%w: tensor %q holds %d elements for shape %v", ErrInvalidModel, tp.GetName(), stored, shape)
	}
	t, err := newTensorOf(dt, shape)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", tp.GetName(), err)
	}
	if dt == String {
		src := tp.GetStringData()
		if len(src) != n {
			return nil, fmt.Errorf("%w: tensor %q holds %d strings for shape %v", ErrInvalidModel, tp.GetName(), len(src), shape)
		}
		dst := Data[string](t)
		for i, b := range src {
			dst[i] = string(b)
		}
		return t, nil
	}
	if len(raw) > 0 {
		return t, decodeRaw(t, raw, n, tp.GetName())
	}
	return t, decodeTyped(t, tp, n)
}

func decodeRaw(t *Tensor, raw []byte, n int, name string) error {
	size := map[DType]int{Float32: 4, Float64: 8, Int64: 8, Int32: 4, Uint8: 1, Int8: 1, Bool: 1}[t.DType]
	if len(raw) != n*size {
		return fmt.Errorf("%w: tensor %q has %d bytes for %d elements of %s", ErrInvalidModel, name, len(raw), n, t.DType)
	}
	le := binary.LittleEndian
	switch d := t.data.(type) {
	case []float32:
		for i := range d {
			d[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
	case []float64:
		for i := range d {
			d[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
	case []int64:
		for i := range d {
			d[i] = int64(le.Uint64(raw[8*i:]))
		}
	case []int32:
		for i := range d {
			d[i] = int32(le.Uint32(raw[4*i:]))
		}
	case []uint8:
		copy(d, raw)
	case []int8:
		for i := range d {
			d[i] = int8(raw[i])
		}
	case []bool:
		for i := range d {
			d[i] = raw[i] != 0
		}
	}
	return nil
}

func decodeTyped(t *Tensor, tp *onnxpb.TensorProto, n int) error {
	var got int
	switch d := t.data.(type) {
	case []float32:
		got = copy(d, tp.GetFloatData())
		got = max(got, len(tp.GetFloatData()))
	case []float64:
		got = max(copy(d, tp.GetDoubleData()), len(tp.GetDoubleData()))
	case []int64:
		got = max(copy(d, tp.GetInt64Data()), len(tp.GetInt64Data()))
	case []int32:
		src := tp.GetInt32Data()
		got = len(src)
		for i := range min(len(d), len(src)) {
			d[i] = src[i]
		}
	case []uint8:
		src := tp.GetInt32Data()
		got = len(src)
		for i := range min(len(d), len(src)) {
			d[i] = uint8(src[i])
		}
	case []int8:
		src := tp.GetInt32Data()
		got = len(src)
		for i := range min(len(d), len(src)) {
			d[i] = int8(src[i])
		}
	case []bool:
		src := tp.GetInt32Data()
		got = len(src)
		for i := range min(len(d), len(src)) {
			d[i] = src[i] != 0
		}
	}
	if got != n {
		return fmt.Errorf("%w: tensor %q holds %d elements for shape %v", ErrInvalidModel, tp.GetName(), got, t.Shape)
	}
	return nil
}

// attrs gives typed access to a node's attributes.
type attrs map[string]*onnxpb.AttributeProto

func (a attrs) has(name string) bool { _, ok := a[name]; return ok }

func (a attrs) int(name string, def int64) int64 {
	if p, ok := a[name]; ok {
		return p.GetI()
	}
	return def
}

func (a attrs) float(name string, def float32) float32 {
	if p, ok := a[name]; ok {
		return p.GetF()
	}
	return def
}

func (a attrs) str(name, def string) string {
	if p, ok := a[name]; ok {
		return string(p.GetS())
	}
	return def
}

func (a attrs) ints(name string) []int64 {
	if p, ok := a[name]; ok {
		return p.GetInts()
	}
	return nil
}

func (a attrs) floats(name string) []float32 {
	if p, ok := a[name]; ok {
		return p.GetFloats()
	}
	return nil
}

func (a attrs) strs(name string) []string {
	p, ok := a[name]
	if !ok {
		return nil
	}
	out := make([]string, len(p.GetStrings()))
	for i, s := range p.GetStrings() {
		out[i] = string(s)
	}
	return out
}

func (a attrs) tensor(name string) (*Tensor, error) {
	p, ok := a[name]
	if !ok || p.GetT() == nil {
		return nil, nil
	}
	return tensorFromProto(p.GetT())
}

// float64s reads an attribute given as a list of floats or as a tensor (the *_as_tensor
// attributes of ai.onnx.ml 3, and TreeEnsemble's), widening to float64.
func (a attrs) float64s(name string) ([]float64, error) {
	if fs := a.floats(name); fs != nil {
		out := make([]float64, len(fs))
		for i, f := range fs {
			out[i] = float64(f)
		}
		return out, nil
	}
	for _, n := range []string{name + "_as_tensor", name} {
		t, err := a.tensor(n)
		if err != nil || t != nil {
			if err != nil {
				return nil, err
			}
			return toFloat64s(t)
		}
	}
	return nil, nil
}

func toFloat64s(t *Tensor) ([]float64, error) {
	out := make([]float64, t.Len())
	switch d := t.data.(type) {
	case []float32:
		for i, v := range d {
			out[i] = float64(v)
		}
	case []float64:
		copy(out, d)
	case []int64:
		for i, v := range d {
			out[i] = float64(v)
		}
	case []int32:
		for i, v := range d {
			out[i] = float64(v)
		}
	case []uint8:
		for i, v := range d {
			out[i] = float64(v)
		}
	default:
		return nil, fmt.Errorf("%w: a %s tensor where numbers are expected", ErrInvalidModel, t.DType)
	}
	return out, nil
}

// storedElements counts the elements a tensor proto holds, before anything is allocated
// for them.
func storedElements(tp *onnxpb.TensorProto, dt DType) int {
	if raw := tp.GetRawData(); len(raw) > 0 {
		size := map[DType]int{Float32: 4, Float64: 8, Int64: 8, Int32: 4, Uint8: 1, Int8: 1, Bool: 1}[dt]
		if size == 0 || len(raw)%size != 0 {
			return -1
		}
		return len(raw) / size
	}
	switch dt {
	case Float32:
		return len(tp.GetFloatData())
	case Float64:
		return len(tp.GetDoubleData())
	case Int64:
		return len(tp.GetInt64Data())
	case String:
		return len(tp.GetStringData())
	}
	return len(tp.GetInt32Data())
}
