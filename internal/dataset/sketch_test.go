package dataset

import (
	"encoding/binary"
	"encoding/json"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/cespare/xxhash/v2"
)

func TestKLLIsExactWhileSmall(t *testing.T) {
	s := NewKLL(0)
	vals := []float64{5, 1, 4, 2, 3}
	s.UpdateMany(vals)
	if !s.Exact() || s.N() != 5 {
		t.Fatalf("exact=%v n=%d", s.Exact(), s.N())
	}
	if q := s.Quantiles([]float64{0, 0.2, 0.5, 1}); !slices.Equal(q, []float64{1, 1, 3, 5}) {
		t.Errorf("quantiles = %v", q)
	}
	if c := s.CDF(3); c != 0.6 {
		t.Errorf("CDF(3) = %v", c)
	}
}

// TestKLLRankError measures the sketch's rank error against the exact ranks;
// docs/drift.md quotes the result.
func TestKLLRankError(t *testing.T) {
	n := 200_000
	if testing.Short() {
		n = 50_000
	}
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([]float64, n)
	for i := range vals {
		vals[i] = rng.NormFloat64()
	}
	s := NewKLL(DefaultKLLK)
	s.UpdateMany(vals)
	sorted := slices.Clone(vals)
	slices.Sort(sorted)
	worst := 0.0
	for i := 1; i < 100; i++ {
		x := sorted[i*n/100]
		exact := float64(sort.SearchFloat64s(sorted, math.Nextafter(x, math.Inf(1)))) / float64(n)
		worst = math.Max(worst, math.Abs(s.CDF(x)-exact))
	}
	t.Logf("k=%d, n=%d: %d values held, largest rank error %.4f", DefaultKLLK, n, len(mustSorted(s)), worst)
	if worst > 0.006 {
		t.Errorf("rank error %v exceeds 0.6%%", worst)
	}
}

func mustSorted(s *KLL) []float64 {
	v, _ := s.Sorted()
	return v
}

func TestKLLIsDeterministicAndRoundTrips(t *testing.T) {
	build := func() *KLL {
		s := NewKLL(200)
		for i := range 100_000 {
			s.Update(float64((i * 7919) % 100_003))
		}
		return s
	}
	a, b := build(), build()
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Fatal("the same stream gave two different sketches")
	}
	var c KLL
	if err := json.Unmarshal(ja, &c); err != nil {
		t.Fatal(err)
	}
	if c.N() != a.N() || c.Quantile(0.5) != a.Quantile(0.5) {
		t.Errorf("round trip changed the sketch")
	}
	c.Merge(a)
	if c.N() != 2*a.N() || math.Abs(c.Quantile(0.5)-a.Quantile(0.5)) > 2000 {
		t.Errorf("merged n=%d median %v vs %v", c.N(), c.Quantile(0.5), a.Quantile(0.5))
	}
	var bad KLL
	if err := json.Unmarshal([]byte(`{"k":200,"n":5,"levels":["AAAAAAAA8D8="]}`), &bad); err == nil {
		t.Error("accepted a sketch whose weights do not add up")
	}
}

func TestHLLEstimates(t *testing.T) {
	for _, n := range []int{1, 100, 10_000, 200_000} {
		h := NewHLL()
		for i := range n {
			h.Add(NumberValue(float64(i)).Hash())
		}
		if rel := math.Abs(h.Estimate()-float64(n)) / float64(n); rel > 0.05 {
			t.Errorf("n=%d: estimate %v", n, h.Estimate())
		}
	}
	a, b := NewHLL(), NewHLL()
	for i := range 50_000 {
		a.Add(StringValue(string(rune(i))).Hash())
		b.Add(StringValue(string(rune(i + 25_000))).Hash())
	}
	a.Merge(b)
	if rel := math.Abs(a.Estimate()-75_000) / 75_000; rel > 0.05 {
		t.Errorf("merged estimate %v, want about 75000", a.Estimate())
	}
}

func TestTopKFindsHeavyHitters(t *testing.T) {
	tk := newTopK(64)
	rng := rand.New(rand.NewPCG(3, 4))
	truth := map[int]int64{}
	for range 100_000 {
		v := rng.IntN(10) // heavy
		if rng.IntN(2) == 0 {
			v = 10 + rng.IntN(50_000) // long tail
		}
		truth[v]++
		key := []byte{byte(v), byte(v >> 8), byte(v >> 16)}
		tk.add(ValueString, 0, key, hashBytes(key), 1)
	}
	counts := tk.counts()
	for i := range 10 {
		c := counts[i]
		v := int(c.Value.Str[0]) | int(c.Value.Str[1])<<8 | int(c.Value.Str[2])<<16
		if v >= 10 || c.Count < truth[v] || c.Count-c.Err > truth[v] {
			t.Errorf("rank %d: value %d count %d±%d, true %d", i, v, c.Count, c.Err, truth[v])
		}
	}
}

func TestValueCounterSwitchesToSketches(t *testing.T) {
	c := newValueCounter(100, 32)
	for i := range 1000 {
		c.addString([]byte{byte(i % 7)})
		c.addNumber(float64(i))
	}
	if c.exact() || c.top == nil {
		t.Fatal("still exact past the limit")
	}
	if d := c.distinct(); math.Abs(float64(d)-1007) > 50 {
		t.Errorf("distinct = %d, want about 1007", d)
	}
	small := newValueCounter(100, 32)
	small.addBool(true)
	small.addBool(true)
	small.addNumber(-0.0)
	small.addNumber(0)
	counts := small.exactCounts()
	if len(counts) != 2 || counts[0].Value != NumberValue(0) || counts[0].Count != 2 || counts[1].Count != 2 {
		t.Errorf("counts = %+v", counts)
	}
}

