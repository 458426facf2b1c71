package drift

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/mlship/mlship/internal/dataset"
)

// side is what the tests need from one side of a column, whether it comes
// from data in memory or from a profile.
type side struct {
	n       int64   // values left after dropping missing and infinite ones
	numbers *sample // numerical columns
	// counts lists distinct values with their counts, sorted by value; other
	// is the weight of values a sketch could not name (0 when exact).
	counts   func() ([]dataset.ValueCount, int64)
	min, max float64
	std      float64
	integer  bool // pandas would hold it as int64: integer type, no missing values
	approx   bool // numbers come from a compacted sketch
	summary  Summary
	// texts are a text column's values in row order (or a sample of them:
	// approx), for text content drift.
	texts []string
}

// pair is one column on both sides.
type pair struct {
	name        string
	typ         dataset.Type
	kind        dataset.Kind
	ref, cur    *side
	distinct    int64 // distinct values of reference and current together
	refDistinct int64
	approx      bool // the distinct counts are estimates
}

// pairBuilder makes the pair of the named column, or says why it is skipped.
type pairBuilder func(name string, kind dataset.Kind) (p *pair, skip error)

type job struct {
	name string
	kind dataset.Kind
}

// run compares the columns on o.Workers goroutines and assembles the report.
func run(ctx context.Context, o Options, jobs []job, skipped []SkippedColumn, build pairBuilder) (*Report, error) {
	results := make([]*ColumnResult, len(jobs))
	skips := make([]error, len(jobs))
	errs := make([]error, len(jobs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(o.Workers, max(len(jobs), 1)) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(jobs); i = int(next.Add(1) - 1) {
				if ctx.Err() != nil {
					errs[i] = ctx.Err()
					continue
				}
				results[i], skips[i], errs[i] = compareColumn(o, jobs[i], build)
			}
		})
	}
	wg.Wait()
	r := &Report{DriftShare: o.DriftShare, Skipped: skipped}
	for i, j := range jobs {
		switch {
		case errs[i] != nil:
			return nil, errs[i]
		case skips[i] != nil:
			r.Skipped = append(r.Skipped, SkippedColumn{Name: j.name, Reason: skips[i].Error()})
		default:
			r.Results = append(r.Results, *results[i])
		}
	}
	r.finish()
	return r, nil
}

func compareColumn(o Options, j job, build pairBuilder) (*ColumnResult, error, error) {
	m := o.methodFor(j.name, j.kind)
	if m != "" && !m.allows(j.kind) {
		return nil, nil, fmt.Errorf("%w: %s on %s column %q", ErrMethodKind, m, j.kind, j.name)
	}
	p, skip := build(j.name, j.kind)
	if skip != nil {
		return nil, skip, nil
	}
	if m == "" {
		m = DefaultMethod(p.kind, p.ref.n, p.distinct)
	}
	threshold := o.thresholdFor(j.name, j.kind, m)
	res, skip := p.test(m, threshold)
	if skip != nil {
		return nil, skip, nil
	}
	res.Threshold = threshold
	res.Drifted = m.Drifted(res.Score.V, threshold)
	if m == MethodTextPerc {
		res.Drifted = m.Drifted(res.Score.V, res.Statistic.V)
	}
	res.Histogram = p.histogram()
	return res, nil, nil
}

// test computes the method's score on the pair; text drift can find the
// texts unfit for its classifier (skip).
func (p *pair) test(m Method, threshold float64) (res *ColumnResult, skip error) {
	res = &ColumnResult{
		Name: p.name, Type: p.typ, Kind: p.kind, Method: m, MethodName: m.DisplayName(), ScoreIsPValue: m.IsPValue(),
		Reference: p.ref.summary, Current: p.cur.summary,
	}
	var score, stat float64
	approx := p.approx
	switch m {
	case MethodTextAbs, MethodTextPerc:
		var err error
		score, stat, err = textDrift(p.ref.texts, p.cur.texts, m == MethodTextPerc, threshold)
		if err != nil {
			return nil, err
		}
		approx = p.ref.approx || p.cur.approx
	case MethodKS:
		score, stat = ksPValue(ksStatistic(*p.ref.numbers, *p.cur.numbers), p.ref.n, p.cur.n)
		approx = p.ref.approx || p.cur.approx
	case MethodWasserstein:
		score = wasserstein(*p.ref.numbers, *p.cur.numbers) / math.Max(p.ref.std, 0.001)
		stat, approx = score, p.ref.approx || p.cur.approx
	case MethodChiSquare, MethodZ:
		keys, ref, cur, sketched := p.alignedCounts()
		if m == MethodZ {
			stat, score = zTest(keys, ref, cur, p.ref.n, p.cur.n)
		} else {
			stat, score = chiSquare(ref, cur, p.ref.n, p.cur.n)
		}
		approx = approx || sketched
	default:
		ref, cur, sketched := p.shares()
		switch m {
		case MethodJensenShannon:
			score = jensenShannon(ref, cur)
		case MethodPSI:
			score = psi(fillZeros(ref), fillZeros(cur))
		default:
			score = klDiv(fillZeros(ref), fillZeros(cur))
		}
		stat, approx = score, approx || sketched
	}
	res.Score, res.Statistic, res.Approximate = num(score), num(stat), approx
	return res, nil
}

// binned reports whether JS, PSI and KL bin the values (numerical columns
// whose reference has more than 20 distinct values) rather than compare the
// share of each value (Evidently's get_binned_data).
func (p *pair) binned() bool {
	return p.kind == dataset.KindNumerical && p.refDistinct > 20
}

