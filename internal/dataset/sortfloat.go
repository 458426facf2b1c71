package dataset

import (
	"math"
	"slices"
)

// sortFloats sorts finite values in the order of their bits (-0 before 0),
// by radix for all but short slices; keys is scratch space, returned for
// reuse. A radix sort has no branches to mispredict on random input, which
// makes it faster than pdqsort here even on the few hundred values the
// quantile sketch sorts at a time.
func sortFloats(xs []float64, keys []uint64) []uint64 {
	if len(xs) < 128 {
		slices.Sort(xs)
		return keys
	}
	return radixSortFloats(xs, keys)
}

// radixSortFloats sorts by radix, least significant byte first: one pass
// counts every byte's digits, then each byte that not all keys share moves
// the keys once.
func radixSortFloats(xs []float64, keys []uint64) []uint64 {
	keys = slices.Grow(keys[:0], 2*len(xs))[:2*len(xs)]
	src, dst := keys[:len(xs)], keys[len(xs):]
	var count [8][256]uint32
	for i, x := range xs {
		k := orderedBits(x)
		src[i] = k
		count[0][byte(k)]++
		count[1][byte(k>>8)]++
		count[2][byte(k>>16)]++
		count[3][byte(k>>24)]++
		count[4][byte(k>>32)]++
		count[5][byte(k>>40)]++
		count[6][byte(k>>48)]++
		count[7][byte(k>>56)]++
	}
	first := src[0]
	for d := range count {
		shift := uint(8 * d)
		c := &count[d]
		if int(c[byte(first>>shift)]) == len(src) {
			continue
		}
		pos := uint32(0)
		for i, n := range c {
			c[i] = pos
			pos += n
		}
		for _, k := range src {
			b := byte(k >> shift)
			dst[c[b]] = k
			c[b]++
		}
		src, dst = dst, src
	}
	for i, k := range src {
		xs[i] = fromOrderedBits(k)
	}
	return keys
}

// orderedBits maps a float64 to a uint64 whose unsigned order is the
// float's numeric order.
func orderedBits(x float64) uint64 {
	b := math.Float64bits(x)
	if b>>63 == 1 {
		return ^b
	}
	return b | 1<<63
}

func fromOrderedBits(k uint64) float64 {
	if k>>63 == 1 {
		return math.Float64frombits(k &^ (1 << 63))
	}
	return math.Float64frombits(^k)
}
