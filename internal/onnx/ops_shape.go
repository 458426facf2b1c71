package onnx

import (
	"fmt"
	"slices"
)

func init() {
	register("", newReshape, "Reshape")
	register("", newFlatten, "Flatten")
	register("", newSqueeze, "Squeeze")
	register("", newUnsqueeze, "Unsqueeze")
	register("", newTranspose, "Transpose")
	register("", newConcat, "Concat")
	register("", newGather, "Gather")
	register("", newSlice, "Slice")
	register("", newShape, "Shape")
	register("", newExpand, "Expand")
	register("", newTile, "Tile")
	register("", newConstantOfShape, "ConstantOfShape")
	register("", newConstant, "Constant")
	register("", newIdentity, "Identity")
}

// pick builds a tensor of shape from src's elements at idx.
func pick(src *Tensor, shape []int64, idx []int) *Tensor {
	var data any
	switch d := src.data.(type) {
	case []float32:
		data = pickSlice(d, idx)
	case []float64:
		data = pickSlice(d, idx)
	case []int64:
		data = pickSlice(d, idx)
	case []int32:
		data = pickSlice(d, idx)
	case []uint8:
		data = pickSlice(d, idx)
	case []int8:
		data = pickSlice(d, idx)
	case []bool:
		data = pickSlice(d, idx)
	case []string:
		data = pickSlice(d, idx)
	}
	return &Tensor{DType: src.DType, Shape: shape, data: data}
}

func pickSlice[T Element](d []T, idx []int) []T {
	out := make([]T, len(idx))
	for i, j := range idx {
		out[i] = d[j]
	}
	return out
}

// reshaped shares src's elements under a new shape.
func reshaped(src *Tensor, shape []int64) (*Tensor, error) {
	if n, ok := numElements(shape); !ok || n != src.Len() {
		return nil, fmt.Errorf("%w: cannot reshape %v (%d elements) to %v", ErrInvalidInput, src.Shape, src.Len(), shape)
	}
	return &Tensor{DType: src.DType, Shape: shape, data: src.data}, nil
}

func int64Arg(in []Value, i int) ([]int64, error) {
	t, err := tensorArg(in, i)
	if err != nil {
		return nil, err
	}
	switch d := t.data.(type) {
	case []int64:
		return d, nil
	case []int32:
		return convertSlice[int32, int64](d), nil
	}
	return nil, fmt.Errorf("%w: input %d must be an int64 tensor, got %s", ErrInvalidInput, i, t.Type())
}

func normAxis(axis int64, rank int) (int, error) {
	if axis < 0 {
		axis += int64(rank)
	}
	if axis < 0 || axis >= int64(rank) {
		return 0, fmt.Errorf("%w: axis %d out of range for rank %d", ErrInvalidInput, axis, rank)
	}
	return int(axis), nil
}

func newReshape(n *nodeCtx) (kernel, error) {
	allowZero := n.attrs.int("allowzero", 0) == 1
	return kernelFunc(func(in []Value) ([]Value, error) {
		x, err := tensorArg(in, 0)
		if err != nil {
			return nil, err
		}
		spec, err := int64Arg(in, 1)
		if err != nil {
			return nil, err
		}
		shape := slices.Clone(spec)
		infer, known := -1, int64(1)
		for i, d := range shape {
			switch {
			case d == 0 && !allowZero:
				if i >= len(x.Shape) {
					return nil, fmt.Errorf("%w: Reshape copies dimension %d of a rank-%d tensor", ErrInvalidInput, i, len(x.Shape))
				}
				shape[i] = x.Shape[i]
			case d == -1:
				if infer >= 0 {
					return nil, fmt.Errorf("%w: Reshape with two -1 dimensions", ErrInvalidInput)
				}
				infer = i
				continue
			case d < 0:
				return nil, fmt.Errorf("%w: Reshape to %v", ErrInvalidInput, spec)
			}
			known *= shape[i]
		}
		if infer >= 0 {
			if known == 0 || int64(x.Len())%known != 0 {
				return nil, fmt.Errorf("%w: cannot reshape %v to %v", ErrInvalidInput, x.Shape, spec)
			}
			shape[infer] = int64(x.Len()) / known
		}
		t, err := reshaped(x, shape)
		if err != nil {
			return nil, err
		}
		return one(t), nil
	}), nil
}

