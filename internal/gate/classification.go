package gate

import (
	"math"
	"reflect"
	"slices"

	"github.com/mlship/mlship/internal/fault"
)

// ClassificationBatch is a run of rows of a classifier's predictions.
// Classes are given by their index in Spec.Classes (Classification.Encode
// maps labels to indices).
type ClassificationBatch struct {
	Truth []int // each row's true class
	Pred  []int // each row's predicted class
	// Proba, optional, holds each row's class probabilities, row after row
	// (len(Truth) × len(Classes) values, the layout of a [rows, classes]
	// tensor). A binary classifier may give one value per row instead: the
	// probability of Classes[1], as scikit-learn reads a 1-D y_proba. Without
	// probabilities ROC AUC and log loss are undefined. Every batch of an
	// evaluation must agree on whether it has them.
	Proba []float64
	// Slice holds each row's value of the slice column when Spec.SliceBy is
	// set (see FormatValues).
	Slice []string
}

// Classification accumulates a classifier's predictions on a benchmark: Add
// batches in any number, Merge accumulators filled in parallel, then take the
// Result. Counts and log-loss sums are kept per slice; ROC AUC needs every
// row's probabilities, which are kept (8 bytes per class per row; one class
// for a binary classifier). An accumulator is not safe for concurrent use:
// give each goroutine its own.
type Classification struct {
	spec     Spec
	k, pos   int
	zero     float64
	index    map[string]int
	keepRows bool

	all    *classCounts
	groups groups[*classCounts]

	probaSeen  bool // whether a non-empty batch has been added
	withProba  bool // and whether it had probabilities
	truth      []int32
	proba      []float64 // len(truth) × k; for a binary classifier the positive class's only
	sliceOf    []int32   // each kept row's slice, when slicing
	expandTemp [2]float64
}

// classCounts is what precision, recall, F1, accuracy and log loss need:
// per-class counts and the sum of per-row losses.
type classCounts struct {
	n                     int64
	tp, predicted, actual []int64
	loss                  sum
	offSimplex            int64 // rows whose probabilities do not sum to 1
}

func newClassCounts(k int) *classCounts {
	return &classCounts{tp: make([]int64, k), predicted: make([]int64, k), actual: make([]int64, k)}
}

