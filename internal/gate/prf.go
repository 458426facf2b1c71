package gate

import "math"

// Precision, recall and F1 as scikit-learn's precision_recall_fscore_support
// computes them. A binary classifier is scored on its positive class
// (average="binary"). A multiclass one averages over the classes that occur
// in the truth or the predictions (scikit-learn's labels=None): a class the
// benchmark never mentions does not drag a macro average down.

func (c *Classification) setPRF(set *metricSet, cc *classCounts) {
	var p, r, f float64
	switch {
	case c.k == 2:
		i := c.pos
		p, r, f = prfOne(cc.tp[i], cc.predicted[i], cc.actual[i], c.zero)
	case c.spec.average() == AverageMicro:
		// Summed over classes, the predicted and true counts are both n.
		correct := int64(0)
		for _, tp := range cc.tp {
			correct += tp
		}
		p, r, f = prfOne(correct, cc.n, cc.n, c.zero)
	default:
		p, r, f = c.averagedPRF(cc)
	}
	const why = "its denominator is zero for every class and zero_division is nan"
	set.set(Precision, p, why)
	set.set(Recall, r, why)
	set.set(F1, f, why)
}

// prfOne is one class's precision, recall and F1, each the zero-division
// value when its denominator is zero. F1 is 2·tp / (2·tp + fp + fn), which is
// how scikit-learn computes it (not from the rounded precision and recall).
func prfOne(tp, predicted, actual int64, zero float64) (p, r, f float64) {
	return divide(tp, predicted, zero), divide(tp, actual, zero), divide(2*tp, actual+predicted, zero)
}

func divide(num, den int64, zero float64) float64 {
	if den == 0 {
		return zero
	}
	return float64(num) / float64(den)
}

func (c *Classification) averagedPRF(cc *classCounts) (p, r, f float64) {
	var ps, rs, fs, weights []float64
	for i := range c.k {
		if cc.actual[i]+cc.predicted[i] == 0 {
			continue
		}
		pi, ri, fi := prfOne(cc.tp[i], cc.predicted[i], cc.actual[i], c.zero)
		ps, rs, fs = append(ps, pi), append(rs, ri), append(fs, fi)
		weights = append(weights, float64(cc.actual[i]))
	}
	if c.spec.average() == AverageMacro {
		weights = nil
	}
	return nanAverage(ps, weights), nanAverage(rs, weights), nanAverage(fs, weights)
}

// nanAverage is scikit-learn's _nanaverage: the (weighted) mean of the
// values that are not NaN, NaN when there are none, unweighted when the
// remaining weights are all zero.
func nanAverage(values, weights []float64) float64 {
	var s, ws, plain float64
	n := 0
	for i, v := range values {
		if math.IsNaN(v) {
			continue
		}
		n++
		plain += v
		if weights != nil {
			s += v * weights[i]
			ws += weights[i]
		}
	}
	switch {
	case n == 0:
		return math.NaN()
	case weights == nil || ws == 0:
		return plain / float64(n)
	}
	return s / ws
}
