package onnx

import (
	"fmt"
	"math"
)

func init() {
	register("ai.onnx.ml", newSVMClassifier, "SVMClassifier")
	register("ai.onnx.ml", newSVMRegressor, "SVMRegressor")
}

// svmKernel computes kernel values of rows against vectors, as onnxruntime's
// SVMCommon::batched_kernel_dot does, in float32.
type svmKernel struct {
	kind                 string
	gamma, coef0, degree float32
}

func svmKernelOf(a attrs) svmKernel {
	k := svmKernel{kind: a.str("kernel_type", "LINEAR")}
	if p := a.floats("kernel_params"); len(p) >= 3 {
		k.gamma, k.coef0, k.degree = p[0], p[1], p[2]
	}
	return k
}

// dot fills out (rows × n) with the kernel of each row against each of the n vectors;
// c is added for the linear kernel.
func (k svmKernel) dot(x []float32, rows, width int, vecs []float32, c float32, out []float32) error {
	n := len(vecs) / max(width, 1)
	if width == 0 || n*width != len(vecs) {
		return fmt.Errorf("%w: %d input features do not fit the support vectors", ErrInvalidInput, width)
	}
	for r := range rows {
		row := x[r*width : r*width+width]
		for v := range n {
			vec := vecs[v*width : v*width+width]
			var s float32
			if k.kind == "RBF" {
				for j, xv := range row {
					d := xv - vec[j]
					s += d * d
				}
				out[r*n+v] = exp32(-k.gamma * s)
				continue
			}
			for j, xv := range row {
				s += xv * vec[j]
			}
			switch k.kind {
			case "POLY":
				s = k.gamma*s + k.coef0
				switch k.degree {
				case 2:
					s = s * s
				case 3:
					s = s * s * s
				default:
					s = float32(math.Pow(float64(s), float64(k.degree)))
				}
			case "SIGMOID":
				s = float32(math.Tanh(float64(k.gamma*s + k.coef0)))
			default:
				s += c
			}
			out[r*n+v] = s
		}
	}
	return nil
}

type svmClassifier struct {
	kern          svmKernel
	labels        labels
	perClass      []int64
	start         []int
	vectors       int
	sv, coef, rho []float32
	probA, probB  []float32
	post          transform
	classes       int
	svc           bool // support vectors (libsvm); otherwise one linear model per class
	allPositive   bool
}

func newSVMClassifier(n *nodeCtx) (kernel, error) {
	a := n.attrs
	post, err := parseTransform(a.str("post_transform", "NONE"))
	if err != nil {
		return nil, err
	}
	k := &svmClassifier{kern: svmKernelOf(a), labels: labelsOf(a, "classlabels_ints"), perClass: a.ints("vectors_per_class"),
		sv: a.floats("support_vectors"), coef: a.floats("coefficients"), rho: a.floats("rho"),
		probA: a.floats("prob_a"), probB: a.floats("prob_b"), post: post, allPositive: true}
	k.classes = k.labels.count()
	for _, c := range k.perClass {
		if c < 0 {
			return nil, fmt.Errorf("%w: negative vectors_per_class", ErrInvalidModel)
		}
		k.start = append(k.start, k.vectors)
		k.vectors += int(c)
	}
	for _, c := range k.coef {
		if c < 0 {
			k.allPositive = false
		}
	}
	k.svc = k.vectors > 0
	if !k.svc {
		k.kern.kind = "LINEAR"
	}
	pairs := k.classes * (k.classes - 1) / 2
	switch {
	case k.classes < 2 || len(k.coef) == 0 || len(k.rho) == 0 || len(k.probA) != len(k.probB):
		return nil, fmt.Errorf("%w: SVMClassifier attributes do not agree", ErrInvalidModel)
	case k.svc && (len(k.perClass) != k.classes || len(k.coef) != (k.classes-1)*k.vectors || len(k.rho) < pairs || len(k.sv)%k.vectors != 0):
		return nil, fmt.Errorf("%w: SVMClassifier support vectors and coefficients do not agree", ErrInvalidModel)
	case len(k.probA) > 0 && len(k.probA) < pairs:
		return nil, fmt.Errorf("%w: SVMClassifier needs prob_a for every pair of classes", ErrInvalidModel)
	}
	return k, nil
}