func TestSortFloats(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	for _, n := range []int{0, 5, 127, 128, 1000, 5000} {
		xs := make([]float64, n)
		for i := range xs {
			switch rng.IntN(5) {
			case 0:
				xs[i] = rng.NormFloat64() * 1e-300
			case 1:
				xs[i] = float64(rng.IntN(5) - 2)
			case 2: // equal in their upper 32 bits, unequal below
				xs[i] = 1 + rng.Float64()*1e-9
			default:
				xs[i] = rng.NormFloat64() * 1e6
			}
		}
		want := slices.Clone(xs)
		slices.Sort(want)
		sortFloats(xs, nil)
		if !slices.Equal(xs, want) {
			t.Fatalf("n=%d: not sorted", n)
		}
	}
}

// TestHashNumberIsXXHash: the hashes of numbers are stored in profiles (the
// HyperLogLog registers), so the hand-written hash must stay xxHash64 of the
// tagged encoding.
func TestHashNumberIsXXHash(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 2))
	values := []float64{0, math.Copysign(0, -1), 1, -1, math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(1)}
	for range 1000 {
		values = append(values, rng.NormFloat64()*math.Pow(10, float64(rng.IntN(40)-20)))
	}
	for _, kind := range []ValueKind{ValueNumber, ValueBool} {
		for _, v := range values {
			var buf [9]byte
			buf[0] = 'n'
			if kind == ValueBool {
				buf[0] = 'b'
			}
			binary.LittleEndian.PutUint64(buf[1:], math.Float64bits(canonicalZero(v)))
			if got, want := hashNumber(kind, v), xxhash.Sum64(buf[:]); got != want {
				t.Fatalf("hashNumber(%v, %v) = %#x, want %#x", kind, v, got, want)
			}
		}
	}
}

func TestMinMaxFiniteMatchMath(t *testing.T) {
	negZero := math.Copysign(0, -1)
	values := []float64{negZero, 0, 1, -1, math.Inf(1), math.Inf(-1), 1e-300, -1e-300}
	for _, x := range values {
		for _, y := range values {
			if got, want := minFinite(x, y), math.Min(x, y); math.Float64bits(got) != math.Float64bits(want) {
				t.Errorf("minFinite(%v, %v) = %v, want %v", x, y, got, want)
			}
			if got, want := maxFinite(x, y), math.Max(x, y); math.Float64bits(got) != math.Float64bits(want) {
				t.Errorf("maxFinite(%v, %v) = %v, want %v", x, y, got, want)
			}
		}
	}
}

// TestExactCountsJSONMatchesEncodingJSON holds the hand-written encoder of
// exact value counts to json.Marshal, byte for byte.
func TestExactCountsJSONMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	items := []ValueCount{
		{Value: NumberValue(0), Count: 1}, {Value: NumberValue(-1.5), Count: 2}, {Value: NumberValue(1e21), Count: 3},
		{Value: NumberValue(1e-7), Count: 4}, {Value: NumberValue(-2.5e-300), Count: 5}, {Value: NumberValue(math.MaxFloat64), Count: 6},
		{Value: BoolValue(true), Count: 7}, {Value: BoolValue(false), Count: 8},
		{Value: StringValue(`a "quoted" <tag> & \ é` + "\u2028\x01"), Count: 9}, {Value: StringValue(""), Count: 10},
	}
	for range 1000 {
		items = append(items, ValueCount{Value: NumberValue(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(60)-30))), Count: rng.Int64()})
	}
	for _, n := range []int{0, 1, len(items)} {
		want, err := json.Marshal(valueCounterJSON{Exact: true, Items: items[:n]})
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendExactCountsJSON(nil, items[:n])
		if err != nil || string(got) != string(want) {
			t.Fatalf("n=%d:\n got %s, %v\nwant %s", n, got, err, want)
		}
	}
}

// TestValueCounterTalliesMatchAMap: hits of numbers already seen are tallied
// in the index and settled when the counts are read, in chunks, across a
// clone, a merge and the switch to sketches.
func TestValueCounterTalliesMatchAMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	c := newValueCounter(5000, 32)
	truth := map[float64]int64{}
	for range 200 {
		chunk := make([]float64, rng.IntN(500))
		for i := range chunk {
			chunk[i] = float64(rng.IntN(3000)-1500) / 4
			if rng.IntN(50) == 0 {
				chunk[i] = math.Copysign(0, -1)
			}
			truth[canonicalZero(chunk[i])]++
		}
		c.addNumbers(chunk)
		if rng.IntN(20) == 0 {
			c.addNumber(0.125)
			truth[0.125]++
		}
		if rng.IntN(30) == 0 {
			c = c.clone()
		}
	}
	check := func(c *valueCounter) {
		t.Helper()
		got := c.exactCounts()
		if len(got) != len(truth) {
			t.Fatalf("%d values, want %d", len(got), len(truth))
		}
		for _, vc := range got {
			if truth[vc.Value.Num] != vc.Count {
				t.Fatalf("value %v counted %d, want %d", vc.Value.Num, vc.Count, truth[vc.Value.Num])
			}
		}
	}
	check(c)
	c.addNumbers([]float64{1, 2, 3})
	truth[1]++
	truth[2]++
	truth[3]++
	m := newValueCounter(5000, 32)
	m.merge(c)
	check(m)
	top := c.topCounts(1)
	if len(top) != 1 || top[0].Count != slices.Max(slices.Collect(maps.Values(truth))) {
		t.Errorf("top = %+v", top)
	}
}
