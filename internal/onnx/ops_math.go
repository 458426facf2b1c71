package onnx

import (
	"fmt"
	"math"
	"slices"
)

func init() {
	register("", newMatMul, "MatMul")
	register("", newGemm, "Gemm")
	register("", softmaxBuilder(false), "Softmax")
	register("", softmaxBuilder(true), "LogSoftmax")
	register("", argBuilder(true), "ArgMax")
	register("", argBuilder(false), "ArgMin")
	for name, r := range reducers {
		register("", reduceBuilder(name, r), name)
	}
}

// floats returns a float tensor's elements as float64 and whether it was float32.
func floats(t *Tensor) ([]float64, bool, error) {
	switch d := t.data.(type) {
	case []float32:
		return convertSlice[float32, float64](d), true, nil
	case []float64:
		return d, false, nil
	}
	v, err := toFloat64s(t)
	return v, false, err
}

// floatResult makes a tensor of x's float type from float64 values.
func floatResult(single bool, shape []int64, v []float64) *Tensor {
	if single {
		return NewTensor(shape, convertSlice[float64, float32](v))
	}
	return NewTensor(shape, v)
}

func newMatMul(*nodeCtx) (kernel, error) {
	return kernelFunc(func(in []Value) ([]Value, error) {
		a, err := tensorArg(in, 0)
		if err != nil {
			return nil, err
		}
		b, err := tensorArg(in, 1)
		if err != nil {
			return nil, err
		}
		if a.DType != b.DType || len(a.Shape) == 0 || len(b.Shape) == 0 {
			return nil, fmt.Errorf("%w: MatMul of %s%v and %s%v", ErrInvalidInput, a.Type(), a.Shape, b.Type(), b.Shape)
		}
		as, bs := a.Shape, b.Shape
		if len(as) == 1 {
			as = []int64{1, as[0]}
		}
		if len(bs) == 1 {
			bs = []int64{bs[0], 1}
		}
		m, k, k2, n := as[len(as)-2], as[len(as)-1], bs[len(bs)-2], bs[len(bs)-1]
		if k != k2 {
			return nil, fmt.Errorf("%w: MatMul of shapes %v and %v", ErrInvalidInput, a.Shape, b.Shape)
		}
		batch, err := broadcastShape(as[:len(as)-2], bs[:len(bs)-2])
		if err != nil {
			return nil, err
		}
		shape := append(slices.Clone(batch), m, n)
		ia := broadcastIndex(as[:len(as)-2], batch)
		ib := broadcastIndex(bs[:len(bs)-2], batch)
		var t *Tensor
		switch a.DType {
		case Float32:
			t = matmul(Data[float32](a), Data[float32](b), ia, ib, int(m), int(k), int(n), shape)
		case Float64:
			t = matmul(Data[float64](a), Data[float64](b), ia, ib, int(m), int(k), int(n), shape)
		case Int64:
			t = matmul(Data[int64](a), Data[int64](b), ia, ib, int(m), int(k), int(n), shape)
		default:
			return nil, fmt.Errorf("%w: MatMul of %s", ErrUnsupported, a.Type())
		}
		// Drop the dimensions a 1-D operand added.
		final := slices.Clone(batch)
		if len(a.Shape) > 1 {
			final = append(final, m)
		}
		if len(b.Shape) > 1 {
			final = append(final, n)
		}
		t.Shape = final
		return one(t), nil
	}), nil
}

func matmul[T float32 | float64 | int64](a, b []T, ia, ib []int, m, k, n int, shape []int64) *Tensor {
	out := make([]T, len(ia)*m*n)
	for bi := range ia {
		A := a[ia[bi]*m*k:]
		B := b[ib[bi]*k*n:]
		C := out[bi*m*n:]
		for i := range m {
			row := C[i*n : i*n+n]
			for p := range k {
				av := A[i*k+p]
				brow := B[p*n : p*n+n]
				for j := range row {
					row[j] += av * brow[j]
				}
			}
		}
	}
	return NewTensor(shape, out)
}

