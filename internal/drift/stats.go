package drift

import (
	"math"

	"github.com/mlship/mlship/internal/dataset"
)

// Each test below computes what Evidently's stat test of the same name
// computes (evidently/legacy/calculations/stattests/*.py) with the scipy
// function it calls. Counts come aligned: ref[i] and cur[i] are the counts of
// the same category.

// chiSquare is scipy.stats.chisquare(f_obs=cur, f_exp=ref·n_cur/n_ref): the
// statistic and its p-value with k-1 degrees of freedom. A category that only
// the current data has makes the statistic infinite and the p-value 0.
func chiSquare(ref, cur []float64, nRef, nCur int64) (stat, p float64) {
	norm := float64(nCur) / float64(nRef)
	for i := range ref {
		exp := ref[i] * norm
		diff := cur[i] - exp
		stat += diff * diff / exp
	}
	if math.IsNaN(stat) {
		return stat, math.NaN()
	}
	if math.IsInf(stat, 1) {
		return stat, 0
	}
	return stat, chi2SF(float64(len(ref)-1), stat)
}

// zTest is Evidently's two-proportion z-test: the share of values other than
// the smallest category in each sample, compared with the pooled standard
// error; the p-value is 2·(1-Φ(|z|)). When both samples hold one and the same
// value the p-value is 1.
func zTest(keys []dataset.Value, ref, cur []float64, nRef, nCur int64) (z, p float64) {
	if len(keys) == 1 {
		return 0, 1
	}
	first := 0 // keys are sorted: the smallest category is keys[0]
	p1 := float64(float64(nRef)-ref[first]) / float64(nRef)
	p2 := float64(float64(nCur)-cur[first]) / float64(nCur)
	n1, n2 := float64(nRef), float64(nCur)
	pooled := (p1*n1 + p2*n2) / (n1 + n2)
	z = (p1 - p2) / math.Sqrt(pooled*(1-pooled)*(1/n1+1/n2))
	return z, 2 * (1 - normalCDF(math.Abs(z)))
}

// jensenShannon is scipy.spatial.distance.jensenshannon with natural
// logarithms: both distributions normalised, then sqrt(JS divergence).
func jensenShannon(p, q []float64) float64 {
	sp, sq := sum(p), sum(q)
	var left, right float64
	for i := range p {
		pi, qi := p[i]/sp, q[i]/sq
		m := (pi + qi) / 2
		left += relEntr(pi, m)
		right += relEntr(qi, m)
	}
	return math.Sqrt((left + right) / 2)
}

// relEntr is scipy.special.rel_entr: x·log(x/y), 0 at x = 0.
func relEntr(x, y float64) float64 {
	switch {
	case math.IsNaN(x) || math.IsNaN(y):
		return math.NaN()
	case x > 0 && y > 0:
		return x * math.Log(x/y)
	case x == 0 && y >= 0:
		return 0
	}
	return math.Inf(1)
}

// psi is the population stability index Σ (ref-cur)·ln(ref/cur) over shares
// whose zeros were replaced (see fillZeros).
func psi(ref, cur []float64) float64 {
	total := 0.0
	for i := range ref {
		total += (ref[i] - cur[i]) * math.Log(ref[i]/cur[i])
	}
	return total
}

// klDiv is scipy.stats.entropy(ref, cur): the Kullback-Leibler divergence of
// the normalised distributions.
func klDiv(ref, cur []float64) float64 {
	sr, sc := sum(ref), sum(cur)
	total := 0.0
	for i := range ref {
		total += relEntr(ref[i]/sr, cur[i]/sc)
	}
	return total
}

// fillZeros replaces zero shares as Evidently's get_binned_data does for PSI
// and KL: by min/10^6 when the smallest non-zero share is at most 0.0001, by
// 0.0001 otherwise.
func fillZeros(shares []float64) []float64 {
	smallest := math.Inf(1)
	for _, s := range shares {
		if s != 0 {
			smallest = math.Min(smallest, s)
		}
	}
	fill := 0.0001
	if smallest <= 0.0001 {
		fill = smallest / 1e6
	}
	out := make([]float64, len(shares))
	for i, s := range shares {
		out[i] = s
		if s == 0 {
			out[i] = fill
		}
	}
	return out
}

func sum(xs []float64) float64 {
	total := 0.0
	for _, x := range xs {
		total += x
	}
	return total
}

// sturgesEdges are numpy.histogram_bin_edges(values, bins="sturges") for n
// values between lo and hi: ceil(range/width) equal bins, width =
// range/(log2(n)+1), at least 1 for integer data; one bin around a single
// value.
func sturgesEdges(lo, hi float64, n int64, integer bool) []float64 {
	first, last := lo, hi
	if first == last {
		first, last = first-0.5, last+0.5
	}
	bins := 1
	if width := (hi - lo) / (math.Log2(float64(n)) + 1); width != 0 {
		if integer && width < 1 {
			width = 1
		}
		bins = int(math.Ceil((last - first) / width))
	}
	return linspace(first, last, bins+1)
}

// linspace is numpy.linspace(start, stop, num) with its exact arithmetic:
// start + i·step, the last value set to stop.
func linspace(start, stop float64, num int) []float64 {
	out := make([]float64, num)
	step := (stop - start) / float64(num-1)
	for i := range out {
		out[i] = float64(i)*step + start
	}
	out[num-1] = stop
	return out
}
