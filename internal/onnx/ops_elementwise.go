package onnx

import (
	"fmt"
	"math"
)

func init() {
	register("", arith("Add", func(a, b float64) float64 { return a + b }), "Add")
	register("", arith("Sub", func(a, b float64) float64 { return a - b }), "Sub")
	register("", arith("Mul", func(a, b float64) float64 { return a * b }), "Mul")
	register("", arith("Div", func(a, b float64) float64 { return a / b }), "Div")
	register("", newPow, "Pow")
	register("", compare(func(c int) bool { return c == 0 }), "Equal")
	register("", compare(func(c int) bool { return c < 0 }), "Less")
	register("", compare(func(c int) bool { return c > 0 }), "Greater")
	register("", compare(func(c int) bool { return c <= 0 }), "LessOrEqual")
	register("", compare(func(c int) bool { return c >= 0 }), "GreaterOrEqual")
	register("", logical(func(a, b bool) bool { return a && b }), "And")
	register("", logical(func(a, b bool) bool { return a || b }), "Or")
	register("", logical(func(a, b bool) bool { return a != b }), "Xor")
	register("", variadic(math.Max), "Max")
	register("", variadic(math.Min), "Min")
	register("", variadic(func(a, b float64) float64 { return a + b }), "Sum")
	register("", newWhere, "Where")
}

// kernelFunc adapts a function to the kernel interface.
type kernelFunc func(in []Value) ([]Value, error)

func (f kernelFunc) run(in []Value) ([]Value, error) { return f(in) }

func tensorArg(in []Value, i int) (*Tensor, error) {
	if i >= len(in) || in[i] == nil {
		return nil, fmt.Errorf("%w: input %d is missing", ErrInvalidInput, i)
	}
	t, ok := in[i].(*Tensor)
	if !ok {
		return nil, fmt.Errorf("%w: input %d must be a tensor, got %s", ErrInvalidInput, i, in[i].Type())
	}
	return t, nil
}

func optTensor(in []Value, i int) *Tensor {
	if i >= len(in) || in[i] == nil {
		return nil
	}
	t, _ := in[i].(*Tensor)
	return t
}

func one(t *Tensor) []Value { return []Value{t} }

// broadcastShape is the numpy broadcast of shapes.
func broadcastShape(shapes ...[]int64) ([]int64, error) {
	rank := 0
	for _, s := range shapes {
		rank = max(rank, len(s))
	}
	out := make([]int64, rank)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		off := rank - len(s)
		for i, d := range s {
			switch {
			case d == out[off+i] || d == 1:
			case out[off+i] == 1:
				out[off+i] = d
			default:
				return nil, fmt.Errorf("%w: shapes %v cannot be broadcast together", ErrInvalidInput, shapes)
			}
		}
	}
	return out, nil
}