func newFlatten(n *nodeCtx) (kernel, error) {
	axis := n.attrs.int("axis", 1)
	return kernelFunc(func(in []Value) ([]Value, error) {
		x, err := tensorArg(in, 0)
		if err != nil {
			return nil, err
		}
		a := axis
		if a < 0 {
			a += int64(len(x.Shape))
		}
		if a < 0 || a > int64(len(x.Shape)) {
			return nil, fmt.Errorf("%w: Flatten axis %d for rank %d", ErrInvalidInput, axis, len(x.Shape))
		}
		outer := int64(1)
		for _, d := range x.Shape[:a] {
			outer *= d
		}
		inner := int64(1)
		for _, d := range x.Shape[a:] {
			inner *= d
		}
		t, err := reshaped(x, []int64{outer, inner})
		if err != nil {
			return nil, err
		}
		return one(t), nil
	}), nil
}

// axesOf reads axes from the attribute (before opset 13, or 18 for reductions) or the
// optional input.
func axesOf(n *nodeCtx, in []Value, inputIndex int, fromInput bool) ([]int64, error) {
	if !fromInput {
		return n.attrs.ints("axes"), nil
	}
	if optTensor(in, inputIndex) == nil {
		return nil, nil
	}
	return int64Arg(in, inputIndex)
}

func newSqueeze(n *nodeCtx) (kernel, error) {
	return kernelFunc(func(in []Value) ([]Value, error) {
		x, err := tensorArg(in, 0)
		if err != nil {
			return nil, err
		}
		axes, err := axesOf(n, in, 1, n.opset >= 13)
		if err != nil {
			return nil, err
		}
		drop := map[int]bool{}
		for _, a := range axes {
			i, err := normAxis(a, len(x.Shape))
			if err != nil {
				return nil, err
			}
			if x.Shape[i] != 1 {
				return nil, fmt.Errorf("%w: Squeeze of dimension %d, of size %d", ErrInvalidInput, i, x.Shape[i])
			}
			drop[i] = true
		}
		var shape []int64
		for i, d := range x.Shape {
			if (len(axes) == 0 && d == 1) || drop[i] {
				continue
			}
			shape = append(shape, d)
		}
		t, err := reshaped(x, nonNil(shape))
		if err != nil {
			return nil, err
		}
		return one(t), nil
	}), nil
}

func newUnsqueeze(n *nodeCtx) (kernel, error) {
	return kernelFunc(func(in []Value) ([]Value, error) {
		x, err := tensorArg(in, 0)
		if err != nil {
			return nil, err
		}
		axes, err := axesOf(n, in, 1, n.opset >= 13)
		if err != nil {
			return nil, err
		}
		rank := len(x.Shape) + len(axes)
		add := map[int]bool{}
		for _, a := range axes {
			i, err := normAxis(a, rank)
			if err != nil {
				return nil, err
			}
			add[i] = true
		}
		shape := make([]int64, 0, rank)
		j := 0
		for i := range rank {
			if add[i] {
				shape = append(shape, 1)
			} else if j < len(x.Shape) {
				shape = append(shape, x.Shape[j])
				j++
			}
		}
		t, err := reshaped(x, shape)
		if err != nil {
			return nil, err
		}
		return one(t), nil
	}), nil
}

func newTranspose(n *nodeCtx) (kernel, error) {
	perm := n.attrs.ints("perm")
	return kernelFunc(func(in []Value) ([]Value, error) {
		x, err := tensorArg(in, 0)
		if err != nil {
			return nil, err
		}
		rank := len(x.Shape)
		p := perm
		if p == nil {
			for i := rank - 1; i >= 0; i-- {
				p = append(p, int64(i))
			}
		}
		if len(p) != rank {
			return nil, fmt.Errorf("%w: Transpose perm %v for rank %d", ErrInvalidInput, p, rank)
		}
		shape := make([]int64, rank)
		strides := make([]int, rank)
		inStrides := rowStrides(x.Shape)
		for i, a := range p {
			if a < 0 || int(a) >= rank {
				return nil, fmt.Errorf("%w: Transpose perm %v", ErrInvalidInput, p)
			}
			shape[i], strides[i] = x.Shape[a], inStrides[a]
		}
		return one(pick(x, shape, strided(shape, strides, 0))), nil
	}), nil
}

