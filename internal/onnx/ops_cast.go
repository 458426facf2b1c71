package onnx

import (
	"fmt"
	"strconv"
)

func init() {
	register("", newCast, "Cast")
}

func newCast(n *nodeCtx) (kernel, error) {
	to := DType(n.attrs.int("to", 0))
	if _, ok := dtypeNames[to]; !ok {
		return nil, fmt.Errorf("%w: Cast to element type %d", ErrUnsupported, to)
	}
	return kernelFunc(func(in []Value) ([]Value, error) {
		x, err := tensorArg(in, 0)
		if err != nil {
			return nil, err
		}
		t, err := castTensor(x, to)
		if err != nil {
			return nil, err
		}
		return one(t), nil
	}), nil
}

// castTensor converts a tensor's elements, as ONNX's Cast does (strings parse as
// numbers and numbers format as the shortest string that reads back).
func castTensor(x *Tensor, to DType) (*Tensor, error) {
	if x.DType == to {
		return x, nil
	}
	out, err := newTensorOf(to, x.Shape)
	if err != nil {
		return nil, err
	}
	if x.DType == String {
		return out, castFromStrings(Data[string](x), out)
	}
	if to == String {
		dst := Data[string](out)
		for i := range dst {
			dst[i] = formatElem(x, i)
		}
		return out, nil
	}
	src, err := toFloat64sOrBool(x)
	if err != nil {
		return nil, err
	}
	switch d := out.data.(type) {
	case []float32:
		if f, ok := x.data.([]float64); ok {
			for i, v := range f {
				d[i] = float32(v)
			}
			return out, nil
		}
		fill(d, src)
	case []float64:
		fill(d, src)
	case []int64:
		if s, ok := x.data.([]int64); ok {
			copy(d, s)
			return out, nil
		}
		fill(d, src)
	case []int32:
		fill(d, src)
	case []uint8:
		fill(d, src)
	case []int8:
		fill(d, src)
	case []bool:
		for i, v := range src {
			d[i] = v != 0
		}
	}
	return out, nil
}

func fill[T number](d []T, src []float64) {
	for i, v := range src {
		d[i] = T(v)
	}
}

func toFloat64sOrBool(x *Tensor) ([]float64, error) {
	if b, ok := x.data.([]bool); ok {
		out := make([]float64, len(b))
		for i, v := range b {
			if v {
				out[i] = 1
			}
		}
		return out, nil
	}
	if i8, ok := x.data.([]int8); ok {
		return convertSlice[int8, float64](i8), nil
	}
	return toFloat64s(x)
}

func castFromStrings(src []string, out *Tensor) error {
	for i, s := range src {
		switch d := out.data.(type) {
		case []bool:
			d[i] = s == "true" || s == "1" || s == "True"
			continue
		case []int64:
			if v, err := strconv.ParseInt(s, 10, 64); err == nil {
				d[i] = v
				continue
			}
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%w: cannot cast %q to %s", ErrInvalidInput, s, out.DType)
		}
		switch d := out.data.(type) {
		case []float32:
			d[i] = float32(f)
		case []float64:
			d[i] = f
		case []int64:
			d[i] = int64(f)
		case []int32:
			d[i] = int32(f)
		case []uint8:
			d[i] = uint8(f)
		case []int8:
			d[i] = int8(f)
		}
	}
	return nil
}

func formatElem(x *Tensor, i int) string {
	switch d := x.data.(type) {
	case []float32:
		return strconv.FormatFloat(float64(d[i]), 'g', -1, 32)
	case []float64:
		return strconv.FormatFloat(d[i], 'g', -1, 64)
	case []int64:
		return strconv.FormatInt(d[i], 10)
	case []int32:
		return strconv.FormatInt(int64(d[i]), 10)
	case []uint8:
		return strconv.FormatInt(int64(d[i]), 10)
	case []int8:
		return strconv.FormatInt(int64(d[i]), 10)
	case []bool:
		if d[i] {
			return "1"
		}
		return "0"
	}
	return ""
}
