package native

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/onnx"
	"github.com/mlship/mlship/internal/runtime"
)

// Inputs converts a request to the values of a model's graph inputs, described by
// infos. Tensors are matched by name, or by position when the request's tensors carry
// no names (MLflow's "inputs" and "instances" lists): a named tensor the model does not
// take is the client's mistake. In the columns layout a model with one [rows, n] input
// takes the n columns stacked, and a model with one [rows, 1] input per column takes
// each column as it is. Every error is of kind fault.Invalid.
func Inputs(infos []onnx.ValueInfo, req *runtime.Request) (map[string]onnx.Value, error) {
	ts := req.Inputs
	if req.Layout == runtime.LayoutColumns && len(infos) == 1 && len(ts) > 1 {
		stacked, err := stackColumns(ts)
		if err != nil {
			return nil, err
		}
		ts = []runtime.Tensor{stacked}
	}
	byName := map[string]*runtime.Tensor{}
	for i := range ts {
		byName[ts[i].Name] = &ts[i]
	}
	out := map[string]onnx.Value{}
	for i, info := range infos {
		t, ok := byName[info.Name]
		if !ok && len(ts) == len(infos) && unnamed(ts) {
			t, ok = &ts[i], true
		}
		if !ok {
			return nil, fault.Invalidf("the model needs input %q, which the request does not send (it sends %s); the model's inputs are %s",
				info.Name, sentNames(ts), inputNames(infos))
		}
		v, err := toValue(info, t)
		if err != nil {
			return nil, err
		}
		out[info.Name] = v
	}
	if len(ts) > len(infos) {
		return nil, fault.Invalidf("the request has %d inputs; the model takes %d: %s", len(ts), len(infos), inputNames(infos))
	}
	return out, nil
}

// sentNames describes the inputs a request sent, for messages.
func sentNames(ts []runtime.Tensor) string {
	if unnamed(ts) {
		return fmt.Sprintf("%d unnamed inputs", len(ts))
	}
	names := make([]string, len(ts))
	for i := range ts {
		names[i] = strconv.Quote(ts[i].Name)
	}
	return strings.Join(names, ", ")
}

func unnamed(ts []runtime.Tensor) bool {
	for i := range ts {
		if ts[i].Name != "" {
			return false
		}
	}
	return true
}

func inputNames(infos []onnx.ValueInfo) string {
	s := ""
	for i, info := range infos {
		if i > 0 {
			s += ", "
		}
		s += `"` + info.Name + `"`
	}
	return s
}

// stackColumns makes a [rows, n] FP64 (or BYTES) tensor of n columns of [rows].
func stackColumns(cols []runtime.Tensor) (runtime.Tensor, error) {
	rows := cols[0].Rows()
	strs := cols[0].Datatype == runtime.Bytes
	out := runtime.Tensor{Shape: []int64{rows, int64(len(cols))}, Datatype: runtime.FP64}
	if strs {
		out.Datatype, out.Strings = runtime.Bytes, make([][]byte, 0, int(rows)*len(cols))
	}
	vals := make([][]float64, len(cols))
	for j := range cols {
		c := &cols[j]
		if err := c.Check(); err != nil {
			return out, err
		}
		if len(c.Shape) != 1 || c.Shape[0] != rows || (c.Datatype == runtime.Bytes) != strs {
			return out, fault.Invalidf("column %q: the columns of a table must all be [%d] and all numbers or all strings", c.Name, rows)
		}
		if !strs {
			vals[j], _ = c.Float64s()
		}
	}
	if strs {
		for r := range int(rows) {
			for j := range cols {
				out.Strings = append(out.Strings, cols[j].Strings[r])
			}
		}
		return out, nil
	}
	flat := make([]float64, 0, int(rows)*len(cols))
	for r := range int(rows) {
		for j := range cols {
			flat = append(flat, vals[j][r])
		}
	}
	return runtime.NewFloat64(out.Name, out.Shape, flat), nil
}