// shares returns the two sides' shares per bin or per value.
func (p *pair) shares() (ref, cur []float64, sketched bool) {
	if p.binned() {
		edges := p.sturges()
		ref = p.ref.numbers.binCounts(edges)
		cur = p.cur.numbers.binCounts(edges)
		sketched = p.ref.approx || p.cur.approx
	} else {
		_, ref, cur, sketched = p.alignedCounts()
	}
	scale(ref, 1/float64(p.ref.n))
	scale(cur, 1/float64(p.cur.n))
	return ref, cur, sketched
}

// sturges returns numpy's Sturges bin edges over both sides' values.
func (p *pair) sturges() []float64 {
	lo, hi := math.Min(p.ref.min, p.cur.min), math.Max(p.ref.max, p.cur.max)
	return sturgesEdges(lo, hi, p.ref.n+p.cur.n, p.ref.integer && p.cur.integer)
}

func scale(xs []float64, f float64) {
	for i := range xs {
		xs[i] *= f
	}
}

// alignedCounts returns the union of both sides' values, sorted, with each
// side's count. Values a sketch could not name share one last bucket.
func (p *pair) alignedCounts() (keys []dataset.Value, ref, cur []float64, sketched bool) {
	rc, rOther := p.ref.counts()
	cc, cOther := p.cur.counts()
	i, j := 0, 0
	for i < len(rc) || j < len(cc) {
		var c int
		switch {
		case i == len(rc):
			c = 1
		case j == len(cc):
			c = -1
		default:
			c = rc[i].Value.Compare(cc[j].Value)
		}
		var r, q float64
		switch {
		case c < 0:
			keys, r = append(keys, rc[i].Value), float64(rc[i].Count)
			i++
		case c > 0:
			keys, q = append(keys, cc[j].Value), float64(cc[j].Count)
			j++
		default:
			keys, r, q = append(keys, rc[i].Value), float64(rc[i].Count), float64(cc[j].Count)
			i, j = i+1, j+1
		}
		ref, cur = append(ref, r), append(cur, q)
	}
	if rOther > 0 || cOther > 0 {
		keys = append(keys, dataset.StringValue(otherLabel))
		ref, cur = append(ref, float64(rOther)), append(cur, float64(cOther))
		sketched = true
	}
	return keys, ref, cur, sketched
}

const otherLabel = "(other values)"

// histogram returns the bins the report draws.
func (p *pair) histogram() Histogram {
	if p.kind == dataset.KindNumerical && p.ref.numbers != nil && p.cur.numbers != nil {
		edges := p.sturges()
		if len(edges) > maxHistogramBins+1 {
			edges = linspace(edges[0], edges[len(edges)-1], maxHistogramBins+1)
		}
		ref, cur := p.ref.numbers.binCounts(edges), p.cur.numbers.binCounts(edges)
		scale(ref, 1/float64(p.ref.n))
		scale(cur, 1/float64(p.cur.n))
		return Histogram{Edges: edges, Reference: ref, Current: cur}
	}
	keys, ref, cur, _ := p.alignedCounts()
	scale(ref, 1/float64(p.ref.n))
	scale(cur, 1/float64(p.cur.n))
	return topCategories(keys, ref, cur)
}

const (
	maxHistogramBins = 50
	maxCategoryBars  = 20
)

// topCategories keeps the categories with the largest combined share and
// folds the rest into one bar.
func topCategories(keys []dataset.Value, ref, cur []float64) Histogram {
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		sa, sb := ref[a]+cur[a], ref[b]+cur[b]
		switch {
		case sa > sb:
			return -1
		case sa < sb:
			return 1
		}
		return 0
	})
	h := Histogram{}
	var restRef, restCur float64
	for rank, i := range order {
		if rank >= maxCategoryBars {
			restRef, restCur = restRef+ref[i], restCur+cur[i]
			continue
		}
		h.Labels = append(h.Labels, keys[i].String())
		h.Reference, h.Current = append(h.Reference, ref[i]), append(h.Current, cur[i])
	}
	if len(order) > maxCategoryBars {
		h.Labels = append(h.Labels, otherLabel)
		h.Reference, h.Current = append(h.Reference, restRef), append(h.Current, restCur)
	}
	return h
}

// matchBooleans lets a boolean column on one side meet 0/1 numbers on the
// other (a feature logged as true/false in training and sent as 0/1 in
// requests): the other side's 0 and 1 count as False and True.
func matchBooleans(p *pair, refType, curType dataset.Type) {
	switch {
	case refType == curType:
	case refType == dataset.TypeBoolean:
		p.cur.counts = boolCounts(p.cur.counts)
	case curType == dataset.TypeBoolean:
		p.ref.counts = boolCounts(p.ref.counts)
	}
}

func boolCounts(inner func() ([]dataset.ValueCount, int64)) func() ([]dataset.ValueCount, int64) {
	return func() ([]dataset.ValueCount, int64) {
		counts, other := inner()
		out := make([]dataset.ValueCount, len(counts))
		for i, vc := range counts {
			if vc.Value.Kind == dataset.ValueNumber && (vc.Value.Num == 0 || vc.Value.Num == 1) {
				vc.Value = dataset.BoolValue(vc.Value.Num == 1)
			}
			out[i] = vc
		}
		sortCounts(out)
		return out, other
	}
}
