package dataset

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// ProfileVersion is the version of the profile's JSON encoding.
const ProfileVersion = 1

// Profile describes a dataset column by column with small mergeable sketches.
// Merging the profiles of two datasets gives the profile of their
// concatenation: exactly for counts, nulls, minimum and maximum, up to
// floating-point rounding for mean and standard deviation, and within the
// sketches' error for quantiles and distinct counts.
type Profile struct {
	Rows    int64
	Columns []*ColumnProfile
}

// ColumnProfile is the profile of one column.
type ColumnProfile struct {
	Name     string
	Type     Type
	Kind     Kind
	Count    int64 // non-null values, infinities included
	Nulls    int64 // missing values (empty CSV fields, null, NaN, ...)
	Infinite int64 // +Inf and -Inf; left out of every statistic below

	// Numbers: finite values of integer and float columns.
	numbers moments
	kll     *KLL

	values *valueCounter
	flags  typeFlags
	texts  textSample // string values, for text drift
}

// Schema returns the profile's schema.
func (p *Profile) Schema() Schema {
	s := Schema{Fields: make([]Field, len(p.Columns))}
	for i, c := range p.Columns {
		s.Fields[i] = c.Field()
	}
	return s
}

// Column returns the profile of the named column, or nil.
func (p *Profile) Column(name string) *ColumnProfile {
	for _, c := range p.Columns {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Field describes the column.
func (c *ColumnProfile) Field() Field {
	return Field{Name: c.Name, Type: c.Type, Kind: c.Kind, Nullable: c.Nulls > 0}
}

// Numeric reports whether the column holds numbers (integer or float type).
func (c *ColumnProfile) Numeric() bool { return c.Type == TypeInteger || c.Type == TypeFloat }

// Finite returns the number of finite numbers the statistics describe.
func (c *ColumnProfile) Finite() int64 { return c.numbers.n }

// Min, Max and Mean describe the finite numbers; NaN when there are none.
func (c *ColumnProfile) Min() float64 { return c.numberStat(c.numbers.min) }

// Max returns the largest finite number.
func (c *ColumnProfile) Max() float64 { return c.numberStat(c.numbers.max) }

// Mean returns the mean of the finite numbers.
func (c *ColumnProfile) Mean() float64 { return c.numberStat(c.numbers.mean) }

// Std returns the population standard deviation (ddof=0, numpy's default) of
// the finite numbers.
func (c *ColumnProfile) Std() float64 { return c.numberStat(c.numbers.std()) }

// M2 returns the sum of squared deviations from the mean.
func (c *ColumnProfile) M2() float64 { return c.numberStat(c.numbers.m2) }

func (c *ColumnProfile) numberStat(v float64) float64 {
	if c.numbers.n == 0 || !c.Numeric() {
		return math.NaN()
	}
	return v
}

// Quantiles returns the quantile sketch of the finite numbers; nil for
// columns that are not numeric.
func (c *ColumnProfile) Quantiles() *KLL {
	if !c.Numeric() {
		return nil
	}
	return c.kll
}

// Distinct returns the number of distinct non-null finite values and whether
// it is exact (it is estimated with HyperLogLog beyond the exact limit).
func (c *ColumnProfile) Distinct() (n int64, exact bool) {
	return c.values.distinct(), c.values.exact()
}

// ValueCounts returns every distinct value with its count, sorted by value,
// while the column has few enough distinct values to count them exactly;
// otherwise ok is false.
func (c *ColumnProfile) ValueCounts() (counts []ValueCount, ok bool) {
	if !c.values.exact() {
		return nil, false
	}
	counts = c.values.exactCounts()
	if c.Type == TypeString {
		counts = spellOut(counts)
	}
	return counts, true
}

// spellOut turns the numbers and booleans of a string column, counted as
// values before the column met its first word, into strings, merged with
// the same strings counted since.
func spellOut(counts []ValueCount) []ValueCount {
	if !slices.ContainsFunc(counts, func(vc ValueCount) bool { return vc.Value.Kind != ValueString }) {
		return counts
	}
	byText := map[string]int{}
	var out []ValueCount
	for _, vc := range counts {
		s := vc.Value.String()
		if i, ok := byText[s]; ok {
			out[i].Count += vc.Count
			continue
		}
		byText[s] = len(out)
		out = append(out, ValueCount{Value: StringValue(s), Count: vc.Count})
	}
	slices.SortFunc(out, func(a, b ValueCount) int { return a.Value.Compare(b.Value) })
	return out
}

// TopValues returns up to n of the most frequent values, largest first
// (n < 0: all that are known). Beyond the exact limit the counts come from
// the frequent-items sketch and carry an error bound; numeric columns keep
// no frequent items there.
func (c *ColumnProfile) TopValues(n int) []TopCount { return c.values.topCounts(n) }

// Histogram returns the number of finite numbers in each bin between
// consecutive edges: bin i holds edges[i] <= x < edges[i+1], and the last bin
// also holds x == edges[len-1] (numpy.histogram's rule). Values outside the
// edges are not counted. The counts come from the quantile sketch and are
// exact while it is (see [KLL.Exact]), estimates otherwise.
func (c *ColumnProfile) Histogram(edges []float64) []float64 {
	counts := make([]float64, max(len(edges)-1, 0))
	kll := c.Quantiles()
	if kll == nil || len(counts) == 0 {
		return counts
	}
	values, weights := kll.Sorted()
	last := len(edges) - 1
	for i, v := range values {
		if v < edges[0] || v > edges[last] {
			continue
		}
		counts[BinIndex(edges, v)] += float64(weights[i])
	}
	return counts
}

// BinIndex returns the bin of x, which must lie within the edges, under
// numpy.histogram's rule: bin i holds edges[i] <= x < edges[i+1] and the last
// bin is closed on the right.
func BinIndex(edges []float64, x float64) int {
	upper := sort.Search(len(edges), func(j int) bool { return edges[j] > x })
	return min(max(upper-1, 0), len(edges)-2)
}

// clone returns an independent copy.
func (c *ColumnProfile) clone() *ColumnProfile {
	d := *c
	if c.kll != nil {
		d.kll = c.kll.Clone()
	}
	d.values = c.values.clone()
	d.texts = c.texts.clone()
	return &d
}

// settle derives the column's type and kind from what it has seen.
func (c *ColumnProfile) settle() {
	c.Type = c.flags.Type()
	distinct, _ := c.Distinct()
	c.Kind = InferKind(c.Type, c.Count, c.Nulls, distinct)
}

// Merge returns the profile of a's data followed by b's. A column missing from
// one profile counts as missing values there. Columns keep a's order, then
// b's new ones. The inputs are not modified.
func Merge(a, b *Profile) (*Profile, error) {
	out := &Profile{Rows: a.Rows + b.Rows}
	seen := make(map[string]bool, len(a.Columns))
	for _, ca := range a.Columns {
		seen[ca.Name] = true
		c := ca.clone()
		if cb := b.Column(ca.Name); cb != nil {
			if err := c.merge(cb); err != nil {
				return nil, err
			}
		} else {
			c.Nulls += b.Rows
		}
		c.settle()
		out.Columns = append(out.Columns, c)
	}
	for _, cb := range b.Columns {
		if seen[cb.Name] {
			continue
		}
		c := cb.clone()
		c.Nulls += a.Rows
		c.settle()
		out.Columns = append(out.Columns, c)
	}
	return out, nil
}

func (c *ColumnProfile) merge(o *ColumnProfile) error {
	if c.kll != nil && o.kll != nil && c.kll.K() != o.kll.K() {
		return fmt.Errorf("%w: column %q has quantile sketches with k=%d and k=%d", ErrIncompatible, c.Name, c.kll.K(), o.kll.K())
	}
	c.Count += o.Count
	c.Nulls += o.Nulls
	c.Infinite += o.Infinite
	c.flags |= o.flags
	c.numbers.merge(o.numbers)
	switch {
	case o.kll == nil:
	case c.kll == nil:
		c.kll = o.kll.Clone()
	default:
		c.kll.Merge(o.kll)
	}
	c.values.merge(o.values)
	c.texts.merge(&o.texts)
	return nil
}

// DistinctUnion returns the number of distinct values of two columns taken
// together, and whether the count is exact (both columns still count their
// values exactly and together hold few enough of them).
func DistinctUnion(a, b *ColumnProfile) (n int64, exact bool) {
	c := a.values.clone()
	c.merge(b.values)
	return c.distinct(), c.exact()
}
