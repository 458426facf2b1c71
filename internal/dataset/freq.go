package dataset

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Defaults for the value counts of a column.
const (
	DefaultExactDistinct = 10_000  // distinct values counted exactly
	DefaultTopCapacity   = 1024    // counters of the frequent-items sketch beyond that
	exactKeyBudget       = 4 << 20 // string bytes held by the exact counts of one column
)

// valueCounter counts a column's distinct values exactly while they are few
// (at most limit values and exactKeyBudget bytes of strings), then switches to
// sketches: HyperLogLog for the number of distinct values and Space-Saving for
// the most frequent ones. Columns that held only numbers at the switch keep no
// frequent items: their distribution lives in the quantile sketch.
type valueCounter struct {
	limit       int
	topCapacity int

	// exact mode
	nums     numIndex // float64 bits -> index in counts
	strs     map[string]int32
	bools    [2]int32 // index+1 in counts, 0 when absent
	counts   []ValueCount
	keyBytes int

	// sketch mode
	hll *HLL
	top *topK
}

func newValueCounter(limit, topCapacity int) *valueCounter {
	return &valueCounter{limit: limit, topCapacity: topCapacity, strs: map[string]int32{}}
}

func (c *valueCounter) exact() bool { return c.hll == nil }

func (c *valueCounter) addNumber(v float64) {
	v = canonicalZero(v)
	if c.exact() {
		bits := math.Float64bits(v)
		if i := c.nums.find(bits); i >= 0 {
			c.counts[i].Count++
			return
		}
		c.nums.insert(bits, int32(len(c.counts)))
		c.counts = append(c.counts, ValueCount{Value: NumberValue(v), Count: 1})
		c.checkLimit()
		return
	}
	h := hashNumber(ValueNumber, v)
	c.hll.Add(h)
	if c.top != nil {
		c.top.add(ValueNumber, v, nil, h, 1)
	}
}

// addNumbers counts finite values, as addNumber on each.
func (c *valueCounter) addNumbers(vs []float64) {
	for len(vs) > 0 && c.exact() {
		vs = vs[c.nums.tallyAll(vs):]
		if len(vs) > 0 { // a new value
			c.addNumber(vs[0])
			vs = vs[1:]
		}
	}
	if len(vs) == 0 {
		return
	}
	if c.top != nil {
		for _, v := range vs {
			c.addNumber(v)
		}
		return
	}
	for _, v := range vs { // the common case: numbers past the exact limit
		c.hll.Add(hashNumber(ValueNumber, v))
	}
}

func (c *valueCounter) addBool(b bool) {
	idx, num := 0, 0.0
	if b {
		idx, num = 1, 1
	}
	if c.exact() {
		if c.bools[idx] == 0 {
			c.counts = append(c.counts, ValueCount{Value: BoolValue(b)})
			c.bools[idx] = int32(len(c.counts))
		}
		c.counts[c.bools[idx]-1].Count++
		c.checkLimit()
		return
	}
	h := hashNumber(ValueBool, num)
	c.hll.Add(h)
	c.ensureTop().add(ValueBool, num, nil, h, 1)
}

func (c *valueCounter) addString(s []byte) {
	if c.exact() {
		if i, ok := c.strs[string(s)]; ok {
			c.counts[i].Count++
			return
		}
		str := string(s)
		c.strs[str] = int32(len(c.counts))
		c.counts = append(c.counts, ValueCount{Value: StringValue(str), Count: 1})
		c.keyBytes += len(s)
		c.checkLimit()
		return
	}
	h := hashBytes(s)
	c.hll.Add(h)
	c.ensureTop().add(ValueString, 0, s, h, 1)
}

// settle brings the counts of numbers up to date: the hits of numbers
// already seen are tallied in the index, and added here before the counts are
// read.
func (c *valueCounter) settle() { c.nums.settle(c.counts) }

func (c *valueCounter) ensureTop() *topK {
	if c.top == nil {
		c.top = newTopK(c.topCapacity)
	}
	return c.top
}

func (c *valueCounter) checkLimit() {
	if len(c.counts) > c.limit || c.keyBytes > exactKeyBudget {
		c.toSketch()
	}
}

// toSketch moves the exact counts into the sketches.
func (c *valueCounter) toSketch() {
	c.settle()
	c.hll = NewHLL()
	onlyNumbers := true
	for _, vc := range c.counts {
		c.hll.Add(vc.Value.Hash())
		onlyNumbers = onlyNumbers && vc.Value.Kind == ValueNumber
	}
	if !onlyNumbers {
		all := make([]topEntry, len(c.counts))
		for i, vc := range c.counts {
			all[i] = topEntry{hash: vc.Value.Hash(), kind: vc.Value.Kind, num: vc.Value.Num, key: truncateKey(nil, []byte(vc.Value.Str)), count: vc.Count}
		}
		c.top = newTopK(c.topCapacity)
		c.top.rebuild(all)
	}
	c.nums, c.strs, c.counts, c.bools, c.keyBytes = numIndex{}, nil, nil, [2]int32{}, 0
}

// distinct returns the number of distinct values, exact or estimated.
func (c *valueCounter) distinct() int64 {
	if c.exact() {
		return int64(len(c.counts))
	}
	return int64(math.Round(c.hll.Estimate()))
}

// exactCounts returns every value with its count, sorted by value; nil in
// sketch mode.
func (c *valueCounter) exactCounts() []ValueCount {
	if !c.exact() {
		return nil
	}
	c.settle()
	out := slices.Clone(c.counts)
	slices.SortFunc(out, func(a, b ValueCount) int { return a.Value.Compare(b.Value) })
	return out
}