func rowStrides(shape []int64) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= int(shape[i])
	}
	return s
}

// strided lists, in row-major order over shape, the source offsets base+Σ index·stride.
func strided(shape []int64, strides []int, base int) []int {
	n, _ := numElements(shape)
	idx := make([]int, n)
	if n == 0 {
		return idx
	}
	counter := make([]int64, len(shape))
	pos := base
	for i := range idx {
		idx[i] = pos
		for d := len(shape) - 1; d >= 0; d-- {
			counter[d]++
			pos += strides[d]
			if counter[d] < shape[d] {
				break
			}
			pos -= strides[d] * int(counter[d])
			counter[d] = 0
		}
	}
	return idx
}

func newConcat(n *nodeCtx) (kernel, error) {
	axis := n.attrs.int("axis", 0)
	return kernelFunc(func(in []Value) ([]Value, error) {
		first, err := tensorArg(in, 0)
		if err != nil {
			return nil, err
		}
		rank := len(first.Shape)
		ax, err := normAxis(axis, rank)
		if err != nil {
			return nil, err
		}
		shape := slices.Clone(first.Shape)
		shape[ax] = 0
		parts := make([]*Tensor, len(in))
		for i := range in {
			t, err := tensorArg(in, i)
			if err != nil {
				return nil, err
			}
			if t.DType != first.DType || len(t.Shape) != rank {
				return nil, fmt.Errorf("%w: Concat of %s%v and %s%v", ErrInvalidInput, first.Type(), first.Shape, t.Type(), t.Shape)
			}
			for d := range rank {
				if d != ax && t.Shape[d] != first.Shape[d] {
					return nil, fmt.Errorf("%w: Concat of shapes %v and %v on axis %d", ErrInvalidInput, first.Shape, t.Shape, ax)
				}
			}
			shape[ax] += t.Shape[ax]
			parts[i] = t
		}
		return one(concat(parts, shape, ax)), nil
	}), nil
}

func concat(parts []*Tensor, shape []int64, ax int) *Tensor {
	outer := 1
	for _, d := range shape[:ax] {
		outer *= int(d)
	}
	inner := 1
	for _, d := range shape[ax+1:] {
		inner *= int(d)
	}
	out, _ := newTensorOf(parts[0].DType, shape)
	pos := 0
	for o := range outer {
		for _, p := range parts {
			chunk := int(p.Shape[ax]) * inner
			copyRange(out, pos, p, o*chunk, chunk)
			pos += chunk
		}
	}
	return out
}

// copyRange copies n elements of src from so to dst at do.
func copyRange(dst *Tensor, do int, src *Tensor, so, n int) {
	switch d := dst.data.(type) {
	case []float32:
		copy(d[do:do+n], Data[float32](src)[so:])
	case []float64:
		copy(d[do:do+n], Data[float64](src)[so:])
	case []int64:
		copy(d[do:do+n], Data[int64](src)[so:])
	case []int32:
		copy(d[do:do+n], Data[int32](src)[so:])
	case []uint8:
		copy(d[do:do+n], Data[uint8](src)[so:])
	case []int8:
		copy(d[do:do+n], Data[int8](src)[so:])
	case []bool:
		copy(d[do:do+n], Data[bool](src)[so:])
	case []string:
		copy(d[do:do+n], Data[string](src)[so:])
	}
}

func newGather(n *nodeCtx) (kernel, error) {
	axis := n.attrs.int("axis", 0)
	return kernelFunc(func(in []Value) ([]Value, error) {
		x, err := tensorArg(in, 0)
		if err != nil {
			return nil, err
		}
		it, err := tensorArg(in, 1)
		if err != nil {
			return nil, err
		}
		indices, err := int64Arg(in, 1)
		if err != nil {
			return nil, err
		}
		ax, err := normAxis(axis, len(x.Shape))
		if err != nil {
			return nil, err
		}
		dim := x.Shape[ax]
		outer, inner := 1, 1
		for _, d := range x.Shape[:ax] {
			outer *= int(d)
		}
		for _, d := range x.Shape[ax+1:] {
			inner *= int(d)
		}
		shape := append(append(slices.Clone(x.Shape[:ax]), it.Shape...), x.Shape[ax+1:]...)
		idx := make([]int, 0, outer*len(indices)*inner)
		for o := range outer {
			for _, k := range indices {
				if k < 0 {
					k += dim
				}
				if k < 0 || k >= dim {
					return nil, fmt.Errorf("%w: Gather index %d out of range [0,%d)", ErrInvalidInput, k, dim)
				}
				base := (o*int(dim) + int(k)) * inner
				for i := range inner {
					idx = append(idx, base+i)
				}
			}
		}
		return one(pick(x, shape, idx)), nil
	}), nil
}

