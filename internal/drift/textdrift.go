package drift

import (
	"errors"
	"math"
	"slices"
	"strings"
	"unicode"
)

// Text content drift is Evidently's test for text columns
// (calculate_text_drift_score): a domain classifier learns to tell the
// reference's texts from the current's, and the data has drifted when it
// tells them apart better than chance. Every step is the one Evidently takes
// through scikit-learn, with the same seeds, so the ROC AUC and the verdict
// are Evidently's:
//
//   - the texts of both sides, reference first, are split in half at random
//     (train_test_split, test_size=0.5, random_state=42);
//   - the training half is vectorized by TF-IDF (lowercased words of two or
//     more letters or digits, English stop words dropped, words in more than
//     half of the documents dropped, sublinear term frequency, smoothed idf,
//     rows of unit length);
//   - a linear classifier is trained on it by stochastic gradient descent
//     (SGDClassifier: modified Huber loss, L1 penalty with alpha 1e-4 and
//     the cumulative truncated gradient, optimal learning rate, at most 50
//     epochs, seed 42);
//   - the score is the ROC AUC of its probabilities on the other half.
//
// abs_text_content_drift drifts when the AUC exceeds the threshold (0.55);
// perc_text_content_drift when it exceeds the given percentile (the
// threshold, 0.95) of the AUCs of 1,000 random classifiers on the same
// labels.

var (
	errTextOneSide   = errors.New("text drift: the random split left one side without texts")
	errTextNoTerms   = errors.New("text drift: no words left after dropping stop words and words in more than half of the texts")
	errTextNonFinite = errors.New("text drift: the classifier diverged")
)

// textDrift returns the domain classifier's ROC AUC and the AUC above which
// the column drifts: the threshold itself, or with bootstrap the
// threshold-th percentile of random classifiers' AUCs.
func textDrift(ref, cur []string, bootstrap bool, threshold float64) (auc, cutoff float64, err error) {
	n := len(ref) + len(cur)
	nTest := (n + 1) / 2
	perm := newMT19937(42).permutation(n)
	docs := func(idx []int) ([]string, []bool) {
		texts, labels := make([]string, len(idx)), make([]bool, len(idx))
		for i, j := range idx {
			if j < len(ref) {
				texts[i] = ref[j]
			} else {
				texts[i], labels[i] = cur[j-len(ref)], true
			}
		}
		return texts, labels
	}
	testDocs, testLabels := docs(perm[:nTest])
	trainDocs, trainLabels := docs(perm[nTest:])
	if !hasBoth(trainLabels) || !hasBoth(testLabels) {
		return math.NaN(), math.NaN(), errTextOneSide
	}
	v, err := fitTFIDF(trainDocs)
	if err != nil {
		return math.NaN(), math.NaN(), err
	}
	m, err := fitSGD(v.transformTraining(trainDocs), trainLabels, len(v.idf))
	if err != nil {
		return math.NaN(), math.NaN(), err
	}
	proba := make([]float64, len(testDocs))
	for i, d := range testDocs {
		proba[i] = m.probability(v.transformNew(d))
	}
	auc = rocAUC(testLabels, proba)
	if !bootstrap {
		return auc, threshold, nil
	}
	return auc, randomAUCPercentile(testLabels, threshold), nil
}

func hasBoth(labels []bool) bool {
	return slices.Contains(labels, true) && slices.Contains(labels, false)
}

// textRow is a sparse TF-IDF row.
type textRow struct {
	idx []int32
	val []float64
}

// tfidf is a fitted TfidfVectorizer(sublinear_tf=True, max_df=0.5,
// stop_words="english").
type tfidf struct {
	vocab map[string]int32
	idf   []float64
	// firstSeen ranks the vocabulary by first appearance in the training
	// texts: scikit-learn's training rows hold their words in that order,
	// and sums over a row must add in the same order to give the same bits.
	firstSeen []int32
	logs      logCache
}