// topCounts returns up to n of the most frequent values, largest count first.
func (c *valueCounter) topCounts(n int) []TopCount {
	var all []TopCount
	if c.exact() {
		c.settle()
		all = make([]TopCount, len(c.counts))
		for i, vc := range c.counts {
			all[i] = TopCount{Value: vc.Value, Count: vc.Count}
		}
		slices.SortFunc(all, compareTopCounts)
	} else if c.top != nil {
		all = c.top.counts()
	}
	if n >= 0 && len(all) > n {
		all = all[:n]
	}
	return all
}

func (c *valueCounter) add(vc ValueCount) {
	v := vc.Value
	switch {
	case !c.exact():
		h := v.Hash()
		c.hll.Add(h)
		if v.Kind != ValueNumber || c.top != nil {
			c.ensureTop().add(v.Kind, v.Num, []byte(v.Str), h, vc.Count)
		}
	case v.Kind == ValueNumber:
		bits := math.Float64bits(v.Num)
		if i := c.nums.find(bits); i >= 0 {
			c.counts[i].Count += vc.Count
			return
		}
		c.nums.insert(bits, int32(len(c.counts)))
		c.counts = append(c.counts, vc)
		c.checkLimit()
	case v.Kind == ValueBool:
		idx := int(v.Num)
		if c.bools[idx] == 0 {
			c.counts = append(c.counts, ValueCount{Value: v})
			c.bools[idx] = int32(len(c.counts))
		}
		c.counts[c.bools[idx]-1].Count += vc.Count
		c.checkLimit()
	default:
		if i, ok := c.strs[v.Str]; ok {
			c.counts[i].Count += vc.Count
			return
		}
		c.strs[v.Str] = int32(len(c.counts))
		c.counts = append(c.counts, vc)
		c.keyBytes += len(v.Str)
		c.checkLimit()
	}
}

// merge folds o into c.
func (c *valueCounter) merge(o *valueCounter) {
	if o.exact() {
		o.settle()
		for _, vc := range o.counts {
			c.add(vc)
		}
		return
	}
	if c.exact() {
		c.toSketch()
	}
	c.hll.Merge(o.hll)
	switch {
	case o.top == nil:
	case c.top == nil:
		c.top = o.top.clone()
	default:
		c.top.merge(o.top)
	}
}

func (c *valueCounter) clone() *valueCounter {
	d := &valueCounter{limit: c.limit, topCapacity: c.topCapacity, bools: c.bools, keyBytes: c.keyBytes}
	if c.exact() {
		c.settle()
		d.counts = slices.Clone(c.counts)
		d.nums = c.nums.clone()
		d.strs = make(map[string]int32, len(c.strs))
		for k, v := range c.strs {
			d.strs[k] = v
		}
		return d
	}
	d.hll = c.hll.Clone()
	if c.top != nil {
		d.top = c.top.clone()
	}
	return d
}

type valueCounterJSON struct {
	Exact bool         `json:"exact"`
	Items []ValueCount `json:"items,omitempty"`
	HLL   *HLL         `json:"hll,omitempty"`
	Top   *topK        `json:"top,omitempty"`
}

func (c *valueCounter) MarshalJSON() ([]byte, error) {
	if c.exact() {
		return appendExactCountsJSON(nil, c.exactCounts())
	}
	return json.Marshal(valueCounterJSON{HLL: c.hll, Top: c.top})
}

// appendExactCountsJSON appends what json.Marshal writes for
// valueCounterJSON{Exact: true, Items: items}, without reflection: a column
// may hold thousands of values, and a profile is written with every upload.
func appendExactCountsJSON(b []byte, items []ValueCount) ([]byte, error) {
	b = append(b, `{"exact":true`...)
	if len(items) > 0 {
		b = append(b, `,"items":[`...)
		for i, vc := range items {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			var err error
			if b, err = appendValueJSON(b, vc.Value); err != nil {
				return nil, err
			}
			b = append(b, ',')
			b = strconv.AppendInt(b, vc.Count, 10)
			b = append(b, ']')
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

// appendValueJSON appends what json.Marshal writes for v.
func appendValueJSON(b []byte, v Value) ([]byte, error) {
	switch v.Kind {
	case ValueNumber:
		return appendFloatJSON(b, v.Num)
	case ValueBool:
		return strconv.AppendBool(b, v.Num != 0), nil
	}
	s, err := json.Marshal(v.Str)
	return append(b, s...), err
}

// appendFloatJSON appends f as encoding/json writes a float64.
func appendFloatJSON(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return json.Marshal(f) // the error
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // e-09 to e-9, as encoding/json does
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// decodeValueCounter restores a counter with the given limits.
func decodeValueCounter(data []byte, limit, topCapacity int) (*valueCounter, error) {
	var dec valueCounterJSON
	if err := json.Unmarshal(data, &dec); err != nil {
		return nil, err
	}
	c := newValueCounter(limit, topCapacity)
	if dec.Exact {
		for _, vc := range dec.Items {
			c.add(vc)
		}
		return c, nil
	}
	if dec.HLL == nil {
		return nil, fmt.Errorf("%w: value counts have neither items nor a sketch", ErrBadProfileFormat)
	}
	c.nums, c.strs = numIndex{}, nil
	c.hll, c.top = dec.HLL, dec.Top
	return c, nil
}