// NewClassification returns an empty accumulator for spec, which must be a
// classification spec.
func NewClassification(spec Spec) (*Classification, error) {
	if spec.Task != TaskClassification {
		return nil, fault.Invalidf("spec is for %q, not classification", spec.Task)
	}
	if err := spec.Check(); err != nil {
		return nil, err
	}
	k := len(spec.Classes)
	c := &Classification{
		spec: spec, k: k, pos: spec.positive(), zero: spec.zeroDivision(),
		index: make(map[string]int, k),
		all:   newClassCounts(k),
	}
	c.keepRows = newMetricSet(nilIfEmpty(spec.Metrics)).wanted(ROCAUC)
	c.groups = newGroups(func() *classCounts { return newClassCounts(k) })
	for i, l := range spec.Classes {
		c.index[l] = i
	}
	return c, nil
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// Encode appends to dst the class index of each label and returns it; a
// label that is not one of the classes is an error.
func (c *Classification) Encode(labels []string, dst []int) ([]int, error) {
	for i, l := range labels {
		j, ok := c.index[l]
		if !ok {
			return dst, fault.Invalidf("row %d: label %q is not one of the model's classes %q", i, l, c.spec.Classes)
		}
		dst = append(dst, j)
	}
	return dst, nil
}

// Add folds a batch in. A batch with an error is rejected whole.
func (c *Classification) Add(b ClassificationBatch) error {
	if err := c.checkBatch(b); err != nil {
		return err
	}
	ids, err := c.groups.assign(b.Slice)
	if err != nil {
		return err
	}
	if len(b.Truth) > 0 && !c.probaSeen {
		c.probaSeen, c.withProba = true, len(b.Proba) > 0
	}
	oneColumn := len(b.Proba) == len(b.Truth)
	for i, t := range b.Truth {
		row := c.row(b.Proba, i, oneColumn)
		loss, onSimplex := c.rowLoss(row, t)
		c.all.add(t, b.Pred[i], row != nil, loss, onSimplex)
		if ids != nil {
			c.groups.items[ids[i]].add(t, b.Pred[i], row != nil, loss, onSimplex)
		}
		if row != nil && c.keepRows {
			c.keep(t, row, ids, i)
		}
	}
	return nil
}

// score is the kept probability of class j for kept row i.
func (c *Classification) score(i int32, j int) float64 {
	if c.k == 2 {
		return c.proba[i] // the positive class's, the only one kept
	}
	return c.proba[int(i)*c.k+j]
}

// row returns row i's probabilities, nil without any; a one-column binary
// row p is expanded to [1-p, p], as scikit-learn does.
func (c *Classification) row(proba []float64, i int, oneColumn bool) []float64 {
	switch {
	case len(proba) == 0:
		return nil
	case oneColumn:
		p := proba[i]
		c.expandTemp = [2]float64{1 - p, p}
		return c.expandTemp[:]
	}
	return proba[i*c.k : (i+1)*c.k]
}

// logLossEps is numpy's float64 machine epsilon: scikit-learn 1.9 clips
// probabilities to [eps, 1-eps] before taking logs, and does not renormalise.
const logLossEps = 0x1p-52

func (c *Classification) rowLoss(row []float64, t int) (loss float64, onSimplex bool) {
	if row == nil {
		return 0, true
	}
	p := min(max(row[t], logLossEps), 1-logLossEps)
	return -math.Log(p), c.k == 2 || sumsToOne(row)
}

// sumsToOne is numpy.allclose(1, sum(row)), the test scikit-learn's
// multiclass ROC AUC applies to each row.
func sumsToOne(row []float64) bool {
	s := 0.0
	for _, p := range row {
		s += p
	}
	return math.Abs(1-s) <= 1e-8+1e-5*math.Abs(s)
}

func (cc *classCounts) add(t, p int, withProba bool, loss float64, onSimplex bool) {
	cc.n++
	cc.actual[t]++
	cc.predicted[p]++
	if t == p {
		cc.tp[t]++
	}
	if withProba {
		cc.loss.add(loss)
		if !onSimplex {
			cc.offSimplex++
		}
	}
}

func (c *Classification) keep(t int, row []float64, ids []int32, i int) {
	c.truth = append(c.truth, int32(t))
	if c.k == 2 {
		c.proba = append(c.proba, row[c.pos])
	} else {
		c.proba = append(c.proba, row...)
	}
	if ids != nil {
		c.sliceOf = append(c.sliceOf, ids[i])
	}
}

func (c *Classification) checkBatch(b ClassificationBatch) error {
	n := len(b.Truth)
	if len(b.Pred) != n {
		return fault.Invalidf("batch has %d true classes and %d predicted ones", n, len(b.Pred))
	}
	if err := checkSliceColumn(c.spec.SliceBy, len(b.Slice), n); err != nil {
		return err
	}
	if err := c.checkClasses(b); err != nil {
		return err
	}
	return c.checkProba(b.Proba, n)
}

func checkSliceColumn(sliceBy string, got, rows int) error {
	switch {
	case sliceBy == "" && got > 0:
		return fault.Invalidf("batch has slice values but the benchmark is not sliced")
	case sliceBy != "" && got != rows:
		return fault.Invalidf("batch has %d rows but %d values of slice column %q", rows, got, sliceBy)
	}
	return nil
}

func (c *Classification) checkClasses(b ClassificationBatch) error {
	for i, t := range b.Truth {
		if p := b.Pred[i]; uint(t) >= uint(c.k) || uint(p) >= uint(c.k) {
			return fault.Invalidf("row %d: class index (true %d, predicted %d) is not below the number of classes, %d", i, t, p, c.k)
		}
	}
	return nil
}

func (c *Classification) checkProba(proba []float64, n int) error {
	switch {
	case n == 0:
		return nil
	case len(proba) != 0 && len(proba) != n*c.k && (c.k != 2 || len(proba) != n):
		return fault.Invalidf("batch of %d rows has %d probabilities; want %d (rows × classes)", n, len(proba), n*c.k)
	case c.probaSeen && c.withProba != (len(proba) > 0):
		return fault.Invalidf("some batches have probabilities and others do not")
	}
	for i, p := range proba {
		if !(p >= 0 && p <= 1) {
			return fault.Invalidf("row %d: probability %v is not in [0, 1]", i/max(1, len(proba)/n), p)
		}
	}
	return nil
}

// Merge folds o, an accumulator made from the same Spec, into c.
func (c *Classification) Merge(o *Classification) error {
	if !reflect.DeepEqual(c.spec, o.spec) {
		return fault.Invalidf("cannot merge evaluations of different specs")
	}
	if c.probaSeen && o.probaSeen && c.withProba != o.withProba {
		return fault.Invalidf("cannot merge an evaluation with probabilities and one without")
	}
	ids, err := c.groups.assign(o.groups.names)
	if err != nil {
		return err
	}
	if !c.probaSeen {
		c.probaSeen, c.withProba = o.probaSeen, o.withProba
	}
	c.all.merge(o.all)
	for j, id := range ids {
		c.groups.items[id].merge(o.groups.items[j])
	}
	c.truth = append(c.truth, o.truth...)
	c.proba = append(c.proba, o.proba...)
	for _, id := range o.sliceOf {
		c.sliceOf = append(c.sliceOf, ids[id])
	}
	return nil
}

func (cc *classCounts) merge(o *classCounts) {
	cc.n += o.n
	for i := range cc.tp {
		cc.tp[i] += o.tp[i]
		cc.predicted[i] += o.predicted[i]
		cc.actual[i] += o.actual[i]
	}
	cc.loss.merge(o.loss)
	cc.offSimplex += o.offSimplex
}

// Result computes the metrics of every row added so far, overall and per
// slice (slices in order of their values).
func (c *Classification) Result() Result {
	rows := c.rowsBySlice()
	set := c.metricsOf(c.all, rows.all())
	r := Result{Metrics: set.metrics, Undefined: set.undefined}
	for _, id := range c.groups.sorted() {
		set := c.metricsOf(c.groups.items[id], rows.of(id))
		r.Slices = append(r.Slices, SliceResult{
			Column: c.spec.SliceBy, Value: c.groups.names[id],
			Metrics: set.metrics, Undefined: set.undefined,
		})
	}
	return r
}

func (c *Classification) metricsOf(cc *classCounts, rows rowSet) *metricSet {
	set := newMetricSet(nilIfEmpty(c.spec.Metrics))
	set.set(ExampleCount, float64(cc.n), "")
	if cc.n == 0 {
		for _, m := range MetricNames(TaskClassification, c.k)[1:] {
			set.undefine(m, "there are no rows")
		}
		return set
	}
	correct := int64(0)
	for _, tp := range cc.tp {
		correct += tp
	}
	set.set(Accuracy, float64(correct)/float64(cc.n), "")
	c.setPRF(set, cc)
	if c.k == 2 {
		c.setBinaryCounts(set, cc)
	}
	c.setLogLoss(set, cc)
	if set.wanted(ROCAUC) {
		c.setROCAUC(set, cc, rows)
	}
	return set
}

func (c *Classification) setBinaryCounts(set *metricSet, cc *classCounts) {
	tp := cc.tp[c.pos]
	fp, fn := cc.predicted[c.pos]-tp, cc.actual[c.pos]-tp
	set.set(TruePositives, float64(tp), "")
	set.set(FalsePositives, float64(fp), "")
	set.set(FalseNegatives, float64(fn), "")
	set.set(TrueNegatives, float64(cc.n-tp-fp-fn), "")
}

const noProba = "the model gave no class probabilities"

func (c *Classification) setLogLoss(set *metricSet, cc *classCounts) {
	if !c.withProba {
		set.undefine(LogLoss, noProba)
		return
	}
	set.set(LogLoss, cc.loss.value()/float64(cc.n), "")
}

// rowSet lists the indices of kept rows: all of them, or one slice's.
type rowSet []int32

// keptRows groups the kept rows' indices by slice.
type keptRows struct {
	n       int
	order   []int32 // row indices, slice after slice
	offsets []int   // slice id → start in order; one past the last at the end
}

func (c *Classification) rowsBySlice() keptRows {
	kr := keptRows{n: len(c.truth)}
	if c.sliceOf == nil {
		return kr
	}
	kr.offsets = make([]int, len(c.groups.names)+1)
	for _, id := range c.sliceOf {
		kr.offsets[id+1]++
	}
	for i := 1; i < len(kr.offsets); i++ {
		kr.offsets[i] += kr.offsets[i-1]
	}
	next := slices.Clone(kr.offsets)
	kr.order = make([]int32, len(c.sliceOf))
	for i, id := range c.sliceOf {
		kr.order[next[id]] = int32(i)
		next[id]++
	}
	return kr
}

func (kr keptRows) all() rowSet {
	rs := make(rowSet, kr.n)
	for i := range rs {
		rs[i] = int32(i)
	}
	return rs
}

func (kr keptRows) of(id int32) rowSet {
	if kr.offsets == nil {
		return nil
	}
	return kr.order[kr.offsets[id]:kr.offsets[id+1]]
}