// broadcastIndex maps each element of the output shape to an element of an input.
func broadcastIndex(in, out []int64) []int {
	n, _ := numElements(out)
	idx := make([]int, n)
	if sameShape(in, out) {
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	rank := len(out)
	strides := make([]int, rank)
	s := 1
	for i := len(in) - 1; i >= 0; i-- {
		if in[i] != 1 {
			strides[rank-len(in)+i] = s
		}
		s *= int(in[i])
	}
	counter := make([]int64, rank)
	pos := 0
	for i := range idx {
		idx[i] = pos
		for d := rank - 1; d >= 0; d-- {
			counter[d]++
			pos += strides[d]
			if counter[d] < out[d] {
				break
			}
			pos -= strides[d] * int(counter[d])
			counter[d] = 0
		}
	}
	return idx
}

// trailing reports whether shape, leading 1s aside, is the last dimensions of full, so
// that a tensor of shape repeats every len elements over full.
func trailing(shape, full []int64) bool {
	for len(shape) > 0 && shape[0] == 1 {
		shape = shape[1:]
	}
	if len(shape) > len(full) {
		return false
	}
	return sameShape(shape, full[len(full)-len(shape):])
}

func sameShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// zip2 applies f elementwise over two broadcast slices.
func zip2[A, B, R Element](a []A, as []int64, b []B, bs []int64, f func(A, B) R) (*Tensor, error) {
	shape, err := broadcastShape(as, bs)
	if err != nil {
		return nil, err
	}
	n, ok := numElements(shape)
	if !ok {
		return nil, fmt.Errorf("%w: broadcast shape %v is too large", ErrInvalidInput, shape)
	}
	out := make([]R, n)
	switch {
	case len(a) == n && len(b) == n && sameShape(as, bs):
		for i := range out {
			out[i] = f(a[i], b[i])
		}
	case len(b) == 1 && len(a) == n:
		for i := range out {
			out[i] = f(a[i], b[0])
		}
	case len(a) == 1 && len(b) == n:
		for i := range out {
			out[i] = f(a[0], b[i])
		}
	case len(a) == n && len(b) > 0 && trailing(bs, shape):
		// b repeats along the leading dimensions (a row of per-feature constants).
		for i := range out {
			out[i] = f(a[i], b[i%len(b)])
		}
	case len(b) == n && len(a) > 0 && trailing(as, shape):
		for i := range out {
			out[i] = f(a[i%len(a)], b[i])
		}
	default:
		ia, ib := broadcastIndex(as, shape), broadcastIndex(bs, shape)
		for i := range out {
			out[i] = f(a[ia[i]], b[ib[i]])
		}
	}
	return NewTensor(shape, out), nil
}

func arith(name string, f64 func(a, b float64) float64) builder {
	return func(*nodeCtx) (kernel, error) {
		return kernelFunc(func(in []Value) ([]Value, error) {
			a, err := tensorArg(in, 0)
			if err != nil {
				return nil, err
			}
			b, err := tensorArg(in, 1)
			if err != nil {
				return nil, err
			}
			if a.DType != b.DType {
				return nil, fmt.Errorf("%w: %s of %s and %s", ErrInvalidInput, name, a.Type(), b.Type())
			}
			var t *Tensor
			switch a.DType {
			case Float32:
				t, err = zip2(Data[float32](a), a.Shape, Data[float32](b), b.Shape, arith32(name))
			case Float64:
				t, err = zip2(Data[float64](a), a.Shape, Data[float64](b), b.Shape, f64)
			case Int64:
				t, err = zip2(Data[int64](a), a.Shape, Data[int64](b), b.Shape, arithInt[int64](name))
			case Int32:
				t, err = zip2(Data[int32](a), a.Shape, Data[int32](b), b.Shape, arithInt[int32](name))
			default:
				return nil, fmt.Errorf("%w: %s of %s", ErrUnsupported, name, a.Type())
			}
			if err != nil {
				return nil, err
			}
			return one(t), nil
		}), nil
	}
}

func arith32(name string) func(a, b float32) float32 {
	switch name {
	case "Add":
		return func(a, b float32) float32 { return a + b }
	case "Sub":
		return func(a, b float32) float32 { return a - b }
	case "Mul":
		return func(a, b float32) float32 { return a * b }
	}
	return func(a, b float32) float32 { return a / b }
}

func arithInt[T ~int64 | ~int32](name string) func(a, b T) T {
	switch name {
	case "Add":
		return func(a, b T) T { return a + b }
	case "Sub":
		return func(a, b T) T { return a - b }
	case "Mul":
		return func(a, b T) T { return a * b }
	}
	return func(a, b T) T {
		if b == 0 {
			return 0
		}
		return a / b
	}
}

func newPow(*nodeCtx) (kernel, error) {
	return kernelFunc(func(in []Value) ([]Value, error) {
		a, err := tensorArg(in, 0)
		if err != nil {
			return nil, err
		}
		b, err := tensorArg(in, 1)
		if err != nil {
			return nil, err
		}
		e, err := toFloat64s(b)
		if err != nil {
			return nil, err
		}
		var t *Tensor
		switch a.DType {
		case Float32:
			t, err = zip2(Data[float32](a), a.Shape, e, b.Shape, func(x float32, y float64) float32 {
				if y == 2 {
					return x * x
				}
				return float32(math.Pow(float64(x), y))
			})
		case Float64:
			t, err = zip2(Data[float64](a), a.Shape, e, b.Shape, math.Pow)
		case Int64:
			t, err = zip2(Data[int64](a), a.Shape, e, b.Shape, func(x int64, y float64) int64 { return int64(math.Pow(float64(x), y)) })
		default:
			return nil, fmt.Errorf("%w: Pow of %s", ErrUnsupported, a.Type())
		}
		if err != nil {
			return nil, err
		}
		return one(t), nil
	}), nil
}

func compare(test func(c int) bool) builder {
	return func(*nodeCtx) (kernel, error) {
		return kernelFunc(func(in []Value) ([]Value, error) {
			a, err := tensorArg(in, 0)
			if err != nil {
				return nil, err
			}
			b, err := tensorArg(in, 1)
			if err != nil {
				return nil, err
			}
			if a.DType != b.DType {
				return nil, fmt.Errorf("%w: comparison of %s and %s", ErrInvalidInput, a.Type(), b.Type())
			}
			var t *Tensor
			switch a.DType {
			case Float32:
				t, err = zip2(Data[float32](a), a.Shape, Data[float32](b), b.Shape, cmpFunc[float32](test))
			case Float64:
				t, err = zip2(Data[float64](a), a.Shape, Data[float64](b), b.Shape, cmpFunc[float64](test))
			case Int64:
				t, err = zip2(Data[int64](a), a.Shape, Data[int64](b), b.Shape, cmpFunc[int64](test))
			case Int32:
				t, err = zip2(Data[int32](a), a.Shape, Data[int32](b), b.Shape, cmpFunc[int32](test))
			case String:
				t, err = zip2(Data[string](a), a.Shape, Data[string](b), b.Shape, cmpFunc[string](test))
			case Bool:
				t, err = zip2(Data[bool](a), a.Shape, Data[bool](b), b.Shape, func(x, y bool) bool {
					return test(map[bool]int{true: 1}[x] - map[bool]int{true: 1}[y])
				})
			default:
				return nil, fmt.Errorf("%w: comparison of %s", ErrUnsupported, a.Type())
			}
			if err != nil {
				return nil, err
			}
			return one(t), nil
		}), nil
	}
}

// cmpFunc compares as IEEE does: every comparison with NaN but != is false.
func cmpFunc[T ~float32 | ~float64 | ~int64 | ~int32 | ~string](test func(c int) bool) func(a, b T) bool {
	return func(a, b T) bool {
		switch {
		case a < b:
			return test(-1)
		case a > b:
			return test(1)
		case a == b:
			return test(0)
		}
		return false
	}
}

func logical(f func(a, b bool) bool) builder {
	return func(*nodeCtx) (kernel, error) {
		return kernelFunc(func(in []Value) ([]Value, error) {
			a, err := tensorArg(in, 0)
			if err != nil {
				return nil, err
			}
			b, err := tensorArg(in, 1)
			if err != nil {
				return nil, err
			}
			if a.DType != Bool || b.DType != Bool {
				return nil, fmt.Errorf("%w: logical operators take bool tensors", ErrInvalidInput)
			}
			t, err := zip2(Data[bool](a), a.Shape, Data[bool](b), b.Shape, f)
			if err != nil {
				return nil, err
			}
			return one(t), nil
		}), nil
	}
}

// variadic is Max, Min and Sum: a broadcasting fold over any number of inputs.
func variadic(f func(a, b float64) float64) builder {
	return func(*nodeCtx) (kernel, error) {
		return kernelFunc(func(in []Value) ([]Value, error) {
			acc, err := tensorArg(in, 0)
			if err != nil {
				return nil, err
			}
			for i := 1; i < len(in); i++ {
				b, err := tensorArg(in, i)
				if err != nil {
					return nil, err
				}
				if b.DType != acc.DType {
					return nil, fmt.Errorf("%w: mixed element types %s and %s", ErrInvalidInput, acc.Type(), b.Type())
				}
				switch acc.DType {
				case Float32:
					acc, err = zip2(Data[float32](acc), acc.Shape, Data[float32](b), b.Shape, func(x, y float32) float32 {
						return float32(f(float64(x), float64(y)))
					})
				case Float64:
					acc, err = zip2(Data[float64](acc), acc.Shape, Data[float64](b), b.Shape, f)
				case Int64:
					acc, err = zip2(Data[int64](acc), acc.Shape, Data[int64](b), b.Shape, func(x, y int64) int64 {
						return int64(f(float64(x), float64(y)))
					})
				default:
					return nil, fmt.Errorf("%w: element type %s", ErrUnsupported, acc.DType)
				}
				if err != nil {
					return nil, err
				}
			}
			return one(acc), nil
		}), nil
	}
}

func newWhere(*nodeCtx) (kernel, error) {
	return kernelFunc(func(in []Value) ([]Value, error) {
		c, err := tensorArg(in, 0)
		if err != nil {
			return nil, err
		}
		x, err := tensorArg(in, 1)
		if err != nil {
			return nil, err
		}
		y, err := tensorArg(in, 2)
		if err != nil {
			return nil, err
		}
		if c.DType != Bool || x.DType != y.DType {
			return nil, fmt.Errorf("%w: Where takes a bool condition and two tensors of one type", ErrInvalidInput)
		}
		shape, err := broadcastShape(c.Shape, x.Shape, y.Shape)
		if err != nil {
			return nil, err
		}
		out, err := newTensorOf(x.DType, shape)
		if err != nil {
			return nil, err
		}
		ic, ix, iy := broadcastIndex(c.Shape, shape), broadcastIndex(x.Shape, shape), broadcastIndex(y.Shape, shape)
		cond := Data[bool](c)
		pick := func(i int) (int, bool) {
			if cond[ic[i]] {
				return ix[i], true
			}
			return iy[i], false
		}
		copyPicked(out, x, y, pick)
		return one(out), nil
	}), nil
}

// copyPicked fills out element by element from a or b.
func copyPicked(out, a, b *Tensor, pick func(i int) (int, bool)) {
	switch d := out.data.(type) {
	case []float32:
		pickInto(d, Data[float32](a), Data[float32](b), pick)
	case []float64:
		pickInto(d, Data[float64](a), Data[float64](b), pick)
	case []int64:
		pickInto(d, Data[int64](a), Data[int64](b), pick)
	case []int32:
		pickInto(d, Data[int32](a), Data[int32](b), pick)
	case []string:
		pickInto(d, Data[string](a), Data[string](b), pick)
	case []bool:
		pickInto(d, Data[bool](a), Data[bool](b), pick)
	case []uint8:
		pickInto(d, Data[uint8](a), Data[uint8](b), pick)
	}
}

func pickInto[T Element](out, a, b []T, pick func(i int) (int, bool)) {
	for i := range out {
		if j, fromA := pick(i); fromA {
			out[i] = a[j]
		} else {
			out[i] = b[j]
		}
	}
}
