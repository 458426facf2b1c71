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
	varying := orderedKeys(xs, src)
	var count [256]uint32
	for shift := uint(32); shift < 64; shift += 8 {
		if byte(varying>>shift) == 0 {
			continue
		}
		count = [256]uint32{}
		for _, k := range src {
			count[byte(k>>shift)]++
		}
		pos := uint32(0)
		for i, n := range count {
			count[i] = pos
			pos += n
		}
		radixScatter(dst, src, &count, shift)
		src, dst = dst, src
	}
	sortTies(src)
	for i, k := range src[:len(xs)] {
		xs[i] = fromOrderedBits(k)
	}
	return keys
}

// orderedKeys writes the ordered bits of xs to keys and returns the bits in
// which some key differs from the first. Only the bytes that differ are
// sorted on, each counted in a pass of its own: counting all bytes in one pass
// waits, on every key, on the increment of the counter of the byte all keys
// share.
func orderedKeys(xs []float64, keys []uint64) (varying uint64) {
	keys = keys[:len(xs)]
	first := orderedBits(xs[0])
	for i, x := range xs {
		k := orderedBits(x)
		keys[i] = k
		varying |= k ^ first
	}
	return varying
}

// radixScatter moves each key of src to dst at the next position of its
// byte at shift.
func radixScatter(dst, src []uint64, next *[256]uint32, shift uint) {
	for _, k := range src {
		b := byte(k >> shift)
		i := next[b]
		dst[i] = k
		next[b] = i + 1
	}
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
