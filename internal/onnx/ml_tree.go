package onnx

import (
	"fmt"
	"sync"
)

func init() {
	register("ai.onnx.ml", newTreeRegressor, "TreeEnsembleRegressor")
	register("ai.onnx.ml", newTreeClassifier, "TreeEnsembleClassifier")
	register("ai.onnx.ml", newTreeEnsemble, "TreeEnsemble")
}

// trees holds an ensemble compiled for both threshold types: float32 for float and
// integer inputs, float64 (compiled on first use) for double inputs, as onnxruntime
// picks its threshold type from the input type.
type trees struct {
	spec     *treeSpec
	maxFeat  int
	f32      *forest[float32]
	f64Once  sync.Once
	f64      *forest[float64]
	pool32   sync.Pool
	pool64   sync.Pool
	outInput bool // TreeEnsemble: the output has the input's type
}

func newTrees(spec *treeSpec) *trees {
	return &trees{spec: spec, maxFeat: spec.maxFeature(), f32: compileForest[float32](spec)}
}

// features checks X and returns its rows and row width.
func (t *trees) features(x *Tensor) (rows, stride int, err error) {
	switch len(x.Shape) {
	case 1:
		rows, stride = 1, int(x.Shape[0])
	case 2:
		rows, stride = int(x.Shape[0]), int(x.Shape[1])
	default:
		return 0, 0, fmt.Errorf("%w: tree ensembles take a 1-D or 2-D input, got shape %v", ErrInvalidInput, x.Shape)
	}
	if t.maxFeat >= stride && rows > 0 {
		return 0, 0, fmt.Errorf("%w: the trees read feature %d but the input has %d features", ErrInvalidInput, t.maxFeat, stride)
	}
	return rows, stride, nil
}

// eval scores X and calls finalize for each row with its scores.
func (t *trees) eval(x *Tensor, finalize func(row int, s32 []float32, s64 []float64, has []bool)) (int, error) {
	rows, stride, err := t.features(x)
	if err != nil {
		return 0, err
	}
	nt := t.spec.nTargets
	if x.DType == Float64 {
		t.f64Once.Do(func() { t.f64 = compileForest[float64](t.spec) })
		sc := t.f64.getScratch(&t.pool64, rows*nt)
		defer t.pool64.Put(sc)
		t.f64.score(Data[float64](x), rows, stride, sc)
		for r := range rows {
			finalize(r, nil, sc.scores[r*nt:r*nt+nt], sc.has[r*nt:r*nt+nt])
		}
		return rows, nil
	}
	xs, err := asFloat32(x)
	if err != nil {
		return 0, err
	}
	sc := t.f32.getScratch(&t.pool32, rows*nt)
	defer t.pool32.Put(sc)
	t.f32.score(xs, rows, stride, sc)
	for r := range rows {
		finalize(r, sc.scores[r*nt:r*nt+nt], nil, sc.has[r*nt:r*nt+nt])
	}
	return rows, nil
}

// asFloat32 returns a numeric tensor's elements as float32, without copying float32s.
func asFloat32(x *Tensor) ([]float32, error) {
	switch d := x.data.(type) {
	case []float32:
		return d, nil
	case []int64:
		return convertSlice[int64, float32](d), nil
	case []int32:
		return convertSlice[int32, float32](d), nil
	case []float64:
		return convertSlice[float64, float32](d), nil
	}
	return nil, fmt.Errorf("%w: expected a numeric tensor, got %s", ErrInvalidInput, x.Type())
}

type number interface {
	~float32 | ~float64 | ~int64 | ~int32 | ~uint8 | ~int8
}

func convertSlice[S, D number](src []S) []D {
	out := make([]D, len(src))
	for i, v := range src {
		out[i] = D(v)
	}
	return out
}

// treeRegressor is TreeEnsembleRegressor: Y is float32 [N, n_targets].
type treeRegressor struct{ *trees }

