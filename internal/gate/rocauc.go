package gate

import (
	"fmt"
	"math"
)

// setROCAUC computes ROC AUC on the kept rows of one group: for a binary
// classifier from the positive class's probability, for a multiclass one
// one-vs-rest, averaged as the spec says (scikit-learn's
// roc_auc_score(multi_class="ovr", labels=classes)).
func (c *Classification) setROCAUC(set *metricSet, cc *classCounts, rows rowSet) {
	switch {
	case !c.withProba:
		set.undefine(ROCAUC, noProba)
	case c.k == 2:
		auc, ok := c.classAUC(rows, c.pos, newAUCBuffers(len(rows)), cc.actual[c.pos])
		set.set(ROCAUC, nanUnless(auc, ok), oneClassPresent)
	case cc.offSimplex > 0:
		set.undefine(ROCAUC, fmt.Sprintf("the probabilities of %d rows do not sum to 1, and multiclass ROC AUC needs probabilities", cc.offSimplex))
	case c.spec.average() == AverageMicro:
		set.set(ROCAUC, c.microAUC(rows), oneClassPresent)
	default:
		c.setAveragedAUC(set, cc, rows)
	}
}

const oneClassPresent = "only one class is present in the truth"

func nanUnless(v float64, ok bool) float64 {
	if !ok {
		return math.NaN()
	}
	return v
}

// aucBuffers is the memory one group's AUCs need: room for the keys of all
// its rows, split between positives and negatives, and sorting scratch.
type aucBuffers struct{ keys, scratch []uint64 }

func newAUCBuffers(n int) *aucBuffers {
	return &aucBuffers{keys: make([]uint64, n), scratch: make([]uint64, n)}
}

// classAUC is the one-vs-rest AUC of class j, which has positives rows in
// the group: rows of class j are the positives, scored by their probability
// of j.
func (c *Classification) classAUC(rows rowSet, j int, buf *aucBuffers, positives int64) (float64, bool) {
	pos, neg := buf.keys[:0:positives], buf.keys[positives:positives]
	for _, i := range rows {
		key := scoreKey(c.score(i, j))
		if int(c.truth[i]) == j {
			pos = append(pos, key)
		} else {
			neg = append(neg, key)
		}
	}
	return rankAUC(pos, neg, buf.scratch)
}

// microAUC is one AUC over every (row, class) cell: the true class's cell
// is a positive, the others negatives.
func (c *Classification) microAUC(rows rowSet) float64 {
	pos := make([]uint64, 0, len(rows))
	neg := make([]uint64, 0, len(rows)*(c.k-1))
	for _, i := range rows {
		row := c.proba[int(i)*c.k : (int(i)+1)*c.k]
		for j, p := range row {
			if j == int(c.truth[i]) {
				pos = append(pos, scoreKey(p))
			} else {
				neg = append(neg, scoreKey(p))
			}
		}
	}
	auc, ok := rankAUC(pos, neg, make([]uint64, len(neg)))
	return nanUnless(auc, ok)
}

// setAveragedAUC averages the classes' one-vs-rest AUCs. A class absent from
// the truth has no AUC: the macro average is then undefined, while the
// weighted one gives it weight zero, as scikit-learn does.
func (c *Classification) setAveragedAUC(set *metricSet, cc *classCounts, rows rowSet) {
	buf := newAUCBuffers(len(rows))
	macro := c.spec.average() == AverageMacro
	var s, ws float64
	for j := range c.k {
		w := float64(cc.actual[j])
		if w == 0 && !macro {
			continue
		}
		auc, ok := c.classAUC(rows, j, buf, cc.actual[j])
		if !ok {
			set.undefine(ROCAUC, c.undefinedClassAUC(j, w))
			return
		}
		if macro {
			w = 1
		}
		s += auc * w
		ws += w
	}
	set.set(ROCAUC, s/ws, "")
}

func (c *Classification) undefinedClassAUC(j int, support float64) string {
	if support == 0 {
		return fmt.Sprintf("class %q does not occur in the truth, so its one-vs-rest ROC AUC and their macro average are not defined", c.spec.Classes[j])
	}
	return oneClassPresent
}
