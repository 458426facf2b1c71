package drift

import (
	"context"

	"github.com/mlship/mlship/internal/dataset"
)

// CompareProfiles tests every column of the ref profile against the same
// column of cur with the same selection, methods and thresholds as Compare,
// computing each score from the sketches:
//
//   - ks and wasserstein from the two quantile sketches, each read as a
//     weighted sample of its data (exact while the sketch holds every value,
//     up to about 1,000 values with the default sketch);
//   - chisquare, z, and per-value Jensen-Shannon, PSI and KL from the exact
//     value counts (kept up to 10,000 distinct values; beyond that, the
//     frequent-items sketch plus one bucket for the rest);
//   - binned Jensen-Shannon, PSI and KL from the quantile sketches over
//     numpy's Sturges edges, computed from the exact minimum, maximum and
//     count;
//   - the reference's standard deviation and the counts that drive the
//     default selection are exact, except distinct counts beyond 10,000
//     values, which are HyperLogLog estimates.
//
// Results computed from a compacted sketch are marked Approximate.
func CompareProfiles(ctx context.Context, ref, cur *dataset.Profile, opts *Options) (*Report, error) {
	build := func(name string, kind dataset.Kind) (*pair, error) {
		return profilePair(ref.Column(name), cur.Column(name), kind)
	}
	return compare(ctx, opts, ref.Schema(), cur.Schema(), build, "profiles", ref.Rows, cur.Rows)
}

func profilePair(ref, cur *dataset.ColumnProfile, kind dataset.Kind) (*pair, error) {
	if cur == nil {
		return nil, errMissingCurrent
	}
	kind = booleanKind(kind, ref.Type, cur.Type)
	p := &pair{name: ref.Name, typ: ref.Type, kind: kind}
	if kind == dataset.KindNumerical && (!ref.Numeric() || !cur.Numeric()) {
		return nil, errNotNumeric
	}
	if kind == dataset.KindText && (ref.Type != dataset.TypeString || cur.Type != dataset.TypeString) {
		return nil, errNotText
	}
	p.ref, p.cur = profileSide(ref, kind), profileSide(cur, kind)
	if p.ref.n == 0 || p.cur.n == 0 {
		return nil, errEmptyColumn
	}
	if kind == dataset.KindText {
		p.ref.texts, p.ref.approx = profileTexts(ref)
		p.cur.texts, p.cur.approx = profileTexts(cur)
		if p.ref.texts == nil || p.cur.texts == nil {
			return nil, errNoTexts
		}
	}
	matchBooleans(p, ref.Type, cur.Type)
	distinct, exact := dataset.DistinctUnion(ref, cur)
	if exact && ref.Type != cur.Type {
		keys, _, _, _ := p.alignedCounts() // booleans may have met 0 and 1
		distinct = int64(len(keys))
	}
	p.distinct, p.approx = distinct, !exact
	p.refDistinct, _ = ref.Distinct()
	return p, nil
}

func profileSide(c *dataset.ColumnProfile, kind dataset.Kind) *side {
	sd := &side{n: c.Count - c.Infinite}
	sd.counts = func() ([]dataset.ValueCount, int64) { return profileCounts(c, sd.n) }
	distinct, _ := c.Distinct()
	sd.summary = Summary{Count: c.Count, Missing: c.Nulls, Distinct: distinct}
	if kind != dataset.KindNumerical {
		for _, t := range c.TopValues(summaryTop) {
			sd.summary.Top = append(sd.summary.Top, TopValue{Value: t.Value.String(), Count: t.Count})
		}
		return sd
	}
	kll := c.Quantiles()
	s := sketchSample(kll)
	sd.n, sd.numbers, sd.approx = c.Finite(), &s, !kll.Exact()
	sd.min, sd.max, sd.std = c.Min(), c.Max(), c.Std()
	sd.integer = c.Type == dataset.TypeInteger && c.Nulls == 0
	sd.summary.Min, sd.summary.Max = num(sd.min), num(sd.max)
	sd.summary.Mean, sd.summary.Std = num(c.Mean()), num(sd.std)
	if c.Finite() > 0 {
		for _, q := range kll.Quantiles(SummaryQuantiles) {
			sd.summary.Quantiles = append(sd.summary.Quantiles, num(q))
		}
	}
	return sd
}

// profileCounts returns the exact value counts, or the frequent items and the
// weight of everything else.
func profileCounts(c *dataset.ColumnProfile, n int64) ([]dataset.ValueCount, int64) {
	if counts, ok := c.ValueCounts(); ok {
		return counts, 0
	}
	top := c.TopValues(-1)
	counts := make([]dataset.ValueCount, 0, len(top))
	var held int64
	for _, t := range top {
		count := min(t.Count, n-held)
		if count <= 0 {
			break
		}
		counts = append(counts, dataset.ValueCount{Value: t.Value, Count: count})
		held += count
	}
	sortCounts(counts)
	return counts, n - held
}

// profileTexts returns the texts a profile kept of a column, or, where it
// kept none (a column that was not text where it was profiled, a profile
// stored before samples were kept), its exactly counted values, each
// repeated as often as it occurs, up to MaxTextRows of them. sampled is
// true unless they are every value in row order.
func profileTexts(c *dataset.ColumnProfile) (texts []string, sampled bool) {
	if texts, complete := c.Texts(); len(texts) > 0 {
		return texts, !complete
	}
	counts, ok := c.ValueCounts()
	if !ok {
		return nil, true
	}
	var total int64
	for _, vc := range counts {
		total += vc.Count
	}
	if total > MaxTextRows {
		return nil, true
	}
	for _, vc := range counts {
		for range vc.Count {
			texts = append(texts, vc.Value.String())
		}
	}
	return texts, true
}