func newTreeRegressor(n *nodeCtx) (kernel, error) {
	nt := int(n.attrs.int("n_targets", 0))
	if nt <= 0 {
		return nil, fmt.Errorf("%w: n_targets must be positive", ErrInvalidModel)
	}
	spec, err := specFromLegacy(n.attrs, "target", nt)
	if err != nil {
		return nil, err
	}
	return treeRegressor{newTrees(spec)}, nil
}

func (k treeRegressor) run(in []Value) ([]Value, error) {
	x, err := tensorArg(in, 0)
	if err != nil {
		return nil, err
	}
	nt := k.spec.nTargets
	var out []float32
	buf := make([]float64, nt)
	rows, err := k.eval(x, func(r int, s32 []float32, s64 []float64, has []bool) {
		if s32 != nil {
			k.f32.finalizeRegression(s32, has, k.spec.post, buf)
		} else {
			k.f64.finalizeRegression(s64, has, k.spec.post, buf)
		}
		for _, v := range buf {
			out = append(out, float32(v))
		}
	})
	if err != nil {
		return nil, err
	}
	return []Value{NewTensor([]int64{int64(rows), int64(nt)}, nonNil(out))}, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// treeEnsemble is TreeEnsemble (ai.onnx.ml 5): Y has the input's type, [N, n_targets].
type treeEnsemble struct{ *trees }

func newTreeEnsemble(n *nodeCtx) (kernel, error) {
	spec, err := specFromV5(n.attrs)
	if err != nil {
		return nil, err
	}
	return treeEnsemble{newTrees(spec)}, nil
}

func (k treeEnsemble) run(in []Value) ([]Value, error) {
	x, err := tensorArg(in, 0)
	if err != nil {
		return nil, err
	}
	if x.DType != Float32 && x.DType != Float64 {
		return nil, fmt.Errorf("%w: TreeEnsemble takes float or double, got %s", ErrInvalidInput, x.Type())
	}
	nt := k.spec.nTargets
	out := make([]float64, 0, 16)
	buf := make([]float64, nt)
	rows, err := k.eval(x, func(r int, s32 []float32, s64 []float64, has []bool) {
		if s32 != nil {
			k.f32.finalizeRegression(s32, has, k.spec.post, buf)
		} else {
			k.f64.finalizeRegression(s64, has, k.spec.post, buf)
		}
		out = append(out, buf...)
	})
	if err != nil {
		return nil, err
	}
	shape := []int64{int64(rows), int64(nt)}
	if x.DType == Float32 {
		return []Value{NewTensor(shape, convertSlice[float64, float32](out))}, nil
	}
	return []Value{NewTensor(shape, out)}, nil
}

// treeClassifier is TreeEnsembleClassifier: a label per row (int64 or string) and
// float32 scores [N, n_classes], with onnxruntime's handling of two classes.
type treeClassifier struct {
	*trees
	intLabels   []int64
	strLabels   []string
	classLabels []int64 // intLabels, or the indexes of strLabels
	binaryCase  bool    // two classes, and the weights name only one
	allPositive bool
	nClasses    int
}

func newTreeClassifier(n *nodeCtx) (kernel, error) {
	k := &treeClassifier{intLabels: n.attrs.ints("classlabels_int64s"), strLabels: n.attrs.strs("classlabels_strings")}
	k.classLabels = k.intLabels
	if len(k.strLabels) > 0 {
		k.classLabels = make([]int64, len(k.strLabels))
		for i := range k.classLabels {
			k.classLabels[i] = int64(i)
		}
	}
	k.nClasses = len(k.classLabels)
	if k.nClasses < 2 {
		return nil, fmt.Errorf("%w: a tree classifier needs at least two class labels", ErrUnsupported)
	}
	spec, err := specFromLegacy(n.attrs, "class", k.nClasses)
	if err != nil {
		return nil, err
	}
	k.trees = newTrees(spec)
	ws, _ := n.attrs.float64s("class_weights")
	k.allPositive = true
	for _, w := range ws {
		if w < 0 {
			k.allPositive = false
		}
	}
	classes := map[int64]bool{}
	for _, id := range n.attrs.ints("class_ids") {
		classes[id] = true
	}
	k.binaryCase = k.nClasses == 2 && len(classes) == 1
	return k, nil
}

func (k *treeClassifier) run(in []Value) ([]Value, error) {
	x, err := tensorArg(in, 0)
	if err != nil {
		return nil, err
	}
	nc := k.nClasses
	n, _, err := k.features(x)
	if err != nil {
		return nil, err
	}
	labels := make([]int64, 0, n)
	scores := make([]float32, 0, n*nc)
	buf := make([]float64, nc)
	v32, v64 := make([]float32, nc), make([]float64, nc)
	rows, err := k.eval(x, func(r int, s32 []float32, s64 []float64, has []bool) {
		clear(buf)
		var label int64
		if s32 != nil {
			label = classify(k, k.f32.base, s32, has, buf, v32)
		} else {
			label = classify(k, k.f64.base, s64, has, buf, v64)
		}
		labels = append(labels, label)
		for _, v := range buf {
			scores = append(scores, float32(v))
		}
	})
	if err != nil {
		return nil, err
	}
	z := NewTensor([]int64{int64(rows), int64(nc)}, nonNil(scores))
	if len(k.strLabels) == 0 {
		return []Value{NewTensor([]int64{int64(rows)}, nonNil(labels)), z}, nil
	}
	strs := make([]string, rows)
	for i, l := range labels {
		if l >= 0 && int(l) < len(k.strLabels) {
			strs[i] = k.strLabels[l]
		}
	}
	return []Value{NewTensor([]int64{int64(rows)}, strs), z}, nil
}

// classify finalizes one row's class scores as onnxruntime's TreeAggregatorClassifier
// does, and returns its label (a class label, or for two classes with weights on both,
// the literal 1 or 0 onnxruntime returns there).
func classify[T real](k *treeClassifier, base []T, s []T, has []bool, out []float64, vals []T) int64 {
	if k.nClasses > 2 {
		for i := 0; i < len(base) && i < len(s); i++ {
			if !has[i] {
				has[i], s[i] = true, base[i]
			} else {
				s[i] += base[i]
			}
		}
		best, bestW := -1, T(0)
		for i, v := range s {
			if has[i] && (best == -1 || v > bestW) {
				best, bestW = i, v
			}
		}
		writeScores(masked(s, has, vals), k.spec.post, out, -1)
		return k.classLabels[max(best, 0)]
	}
	addSecond, size := -1, 2
	switch len(base) {
	case 2:
		if has[1] {
			s[1] = base[1] + s[0]
			s[0] = -s[1]
		} else {
			s[1] += base[1]
			s[0] += base[0]
		}
	case 1:
		s[0] += base[0]
		if !has[1] {
			size = 1
		}
	case 0:
		addSecond = 3
		if !has[1] {
			size = 1
		}
	}
	var pos T
	switch {
	case size == 2 && has[1]:
		pos = s[1]
	case has[0]:
		pos = s[0]
	}
	var label int64
	switch {
	case k.binaryCase && k.allPositive && pos > 0.5:
		addSecond, label = 0, k.classLabels[1]
	case k.binaryCase && k.allPositive:
		addSecond, label = 1, k.classLabels[0]
	case k.binaryCase && pos > 0:
		addSecond, label = 2, k.classLabels[1]
	case k.binaryCase:
		addSecond, label = 3, k.classLabels[0]
	case pos > 0:
		label = 1
	}
	writeScores(masked(s[:size], has, vals), k.spec.post, out, addSecond)
	return label
}

// masked is the scores as onnxruntime reads them, zero where no tree gave one, in out.
func masked[T real](s []T, has []bool, out []T) []T {
	out = out[:len(s)]
	for i := range s {
		out[i] = 0
		if has[i] {
			out[i] = s[i]
		}
	}
	return out
}