func newSlice(n *nodeCtx) (kernel, error) {
	old := n.opset < 10
	return kernelFunc(func(in []Value) ([]Value, error) {
		x, err := tensorArg(in, 0)
		if err != nil {
			return nil, err
		}
		var starts, ends, axes, steps []int64
		if old {
			starts, ends, axes = n.attrs.ints("starts"), n.attrs.ints("ends"), n.attrs.ints("axes")
		} else {
			if starts, err = int64Arg(in, 1); err != nil {
				return nil, err
			}
			if ends, err = int64Arg(in, 2); err != nil {
				return nil, err
			}
			if optTensor(in, 3) != nil {
				if axes, err = int64Arg(in, 3); err != nil {
					return nil, err
				}
			}
			if optTensor(in, 4) != nil {
				if steps, err = int64Arg(in, 4); err != nil {
					return nil, err
				}
			}
		}
		return sliceTensor(x, starts, ends, axes, steps)
	}), nil
}

func sliceTensor(x *Tensor, starts, ends, axes, steps []int64) ([]Value, error) {
	rank := len(x.Shape)
	if len(ends) != len(starts) || (axes != nil && len(axes) != len(starts)) || (steps != nil && len(steps) != len(starts)) {
		return nil, fmt.Errorf("%w: Slice starts, ends, axes and steps differ in length", ErrInvalidInput)
	}
	first := make([]int64, rank)
	shape := slices.Clone(x.Shape)
	step := make([]int64, rank)
	for i := range step {
		step[i] = 1
	}
	for i := range starts {
		ax := int64(i)
		if axes != nil {
			ax = axes[i]
		}
		a, err := normAxis(ax, rank)
		if err != nil {
			return nil, err
		}
		st := int64(1)
		if steps != nil {
			st = steps[i]
		}
		if st == 0 {
			return nil, fmt.Errorf("%w: Slice step 0", ErrInvalidInput)
		}
		dim := x.Shape[a]
		s, e := clampIndex(starts[i], dim, st), clampIndex(ends[i], dim, st)
		count := int64(0)
		if st > 0 && e > s {
			count = (e - s + st - 1) / st
		} else if st < 0 && s > e {
			count = (s - e - st - 1) / -st
		}
		first[a], shape[a], step[a] = s, count, st
	}
	inStrides := rowStrides(x.Shape)
	base := 0
	strides := make([]int, rank)
	for d := range rank {
		base += int(first[d]) * inStrides[d]
		strides[d] = int(step[d]) * inStrides[d]
	}
	return one(pick(x, shape, strided(shape, strides, base))), nil
}

func clampIndex(i, dim, step int64) int64 {
	if i < 0 {
		i += dim
	}
	if step > 0 {
		return min(max(i, 0), dim)
	}
	return min(max(i, -1), dim-1)
}

func newShape(n *nodeCtx) (kernel, error) {
	start, end, hasEnd := n.attrs.int("start", 0), n.attrs.int("end", 0), n.attrs.has("end")
	return kernelFunc(func(in []Value) ([]Value, error) {
		x, err := tensorArg(in, 0)
		if err != nil {
			return nil, err
		}
		r := int64(len(x.Shape))
		s, e := start, r
		if hasEnd {
			e = end
		}
		if s < 0 {
			s += r
		}
		if e < 0 {
			e += r
		}
		s, e = min(max(s, 0), r), min(max(e, 0), r)
		dims := slices.Clone(x.Shape[s:max(s, e)])
		return one(NewTensor([]int64{int64(len(dims))}, nonNil(dims))), nil
	}), nil
}

