package drift

import (
	"math"
	"slices"
	"testing"
)

// The expected values are numpy 2's RandomState output.
func TestMT19937MatchesNumpy(t *testing.T) {
	if got := newMT19937(42).permutation(10); !slices.Equal(got, []int{8, 1, 5, 0, 7, 2, 9, 4, 3, 6}) {
		t.Errorf("permutation(10) = %v", got)
	}
	m := newMT19937(42)
	if a, b := m.randint(1, math.MaxInt32), m.randint(0, math.MaxInt32); a != 1608637543 || b != 1273642419 {
		t.Errorf("randint = %d, %d", a, b)
	}
	m = newMT19937(42)
	var got []int64
	for range 5 {
		got = append(got, m.randint(0, 10000))
	}
	if !slices.Equal(got, []int64{7270, 860, 5390, 5191, 5734}) {
		t.Errorf("randint(0, 10000) = %v", got)
	}
	m = newMT19937(7)
	for i, want := range []float64{0.07630829, 0.77991879, 0.43840923} {
		if v := m.float64(); math.Abs(v-want) > 1e-8 {
			t.Errorf("rand()[%d] = %v, want %v", i, v, want)
		}
	}
}
