package dataset

import (
	"math"
	"math/bits"
)

// numIndex maps the bits of distinct numbers to their index in a value
// counter's counts: an open-addressing table with linear probing, cheaper than
// a map for the lookup done on every value of a column counted exactly. Each
// slot also tallies the hits of its key since the counts were last settled,
// so that lookup reads and writes one slot and nothing else: the counts and
// the indexes, as large as the table, stay out of the cache. The key 0 (the
// number 0) marks an empty slot and is kept beside the table.
type numIndex struct {
	slots   []numSlot
	idx     []int32 // index in counts of the key in the same slot
	shift   uint    // 64 - log2(len(slots))
	n       int     // keys in slots
	zero    int32   // index+1 in counts of the key 0; 0 when absent
	zeroHit int64   // the key 0's tally
	tallied bool    // some tally is not settled
}

type numSlot struct {
	key   uint64
	tally int64
}

const numIndexMinSize = 16

// find returns the index stored for key, or -1.
func (t *numIndex) find(key uint64) int32 {
	if key == 0 {
		return t.zero - 1
	}
	if t.n == 0 {
		return -1
	}
	mask := len(t.slots) - 1
	for i := t.slot(key); ; i = (i + 1) & mask {
		switch t.slots[i].key {
		case key:
			return t.idx[i]
		case 0:
			return -1
		}
	}
}

// tallyAll counts one hit for each leading value of vs (canonical zeros,
// finite) whose bits are in the table, and returns how many it counted: the
// next value, if any, is not in the table.
func (t *numIndex) tallyAll(vs []float64) int {
	t.tallied = true
	slots, shift := t.slots, t.shift
	mask := len(slots) - 1
	for n, v := range vs {
		key := numberKey(v)
		if key == 0 {
			if t.zero == 0 {
				return n
			}
			t.zeroHit++
			continue
		}
		if len(slots) == 0 {
			return n
		}
		for i := int((key * 0x9E3779B97F4A7C15) >> shift); ; i = (i + 1) & mask {
			k := slots[i].key
			if k == key {
				slots[i].tally++
				break
			}
			if k == 0 {
				return n
			}
		}
	}
	return len(vs)
}

// insert stores idx for key, which must not be in the table.
func (t *numIndex) insert(key uint64, idx int32) {
	if key == 0 {
		t.zero = idx + 1
		return
	}
	if 4*(t.n+1) > 3*len(t.slots) {
		t.grow()
	}
	t.place(key, idx, 0)
}

func (t *numIndex) place(key uint64, idx int32, tally int64) {
	mask := len(t.slots) - 1
	i := t.slot(key)
	for t.slots[i].key != 0 {
		i = (i + 1) & mask
	}
	t.slots[i], t.idx[i] = numSlot{key, tally}, idx
	t.n++
}

// slot is the home slot of key: Fibonacci hashing, the top bits of a
// multiplication, which spreads integers and floats' high bits alike.
func (t *numIndex) slot(key uint64) int {
	return int((key * 0x9E3779B97F4A7C15) >> t.shift)
}

func (t *numIndex) grow() {
	size := max(2*len(t.slots), numIndexMinSize)
	old, oldIdx := t.slots, t.idx
	t.slots, t.idx = make([]numSlot, size), make([]int32, size)
	t.shift = uint(64 - bits.TrailingZeros(uint(size)))
	t.n = 0
	for i, s := range old {
		if s.key != 0 {
			t.place(s.key, oldIdx[i], s.tally)
		}
	}
}

// settle adds the tallies to counts and clears them. It writes nothing when
// there is nothing to add, so that counters only read (decoded profiles)
// may be shared.
func (t *numIndex) settle(counts []ValueCount) {
	if !t.tallied {
		return
	}
	for i := range t.slots {
		if s := &t.slots[i]; s.tally != 0 {
			counts[t.idx[i]].Count += s.tally
			s.tally = 0
		}
	}
	if t.zeroHit != 0 {
		counts[t.zero-1].Count += t.zeroHit
		t.zeroHit = 0
	}
	t.tallied = false
}

func (t *numIndex) clone() numIndex {
	c := *t
	c.slots = append([]numSlot(nil), t.slots...)
	c.idx = append([]int32(nil), t.idx...)
	return c
}

// numberKey is the key of a number: its bits, with -0 counted as 0.
func numberKey(v float64) uint64 { return math.Float64bits(canonicalZero(v)) }
