package dataset

import "math/bits"

// numIndex maps the bits of distinct numbers to their index in a value
// counter's counts: an open-addressing table with linear probing, cheaper than
// a map for the lookup done on every value of a column counted exactly.
type numIndex struct {
	keys  []uint64
	slots []int32 // index+1 in counts; 0 marks an empty slot
	shift uint    // 64 - log2(len(keys))
	n     int
}

const numIndexMinSize = 16

// find returns the index stored for key, or -1.
func (t *numIndex) find(key uint64) int32 {
	if t.n == 0 {
		return -1
	}
	mask := len(t.keys) - 1
	for i := t.slot(key); ; i = (i + 1) & mask {
		switch {
		case t.slots[i] == 0:
			return -1
		case t.keys[i] == key:
			return t.slots[i] - 1
		}
	}
}

// insert stores idx for key, which must not be in the table.
func (t *numIndex) insert(key uint64, idx int32) {
	if 2*(t.n+1) > len(t.keys) {
		t.grow()
	}
	mask := len(t.keys) - 1
	i := t.slot(key)
	for t.slots[i] != 0 {
		i = (i + 1) & mask
	}
	t.keys[i], t.slots[i] = key, idx+1
	t.n++
}

// slot is the home slot of key: Fibonacci hashing, the top bits of a
// multiplication, which spreads integers and floats' high bits alike.
func (t *numIndex) slot(key uint64) int {
	return int((key * 0x9E3779B97F4A7C15) >> t.shift)
}

func (t *numIndex) grow() {
	size := max(2*len(t.keys), numIndexMinSize)
	old, oldSlots := t.keys, t.slots
	t.keys, t.slots = make([]uint64, size), make([]int32, size)
	t.shift = uint(64 - bits.TrailingZeros(uint(size)))
	t.n = 0
	for i, s := range oldSlots {
		if s != 0 {
			t.insert(old[i], s-1)
		}
	}
}

func (t *numIndex) clone() numIndex {
	c := *t
	c.keys = append([]uint64(nil), t.keys...)
	c.slots = append([]int32(nil), t.slots...)
	return c
}
