package dataset

import (
	"encoding/json"
	"fmt"
	"slices"
)

// maxTopKeyBytes caps the bytes kept of a string in the frequent-items sketch;
// longer strings are told apart by their hash but shown truncated.
const maxTopKeyBytes = 256

// topK is a Space-Saving frequent-items sketch (Metwally, Agrawal and El Abbadi,
// "Efficient computation of frequent and top-k elements in data streams",
// 2005). It keeps capacity counters; a value that has no counter takes over
// the smallest one and inherits its count as its possible over-count. Every
// value occurring more than N/capacity times has a counter, and each count
// is at most err above the truth.
type topK struct {
	capacity int
	entries  []topEntry       // counters, in slots that never move
	heap     []int32          // slots, a min-heap on count
	pos      []int32          // slot -> position in heap
	index    map[uint64]int32 // value hash -> slot
}

type topEntry struct {
	hash  uint64
	kind  ValueKind
	num   float64
	key   []byte
	count int64
	err   int64
}

func newTopK(capacity int) *topK {
	return &topK{capacity: capacity, index: make(map[uint64]int32, capacity)}
}

func (t *topK) add(kind ValueKind, num float64, key []byte, hash uint64, n int64) {
	if slot, ok := t.index[hash]; ok {
		t.entries[slot].count += n
		t.down(int(t.pos[slot]))
		return
	}
	if len(t.entries) < t.capacity {
		slot := int32(len(t.entries))
		t.entries = append(t.entries, topEntry{hash: hash, kind: kind, num: num, key: truncateKey(nil, key), count: n})
		t.heap = append(t.heap, slot)
		t.pos = append(t.pos, int32(len(t.heap)-1))
		t.index[hash] = slot
		t.up(len(t.heap) - 1)
		return
	}
	slot := t.heap[0]
	e := &t.entries[slot]
	delete(t.index, e.hash)
	floor := e.count
	*e = topEntry{hash: hash, kind: kind, num: num, key: truncateKey(e.key[:0], key), count: floor + n, err: floor}
	t.index[hash] = slot
	t.down(0)
}

func truncateKey(dst, key []byte) []byte {
	return append(dst, key[:min(len(key), maxTopKeyBytes)]...)
}

func (t *topK) less(i, j int) bool { return t.entries[t.heap[i]].count < t.entries[t.heap[j]].count }

func (t *topK) swap(i, j int) {
	t.heap[i], t.heap[j] = t.heap[j], t.heap[i]
	t.pos[t.heap[i]] = int32(i)
	t.pos[t.heap[j]] = int32(j)
}

func (t *topK) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !t.less(i, parent) {
			return
		}
		t.swap(i, parent)
		i = parent
	}
}

func (t *topK) down(i int) {
	n := len(t.heap)
	for {
		smallest := i
		for _, c := range [2]int{2*i + 1, 2*i + 2} {
			if c < n && t.less(c, smallest) {
				smallest = c
			}
		}
		if smallest == i {
			return
		}
		t.swap(i, smallest)
		i = smallest
	}
}

// minCount is the smallest count held when the sketch is full: the most any
// value without a counter can have occurred.
func (t *topK) minCount() int64 {
	if len(t.entries) < t.capacity || len(t.entries) == 0 {
		return 0
	}
	return t.entries[t.heap[0]].count
}

// merge folds o into t (Agarwal et al., "Mergeable summaries", 2012): counts
// of values held by both add up; a value missing from a full sketch may have
// occurred up to that sketch's smallest count there, which is added to its
// count and error. The largest capacity counts are kept.
func (t *topK) merge(o *topK) {
	tMin, oMin := t.minCount(), o.minCount()
	merged := make(map[uint64]topEntry, len(t.entries)+len(o.entries))
	for _, e := range t.entries {
		e.count += oMin
		e.err += oMin
		merged[e.hash] = e
	}
	for _, e := range o.entries {
		if m, ok := merged[e.hash]; ok {
			m.count += e.count - oMin
			m.err += e.err - oMin
			merged[e.hash] = m
			continue
		}
		e.key = slices.Clone(e.key)
		e.count += tMin
		e.err += tMin
		merged[e.hash] = e
	}
	all := make([]topEntry, 0, len(merged))
	for _, e := range merged {
		all = append(all, e)
	}
	t.rebuild(all)
}

