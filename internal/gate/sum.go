package gate

import "math"

// sum is a compensated (Kahan-Babuška-Neumaier) running sum. numpy sums
// pairwise; a plain running sum over a million rows could drift from it by
// 1e-10, this one stays within a few units in the last place, and it merges.
type sum struct{ s, c float64 }

func (a *sum) add(x float64) {
	t := a.s + x
	if math.Abs(a.s) >= math.Abs(x) {
		a.c += (a.s - t) + x
	} else {
		a.c += (x - t) + a.s
	}
	a.s = t
}

func (a *sum) merge(b sum) {
	a.add(b.s)
	a.add(b.c)
}

// value is the sum; once it has overflowed, +Inf (every sum here adds
// non-negative terms).
func (a sum) value() float64 {
	if math.IsInf(a.s, 0) {
		return a.s
	}
	return a.s + a.c
}
