package onnx

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestReduceTargetsFastPath: the shortcut for reductions over adjacent axes maps every
// element to the group the general walk does.
func TestReduceTargetsFastPath(t *testing.T) {
	general := func(shape, kept []int64, axes []int) []int {
		out := make([]int, 0)
		n, _ := numElements(shape)
		outStrides, inStrides := rowStrides(kept), rowStrides(shape)
		for i := range n {
			o, rem := 0, i
			for d := range shape {
				c := rem / inStrides[d]
				rem %= inStrides[d]
				if !slices.Contains(axes, d) {
					o += c * outStrides[d]
				}
			}
			out = append(out, o)
		}
		return out
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 300 {
		shape := make([]int64, 1+rng.IntN(4))
		for i := range shape {
			shape[i] = int64(rng.IntN(4))
		}
		var axes []int
		for i := range shape {
			if rng.IntN(2) == 0 {
				axes = append(axes, i)
			}
		}
		if len(axes) == 0 {
			continue
		}
		kept := reducedShape(shape, axes, true)
		n, _ := numElements(shape)
		t.Run(fmt.Sprint(shape, axes), func(t *testing.T) {
			if got, want := reduceTargets(shape, kept, axes, n), general(shape, kept, axes); !slices.Equal(got, want) {
				t.Fatalf("targets %v, want %v", got, want)
			}
		})
	}
}

// TestBroadcastRowFastPath: a row broadcast over leading dimensions gives what the
// general broadcast gives.
func TestBroadcastRowFastPath(t *testing.T) {
	tests := []struct{ a, b []int64 }{
		{[]int64{4, 3}, []int64{3}}, {[]int64{3}, []int64{4, 3}}, {[]int64{2, 4, 3}, []int64{1, 4, 3}},
		{[]int64{2, 4, 3}, []int64{4, 1}}, {[]int64{0, 3}, []int64{3}}, {[]int64{4, 3}, []int64{1, 1, 3}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.a, tt.b), func(t *testing.T) {
			na, _ := numElements(tt.a)
			nb, _ := numElements(tt.b)
			a, b := make([]float32, na), make([]float32, nb)
			for i := range a {
				a[i] = float32(i) * 1.5
			}
			for i := range b {
				b[i] = float32(i*i) + 0.25
			}
			sub := func(x, y float32) float32 { return x - y }
			got, err := zip2(a, tt.a, b, tt.b, sub)
			if err != nil {
				t.Fatal(err)
			}
			shape, _ := broadcastShape(tt.a, tt.b)
			ia, ib := broadcastIndex(tt.a, shape), broadcastIndex(tt.b, shape)
			for i, v := range Data[float32](got) {
				if want := a[ia[i]] - b[ib[i]]; v != want {
					t.Fatalf("element %d: %v, want %v", i, v, want)
				}
			}
			if !sameShape(got.Shape, shape) {
				t.Fatalf("shape %v, want %v", got.Shape, shape)
			}
		})
	}
}