func (k *svmClassifier) run(in []Value) ([]Value, error) {
	x, rows, width, err := rowsOf(in)
	if err != nil {
		return nil, err
	}
	nc, pairs, proba := k.classes, k.classes*(k.classes-1)/2, len(k.probA) > 0
	perRow, addSecond := nc, -1
	if k.svc && !proba {
		perRow = max(pairs, 2)
		if nc <= 2 {
			addSecond = 0
			if k.post == postNone {
				addSecond = 2
			}
		}
	}
	z := make([]float32, rows*perRow)
	idx := make([]int64, rows)
	literal := make([]bool, rows)
	if !k.svc {
		if err := k.kern.dot(x, rows, width, k.coef, k.rho[0], z); err != nil {
			return nil, err
		}
	}
	kern := make([]float32, k.vectors)
	scores := make([]float32, pairs)
	votes := make([]int64, nc)
	for r := range rows {
		zr := z[r*perRow : r*perRow+perRow]
		if k.svc {
			if err := k.kern.dot(x[r*width:r*width+width], 1, width, k.sv, 0, kern); err != nil {
				return nil, err
			}
			clear(votes)
			k.pairScores(kern, scores, votes)
			if proba {
				k.probabilities(scores, zr)
			} else {
				copy(zr, scores)
			}
		}
		var best int
		var bestW float32
		if k.svc {
			for c := 1; c < nc; c++ {
				if votes[c] > votes[best] {
					best = c
				}
			}
		} else {
			for c := 1; c < nc; c++ {
				if zr[c] > zr[best] {
					best = c
				}
			}
			bestW = zr[best]
		}
		idx[r], literal[r] = k.choose(best, bestW, pairs, proba)
		n := perRow
		if addSecond >= 0 {
			n = 1
		}
		updateScores(zr, n, k.post, addSecond)
	}
	return []Value{k.labels.tensor(idx, literal), NewTensor([]int64{int64(rows), int64(perRow)}, z)}, nil
}

// pairScores is libsvm's one-against-one decision values, summed in float64.
func (k *svmClassifier) pairScores(kern, scores []float32, votes []int64) {
	p := 0
	for i := 0; i < k.classes-1; i++ {
		for j := i + 1; j < k.classes; j++ {
			sum := 0.0
			ci, cj := k.coef[(j-1)*k.vectors:], k.coef[i*k.vectors:]
			for m := range int(k.perClass[i]) {
				sum += float64(ci[k.start[i]+m] * kern[k.start[i]+m])
			}
			for m := range int(k.perClass[j]) {
				sum += float64(cj[k.start[j]+m] * kern[k.start[j]+m])
			}
			sum += float64(k.rho[p])
			scores[p] = float32(sum)
			if sum > 0 {
				votes[i]++
			} else {
				votes[j]++
			}
			p++
		}
	}
}

func (k *svmClassifier) probabilities(scores, out []float32) {
	nc := k.classes
	pairProb := make([]float32, nc*nc)
	p := 0
	for i := 0; i < nc-1; i++ {
		for j := i + 1; j < nc; j++ {
			v := 1 - logistic(scores[p]*k.probA[p]+k.probB[p])
			v = min(max(v, 1e-7), 1-1e-7)
			pairProb[i*nc+j], pairProb[j*nc+i] = v, 1-v
			p++
		}
	}
	multiclassProbability(nc, pairProb, out)
}

