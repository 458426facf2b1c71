package onnx

import (
	"fmt"
	"slices"
)

func init() {
	register("", newTopK, "TopK")
}

// topK is TopK: the k largest (or smallest) elements along an axis and their indices.
// Equal values keep their order along the axis, as in onnxruntime. The result is always
// sorted, which sorted=0 allows; NaN counts as larger than any number.
type topK struct {
	k       int64 // before opset 10; the second input from 10
	axis    int64
	largest bool
}

func newTopK(n *nodeCtx) (kernel, error) {
	t := &topK{k: -1, axis: n.attrs.int("axis", -1), largest: n.attrs.int("largest", 1) != 0}
	if n.opset < 10 {
		t.k = n.attrs.int("k", -1)
		if t.k < 0 {
			return nil, fmt.Errorf("%w: TopK needs a non-negative k attribute before opset 10", ErrInvalidModel)
		}
	}
	return t, nil
}

func (t *topK) run(in []Value) ([]Value, error) {
	x, err := tensorArg(in, 0)
	if err != nil {
		return nil, err
	}
	k := t.k
	if k < 0 {
		kt, err := int64Arg(in, 1)
		if err != nil {
			return nil, err
		}
		if len(kt) != 1 {
			return nil, fmt.Errorf("%w: TopK's k must hold one value, not %d", ErrInvalidInput, len(kt))
		}
		if k = kt[0]; k < 0 {
			return nil, fmt.Errorf("%w: TopK's k is negative (%d)", ErrInvalidInput, k)
		}
	}
	if len(x.Shape) == 0 {
		return nil, fmt.Errorf("%w: TopK of a scalar", ErrInvalidInput)
	}
	ax, err := normAxis(t.axis, len(x.Shape))
	if err != nil {
		return nil, err
	}
	if k > x.Shape[ax] {
		return nil, fmt.Errorf("%w: TopK's k (%d) is larger than axis %d (%d)", ErrInvalidInput, k, ax, x.Shape[ax])
	}
	shape := slices.Clone(x.Shape)
	shape[ax] = k
	switch d := x.data.(type) {
	case []float32:
		return topKOf(d, x.Shape, shape, ax, int(k), t.largest), nil
	case []float64:
		return topKOf(d, x.Shape, shape, ax, int(k), t.largest), nil
	case []int64:
		return topKOf(d, x.Shape, shape, ax, int(k), t.largest), nil
	case []int32:
		return topKOf(d, x.Shape, shape, ax, int(k), t.largest), nil
	case []uint8:
		return topKOf(d, x.Shape, shape, ax, int(k), t.largest), nil
	case []int8:
		return topKOf(d, x.Shape, shape, ax, int(k), t.largest), nil
	}
	return nil, fmt.Errorf("%w: TopK of %s", ErrUnsupported, x.Type())
}

func topKOf[T number](d []T, inShape, outShape []int64, ax, k int, largest bool) []Value {
	outer, dim, inner := axisSplit(inShape, ax)
	n, _ := numElements(outShape)
	vals, idxs := make([]T, n), make([]int64, n)
	line := make([]T, dim)
	best := make([]int, 0, k)
	for o := range outer {
		for in := range inner {
			for j := range dim {
				line[j] = d[(o*dim+j)*inner+in]
			}
			best = selectTop(line, k, best[:0], largest)
			for r, j := range best {
				pos := (o*k+r)*inner + in
				vals[pos], idxs[pos] = line[j], int64(j)
			}
		}
	}
	return []Value{NewTensor(outShape, vals), NewTensor(outShape, idxs)}
}

// before reports whether element a (at index i) comes before b (at j) in the result.
func before[T number](a, b T, i, j int, largest bool) bool {
	if a != a || b != b { // NaN
		if a != a && b != b {
			return i < j
		}
		return (a != a) == largest
	}
	if a == b {
		return i < j
	}
	return (a > b) == largest
}

// selectTop appends to best the indices of the k first elements of line in the result's
// order, in that order.
func selectTop[T number](line []T, k int, best []int, largest bool) []int {
	if k == 0 {
		return best
	}
	if k <= 32 {
		// Insertion into a sorted buffer: few comparisons for the small k of neighbours.
		for j, v := range line {
			if len(best) == k && !before(v, line[best[k-1]], j, best[k-1], largest) {
				continue
			}
			if len(best) < k {
				best = append(best, j)
			}
			p := len(best) - 1
			for p > 0 && before(v, line[best[p-1]], j, best[p-1], largest) {
				best[p] = best[p-1]
				p--
			}
			best[p] = j
		}
		return best
	}
	for j := range line {
		best = append(best, j)
	}
	slices.SortFunc(best, func(i, j int) int {
		if before(line[i], line[j], i, j, largest) {
			return -1
		}
		if before(line[j], line[i], j, i, largest) {
			return 1
		}
		return 0
	})
	return best[:k]
}
