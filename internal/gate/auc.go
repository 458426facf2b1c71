package gate

import (
	"math"
	"slices"
)

// ROC AUC is computed as the Mann-Whitney statistic: the share of
// (positive, negative) pairs in which the positive scores higher, a tie
// counting one half. That is exactly the area scikit-learn's roc_curve and
// auc give (ties make the curve's diagonal segments), obtained with integer
// counts, so the only rounding is the final division.

// scoreKey maps a probability (never negative) to a key that sorts as the
// probability does; -0 and +0 share a key.
func scoreKey(p float64) uint64 {
	if p == 0 {
		return 0
	}
	return math.Float64bits(p)
}

// rankAUC is the AUC of the positives' and negatives' keys, both sorted in
// place; ok is false when either side is empty, where the AUC is undefined.
func rankAUC(pos, neg, scratch []uint64) (auc float64, ok bool) {
	if len(pos) == 0 || len(neg) == 0 {
		return 0, false
	}
	sortKeys(pos, scratch)
	sortKeys(neg, scratch)
	var twiceU uint64 // 2 × (pairs won + ties/2)
	j := 0
	for i := 0; i < len(pos); {
		v, run := pos[i], 1
		for i+run < len(pos) && pos[i+run] == v {
			run++
		}
		for j < len(neg) && neg[j] < v {
			j++
		}
		ties := 0
		for j+ties < len(neg) && neg[j+ties] == v {
			ties++
		}
		twiceU += uint64(run) * uint64(2*j+ties)
		i += run
	}
	return float64(twiceU) / (2 * float64(len(pos)) * float64(len(neg))), true
}

// sortKeys sorts keys with a least-significant-digit radix sort, byte by
// byte, skipping the bytes every key shares (probabilities in [0, 1] share
// their top byte). scratch must be at least as long as keys.
func sortKeys(keys, scratch []uint64) {
	if len(keys) < 256 {
		slices.Sort(keys)
		return
	}
	var counts [8][256]int
	for _, k := range keys {
		for d := range 8 {
			counts[d][byte(k>>(8*d))]++
		}
	}
	src, dst := keys, scratch[:len(keys)]
	for d := range 8 {
		if counts[d][byte(src[0]>>(8*d))] == len(src) {
			continue
		}
		scatter(src, dst, &counts[d], uint(8*d))
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
}

func scatter(src, dst []uint64, counts *[256]int, shift uint) {
	pos := 0
	for i, c := range counts {
		counts[i] = pos
		pos += c
	}
	for _, k := range src {
		b := byte(k >> shift)
		dst[counts[b]] = k
		counts[b]++
	}
}
