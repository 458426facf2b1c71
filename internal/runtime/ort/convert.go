//go:build onnxruntime && cgo

package ort

import (
	"fmt"
	"strings"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/onnx"
)

// toORT makes ONNX Runtime's input values, in the session's order, from the values
// native.Inputs converted the request to, after checking their shapes against the
// model's: ONNX Runtime's own errors would not tell the client's mistakes from others.
// The values it returns, even with an error, must be destroyed.
func (m *Model) toORT(values map[string]onnx.Value) ([]onnxruntime.Value, error) {
	out := make([]onnxruntime.Value, 0, len(m.inputs))
	for _, info := range m.inputs {
		t, ok := values[info.Name].(*onnx.Tensor)
		if !ok {
			return out, fault.Invalidf("input %q is a %s, which cannot be taken from a request", info.Name, info.Kind)
		}
		if err := checkShape(info, t.Shape); err != nil {
			return out, err
		}
		v, err := tensorToORT(info.Name, t)
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

// checkShape checks the rank and the fixed dimensions. ONNX Runtime reports an input
// without a declared shape as rank 0, so that rank is not checked.
func checkShape(info onnx.ValueInfo, shape []int64) error {
	if len(info.Shape) == 0 {
		return nil
	}
	ok := len(shape) == len(info.Shape)
	for i := 0; ok && i < len(shape); i++ {
		ok = info.Shape[i] < 0 || info.Shape[i] == shape[i]
	}
	if !ok {
		return fault.Invalidf("input %q must have shape %s, got %s", info.Name, shapeString(info.Shape), shapeString(shape))
	}
	return nil
}

func shapeString(shape []int64) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func tensorToORT(name string, t *onnx.Tensor) (onnxruntime.Value, error) {
	var v onnxruntime.Value
	var err error
	switch t.DType {
	case onnx.Float32:
		v, err = newTensor(t.Shape, onnx.Data[float32](t))
	case onnx.Float64:
		v, err = newTensor(t.Shape, onnx.Data[float64](t))
	case onnx.Int64:
		v, err = newTensor(t.Shape, onnx.Data[int64](t))
	case onnx.Int32:
		v, err = newTensor(t.Shape, onnx.Data[int32](t))
	case onnx.Uint8:
		v, err = newTensor(t.Shape, onnx.Data[uint8](t))
	case onnx.Int8:
		v, err = newTensor(t.Shape, onnx.Data[int8](t))
	case onnx.Bool:
		v, err = newTensor(t.Shape, onnx.Data[bool](t))
	case onnx.String:
		return newStringTensor(name, t.Shape, onnx.Data[string](t))
	default:
		return nil, fault.Invalidf("input %q has element type %s, which requests cannot carry", name, t.DType)
	}
	if err != nil {
		return nil, fault.Wrap(fault.Internal, err, "ONNX Runtime cannot take input %q", name)
	}
	return v, nil
}

// newTensor makes a tensor over data, which ONNX Runtime reads in place.
func newTensor[T onnxruntime.TensorData](shape []int64, data []T) (onnxruntime.Value, error) {
	if len(shape) == 0 {
		return onnxruntime.NewScalar(data[0])
	}
	return onnxruntime.NewTensor(onnxruntime.Shape(shape), data)
}

func newStringTensor(name string, shape []int64, data []string) (onnxruntime.Value, error) {
	if len(shape) == 0 {
		return nil, fault.Invalidf("input %q: ONNX Runtime takes no string scalars; send a [1] tensor", name)
	}
	for _, s := range data {
		if strings.IndexByte(s, 0) >= 0 {
			return nil, fault.Invalidf("input %q: ONNX Runtime takes no strings with NUL bytes", name)
		}
	}
	t, err := onnxruntime.NewStringTensor(onnxruntime.Shape(shape))
	if err != nil {
		return nil, fault.Wrap(fault.Internal, err, "ONNX Runtime cannot take input %q", name)
	}
	if err := t.SetContents(data); err != nil {
		t.Destroy()
		return nil, fault.Wrap(fault.Internal, err, "ONNX Runtime cannot take input %q", name)
	}
	return t, nil
}

// fromORT converts an output of ONNX Runtime to the engine's values, which
// native.Output turns into response tensors. Numeric data is already in Go memory,
// so tensors take it over without a copy.
func fromORT(name string, v onnxruntime.Value) (onnx.Value, error) {
	switch x := v.(type) {
	case *onnxruntime.Tensor[float32]:
		return tensorOf(name, x.GetShape(), x.GetData())
	case *onnxruntime.Tensor[float64]:
		return tensorOf(name, x.GetShape(), x.GetData())
	case *onnxruntime.Tensor[int64]:
		return tensorOf(name, x.GetShape(), x.GetData())
	case *onnxruntime.Tensor[int32]:
		return tensorOf(name, x.GetShape(), x.GetData())
	case *onnxruntime.Tensor[uint8]:
		return tensorOf(name, x.GetShape(), x.GetData())
	case *onnxruntime.Tensor[int8]:
		return tensorOf(name, x.GetShape(), x.GetData())
	case *onnxruntime.Tensor[bool]:
		return tensorOf(name, x.GetShape(), x.GetData())
	case *onnxruntime.StringTensor:
		s, err := x.GetContents()
		if err != nil {
			return nil, fault.Wrap(fault.Internal, err, "cannot read output %q", name)
		}
		return tensorOf(name, x.GetShape(), s)
	case *onnxruntime.Sequence:
		return sequenceFromORT(name, x)
	case *onnxruntime.Map:
		return mapFromORT(name, x)
	}
	return nil, fault.New(fault.Internal, "output %q is a %s of element type %d, which cannot be returned",
		name, v.GetONNXType(), v.DataType())
}

// tensorOf checks what ONNX Runtime returned before the engine's NewTensor, which
// panics on a shape that does not fit its data.
func tensorOf[T onnx.Element](name string, shape []int64, data []T) (onnx.Value, error) {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	if len(shape) == 0 || n != int64(len(data)) {
		return nil, fault.New(fault.Internal, "output %q has shape %v and %d elements", name, shape, len(data))
	}
	return onnx.NewTensor(shape, data), nil
}

func sequenceFromORT(name string, s *onnxruntime.Sequence) (onnx.Value, error) {
	elems, _ := s.GetValues()
	out := &onnx.Sequence{Elems: make([]onnx.Value, len(elems))}
	for i, e := range elems {
		v, err := fromORT(name, e)
		if err != nil {
			return nil, err
		}
		out.Elems[i] = v
		out.ElemType = v.Type()
	}
	return out, nil
}

func mapFromORT(name string, m *onnxruntime.Map) (onnx.Value, error) {
	k, v, _ := m.GetKeysAndValues()
	keys, err := fromORT(name, k)
	if err != nil {
		return nil, err
	}
	values, err := fromORT(name, v)
	if err != nil {
		return nil, err
	}
	kt, ok := keys.(*onnx.Tensor)
	vt, ok2 := values.(*onnx.Tensor)
	if !ok || !ok2 {
		return nil, fault.New(fault.Internal, "output %q is a map of %s to %s", name, keys.Type(), values.Type())
	}
	out := &onnx.Map{KeyType: kt.DType, Values: vt}
	switch kt.DType {
	case onnx.Int64:
		out.Int64Keys = onnx.Data[int64](kt)
	case onnx.String:
		out.StringKeys = onnx.Data[string](kt)
	default:
		return nil, fault.New(fault.Internal, "output %q is a map with %s keys", name, kt.DType)
	}
	if out.Len() != vt.Len() {
		return nil, fault.New(fault.Internal, "output %q is a map of %d keys and %d values", name, out.Len(), vt.Len())
	}
	return out, nil
}