func newExpand(*nodeCtx) (kernel, error) {
	return kernelFunc(func(in []Value) ([]Value, error) {
		x, err := tensorArg(in, 0)
		if err != nil {
			return nil, err
		}
		to, err := int64Arg(in, 1)
		if err != nil {
			return nil, err
		}
		shape, err := broadcastShape(x.Shape, to)
		if err != nil {
			return nil, err
		}
		if _, ok := numElements(shape); !ok {
			return nil, fmt.Errorf("%w: Expand to %v", ErrInvalidInput, shape)
		}
		return one(pick(x, shape, broadcastIndex(x.Shape, shape))), nil
	}), nil
}

func newTile(*nodeCtx) (kernel, error) {
	return kernelFunc(func(in []Value) ([]Value, error) {
		x, err := tensorArg(in, 0)
		if err != nil {
			return nil, err
		}
		reps, err := int64Arg(in, 1)
		if err != nil {
			return nil, err
		}
		if len(reps) != len(x.Shape) {
			return nil, fmt.Errorf("%w: Tile repeats %v for shape %v", ErrInvalidInput, reps, x.Shape)
		}
		shape := make([]int64, len(reps))
		for i, r := range reps {
			if r < 0 {
				return nil, fmt.Errorf("%w: Tile repeats %v", ErrInvalidInput, reps)
			}
			shape[i] = x.Shape[i] * r
		}
		n, ok := numElements(shape)
		if !ok {
			return nil, fmt.Errorf("%w: Tile to %v", ErrInvalidInput, shape)
		}
		inStrides := rowStrides(x.Shape)
		outStrides := rowStrides(shape)
		idx := make([]int, n)
		for i := range idx {
			src, rem := 0, i
			for d := range shape {
				c := rem / outStrides[d]
				rem %= outStrides[d]
				src += (c % int(x.Shape[d])) * inStrides[d]
			}
			idx[i] = src
		}
		return one(pick(x, shape, idx)), nil
	}), nil
}

func newConstantOfShape(n *nodeCtx) (kernel, error) {
	value, err := n.attrs.tensor("value")
	if err != nil {
		return nil, err
	}
	if value == nil {
		value = NewTensor([]int64{1}, []float32{0})
	}
	if value.Len() != 1 {
		return nil, fmt.Errorf("%w: ConstantOfShape value must hold one element", ErrInvalidModel)
	}
	return kernelFunc(func(in []Value) ([]Value, error) {
		shape, err := int64Arg(in, 0)
		if err != nil {
			return nil, err
		}
		shape = slices.Clone(shape)
		n, ok := numElements(shape)
		if !ok {
			return nil, fmt.Errorf("%w: ConstantOfShape %v", ErrInvalidInput, shape)
		}
		return one(pick(value, shape, make([]int, n))), nil
	}), nil
}

func newConstant(n *nodeCtx) (kernel, error) {
	var t *Tensor
	a := n.attrs
	switch {
	case a.has("value"):
		var err error
		if t, err = a.tensor("value"); err != nil {
			return nil, err
		}
	case a.has("value_float"):
		t = NewTensor([]int64{}, []float32{a.float("value_float", 0)})
	case a.has("value_floats"):
		f := a.floats("value_floats")
		t = NewTensor([]int64{int64(len(f))}, slices.Clone(f))
	case a.has("value_int"):
		t = NewTensor([]int64{}, []int64{a.int("value_int", 0)})
	case a.has("value_ints"):
		v := a.ints("value_ints")
		t = NewTensor([]int64{int64(len(v))}, slices.Clone(v))
	case a.has("value_string"):
		t = NewTensor([]int64{}, []string{a.str("value_string", "")})
	case a.has("value_strings"):
		v := a.strs("value_strings")
		t = NewTensor([]int64{int64(len(v))}, v)
	}
	if t == nil {
		return nil, fmt.Errorf("%w: Constant without a value", ErrInvalidModel)
	}
	return kernelFunc(func([]Value) ([]Value, error) { return one(t), nil }), nil
}

func newIdentity(*nodeCtx) (kernel, error) {
	return kernelFunc(func(in []Value) ([]Value, error) {
		if len(in) == 0 || in[0] == nil {
			return nil, fmt.Errorf("%w: Identity without an input", ErrInvalidInput)
		}
		return []Value{in[0]}, nil
	}), nil
}
