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

// radixSortFloats sorts by radix on the upper half of each key, least
// significant byte first (a byte all keys share is skipped), then sorts the
// runs of keys whose upper halves tie by the whole key. Values read from
// files rarely share their upper 32 bits (sign, exponent and 20 bits of
// mantissa) unless they are equal, so the runs are short or already in
// order, and half of the byte passes of a full radix sort are saved.
func radixSortFloats(xs []float64, keys []uint64) []uint64 {
	keys = slices.Grow(keys[:0], 2*len(xs))[:2*len(xs)]
	src, dst := keys[:len(xs)], keys[len(xs):]
	var count [4][256]uint32
	for i, x := range xs {
		k := orderedBits(x)
		src[i] = k
		count[0][byte(k>>32)]++
		count[1][byte(k>>40)]++
		count[2][byte(k>>48)]++
		count[3][byte(k>>56)]++
	}
	first := src[0]
	for d := range count {
		shift := uint(32 + 8*d)
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
	sortTies(src)
	for i, k := range src {
		xs[i] = fromOrderedBits(k)
	}
	return keys
}

// sortTies sorts keys already in order of their upper halves: each run of
// equal upper halves is sorted by the whole key.
func sortTies(keys []uint64) {
	for i := 0; i < len(keys)-1; {
		hi := keys[i] >> 32
		if keys[i+1]>>32 != hi {
			i++
			continue
		}
		j := i + 2
		for j < len(keys) && keys[j]>>32 == hi {
			j++
		}
		if run := keys[i:j]; !slices.IsSorted(run) {
			slices.Sort(run)
		}
		i = j
	}
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