func fitTFIDF(docs []string) (*tfidf, error) {
	df := map[string]int{}
	first := map[string]int32{}
	for _, d := range docs {
		seen := map[string]bool{}
		for _, w := range words(d) {
			if _, ok := first[w]; !ok {
				first[w] = int32(len(first))
			}
			if !seen[w] {
				seen[w] = true
				df[w]++
			}
		}
	}
	maxDocs := 0.5 * float64(len(docs))
	var terms []string
	for w, c := range df {
		if float64(c) <= maxDocs {
			terms = append(terms, w)
		}
	}
	if len(terms) == 0 {
		return nil, errTextNoTerms
	}
	slices.Sort(terms)
	v := &tfidf{vocab: make(map[string]int32, len(terms)), idf: make([]float64, len(terms)), firstSeen: make([]int32, len(terms)), logs: logCache{}}
	for i, w := range terms {
		v.vocab[w] = int32(i)
		v.firstSeen[i] = first[w]
		v.idf[i] = v.logs.log(float64(len(docs)+1)/float64(df[w]+1)) + 1
	}
	return v, nil
}

// transformTraining transforms the texts the vectorizer was fitted on, each
// row's words in order of first appearance (fit_transform's order).
func (v *tfidf) transformTraining(docs []string) []textRow {
	rows := make([]textRow, len(docs))
	for i, d := range docs {
		rows[i] = v.transform(d, func(a, b int32) int { return int(v.firstSeen[a] - v.firstSeen[b]) })
	}
	return rows
}

// transformNew transforms other texts, each row's words in vocabulary
// order (transform's order).
func (v *tfidf) transformNew(doc string) textRow {
	return v.transform(doc, func(a, b int32) int { return int(a - b) })
}

// transform counts the known words of doc and weighs them: (1 + ln count)
// times the idf, the row scaled to unit length.
func (v *tfidf) transform(doc string, order func(a, b int32) int) textRow {
	counts := map[int32]int{}
	for _, w := range words(doc) {
		if j, ok := v.vocab[w]; ok {
			counts[j]++
		}
	}
	r := textRow{idx: make([]int32, 0, len(counts)), val: make([]float64, 0, len(counts))}
	for j := range counts {
		r.idx = append(r.idx, j)
	}
	slices.SortFunc(r.idx, order)
	sum := 0.0
	for _, j := range r.idx {
		x := float64((v.logs.log(float64(counts[j])) + 1) * v.idf[j])
		r.val = append(r.val, x)
		sum += float64(x * x)
	}
	if sum != 0 {
		norm := math.Sqrt(sum)
		for i := range r.val {
			r.val[i] /= norm
		}
	}
	return r
}

// words splits a text as scikit-learn's default analyzer does: lowercased,
// runs of at least two word characters (letters, digits, underscore), stop
// words dropped.
func words(doc string) []string {
	doc = strings.ToLower(doc)
	var out []string
	start, runes := -1, 0
	flush := func(end int) {
		if start >= 0 && runes >= 2 {
			if w := doc[start:end]; !englishStopWords[w] {
				out = append(out, w)
			}
		}
		start, runes = -1, 0
	}
	for i, r := range doc {
		if r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) {
			if start < 0 {
				start = i
			}
			runes++
			continue
		}
		flush(i)
	}
	flush(len(doc))
	return out
}

// sgdModel is a linear classifier trained as SGDClassifier(alpha=0.0001,
// max_iter=50, penalty="l1", loss="modified_huber", random_state=42) trains
// one on sparse rows.
type sgdModel struct {
	w []float64
	b float64
}

const (
	sgdAlpha          = 0.0001
	sgdMaxIter        = 50
	sgdTol            = 1e-3
	sgdNoChange       = 5
	sgdInterceptDecay = 0.01 // scikit-learn's SPARSE_INTERCEPT_DECAY
)

func modifiedHuberLoss(y, p float64) float64 {
	z := p * y
	switch {
	case z >= 1:
		return 0
	case z >= -1:
		return (1 - z) * (1 - z)
	}
	return -4 * z
}

