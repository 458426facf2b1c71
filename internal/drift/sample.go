package drift

import (
	"math"
	"slices"

	"github.com/mlship/mlship/internal/dataset"
)

// sample is a sorted sample of finite numbers, optionally weighted: a column
// held in memory has weight 1 everywhere (weights nil), a quantile sketch
// gives each held value the number of values it stands for.
type sample struct {
	values  []float64
	weights []int64
	n       int64 // total weight
}

func (s sample) weight(i int) int64 {
	if s.weights == nil {
		return 1
	}
	return s.weights[i]
}

// exactSample sorts the finite values of xs (NaN and ±Inf are dropped, as
// Evidently drops them).
func exactSample(xs []float64) sample {
	vals := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			vals = append(vals, x)
		}
	}
	sortFloats(vals)
	return sample{values: vals, n: int64(len(vals))}
}

func sketchSample(k *dataset.KLL) sample {
	values, weights := k.Sorted()
	return sample{values: values, weights: weights, n: k.N()}
}

// runLengths counts the distinct values of a sample.
func (s sample) runLengths() []dataset.ValueCount {
	var out []dataset.ValueCount
	for i, v := range s.values {
		if len(out) > 0 && out[len(out)-1].Value.Num == v {
			out[len(out)-1].Count += s.weight(i)
			continue
		}
		out = append(out, dataset.ValueCount{Value: dataset.NumberValue(v), Count: s.weight(i)})
	}
	return out
}

// binCounts counts the sample's weight in each bin between edges
// (numpy.histogram's rule, see dataset.BinIndex).
func (s sample) binCounts(edges []float64) []float64 {
	counts := make([]float64, len(edges)-1)
	last := len(edges) - 1
	for i, v := range s.values {
		if v < edges[0] || v > edges[last] {
			continue
		}
		counts[dataset.BinIndex(edges, v)] += float64(s.weight(i))
	}
	return counts
}

// wasserstein is the first Wasserstein distance between the two samples'
// distributions: ∫|F_a - F_b| dx, summed over the gaps between consecutive
// values of both (scipy.stats.wasserstein_distance).
func wasserstein(a, b sample) float64 {
	var i, j int
	var ca, cb int64
	total := 0.0
	prev := math.NaN()
	for i < len(a.values) || j < len(b.values) {
		x := nextValue(a, b, i, j)
		if !math.IsNaN(prev) {
			total += math.Abs(float64(ca)/float64(a.n)-float64(cb)/float64(b.n)) * (x - prev)
		}
		for i < len(a.values) && a.values[i] <= x {
			ca += a.weight(i)
			i++
		}
		for j < len(b.values) && b.values[j] <= x {
			cb += b.weight(j)
			j++
		}
		prev = x
	}
	return total
}

// sortFloats sorts finite values; large inputs use a radix sort.
func sortFloats(xs []float64) {
	if len(xs) < 4096 {
		slices.Sort(xs)
		return
	}
	radixSortFloats(xs)
}

// radixSortFloats sorts finite float64s by their bits, mapped so that
// unsigned order is numeric order: least significant digit first, 11 bits a
// pass, skipping passes where every key has the same digit.
func radixSortFloats(xs []float64) {
	const bits, buckets = 11, 1 << 11
	keys := make([]uint64, len(xs))
	for i, x := range xs {
		b := math.Float64bits(x)
		if b>>63 == 1 {
			b = ^b
		} else {
			b |= 1 << 63
		}
		keys[i] = b
	}
	tmp := make([]uint64, len(keys))
	var count [buckets]int
	for shift := uint(0); shift < 64; shift += bits {
		clear(count[:])
		for _, k := range keys {
			count[(k>>shift)&(buckets-1)]++
		}
		if count[(keys[0]>>shift)&(buckets-1)] == len(keys) {
			continue
		}
		pos := 0
		for d, c := range count {
			count[d] = pos
			pos += c
		}
		for _, k := range keys {
			d := (k >> shift) & (buckets - 1)
			tmp[count[d]] = k
			count[d]++
		}
		keys, tmp = tmp, keys
	}
	for i, b := range keys {
		if b>>63 == 1 {
			b &^= 1 << 63
		} else {
			b = ^b
		}
		xs[i] = math.Float64frombits(b)
	}
}
