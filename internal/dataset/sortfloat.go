package dataset

import (
	"math"
	"slices"
)

// sortFloats sorts finite values, by radix for larger slices (least
// significant byte first, skipping bytes that every key shares); keys is
// scratch space, returned for reuse.
func sortFloats(xs []float64, keys []uint64) []uint64 {
	if len(xs) < 128 {
		slices.Sort(xs)
		return keys
	}
	keys = slices.Grow(keys[:0], 2*len(xs))[:2*len(xs)]
	src, dst := keys[:len(xs)], keys[len(xs):]
	for i, x := range xs {
		src[i] = orderedBits(x)
	}
	var count [256]int
	for shift := uint(0); shift < 64; shift += 8 {
		clear(count[:])
		for _, k := range src {
			count[byte(k>>shift)]++
		}
		if count[byte(src[0]>>shift)] == len(src) {
			continue
		}
		pos := 0
		for d, c := range count {
			count[d] = pos
			pos += c
		}
		for _, k := range src {
			d := byte(k >> shift)
			dst[count[d]] = k
			count[d]++
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