func modifiedHuberGradient(y, p float64) float64 {
	z := p * y
	switch {
	case z >= 1:
		return 0
	case z >= -1:
		return 2 * (1 - z) * -y
	}
	return -4 * y
}

// fitSGD is scikit-learn's _plain_sgd for this configuration. With an L1
// penalty the weight vector's scale stays 1, so it is left out.
func fitSGD(rows []textRow, labels []bool, features int) (*sgdModel, error) {
	y := make([]float64, len(labels))
	for i, l := range labels {
		y[i] = -1
		if l {
			y[i] = 1
		}
	}
	rng := newMT19937(42)
	rng.randint(1, math.MaxInt32) // the dataset's own seed, unused by plain SGD
	seed := uint32(rng.randint(0, math.MaxInt32))

	typw := math.Sqrt(1 / math.Sqrt(sgdAlpha))
	initialEta0 := typw / math.Max(1, modifiedHuberGradient(1, -typw))
	optimalInit := 1 / (initialEta0 * sgdAlpha)

	m := &sgdModel{w: make([]float64, features)}
	q := make([]float64, features)
	index := make([]int, len(rows))
	for i := range index {
		index[i] = i
	}
	t, u, l1norm := 1.0, 0.0, 0.0
	best, stale := math.Inf(1), 0
	for range sgdMaxIter {
		objective := 0.0
		shuffleIndex(index, seed)
		for _, s := range index {
			x := rows[s]
			p := m.dot(x) + m.b
			eta := 1 / (sgdAlpha * (optimalInit + t - 1))
			objective += modifiedHuberLoss(y[s], p)
			objective += sgdAlpha * (0 + l1norm)
			dloss := min(max(modifiedHuberGradient(y[s], p), -1e12), 1e12)
			update := -eta * dloss
			if update != 0 {
				l1norm = m.add(x, update)
				m.b += update * sgdInterceptDecay
			}
			u += float64(1*eta) * sgdAlpha
			l1Penalty(m.w, q, x, u)
			t++
		}
		if math.IsInf(m.b, 0) || math.IsNaN(m.b) || slices.ContainsFunc(m.w, func(v float64) bool { return math.IsInf(v, 0) || math.IsNaN(v) }) {
			return nil, errTextNonFinite
		}
		objective /= float64(len(rows))
		if objective > best-sgdTol {
			stale++
		} else {
			stale = 0
		}
		best = min(best, objective)
		if stale >= sgdNoChange {
			break
		}
	}
	return m, nil
}

// shuffleIndex is SequentialDataset.shuffle: Fisher-Yates driven by
// scikit-learn's xorshift our_rand_r, from the same seed every epoch.
func shuffleIndex(index []int, seed uint32) {
	n := uint32(len(index))
	for i := uint32(0); i+1 < n; i++ {
		if seed == 0 {
			seed = 1
		}
		seed ^= seed << 13
		seed ^= seed >> 17
		seed ^= seed << 5
		j := i + (seed%(1<<31))%(n-i)
		index[i], index[j] = index[j], index[i]
	}
}

func (m *sgdModel) dot(x textRow) float64 {
	sum := 0.0
	for k, j := range x.idx {
		sum += float64(m.w[j] * x.val[k])
	}
	return sum
}

// add adds c·x to the weights and returns the L1 norm of the weights x
// touches, which scikit-learn's objective takes for the whole vector's.
func (m *sgdModel) add(x textRow, c float64) float64 {
	l1 := 0.0
	for k, j := range x.idx {
		m.w[j] += float64(x.val[k] * c)
		l1 += math.Abs(m.w[j])
	}
	return l1
}

// l1Penalty applies the cumulative L1 penalty u to the weights x touches
// (Tsuruoka et al.'s truncated gradient).
func l1Penalty(w, q []float64, x textRow, u float64) {
	for _, j := range x.idx {
		z := w[j]
		switch {
		case z > 0:
			w[j] = max(0, w[j]-(u+q[j]))
		case z < 0:
			w[j] = min(0, w[j]+(u-q[j]))
		}
		q[j] += w[j] - z
	}
}

