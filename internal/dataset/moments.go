package dataset

import "math"

// moments holds the count, mean, sum of squared deviations (M2), minimum and
// maximum of a stream of finite numbers. Chunks are folded in with Chan,
// Golub and LeVeque's parallel update, which is also how two profiles merge:
// the merged mean and variance are those of the concatenated data up to
// floating-point rounding.
type moments struct {
	n    int64
	mean float64
	m2   float64
	min  float64
	max  float64
}

// addChunk folds in a chunk of finite values, computing the chunk's own mean
// and M2 in two passes for accuracy.
func (m *moments) addChunk(xs []float64) {
	if len(xs) == 0 {
		return
	}
	lo, hi, sum := xs[0], xs[0], 0.0
	for _, x := range xs {
		sum += x
		lo = minFinite(lo, x)
		hi = maxFinite(hi, x)
	}
	mean := sum / float64(len(xs))
	m2 := 0.0
	for _, x := range xs {
		d := x - mean
		m2 += d * d
	}
	m.merge(moments{n: int64(len(xs)), mean: mean, m2: m2, min: lo, max: hi})
}

func (m *moments) merge(o moments) {
	if o.n == 0 {
		return
	}
	if m.n == 0 {
		*m = o
		return
	}
	n := m.n + o.n
	delta := o.mean - m.mean
	m.mean += delta * float64(o.n) / float64(n)
	m.m2 += o.m2 + delta*delta*float64(m.n)*float64(o.n)/float64(n)
	m.min = minFinite(m.min, o.min)
	m.max = maxFinite(m.max, o.max)
	m.n = n
}

// std is the population standard deviation (numpy's default, ddof=0).
func (m *moments) std() float64 {
	if m.n == 0 {
		return math.NaN()
	}
	return math.Sqrt(m.m2 / float64(m.n))
}

// minFinite is math.Min for values that are not NaN (-0 is below 0), small
// enough to inline: math.Min is a call per value.
func minFinite(x, y float64) float64 {
	if y < x || (y == 0 && x == 0 && math.Signbit(y)) {
		return y
	}
	return x
}

// maxFinite is math.Max for values that are not NaN (0 is above -0).
func maxFinite(x, y float64) float64 {
	if y > x || (y == 0 && x == 0 && !math.Signbit(y)) {
		return y
	}
	return x
}