func newGemm(n *nodeCtx) (kernel, error) {
	alpha, beta := n.attrs.float("alpha", 1), n.attrs.float("beta", 1)
	transA, transB := n.attrs.int("transA", 0) == 1, n.attrs.int("transB", 0) == 1
	return kernelFunc(func(in []Value) ([]Value, error) {
		a, err := tensorArg(in, 0)
		if err != nil {
			return nil, err
		}
		b, err := tensorArg(in, 1)
		if err != nil {
			return nil, err
		}
		if len(a.Shape) != 2 || len(b.Shape) != 2 || a.DType != b.DType {
			return nil, fmt.Errorf("%w: Gemm takes two matrices of one type, got %s%v and %s%v", ErrInvalidInput, a.Type(), a.Shape, b.Type(), b.Shape)
		}
		switch a.DType {
		case Float32:
			return gemm(Data[float32](a), Data[float32](b), a.Shape, b.Shape, optTensor(in, 2), alpha, beta, transA, transB)
		case Float64:
			return gemm(Data[float64](a), Data[float64](b), a.Shape, b.Shape, optTensor(in, 2), alpha, beta, transA, transB)
		}
		return nil, fmt.Errorf("%w: Gemm of %s", ErrUnsupported, a.Type())
	}), nil
}

func gemm[T float32 | float64](a, b []T, as, bs []int64, c *Tensor, alpha, beta float32, ta, tb bool) ([]Value, error) {
	m, k := int(as[0]), int(as[1])
	if ta {
		m, k = k, m
	}
	k2, n := int(bs[0]), int(bs[1])
	if tb {
		k2, n = n, k2
	}
	if k != k2 {
		return nil, fmt.Errorf("%w: Gemm of shapes %v and %v", ErrInvalidInput, as, bs)
	}
	at := func(i, p int) T {
		if ta {
			return a[p*m+i]
		}
		return a[i*k+p]
	}
	bt := func(p, j int) T {
		if tb {
			return b[j*k+p]
		}
		return b[p*n+j]
	}
	out := make([]T, m*n)
	for i := range m {
		for j := range n {
			var s T
			for p := range k {
				s += at(i, p) * bt(p, j)
			}
			out[i*n+j] = T(alpha) * s
		}
	}
	shape := []int64{int64(m), int64(n)}
	if c != nil && beta != 0 {
		cs, ok := c.data.([]T)
		if !ok {
			return nil, fmt.Errorf("%w: Gemm C of type %s", ErrInvalidInput, c.DType)
		}
		if _, err := broadcastShape(c.Shape, shape); err != nil {
			return nil, err
		}
		idx := broadcastIndex(c.Shape, shape)
		for i := range out {
			out[i] += T(beta) * cs[idx[i]]
		}
	}
	return one(NewTensor(shape, out)), nil
}

// softmaxBuilder is Softmax and LogSoftmax: over one axis from opset 13, over the
// flattened dimensions from axis on before it.
func softmaxBuilder(log bool) builder {
	return func(n *nodeCtx) (kernel, error) {
		def := int64(1)
		if n.opset >= 13 {
			def = -1
		}
		axis, perAxis := n.attrs.int("axis", def), n.opset >= 13
		return kernelFunc(func(in []Value) ([]Value, error) {
			x, err := tensorArg(in, 0)
			if err != nil {
				return nil, err
			}
			v, single, err := floats(x)
			if err != nil {
				return nil, err
			}
			ax, err := normAxis(axis, len(x.Shape))
			if err != nil {
				return nil, err
			}
			outer, dim, inner := axisSplit(x.Shape, ax)
			if !perAxis {
				dim, inner = dim*inner, 1
			}
			out := make([]float64, len(v))
			for o := range outer {
				for i := range inner {
					softmaxLine(v, out, o*dim*inner+i, dim, inner, log, single)
				}
			}
			return one(floatResult(single, x.Shape, out)), nil
		}), nil
	}
}