// probability is predict_proba's for the modified Huber loss.
func (m *sgdModel) probability(x textRow) float64 {
	return (min(max(m.dot(x)+m.b, -1), 1) + 1) / 2
}

// rocAUC is roc_auc_score: the trapezoidal area under the ROC curve over the
// distinct scores, with scikit-learn's dropping of collinear points and
// numpy's summation order.
func rocAUC(labels []bool, scores []float64) float64 {
	order := make([]int, len(scores))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case scores[a] > scores[b]:
			return -1
		case scores[a] < scores[b]:
			return 1
		}
		return 0
	})
	var tps, fps []float64
	pos := 0.0
	for k, i := range order {
		if labels[i] {
			pos++
		}
		if k == len(order)-1 || scores[order[k+1]] != scores[i] {
			tps, fps = append(tps, pos), append(fps, float64(k+1)-pos)
		}
	}
	if len(fps) > 2 {
		keepT, keepF := []float64{tps[0]}, []float64{fps[0]}
		for k := 1; k < len(fps)-1; k++ {
			if fps[k+1]-2*fps[k]+fps[k-1] != 0 || tps[k+1]-2*tps[k]+tps[k-1] != 0 {
				keepT, keepF = append(keepT, tps[k]), append(keepF, fps[k])
			}
		}
		tps, fps = append(keepT, tps[len(tps)-1]), append(keepF, fps[len(fps)-1])
	}
	tps, fps = append([]float64{0}, tps...), append([]float64{0}, fps...)
	lastT, lastF := tps[len(tps)-1], fps[len(fps)-1]
	terms := make([]float64, len(tps)-1)
	for k := range terms {
		dx := fps[k+1]/lastF - fps[k]/lastF
		terms[k] = float64(dx*(tps[k+1]/lastT+tps[k]/lastT)) / 2
	}
	return pairwiseSum(terms)
}

// pairwiseSum adds as numpy's add.reduce does on a contiguous float64 array.
func pairwiseSum(a []float64) float64 {
	switch n := len(a); {
	case n < 8:
		s := 0.0
		for _, v := range a {
			s += v
		}
		return s
	case n <= 128:
		var r [8]float64
		copy(r[:], a[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			for j := range r {
				r[j] += a[i+j]
			}
		}
		s := ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			s += a[i]
		}
		return s
	default:
		n2 := n / 2
		n2 -= n2 % 8
		return pairwiseSum(a[:n2]) + pairwiseSum(a[n2:])
	}
}

// randomAUCPercentile is roc_auc_random_classifier_percentile: the
// percentile 100·(1 - (1 - threshold)) of the AUCs of 1,000 classifiers
// that answer uniform random numbers, each seeded as Evidently seeds it.
func randomAUCPercentile(labels []bool, threshold float64) float64 {
	const iterations = 1000
	seeds := newMT19937(42)
	aucs := make([]float64, iterations)
	scores := make([]float64, len(labels))
	for k := range aucs {
		rng := newMT19937(uint32(seeds.randint(0, iterations*10)))
		for i := range scores {
			scores[i] = rng.float64()
		}
		aucs[k] = rocAUC(labels, scores)
	}
	pValue := 1 - threshold
	return percentile(aucs, 100*(1-pValue))
}

// percentile is numpy.percentile with its default linear interpolation.
func percentile(xs []float64, q float64) float64 {
	sorted := slices.Clone(xs)
	slices.Sort(sorted)
	virtual := float64(len(sorted)-1) * (q / 100)
	lo := int(math.Floor(virtual))
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	a, b := sorted[lo], sorted[lo+1]
	gamma := virtual - float64(lo)
	diff := b - a
	if gamma >= 0.5 {
		return b - float64(diff*(1-gamma))
	}
	return a + float64(diff*gamma)
}
