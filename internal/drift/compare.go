package drift

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/mlship/mlship/internal/dataset"
)

// Compare tests every column of ref against the same column of cur, exactly:
// each score is what Evidently's DataDriftPreset and scipy compute on the
// same data. Missing and infinite values are dropped first, as Evidently
// does. Columns are compared in parallel.
//
// Text columns and columns without values are skipped unless Options.Kinds
// says otherwise, as are columns that current lacks or that have no values
// left on either side; the report lists them with the reason.
func Compare(ctx context.Context, ref, cur *dataset.Table, opts *Options) (*Report, error) {
	build := func(name string, kind dataset.Kind) (*pair, error) {
		return tablePair(ref.Column(name), cur.Column(name), kind)
	}
	return compare(ctx, opts, ref.Schema(), cur.Schema(), build, "datasets", int64(ref.Rows), int64(cur.Rows))
}

// compare runs the comparison of the columns of the reference that opts
// selects, each pair of columns made by build; Compare and CompareProfiles
// differ only in build.
func compare(ctx context.Context, opts *Options, refSchema, curSchema dataset.Schema, build func(string, dataset.Kind) (*pair, error),
	source string, refRows, curRows int64) (*Report, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	jobs, skipped, err := planJobs(o, refSchema, curSchema)
	if err != nil {
		return nil, err
	}
	r, err := run(ctx, o, jobs, skipped, build)
	if err != nil {
		return nil, err
	}
	r.Source, r.ReferenceRows, r.CurrentRows = source, refRows, curRows
	return r, nil
}

// planJobs picks the columns of the reference to compare and their kinds.
func planJobs(o Options, ref, cur dataset.Schema) ([]job, []SkippedColumn, error) {
	names := o.Columns
	if names == nil {
		for _, f := range ref.Fields {
			names = append(names, f.Name)
		}
	}
	var jobs []job
	var skipped []SkippedColumn
	for _, name := range names {
		f, ok := ref.Field(name)
		if !ok {
			return nil, nil, fmt.Errorf("%w: %q is not in the reference data", ErrUnknownColumn, name)
		}
		kind, side := o.kindOf(name, f, cur)
		switch kind {
		case dataset.KindNumerical, dataset.KindCategorical, dataset.KindText:
			jobs = append(jobs, job{name: name, kind: kind})
		default:
			skipped = append(skipped, SkippedColumn{Name: name, Reason: unknownReason(f, cur, side)})
		}
	}
	return jobs, skipped, nil
}

// unknownReason says why a column's kind is unknown on the side it was
// inferred on.
func unknownReason(ref dataset.Field, cur dataset.Schema, side string) string {
	f := ref
	switch side {
	case "":
		return "its kind is set to unknown"
	case "current":
		f, _ = cur.Field(ref.Name)
	}
	if f.Type == dataset.TypeBoolean {
		return "booleans with missing values in the " + side + " data: unknown kind, as in Evidently (set its kind to categorical to compare it)"
	}
	return "no values in the " + side + " data"
}

func tablePair(ref, cur *dataset.Column, kind dataset.Kind) (*pair, error) {
	if cur == nil {
		return nil, errMissingCurrent
	}
	kind = booleanKind(kind, ref.Type, cur.Type)
	p := &pair{name: ref.Name, typ: ref.Type, kind: kind}
	if kind == dataset.KindNumerical {
		if !numericType(ref.Type) || !numericType(cur.Type) {
			return nil, errNotNumeric
		}
		p.ref, p.cur = numericSide(ref), numericSide(cur)
		if p.ref.n == 0 || p.cur.n == 0 {
			return nil, errEmptyColumn
		}
		p.distinct, p.refDistinct = unionDistinct(*p.ref.numbers, *p.cur.numbers), runs(*p.ref.numbers)
		return p, nil
	}
	if kind == dataset.KindText && (ref.Type != dataset.TypeString || cur.Type != dataset.TypeString) {
		return nil, errNotText
	}
	p.ref, p.cur = categoricalSide(ref), categoricalSide(cur)
	if p.ref.n == 0 || p.cur.n == 0 {
		return nil, errEmptyColumn
	}
	if kind == dataset.KindText {
		p.ref.texts, p.ref.approx = textSample(ref.Strings, ref.Missing)
		p.cur.texts, p.cur.approx = textSample(cur.Strings, cur.Missing)
	}
	matchBooleans(p, ref.Type, cur.Type)
	rc, _ := p.ref.counts()
	keys, _, _, _ := p.alignedCounts()
	p.distinct, p.refDistinct = int64(len(keys)), int64(len(rc))
	return p, nil
}

// MaxTextRows bounds the texts of each side the text drift classifier
// reads; beyond it, a seeded sample of that many, in row order, stands for
// the column and the result is marked approximate.
const MaxTextRows = 20_000

// textSample returns the non-missing values in row order, or a seeded
// sample of MaxTextRows of them.
func textSample(values []string, missing []bool) (texts []string, sampled bool) {
	for i, s := range values {
		if missing == nil || !missing[i] {
			texts = append(texts, s)
		}
	}
	if len(texts) <= MaxTextRows {
		return texts, false
	}
	keep := newMT19937(42).permutation(len(texts))[:MaxTextRows]
	slices.Sort(keep)
	out := make([]string, len(keep))
	for i, k := range keep {
		out[i] = texts[k]
	}
	return out, true
}

