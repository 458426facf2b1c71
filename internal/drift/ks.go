package drift

import "math"

// ksAutoExactMax is scipy's MAX_AUTO_N: ks_2samp(method="auto") computes the
// exact p-value when both samples have at most this many values.
const ksAutoExactMax = 10000

// ksStatistic returns the two-sample Kolmogorov-Smirnov statistic: the
// largest distance between the two empirical CDFs, which change only at the
// samples' values (scipy.stats.ks_2samp evaluates them at every value of both
// samples).
func ksStatistic(a, b sample) float64 {
	var i, j int
	var ca, cb int64
	maxDiff, minDiff := 0.0, 0.0
	for i < len(a.values) || j < len(b.values) {
		x := nextValue(a, b, i, j)
		for i < len(a.values) && a.values[i] <= x {
			ca += a.weight(i)
			i++
		}
		for j < len(b.values) && b.values[j] <= x {
			cb += b.weight(j)
			j++
		}
		diff := float64(ca)/float64(a.n) - float64(cb)/float64(b.n)
		maxDiff = math.Max(maxDiff, diff)
		minDiff = math.Min(minDiff, diff)
	}
	return math.Max(math.Min(-minDiff, 1), maxDiff)
}

// nextValue is the smallest value of either sample not yet passed.
func nextValue(a, b sample, i, j int) float64 {
	switch {
	case i == len(a.values):
		return b.values[j]
	case j == len(b.values) || a.values[i] < b.values[j]:
		return a.values[i]
	}
	return b.values[j]
}

// ksPValue is ks_2samp's two-sided p-value with method="auto": exact when
// both samples have at most 10,000 values (and the exact computation
// succeeds), Smirnov's asymptotic distribution otherwise. The exact method
// first rounds d to a multiple of 1/lcm(n1, n2); the rounded statistic is
// returned with the p-value.
func ksPValue(d float64, n1, n2 int64) (p, stat float64) {
	if max(n1, n2) <= ksAutoExactMax {
		if p, stat, ok := ksExact(d, n1, n2); ok {
			return p, stat
		}
	}
	m, n := float64(max(n1, n2)), float64(min(n1, n2))
	en := m * n / (m + n)
	return clip01(kolmogorovSF(int(math.RoundToEven(en)), d)), d
}

func ksExact(d float64, n1, n2 int64) (p, stat float64, ok bool) {
	g := gcd(n1, n2)
	lcm := (n1 / g) * n2
	h := int64(math.RoundToEven(d * float64(lcm)))
	stat = float64(h) / float64(lcm)
	if h == 0 {
		return 1, stat, true
	}
	if n1 == n2 {
		p = probOutsideSquare(n1, h)
	} else {
		p = probOutsideBand(n1, n2, g, h)
	}
	if !(p >= 0 && p <= 1) {
		return 0, stat, false
	}
	return p, stat, true
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// probOutsideSquare is P(D_{n,n} >= h/n): the share of lattice paths from
// (0,0) to (n,n) that touch x-y = ±h, from the alternating sum
// 2·Σ_k (-1)^(k+1) C(2n, n-kh)/C(2n, n), each ratio computed as a product
// and the sum evaluated Horner-style to avoid cancellation.
func probOutsideSquare(n, h int64) float64 {
	p := 0.0
	for k := n / h; k >= 0; k-- {
		p1 := 1.0
		for j := range h {
			p1 = float64(n-k*h-j) * p1 / float64(n+k*h+j+1)
		}
		p = p1 * (1 - p)
	}
	return 2 * p
}

// probOutsideBand is P(D_{m,n} >= h/lcm(m,n)) for m != n: one minus the share
// of lattice paths from (0,0) to (m,n) that stay strictly inside
// |x/m - y/n| < h/lcm, counted column by column over a sliding window and
// normalised as it goes (Hodges 1958, with Viehmann's recursion for the
// complement, arXiv:2102.08037), as scipy does.
func probOutsideBand(m, n, g, h int64) float64 {
	if m < n {
		m, n = n, m
	}
	mg, ng := m/g, n/g
	minj, maxj := int64(0), min(int64(math.Ceil(float64(h)/float64(mg))), n+1)
	curlen := maxj - minj
	a := make([]float64, n+2)
	for i := range a {
		a[i] = 1
	}
	for i := minj; i < maxj; i++ {
		a[i] = 0
	}
	for i := int64(1); i <= m; i++ {
		lastminj, lastlen := minj, curlen
		minj = max(int64(math.Floor(float64(ng*i-h)/float64(mg)))+1, 0)
		minj = min(minj, n)
		maxj = min(int64(math.Ceil(float64(ng*i+h)/float64(mg))), n+1)
		if maxj <= minj {
			return 1
		}
		val := 1.0
		if minj == 0 {
			val = 0
		}
		for jj := range maxj - minj {
			j := jj + minj
			val = (a[jj+minj-lastminj]*float64(i) + val*float64(j)) / float64(i+j)
			a[jj] = val
		}
		curlen = maxj - minj
		for k := curlen; k < lastlen; k++ {
			a[k] = 1
		}
	}
	return a[maxj-minj-1]
}