func axisSplit(shape []int64, ax int) (outer, dim, inner int) {
	outer, inner = 1, 1
	for _, d := range shape[:ax] {
		outer *= int(d)
	}
	for _, d := range shape[ax+1:] {
		inner *= int(d)
	}
	return outer, int(shape[ax]), inner
}

func softmaxLine(v, out []float64, base, dim, stride int, log, single bool) {
	mx := math.Inf(-1)
	for j := range dim {
		mx = math.Max(mx, v[base+j*stride])
	}
	sum := 0.0
	for j := range dim {
		e := math.Exp(v[base+j*stride] - mx)
		out[base+j*stride] = e
		sum += e
	}
	for j := range dim {
		p := base + j*stride
		if log {
			out[p] = v[p] - mx - math.Log(sum)
		} else {
			out[p] /= sum
		}
	}
}

func argBuilder(isMax bool) builder {
	return func(n *nodeCtx) (kernel, error) {
		axis, keep, last := n.attrs.int("axis", 0), n.attrs.int("keepdims", 1) == 1, n.attrs.int("select_last_index", 0) == 1
		return kernelFunc(func(in []Value) ([]Value, error) {
			x, err := tensorArg(in, 0)
			if err != nil {
				return nil, err
			}
			v, _, err := floats(x)
			if err != nil {
				return nil, err
			}
			ax, err := normAxis(axis, len(x.Shape))
			if err != nil {
				return nil, err
			}
			outer, dim, inner := axisSplit(x.Shape, ax)
			out := make([]int64, outer*inner)
			for o := range outer {
				for i := range inner {
					best := 0
					for j := 1; j < dim; j++ {
						a, b := v[(o*dim+j)*inner+i], v[(o*dim+best)*inner+i]
						if (isMax && (a > b || (last && a == b))) || (!isMax && (a < b || (last && a == b))) {
							best = j
						}
					}
					out[o*inner+i] = int64(best)
				}
			}
			return one(NewTensor(reducedShape(x.Shape, []int{ax}, keep), out)), nil
		}), nil
	}
}

func reducedShape(shape []int64, axes []int, keep bool) []int64 {
	out := []int64{}
	for i, d := range shape {
		if slices.Contains(axes, i) {
			if keep {
				out = append(out, 1)
			}
			continue
		}
		out = append(out, d)
	}
	return out
}

// reducer folds one reduction group: init, step, final (with the group's size).
type reducer struct {
	init  float64
	step  func(acc, v float64) float64
	final func(acc float64, n int) float64
	// axesInput is the opset from which the axes come as an input.
	axesInput int64
}

var reducers = map[string]reducer{
	"ReduceSum":       {0, func(a, v float64) float64 { return a + v }, nil, 13},
	"ReduceMean":      {0, func(a, v float64) float64 { return a + v }, func(a float64, n int) float64 { return a / float64(n) }, 18},
	"ReduceMax":       {math.Inf(-1), func(a, v float64) float64 { return map[bool]float64{true: v, false: a}[v > a] }, nil, 18},
	"ReduceMin":       {math.Inf(1), func(a, v float64) float64 { return map[bool]float64{true: v, false: a}[v < a] }, nil, 18},
	"ReduceProd":      {1, func(a, v float64) float64 { return a * v }, nil, 18},
	"ReduceSumSquare": {0, func(a, v float64) float64 { return a + v*v }, nil, 18},
	"ReduceL2":        {0, func(a, v float64) float64 { return a + v*v }, func(a float64, _ int) float64 { return math.Sqrt(a) }, 18},
	"ReduceLogSumExp": {0, nil, nil, 18}, // computed in two passes, see reduce
}

