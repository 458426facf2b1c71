package onnx

import (
	"fmt"
	"math"
)

func init() {
	register("com.microsoft", newCDist, "CDist")
}

// cdist is onnxruntime's CDist (com.microsoft), which skl2onnx writes for k nearest
// neighbours with the option optim="cdist": the distances between the rows of A [m, k]
// and B [n, k], computed as onnxruntime does, |a|² + |b|² - 2a·b, then the absolute value
// (and its square root for "euclidean").
type cdist struct{ euclidean bool }

func newCDist(n *nodeCtx) (kernel, error) {
	switch metric := n.attrs.str("metric", "sqeuclidean"); metric {
	case "sqeuclidean":
		return cdist{}, nil
	case "euclidean":
		return cdist{euclidean: true}, nil
	default:
		return nil, fmt.Errorf("%w: CDist metric %q", ErrUnsupported, metric)
	}
}

func (c cdist) run(in []Value) ([]Value, error) {
	a, err := tensorArg(in, 0)
	if err != nil {
		return nil, err
	}
	b, err := tensorArg(in, 1)
	if err != nil {
		return nil, err
	}
	if len(a.Shape) != 2 || len(b.Shape) != 2 || a.Shape[1] != b.Shape[1] || a.Shape[1] <= 0 || a.DType != b.DType {
		return nil, fmt.Errorf("%w: CDist of %s%v and %s%v", ErrInvalidInput, a.Type(), a.Shape, b.Type(), b.Shape)
	}
	shape := []int64{a.Shape[0], b.Shape[0]}
	if n, ok := numElements(shape); !ok || n > MaxElements {
		return nil, fmt.Errorf("%w: CDist output %v is too large", ErrInvalidInput, shape)
	}
	switch ad := a.data.(type) {
	case []float32:
		return one(NewTensor(shape, distances(ad, Data[float32](b), int(a.Shape[1]), c.euclidean))), nil
	case []float64:
		return one(NewTensor(shape, distances(ad, Data[float64](b), int(a.Shape[1]), c.euclidean))), nil
	}
	return nil, fmt.Errorf("%w: CDist of %s", ErrInvalidInput, a.Type())
}

func distances[T float32 | float64](a, b []T, k int, euclidean bool) []T {
	m, n := len(a)/k, len(b)/k
	sq := func(v []T) []T {
		out := make([]T, len(v)/k)
		for i := range out {
			var s T
			for _, x := range v[i*k : (i+1)*k] {
				s += x * x
			}
			out[i] = s
		}
		return out
	}
	as, bs := sq(a), sq(b)
	out := make([]T, m*n)
	for i := range m {
		ar := a[i*k : (i+1)*k]
		for j := range n {
			br := b[j*k : (j+1)*k]
			var dot T
			for p, x := range ar {
				dot += x * br[p]
			}
			d := (-2*dot + as[i]) + bs[j]
			if d < 0 {
				d = -d
			}
			if euclidean {
				d = T(math.Sqrt(float64(d)))
			}
			out[i*n+j] = d
		}
	}
	return out
}
