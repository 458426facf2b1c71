package onnx

import (
	"fmt"
	"math"
)

func init() {
	register("", unary(func(x float64) float64 { return -x }), "Neg")
	register("", unary(math.Abs), "Abs")
	register("", unary(math.Exp), "Exp")
	register("", unary(math.Log), "Log")
	register("", unary(math.Sqrt), "Sqrt")
	register("", unary(math.Erf), "Erf")
	register("", unary(math.Tanh), "Tanh")
	register("", unary(math.Floor), "Floor")
	register("", unary(math.Ceil), "Ceil")
	register("", unary(math.RoundToEven), "Round")
	register("", unary(func(x float64) float64 { return 1 / x }), "Reciprocal")
	register("", unary(math.Sin), "Sin")
	register("", unary(math.Cos), "Cos")
	register("", unary(func(x float64) float64 { return math.Max(x, 0) }), "Relu")
	register("", unary(sign), "Sign")
	register("", unary(func(x float64) float64 { return math.Log1p(math.Exp(x)) }), "Softplus")
	register("", unary(sigmoid), "Sigmoid")
	register("", func(n *nodeCtx) (kernel, error) {
		alpha := float64(n.attrs.float("alpha", 0.01))
		return unaryKernel(func(x float64) float64 {
			if x < 0 {
				return alpha * x
			}
			return x
		}), nil
	}, "LeakyRelu")
	register("", func(n *nodeCtx) (kernel, error) {
		alpha := float64(n.attrs.float("alpha", 1))
		return unaryKernel(func(x float64) float64 {
			if x < 0 {
				return alpha * (math.Exp(x) - 1)
			}
			return x
		}), nil
	}, "Elu")
	register("", func(n *nodeCtx) (kernel, error) {
		alpha, beta := float64(n.attrs.float("alpha", 0.2)), float64(n.attrs.float("beta", 0.5))
		return unaryKernel(func(x float64) float64 { return math.Max(0, math.Min(1, alpha*x+beta)) }), nil
	}, "HardSigmoid")
	register("", newNot, "Not")
	register("", newIsNaN, "IsNaN")
	register("", newClip, "Clip")
}

func sign(x float64) float64 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return x
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func unary(f func(float64) float64) builder {
	return func(*nodeCtx) (kernel, error) { return unaryKernel(f), nil }
}

// unaryKernel applies f to every element, computing float32 inputs in float64 and
// rounding once.
func unaryKernel(f func(float64) float64) kernel {
	return kernelFunc(func(in []Value) ([]Value, error) {
		x, err := tensorArg(in, 0)
		if err != nil {
			return nil, err
		}
		switch d := x.data.(type) {
		case []float32:
			out := make([]float32, len(d))
			for i, v := range d {
				out[i] = float32(f(float64(v)))
			}
			return one(NewTensor(x.Shape, out)), nil
		case []float64:
			out := make([]float64, len(d))
			for i, v := range d {
				out[i] = f(v)
			}
			return one(NewTensor(x.Shape, out)), nil
		case []int64:
			out := make([]int64, len(d))
			for i, v := range d {
				out[i] = int64(f(float64(v)))
			}
			return one(NewTensor(x.Shape, out)), nil
		case []int32:
			out := make([]int32, len(d))
			for i, v := range d {
				out[i] = int32(f(float64(v)))
			}
			return one(NewTensor(x.Shape, out)), nil
		}
		return nil, fmt.Errorf("%w: a numeric tensor is needed, got %s", ErrInvalidInput, x.Type())
	})
}

func newNot(*nodeCtx) (kernel, error) {
	return kernelFunc(func(in []Value) ([]Value, error) {
		x, err := tensorArg(in, 0)
		if err != nil {
			return nil, err
		}
		if x.DType != Bool {
			return nil, fmt.Errorf("%w: Not takes a bool tensor", ErrInvalidInput)
		}
		d := Data[bool](x)
		out := make([]bool, len(d))
		for i, v := range d {
			out[i] = !v
		}
		return one(NewTensor(x.Shape, out)), nil
	}), nil
}

func newIsNaN(*nodeCtx) (kernel, error) {
	return kernelFunc(func(in []Value) ([]Value, error) {
		x, err := tensorArg(in, 0)
		if err != nil {
			return nil, err
		}
		out := make([]bool, x.Len())
		switch d := x.data.(type) {
		case []float32:
			for i, v := range d {
				out[i] = v != v
			}
		case []float64:
			for i, v := range d {
				out[i] = math.IsNaN(v)
			}
		default:
			return nil, fmt.Errorf("%w: IsNaN takes a float tensor", ErrInvalidInput)
		}
		return one(NewTensor(x.Shape, out)), nil
	}), nil
}

// newClip takes its bounds from attributes before opset 11 and from inputs after.
func newClip(n *nodeCtx) (kernel, error) {
	attrMin, attrMax := float64(n.attrs.float("min", -math.MaxFloat32)), float64(n.attrs.float("max", math.MaxFloat32))
	old := n.opset < 11
	return kernelFunc(func(in []Value) ([]Value, error) {
		lo, hi := math.Inf(-1), math.Inf(1)
		if old {
			lo, hi = attrMin, attrMax
		}
		for i, p := range []*float64{&lo, &hi} {
			if t := optTensor(in, i+1); t != nil && !old {
				v, err := toFloat64s(t)
				if err != nil || len(v) != 1 {
					return nil, fmt.Errorf("%w: Clip bounds must be scalars", ErrInvalidInput)
				}
				*p = v[0]
			}
		}
		return unaryKernel(func(x float64) float64 {
			if x < lo {
				return lo
			}
			if x > hi {
				return hi
			}
			return x
		}).run(in[:1])
	}), nil
}