func reduceBuilder(name string, r reducer) builder {
	return func(n *nodeCtx) (kernel, error) {
		keep := n.attrs.int("keepdims", 1) == 1
		noopEmpty := n.attrs.int("noop_with_empty_axes", 0) == 1
		return kernelFunc(func(in []Value) ([]Value, error) {
			x, err := tensorArg(in, 0)
			if err != nil {
				return nil, err
			}
			axes, err := axesOf(n, in, 1, n.opset >= r.axesInput)
			if err != nil {
				return nil, err
			}
			if len(axes) == 0 && noopEmpty {
				return one(x), nil
			}
			var norm []int
			for _, a := range axes {
				i, err := normAxis(a, len(x.Shape))
				if err != nil {
					return nil, err
				}
				norm = append(norm, i)
			}
			if len(norm) == 0 {
				for i := range x.Shape {
					norm = append(norm, i)
				}
			}
			v, single, err := floats(x)
			if err != nil {
				return nil, err
			}
			out := reduce(name, r, v, x.Shape, norm)
			shape := reducedShape(x.Shape, norm, keep)
			switch x.DType {
			case Int64:
				return one(NewTensor(shape, convertSlice[float64, int64](out))), nil
			case Int32:
				return one(NewTensor(shape, convertSlice[float64, int32](out))), nil
			}
			return one(floatResult(single, shape, out)), nil
		}), nil
	}
}

// reduce folds v over axes; the output is in row-major order of the kept dimensions.
func reduce(name string, r reducer, v []float64, shape []int64, axes []int) []float64 {
	kept := reducedShape(shape, axes, true)
	n, _ := numElements(kept)
	target := reduceTargets(shape, kept, axes, len(v))
	count := max(1, len(v)/max(1, n))
	acc := make([]float64, n)
	if name == "ReduceLogSumExp" {
		mx := make([]float64, n)
		for i := range mx {
			mx[i] = math.Inf(-1)
		}
		for i, x := range v {
			mx[target[i]] = math.Max(mx[target[i]], x)
		}
		for i, x := range v {
			acc[target[i]] += math.Exp(x - mx[target[i]])
		}
		for i := range acc {
			acc[i] = mx[i] + math.Log(acc[i])
		}
		return acc
	}
	for i := range acc {
		acc[i] = r.init
	}
	for i, x := range v {
		acc[target[i]] = r.step(acc[target[i]], x)
	}
	if r.final != nil {
		for i := range acc {
			acc[i] = r.final(acc[i], count)
		}
	}
	return acc
}

// reduceTargets maps each element of a tensor of shape to its group in the reduced
// tensor of shape kept.
func reduceTargets(shape, kept []int64, axes []int, size int) []int {
	target := make([]int, size)
	if lo, hi, ok := axisBlock(axes); ok && hi < len(shape) {
		// One block of adjacent axes: a group is red elements inner apart.
		_, red, inner := axisSplit(shape, lo)
		for _, d := range shape[lo+1 : hi+1] {
			red *= int(d)
			inner /= max(1, int(d))
		}
		if red*inner > 0 {
			for i := range target {
				target[i] = i/(red*inner)*inner + i%inner
			}
			return target
		}
	}
	outStrides := rowStrides(kept)
	inStrides := rowStrides(shape)
	for i := range target {
		o, rem := 0, i
		for d := range shape {
			c := rem / inStrides[d]
			rem %= inStrides[d]
			if !slices.Contains(axes, d) {
				o += c * outStrides[d]
			}
		}
		target[i] = o
	}
	return target
}

// axisBlock reports whether axes are one run of adjacent axes, lo to hi.
func axisBlock(axes []int) (lo, hi int, ok bool) {
	if len(axes) == 0 {
		return 0, 0, false
	}
	lo, hi = slices.Min(axes), slices.Max(axes)
	for a := lo; a <= hi; a++ {
		if !slices.Contains(axes, a) {
			return 0, 0, false
		}
	}
	return lo, hi, hi-lo+1 == len(axes)
}

func nanOr(a, v float64, f func(a, b float64) float64) float64 {
	if math.IsNaN(a) || math.IsNaN(v) {
		return math.NaN()
	}
	return f(a, v)
}
