package gate

import (
	"math"
	"reflect"

	"github.com/mlship/mlship/internal/fault"
)

// RegressionBatch is a run of rows of a regressor's predictions.
type RegressionBatch struct {
	Truth []float64
	Pred  []float64
	// Slice holds each row's value of the slice column when Spec.SliceBy is
	// set (see FormatValues).
	Slice []string
}

// Regression accumulates a regressor's predictions on a benchmark: Add
// batches in any number, Merge accumulators filled in parallel, then take the
// Result. It keeps a few sums per slice, never the rows. An accumulator is
// not safe for concurrent use: give each goroutine its own.
type Regression struct {
	spec   Spec
	all    *regressionSums
	groups groups[*regressionSums]
}

// regressionSums is what the regression metrics need. The spread of the
// truth (R²'s denominator) is kept as Welford's running mean and sum of
// squared deviations: it is exactly zero for a constant truth, as the
// two-pass formula is in exact arithmetic.
type regressionSums struct {
	n                int64
	squared, abs     sum
	relative         sum // |error| / max(|truth|, eps), MAPE's terms
	maxError         float64
	mean, deviations float64 // of the truth
}

// NewRegression returns an empty accumulator for spec, which must be a
// regression spec.
func NewRegression(spec Spec) (*Regression, error) {
	if spec.Task != TaskRegression {
		return nil, fault.Invalidf("spec is for %q, not regression", spec.Task)
	}
	if err := spec.Check(); err != nil {
		return nil, err
	}
	return &Regression{
		spec:   spec,
		all:    &regressionSums{},
		groups: newGroups(func() *regressionSums { return &regressionSums{} }),
	}, nil
}

// Add folds a batch in. A batch with an error is rejected whole.
func (r *Regression) Add(b RegressionBatch) error {
	if err := checkRegressionBatch(r.spec, b); err != nil {
		return err
	}
	ids, err := r.groups.assign(b.Slice)
	if err != nil {
		return err
	}
	for i, y := range b.Truth {
		r.all.add(y, b.Pred[i])
		if ids != nil {
			r.groups.items[ids[i]].add(y, b.Pred[i])
		}
	}
	return nil
}

func checkRegressionBatch(spec Spec, b RegressionBatch) error {
	n := len(b.Truth)
	if len(b.Pred) != n {
		return fault.Invalidf("batch has %d true values and %d predictions", n, len(b.Pred))
	}
	if err := checkSliceColumn(spec.SliceBy, len(b.Slice), n); err != nil {
		return err
	}
	for i, y := range b.Truth {
		if p := b.Pred[i]; !isFinite(y) || !isFinite(p) {
			return fault.Invalidf("row %d: true value %v or prediction %v is not a finite number", i, y, p)
		}
	}
	return nil
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// mapeEps is numpy's float64 machine epsilon, the floor scikit-learn puts
// under |y_true| in mean_absolute_percentage_error: a zero truth with a
// nonzero error makes a huge term rather than a division by zero.
const mapeEps = 0x1p-52

func (s *regressionSums) add(y, p float64) {
	e := math.Abs(p - y)
	s.n++
	s.squared.add((y - p) * (y - p))
	s.abs.add(e)
	s.relative.add(e / max(math.Abs(y), mapeEps))
	s.maxError = max(s.maxError, e)
	d := y - s.mean
	s.mean += d / float64(s.n)
	s.deviations += d * (y - s.mean)
}

// Merge folds o, an accumulator made from the same Spec, into r.
func (r *Regression) Merge(o *Regression) error {
	if !reflect.DeepEqual(r.spec, o.spec) {
		return fault.Invalidf("cannot merge evaluations of different specs")
	}
	ids, err := r.groups.assign(o.groups.names)
	if err != nil {
		return err
	}
	r.all.merge(o.all)
	for j, id := range ids {
		r.groups.items[id].merge(o.groups.items[j])
	}
	return nil
}

// merge combines two groups' sums; the spread by Chan et al.'s formula.
func (s *regressionSums) merge(o *regressionSums) {
	if o.n == 0 {
		return
	}
	n := s.n + o.n
	d := o.mean - s.mean
	s.deviations += o.deviations + d*d*float64(s.n)*float64(o.n)/float64(n)
	s.mean += d * float64(o.n) / float64(n)
	s.n = n
	s.squared.merge(o.squared)
	s.abs.merge(o.abs)
	s.relative.merge(o.relative)
	s.maxError = max(s.maxError, o.maxError)
}

// Result computes the metrics of every row added so far, overall and per
// slice (slices in order of their values).
func (r *Regression) Result() Result {
	set := r.metricsOf(r.all)
	res := Result{Metrics: set.metrics, Undefined: set.undefined}
	for _, id := range r.groups.sorted() {
		set := r.metricsOf(r.groups.items[id])
		res.Slices = append(res.Slices, SliceResult{
			Column: r.spec.SliceBy, Value: r.groups.names[id],
			Metrics: set.metrics, Undefined: set.undefined,
		})
	}
	return res
}

func (r *Regression) metricsOf(s *regressionSums) *metricSet {
	set := newMetricSet(nilIfEmpty(r.spec.Metrics))
	set.set(ExampleCount, float64(s.n), "")
	if s.n == 0 {
		for _, m := range regressionMetrics[1:] {
			set.undefine(m, "there are no rows")
		}
		return set
	}
	n := float64(s.n)
	mse := s.squared.value() / n
	set.set(MeanAbsoluteError, s.abs.value()/n, "")
	set.set(MeanSquaredError, mse, "")
	set.set(RootMeanSquaredError, math.Sqrt(mse), "")
	set.set(MaxError, s.maxError, "")
	set.set(MeanAbsolutePercentageError, s.relative.value()/n, "")
	set.set(R2, s.r2(), "R² needs at least two rows")
	return set
}

// r2 is scikit-learn's r2_score with force_finite=True: 1 for perfect
// predictions, 0 for imperfect predictions of a constant truth, NaN below
// two rows.
func (s *regressionSums) r2() float64 {
	residual := s.squared.value()
	switch {
	case s.n < 2:
		return math.NaN()
	case residual == 0:
		return 1
	case s.deviations == 0:
		return 0
	}
	return 1 - residual/s.deviations
}
