package onnx

import (
	"fmt"
	"math"
)

func init() {
	register("ai.onnx.ml", newLinearClassifier, "LinearClassifier")
	register("ai.onnx.ml", newLinearRegressor, "LinearRegressor")
	register("ai.onnx.ml", newNormalizer, "Normalizer")
	register("ai.onnx.ml", newScaler, "Scaler")
}

// rowsOf reads a numeric 1-D or 2-D input as float32 rows, as the ai.onnx.ml linear
// kernels of onnxruntime do.
func rowsOf(in []Value) (x []float32, rows, width int, err error) {
	t, err := tensorArg(in, 0)
	if err != nil {
		return nil, 0, 0, err
	}
	switch len(t.Shape) {
	case 1:
		rows, width = 1, int(t.Shape[0])
	case 2:
		rows, width = int(t.Shape[0]), int(t.Shape[1])
	default:
		return nil, 0, 0, fmt.Errorf("%w: a 1-D or 2-D input is needed, got shape %v", ErrInvalidInput, t.Shape)
	}
	x, err = asFloat32(t)
	return x, rows, width, err
}

// affine computes X·Wᵀ + b into out, rows × len(b).
func affine(x []float32, rows, width int, w, b []float32, c float32, out []float32) error {
	targets := len(w) / max(width, 1)
	if width == 0 || len(w) != targets*width || (b != nil && len(b) != targets) {
		return fmt.Errorf("%w: %d input features do not fit %d coefficients", ErrInvalidInput, width, len(w))
	}
	for r := range rows {
		row := x[r*width : r*width+width]
		for t := range targets {
			wt := w[t*width : t*width+width]
			var s float32
			for j, v := range row {
				s += v * wt[j]
			}
			if b != nil {
				s += b[t]
			}
			out[r*targets+t] = s + c
		}
	}
	return nil
}

// updateScores is onnxruntime's batched_update_scores_inplace for one row of n scores.
func updateScores(s []float32, n int, post transform, addSecond int) {
	if n > 1 {
		switch post {
		case postProbit:
			for i := range s[:n] {
				s[i] = probit(s[i])
			}
		case postLogistic:
			for i := range s[:n] {
				s[i] = logistic(s[i])
			}
		case postSoftmax, postSoftmaxZero:
			out := make([]float64, n)
			softmax32(s[:n], out, post == postSoftmaxZero)
			for i := range out {
				s[i] = float32(out[i])
			}
		}
		return
	}
	switch {
	case post == postProbit:
		s[0] = probit(s[0])
	case addSecond == 0 || addSecond == 1:
		s[0], s[1] = 1-s[0], s[0]
	case addSecond == 2 || addSecond == 3:
		if post == postLogistic {
			s[0], s[1] = logistic(-s[0]), logistic(s[0])
		} else {
			s[0], s[1] = -s[0], s[0]
		}
	}
}

// labels are a classifier's class labels, int64 or string.
type labels struct {
	ints []int64
	strs []string
}

func labelsOf(a attrs, intKey string) labels {
	return labels{ints: a.ints(intKey), strs: a.strs("classlabels_strings")}
}

func (l labels) count() int { return max(len(l.ints), len(l.strs)) }

// tensor makes the label output from indexes into the labels; literal holds values
// (1 and 0) onnxruntime writes where it does not use the labels.
func (l labels) tensor(idx []int64, literal []bool) *Tensor {
	shape := []int64{int64(len(idx))}
	if len(l.strs) > 0 {
		out := make([]string, len(idx))
		for i, k := range idx {
			if literal != nil && literal[i] {
				out[i] = fmt.Sprint(k)
			} else if k >= 0 && int(k) < len(l.strs) {
				out[i] = l.strs[k]
			}
		}
		return NewTensor(shape, out)
	}
	out := make([]int64, len(idx))
	for i, k := range idx {
		if literal != nil && literal[i] {
			out[i] = k
		} else if k >= 0 && int(k) < len(l.ints) {
			out[i] = l.ints[k]
		}
	}
	return NewTensor(shape, out)
}

type linearClassifier struct {
	coef, icpt []float32
	post       transform
	labels     labels
}

func newLinearClassifier(n *nodeCtx) (kernel, error) {
	post, err := parseTransform(n.attrs.str("post_transform", "NONE"))
	if err != nil {
		return nil, err
	}
	k := &linearClassifier{coef: n.attrs.floats("coefficients"), icpt: n.attrs.floats("intercepts"), post: post,
		labels: labelsOf(n.attrs, "classlabels_ints")}
	if len(k.icpt) == 0 || len(k.coef)%len(k.icpt) != 0 || k.labels.count() == 0 {
		return nil, fmt.Errorf("%w: LinearClassifier coefficients, intercepts and labels do not agree", ErrInvalidModel)
	}
	return k, nil
}