// toValue converts one request tensor to the input's element type. Numbers convert to
// the model's numeric type (FP64 to an FP32 model, as MLflow's onnx flavor casts); a
// [rows] column becomes [rows, 1] for an input of that shape.
func toValue(info onnx.ValueInfo, t *runtime.Tensor) (onnx.Value, error) {
	if err := t.Check(); err != nil {
		return nil, err
	}
	if info.Kind != "tensor" {
		return nil, fault.Invalidf("input %q is a %s, which cannot be taken from a request", info.Name, info.Kind)
	}
	shape := t.Shape
	if len(info.Shape) == 2 && info.Shape[1] == 1 && len(shape) == 1 {
		shape = []int64{shape[0], 1}
	}
	if info.DType == onnx.String {
		if t.Datatype != runtime.Bytes {
			return nil, fault.Invalidf("input %q takes strings (BYTES), got %s", info.Name, t.Datatype)
		}
		s := make([]string, len(t.Strings))
		for i, b := range t.Strings {
			s[i] = string(b)
		}
		return onnx.NewTensor(shape, s), nil
	}
	if t.Datatype == runtime.Bytes {
		return nil, fault.Invalidf("input %q takes numbers (%s), got BYTES", info.Name, datatypeOf(info.DType))
	}
	if t.Datatype == runtime.Bool && info.DType != onnx.Bool {
		return nil, fault.Invalidf("input %q takes numbers (%s), got BOOL", info.Name, datatypeOf(info.DType))
	}
	n := len(t.Data) / max(t.Datatype.Size(), 1)
	switch info.DType {
	case onnx.Float32:
		out := make([]float32, n)
		if t.Datatype == runtime.FP32 {
			for i := range out {
				out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
			}
		} else {
			for i := range out {
				out[i] = float32(t.Float64At(i))
			}
		}
		return onnx.NewTensor(shape, out), nil
	case onnx.Float64:
		return numeric[float64](t, shape, n), nil
	case onnx.Int64:
		if t.Datatype == runtime.Int64 {
			out := make([]int64, n)
			for i := range out {
				out[i] = int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
			}
			return onnx.NewTensor(shape, out), nil
		}
		return integral[int64](info, t, shape, n)
	case onnx.Int32:
		return integral[int32](info, t, shape, n)
	case onnx.Uint8:
		return integral[uint8](info, t, shape, n)
	case onnx.Int8:
		return integral[int8](info, t, shape, n)
	case onnx.Bool:
		out := make([]bool, n)
		for i := range out {
			out[i] = t.Float64At(i) != 0
		}
		return onnx.NewTensor(shape, out), nil
	}
	return nil, fault.Invalidf("input %q has element type %s, which requests cannot carry", info.Name, info.DType)
}

func numeric[T float32 | float64](t *runtime.Tensor, shape []int64, n int) onnx.Value {
	out := make([]T, n)
	for i := range out {
		out[i] = T(t.Float64At(i))
	}
	return onnx.NewTensor(shape, out)
}

// integral converts to an integer input; fractional and out-of-range values are refused
// rather than truncated.
func integral[T int64 | int32 | int8 | uint8](info onnx.ValueInfo, t *runtime.Tensor, shape []int64, n int) (onnx.Value, error) {
	lo, hi := integerRange[T]()
	out := make([]T, n)
	for i := range out {
		v := t.Float64At(i)
		if v != math.Trunc(v) || v < lo || v >= hi {
			return nil, fault.Invalidf("input %q takes integers of %s, got %v", info.Name, datatypeOf(info.DType), v)
		}
		out[i] = T(v)
	}
	return onnx.NewTensor(shape, out), nil
}

// integerRange is the range of T, from lo up to but not including hi.
func integerRange[T int64 | int32 | int8 | uint8]() (lo, hi float64) {
	switch any(T(0)).(type) {
	case int8:
		return math.MinInt8, math.MaxInt8 + 1
	case uint8:
		return 0, math.MaxUint8 + 1
	case int32:
		return math.MinInt32, math.MaxInt32 + 1
	}
	return math.MinInt64, math.MaxInt64 + 1
}

func zeros(d onnx.DType, shape []int64) (*onnx.Tensor, error) {
	n := int64(1)
	for _, s := range shape {
		n *= s
	}
	switch d {
	case onnx.Float32:
		return onnx.NewTensor(shape, make([]float32, n)), nil
	case onnx.Float64:
		return onnx.NewTensor(shape, make([]float64, n)), nil
	case onnx.Int64:
		return onnx.NewTensor(shape, make([]int64, n)), nil
	case onnx.Int32:
		return onnx.NewTensor(shape, make([]int32, n)), nil
	case onnx.String:
		return onnx.NewTensor(shape, make([]string, n)), nil
	case onnx.Bool:
		return onnx.NewTensor(shape, make([]bool, n)), nil
	}
	return nil, fault.Invalidf("element type %s", d)
}