// rebuild keeps the capacity largest entries and restores the heap.
func (t *topK) rebuild(all []topEntry) {
	slices.SortFunc(all, func(a, b topEntry) int {
		if a.count != b.count {
			return int(b.count - a.count)
		}
		return entryValue(a).Compare(entryValue(b))
	})
	if len(all) > t.capacity {
		all = all[:t.capacity]
	}
	t.entries = all
	t.index = make(map[uint64]int32, len(all))
	t.heap = make([]int32, len(all))
	t.pos = make([]int32, len(all))
	for i := range t.entries {
		t.index[t.entries[i].hash] = int32(i)
		t.heap[i], t.pos[i] = int32(i), int32(i)
	}
	for i := len(t.heap)/2 - 1; i >= 0; i-- {
		t.down(i)
	}
}

func entryValue(e topEntry) Value {
	if e.kind == ValueString {
		return StringValue(string(e.key))
	}
	return Value{Kind: e.kind, Num: e.num}
}

func (t *topK) clone() *topK {
	c := &topK{capacity: t.capacity, entries: make([]topEntry, len(t.entries)), heap: slices.Clone(t.heap), pos: slices.Clone(t.pos),
		index: make(map[uint64]int32, len(t.index))}
	for i, e := range t.entries {
		e.key = slices.Clone(e.key)
		c.entries[i] = e
	}
	for h, i := range t.index {
		c.index[h] = i
	}
	return c
}

// counts returns the held values, largest count first.
func (t *topK) counts() []TopCount {
	out := make([]TopCount, len(t.entries))
	for i, e := range t.entries {
		out[i] = TopCount{Value: entryValue(e), Count: e.count, Err: e.err}
	}
	slices.SortFunc(out, compareTopCounts)
	return out
}

func compareTopCounts(a, b TopCount) int {
	if a.Count != b.Count {
		if a.Count > b.Count {
			return -1
		}
		return 1
	}
	return a.Value.Compare(b.Value)
}

// TopCount is a value's estimated count from the frequent-items sketch: the
// true count lies in [Count-Err, Count].
type TopCount struct {
	Value Value
	Count int64
	Err   int64
}

type topKJSON struct {
	Capacity int                  `json:"capacity"`
	Items    [][3]json.RawMessage `json:"items"`
}

func (t *topK) MarshalJSON() ([]byte, error) {
	enc := topKJSON{Capacity: t.capacity, Items: make([][3]json.RawMessage, 0, len(t.entries))}
	for _, c := range t.counts() {
		v, err := c.Value.MarshalJSON()
		if err != nil {
			return nil, err
		}
		enc.Items = append(enc.Items, [3]json.RawMessage{v, jsonInt(c.Count), jsonInt(c.Err)})
	}
	return json.Marshal(enc)
}

func jsonInt(n int64) json.RawMessage {
	b, _ := json.Marshal(n)
	return b
}

func (t *topK) UnmarshalJSON(data []byte) error {
	var dec topKJSON
	if err := json.Unmarshal(data, &dec); err != nil {
		return err
	}
	if dec.Capacity <= 0 || dec.Capacity > 1<<20 || len(dec.Items) > dec.Capacity {
		return fmt.Errorf("%w: frequent items with capacity %d and %d items", ErrBadProfileFormat, dec.Capacity, len(dec.Items))
	}
	all := make([]topEntry, 0, len(dec.Items))
	for _, item := range dec.Items {
		var v Value
		var e topEntry
		if err := json.Unmarshal(item[0], &v); err != nil {
			return err
		}
		if json.Unmarshal(item[1], &e.count) != nil || json.Unmarshal(item[2], &e.err) != nil || e.err > e.count || e.err < 0 {
			return fmt.Errorf("%w: frequent item count", ErrBadProfileFormat)
		}
		e.kind, e.num, e.key, e.hash = v.Kind, v.Num, []byte(v.Str), v.Hash()
		all = append(all, e)
	}
	*t = topK{capacity: dec.Capacity}
	t.rebuild(all)
	return nil
}