// booleanKind compares a column numerical on one side and boolean on the
// other (0/1 numbers meeting True/False) value by value, as categorical;
// Evidently, for which booleans are numbers, finds the same two values.
func booleanKind(kind dataset.Kind, ref, cur dataset.Type) dataset.Kind {
	if kind == dataset.KindNumerical && (ref == dataset.TypeBoolean) != (cur == dataset.TypeBoolean) {
		return dataset.KindCategorical
	}
	return kind
}

func numericType(t dataset.Type) bool { return t == dataset.TypeInteger || t == dataset.TypeFloat }

func numericSide(c *dataset.Column) *side {
	s := exactSample(c.Floats)
	sd := &side{n: s.n, numbers: &s, integer: c.Type == dataset.TypeInteger && !c.Nullable}
	if s.n > 0 {
		sd.min, sd.max = s.values[0], s.values[len(s.values)-1]
	}
	sd.counts = func() ([]dataset.ValueCount, int64) { return s.runLengths(), 0 }
	sd.summary = numericSummary(c, s)
	sd.std = sd.summary.Std.V
	return sd
}

// categoricalSide counts the values of any column compared as categorical.
func categoricalSide(c *dataset.Column) *side {
	var counts []dataset.ValueCount
	if c.Type == dataset.TypeString {
		counts = countStrings(c.Strings, c.Missing)
	} else {
		s := exactSample(c.Floats)
		counts = s.runLengths()
		if c.Type == dataset.TypeBoolean {
			for i := range counts {
				counts[i].Value = dataset.BoolValue(counts[i].Value.Num != 0)
			}
		}
	}
	var n int64
	for _, vc := range counts {
		n += vc.Count
	}
	sd := &side{n: n, counts: func() ([]dataset.ValueCount, int64) { return counts, 0 }}
	sd.summary = Summary{Count: countNonNull(c), Distinct: int64(len(counts)), Top: topOf(counts)}
	sd.summary.Missing = int64(c.Len()) - sd.summary.Count
	return sd
}

func countStrings(values []string, missing []bool) []dataset.ValueCount {
	idx := map[string]int{}
	var counts []dataset.ValueCount
	for i, s := range values {
		if missing != nil && missing[i] {
			continue
		}
		if j, ok := idx[s]; ok {
			counts[j].Count++
			continue
		}
		idx[s] = len(counts)
		counts = append(counts, dataset.ValueCount{Value: dataset.StringValue(s), Count: 1})
	}
	slices.SortFunc(counts, func(a, b dataset.ValueCount) int { return a.Value.Compare(b.Value) })
	return counts
}

func countNonNull(c *dataset.Column) int64 {
	var n int64
	if c.Type == dataset.TypeString {
		for i := range c.Strings {
			if c.Missing == nil || !c.Missing[i] {
				n++
			}
		}
		return n
	}
	for _, v := range c.Floats {
		if !math.IsNaN(v) {
			n++
		}
	}
	return n
}

// topOf returns the most frequent values, largest first.
func topOf(counts []dataset.ValueCount) []TopValue {
	sorted := slices.Clone(counts)
	slices.SortStableFunc(sorted, func(a, b dataset.ValueCount) int {
		switch {
		case a.Count > b.Count:
			return -1
		case a.Count < b.Count:
			return 1
		}
		return 0
	})
	out := make([]TopValue, 0, min(len(sorted), summaryTop))
	for _, vc := range sorted[:min(len(sorted), summaryTop)] {
		out = append(out, TopValue{Value: vc.Value.String(), Count: vc.Count})
	}
	return out
}

const summaryTop = 10

func numericSummary(c *dataset.Column, s sample) Summary {
	sum := Summary{Count: countNonNull(c), Distinct: runs(s)}
	sum.Missing = int64(c.Len()) - sum.Count
	if s.n == 0 {
		return sum
	}
	mean := 0.0
	for _, v := range s.values {
		mean += v
	}
	mean /= float64(s.n)
	m2 := 0.0
	for _, v := range s.values {
		m2 += (v - mean) * (v - mean)
	}
	sum.Min, sum.Max = num(s.values[0]), num(s.values[len(s.values)-1])
	sum.Mean, sum.Std = num(mean), num(math.Sqrt(m2/float64(s.n)))
	for _, q := range SummaryQuantiles {
		sum.Quantiles = append(sum.Quantiles, num(linearQuantile(s.values, q)))
	}
	return sum
}

// linearQuantile is numpy.quantile's default (linear interpolation).
func linearQuantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	if lo+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	frac := pos - float64(lo)
	return sorted[lo] + frac*(sorted[lo+1]-sorted[lo])
}

// runs counts the distinct values of an unweighted sorted sample.
func runs(s sample) int64 {
	var n int64
	for i, v := range s.values {
		if i == 0 || v != s.values[i-1] {
			n++
		}
	}
	return n
}

// unionDistinct counts the distinct values of two sorted samples together.
func unionDistinct(a, b sample) int64 {
	var n int64
	i, j := 0, 0
	for i < len(a.values) || j < len(b.values) {
		x := nextValue(a, b, i, j)
		n++
		for i < len(a.values) && a.values[i] == x {
			i++
		}
		for j < len(b.values) && b.values[j] == x {
			j++
		}
	}
	return n
}

func sortCounts(counts []dataset.ValueCount) {
	slices.SortFunc(counts, func(a, b dataset.ValueCount) int { return a.Value.Compare(b.Value) })
}