// Output converts a model's output value to a response tensor. A sequence of maps
// (ZipMap's class probabilities) becomes an FP32 [rows, classes] tensor whose columns
// follow the maps' key order, which is the classifier's class order.
func Output(name string, v onnx.Value) (runtime.Tensor, error) {
	switch x := v.(type) {
	case *onnx.Tensor:
		return fromTensor(name, x)
	case *onnx.Sequence:
		return fromMaps(name, x)
	}
	return runtime.Tensor{}, fault.New(fault.Internal, "output %q is a %s, which cannot be returned", name, v.Type())
}

func fromTensor(name string, x *onnx.Tensor) (runtime.Tensor, error) {
	t := runtime.Tensor{Name: name, Shape: x.Shape, Datatype: datatypeOf(x.DType)}
	le := binary.LittleEndian
	switch x.DType {
	case onnx.Float32:
		d := onnx.Data[float32](x)
		t.Data = make([]byte, 4*len(d))
		for i, v := range d {
			le.PutUint32(t.Data[4*i:], math.Float32bits(v))
		}
	case onnx.Float64:
		d := onnx.Data[float64](x)
		t.Data = make([]byte, 8*len(d))
		for i, v := range d {
			le.PutUint64(t.Data[8*i:], math.Float64bits(v))
		}
	case onnx.Int64:
		d := onnx.Data[int64](x)
		t.Data = make([]byte, 8*len(d))
		for i, v := range d {
			le.PutUint64(t.Data[8*i:], uint64(v))
		}
	case onnx.Int32:
		d := onnx.Data[int32](x)
		t.Data = make([]byte, 4*len(d))
		for i, v := range d {
			le.PutUint32(t.Data[4*i:], uint32(v))
		}
	case onnx.Uint8:
		t.Data = append([]byte{}, onnx.Data[uint8](x)...)
	case onnx.Int8:
		for _, v := range onnx.Data[int8](x) {
			t.Data = append(t.Data, byte(v))
		}
	case onnx.Bool:
		for _, v := range onnx.Data[bool](x) {
			t.Data = append(t.Data, map[bool]byte{true: 1}[v])
		}
	case onnx.String:
		for _, s := range onnx.Data[string](x) {
			t.Strings = append(t.Strings, []byte(s))
		}
	default:
		return t, fault.New(fault.Internal, "output %q has element type %s", name, x.DType)
	}
	if t.Data == nil && t.Datatype != runtime.Bytes {
		t.Data = []byte{}
	}
	return t, nil
}

func fromMaps(name string, s *onnx.Sequence) (runtime.Tensor, error) {
	classes := -1
	var flat []float64
	for _, e := range s.Elems {
		m, ok := e.(*onnx.Map)
		if !ok {
			return runtime.Tensor{}, fault.New(fault.Internal, "output %q is a sequence of %s", name, e.Type())
		}
		if classes >= 0 && m.Len() != classes {
			return runtime.Tensor{}, fault.New(fault.Internal, "output %q has maps of different sizes", name)
		}
		classes = m.Len()
		for i := range m.Len() {
			switch m.Values.DType {
			case onnx.Float32:
				flat = append(flat, float64(onnx.Data[float32](m.Values)[i]))
			case onnx.Float64:
				flat = append(flat, onnx.Data[float64](m.Values)[i])
			default:
				return runtime.Tensor{}, fault.New(fault.Internal, "output %q maps to %s", name, m.Values.DType)
			}
		}
	}
	t := runtime.Tensor{Name: name, Datatype: runtime.FP32, Shape: []int64{int64(len(s.Elems)), int64(max(classes, 0))}}
	t.Data = make([]byte, 4*len(flat))
	for i, v := range flat {
		binary.LittleEndian.PutUint32(t.Data[4*i:], math.Float32bits(float32(v)))
	}
	return t, nil
}