// multiclassProbability is libsvm's pairwise coupling (Wu, Lin and Weng), in float32.
func multiclassProbability(k int, r, p []float32) {
	q := make([]float32, k*k)
	qp := make([]float32, k)
	eps := 0.005 / float32(k)
	for i := range k {
		p[i] = 1 / float32(k)
		for j := range i {
			q[i*k+i] += r[j*k+i] * r[j*k+i]
			q[i*k+j] = q[j*k+i]
		}
		for j := i + 1; j < k; j++ {
			q[i*k+i] += r[j*k+i] * r[j*k+i]
			q[i*k+j] = -r[j*k+i] * r[i*k+j]
		}
	}
	for range 100 {
		var pqp float32
		for i := range k {
			qp[i] = 0
			for j := range k {
				qp[i] += q[i*k+j] * p[j]
			}
			pqp += p[i] * qp[i]
		}
		var maxErr float32
		for i := range k {
			maxErr = max(maxErr, abs32(qp[i]-pqp))
		}
		if maxErr < eps {
			break
		}
		for i := range k {
			diff := (-qp[i] + pqp) / q[i*k+i]
			p[i] += diff
			pqp = (pqp + diff*(diff*q[i*k+i]+2*qp[i])) / (1 + diff) / (1 + diff)
			for j := range k {
				qp[j] = (qp[j] + diff*q[i*k+j]) / (1 + diff)
				p[j] /= (1 + diff)
			}
		}
	}
}

// choose is onnxruntime's ChooseClass: the label index, or a literal 1 or 0.
func (k *svmClassifier) choose(best int, bestW float32, pairs int, proba bool) (int64, bool) {
	if pairs != 1 {
		return int64(best), false
	}
	if k.labels.count() == 2 {
		switch {
		case proba:
			return int64(best), false
		case k.allPositive && bestW >= 0.5, !k.allPositive && bestW > 0:
			return 1, false
		}
		return int64(best), false
	}
	if bestW > 0 {
		return 1, true
	}
	return 0, true
}

type svmRegressor struct {
	kern     svmKernel
	sv, coef []float32
	rho      float32
	oneClass bool
	post     transform
}

func newSVMRegressor(n *nodeCtx) (kernel, error) {
	a := n.attrs
	post, err := parseTransform(a.str("post_transform", "NONE"))
	if err != nil {
		return nil, err
	}
	k := &svmRegressor{kern: svmKernelOf(a), sv: a.floats("support_vectors"), coef: a.floats("coefficients"),
		oneClass: a.int("one_class", 0) == 1, post: post}
	rho := a.floats("rho")
	if len(rho) == 0 || len(k.coef) == 0 {
		return nil, fmt.Errorf("%w: SVMRegressor needs coefficients and rho", ErrInvalidModel)
	}
	k.rho = rho[0]
	if len(k.sv) == 0 {
		k.kern.kind = "LINEAR"
	} else if int(a.int("n_supports", int64(len(k.coef)))) != len(k.coef) {
		return nil, fmt.Errorf("%w: SVMRegressor n_supports does not match its coefficients", ErrInvalidModel)
	}
	return k, nil
}

func (k *svmRegressor) run(in []Value) ([]Value, error) {
	x, rows, width, err := rowsOf(in)
	if err != nil {
		return nil, err
	}
	out := make([]float32, rows)
	if len(k.sv) == 0 {
		if err := k.kern.dot(x, rows, width, k.coef, k.rho, out); err != nil {
			return nil, err
		}
	} else {
		kern := make([]float32, len(k.coef))
		for r := range rows {
			if err := k.kern.dot(x[r*width:r*width+width], 1, width, k.sv, 0, kern); err != nil {
				return nil, err
			}
			var s float32
			for j, c := range k.coef {
				s += c * kern[j]
			}
			out[r] = s + k.rho
		}
	}
	for i, v := range out {
		switch {
		case k.oneClass && v > 0:
			out[i] = 1
		case k.oneClass:
			out[i] = -1
		case k.post == postProbit:
			out[i] = probit(v)
		}
	}
	return one(NewTensor([]int64{int64(rows), 1}, out)), nil
}