func (k *linearClassifier) run(in []Value) ([]Value, error) {
	x, rows, width, err := rowsOf(in)
	if err != nil {
		return nil, err
	}
	classes := len(k.icpt)
	addSecond := classes == 1 && k.labels.count() == 2
	outClasses := classes
	if addSecond {
		outClasses = 2
	}
	raw := make([]float32, rows*classes)
	if err := affine(x, rows, width, k.coef, k.icpt, 0, raw); err != nil {
		return nil, err
	}
	idx := make([]int64, rows)
	var literal []bool // one score and other than two labels: onnxruntime writes 1 or 0
	if classes == 1 && k.labels.count() != 2 {
		literal = make([]bool, rows)
	}
	z := make([]float32, rows*outClasses)
	for r := range rows {
		s := raw[r*classes : r*classes+classes]
		if classes == 1 {
			if s[0] > 0 {
				idx[r] = 1
			}
			if literal != nil {
				literal[r] = true
			}
		} else {
			best := 0
			for j := 1; j < classes; j++ {
				if s[j] > s[best] {
					best = j
				}
			}
			idx[r] = int64(best)
		}
		zr := z[r*outClasses : r*outClasses+outClasses]
		copy(zr, s)
		if k.post != postNone || addSecond {
			updateScores(zr, classes, k.post, map[bool]int{true: 1, false: -1}[addSecond])
		}
	}
	return []Value{k.labels.tensor(idx, literal), NewTensor([]int64{int64(rows), int64(outClasses)}, z)}, nil
}

type linearRegressor struct {
	coef, icpt []float32
	targets    int
	post       transform
}

func newLinearRegressor(n *nodeCtx) (kernel, error) {
	post, err := parseTransform(n.attrs.str("post_transform", "NONE"))
	if err != nil {
		return nil, err
	}
	k := &linearRegressor{coef: n.attrs.floats("coefficients"), icpt: n.attrs.floats("intercepts"),
		targets: int(n.attrs.int("targets", 1)), post: post}
	if k.targets <= 0 || len(k.coef)%k.targets != 0 || (k.icpt != nil && len(k.icpt) != k.targets) {
		return nil, fmt.Errorf("%w: LinearRegressor coefficients, intercepts and targets do not agree", ErrInvalidModel)
	}
	return k, nil
}

func (k *linearRegressor) run(in []Value) ([]Value, error) {
	x, rows, width, err := rowsOf(in)
	if err != nil {
		return nil, err
	}
	out := make([]float32, rows*k.targets)
	if err := affine(x, rows, width, k.coef, k.icpt, 0, out); err != nil {
		return nil, err
	}
	if k.post != postNone {
		for r := range rows {
			updateScores(out[r*k.targets:], k.targets, k.post, -1)
		}
	}
	return one(NewTensor([]int64{int64(rows), int64(k.targets)}, out)), nil
}

func newNormalizer(n *nodeCtx) (kernel, error) {
	norm := n.attrs.str("norm", "MAX")
	if norm != "MAX" && norm != "L1" && norm != "L2" {
		return nil, fmt.Errorf("%w: Normalizer norm %q", ErrInvalidModel, norm)
	}
	return kernelFunc(func(in []Value) ([]Value, error) {
		x, rows, width, err := rowsOf(in)
		if err != nil {
			return nil, err
		}
		out := make([]float32, len(x))
		for r := range rows {
			normalizeRow(x[r*width:r*width+width], out[r*width:r*width+width], norm)
		}
		shape := []int64{int64(rows), int64(width)}
		if t, _ := tensorArg(in, 0); len(t.Shape) == 1 {
			shape = shape[1:]
		}
		return one(NewTensor(shape, out)), nil
	}), nil
}

func normalizeRow(x, out []float32, norm string) {
	var d float32
	switch norm {
	case "MAX":
		d = float32(-math.MaxFloat32)
		for _, v := range x {
			d = max(d, v)
		}
	case "L1":
		for _, v := range x {
			d += abs32(v)
		}
	case "L2":
		for _, v := range x {
			d += v * v
		}
		d = float32(math.Sqrt(float64(d)))
	}
	for i, v := range x {
		if d != 0 {
			out[i] = v / d
		} else {
			out[i] = v
		}
	}
}

func newScaler(n *nodeCtx) (kernel, error) {
	offset, scale := n.attrs.floats("offset"), n.attrs.floats("scale")
	return kernelFunc(func(in []Value) ([]Value, error) {
		t, err := tensorArg(in, 0)
		if err != nil {
			return nil, err
		}
		x, err := asFloat32(t)
		if err != nil {
			return nil, err
		}
		width := 1
		if len(t.Shape) > 0 {
			width = int(t.Shape[len(t.Shape)-1])
		}
		pickParam := func(p []float32, j int, def float32) (float32, error) {
			switch len(p) {
			case 0:
				return def, nil
			case 1:
				return p[0], nil
			case width:
				return p[j], nil
			}
			return 0, fmt.Errorf("%w: Scaler has %d parameters for %d features", ErrInvalidInput, len(p), width)
		}
		out := make([]float32, len(x))
		for i, v := range x {
			o, err := pickParam(offset, i%width, 0)
			if err != nil {
				return nil, err
			}
			s, err := pickParam(scale, i%width, 1)
			if err != nil {
				return nil, err
			}
			out[i] = (v - o) * s
		}
		return one(NewTensor(t.Shape, out)), nil
	}), nil
}
