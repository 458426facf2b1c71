package onnx

import (
	"math"
	"sync"
)

// The tree ensemble evaluator. Trees are flattened into one array of compact nodes;
// a leaf keeps its first weight in th, which is all a single-target ensemble needs.
// Rows are scored in blocks, tree by tree, so that a tree's nodes stay in cache for the
// whole block, and each row's scores are summed in tree order, in the threshold type,
// as onnxruntime sums them.

type real interface{ ~float32 | ~float64 }

type tnode[T real] struct {
	th   T
	feat int32 // -1 for a leaf in the general walk
	// kids are the true, false and NaN children; the fourth repeats the NaN child so
	// that an index masked to two bits needs no bounds check.
	kids [4]int32
	mode uint8
}

// leafRef is what a leaf contributes: its first weight, and the range of its weights.
type leafRef[T real] struct {
	value        T
	target       int32
	first, count int32
}

type forest[T real] struct {
	nodes   []tnode[T]
	leaves  []leafRef[T] // by node index
	roots   []int32
	depth   []int // of each tree
	wTarget []int32
	wValue  []T
	members map[int32][]T
	// fast: every branch is compiled to "v <= th" (see compileNode) and every leaf to a
	// node that leads back to itself, so each tree is walked in exactly depth steps,
	// without a branch, for all the rows of a block at once.
	fast     bool
	nTargets int
	agg      aggregate
	base     []T
}

func compileForest[T real](s *treeSpec) *forest[T] {
	f := &forest[T]{nodes: make([]tnode[T], len(s.nodes)), leaves: make([]leafRef[T], len(s.nodes)),
		nTargets: s.nTargets, agg: s.agg, fast: true}
	for i, nd := range s.nodes {
		n := &f.nodes[i]
		n.mode = nd.mode
		if nd.mode == modeLeaf {
			f.leaves[i] = leafRef[T]{value: T(nd.weights[0].value), target: int32(nd.weights[0].target),
				first: int32(len(f.wValue)), count: int32(len(nd.weights))}
			for _, w := range nd.weights {
				f.wTarget = append(f.wTarget, int32(w.target))
				f.wValue = append(f.wValue, T(w.value))
			}
			self := int32(i)
			n.feat, n.th, n.kids = -1, T(math.Inf(1)), [4]int32{self, self, self, self}
			continue
		}
		if !compileNode(n, nd) {
			f.fast = false
		}
		if nd.mode == branchMember {
			if f.members == nil {
				f.members = map[int32][]T{}
			}
			set := make([]T, len(nd.members))
			for j, v := range nd.members {
				set[j] = T(v)
			}
			f.members[int32(i)] = set
		}
	}
	if f.fast {
		for i := range f.nodes {
			f.nodes[i].feat = max(f.nodes[i].feat, 0) // a leaf reads feature 0 and stays put
		}
	}
	depths := s.depths()
	for _, r := range s.roots {
		f.roots = append(f.roots, int32(r))
		f.depth = append(f.depth, depths[r])
	}
	for _, b := range s.base {
		f.base = append(f.base, T(b))
	}
	return f
}

// compileNode fills an interior node. Ordered comparisons become "v <= th": as inputs
// and thresholds have the same type, v < t is v <= the float below t, v > t is
// not v <= t, v >= t is not v <= the float below t; NaN, which fails every comparison,
// goes to the NaN child. It reports false for a node the fast walk cannot take.
func compileNode[T real](n *tnode[T], nd specNode) bool {
	yes, no, nan := int32(nd.yes), int32(nd.no), int32(nd.no)
	if nd.missTrue {
		nan = yes
	}
	n.feat, n.kids = int32(nd.feature), [4]int32{yes, no, nan, nan}
	th := T(nd.value)
	n.th = th
	if th != th {
		return false
	}
	switch nd.mode {
	case branchLEQ:
	case branchLT:
		n.th = prevFloat(th)
	case branchGT:
		n.kids[0], n.kids[1] = no, yes
	case branchGTE:
		n.th = prevFloat(th)
		n.kids[0], n.kids[1] = no, yes
	default:
		return false
	}
	n.mode = branchLEQ
	return true
}

// prevFloat is the largest value of T below x; NaN (which no comparison holds for)
// below -Inf.
func prevFloat[T real](x T) T {
	if math.IsInf(float64(x), -1) {
		return T(math.NaN())
	}
	if _, single := any(x).(float32); single {
		return T(math.Nextafter32(float32(x), float32(math.Inf(-1))))
	}
	return T(math.Nextafter(float64(x), math.Inf(-1)))
}

// next is the child of an interior node for value v, in the general walk.
func (f *forest[T]) next(i int32, n *tnode[T], v T) int32 {
	if v != v {
		return n.kids[2]
	}
	var c bool
	switch n.mode {
	case branchLEQ:
		c = v <= n.th
	case branchLT:
		c = v < n.th
	case branchGTE:
		c = v >= n.th
	case branchGT:
		c = v > n.th
	case branchEQ:
		c = v == n.th
	case branchNEQ:
		c = v != n.th
	default:
		for _, m := range f.members[i] {
			if v == m {
				c = true
			}
		}
	}
	if c {
		return n.kids[0]
	}
	return n.kids[1]
}

// walk finds the leaf of tree t for rows [begin, end) of x, into idx.
func (f *forest[T]) walk(t int, x []T, begin, end, stride int, idx []int32) {
	nodes := f.nodes
	root := f.roots[t]
	idx = idx[:end-begin]
	for r := range idx {
		idx[r] = root
	}
	if !f.fast {
		for r := range idx {
			i := root
			row := x[(begin+r)*stride:]
			for nodes[i].kids[0] != i || nodes[i].kids[1] != i {
				i = f.next(i, &nodes[i], row[nodes[i].feat])
			}
			idx[r] = i
		}
		return
	}
	for range f.depth[t] {
		for r, i := range idx {
			n := &nodes[i]
			v := x[(begin+r)*stride+int(n.feat)]
			k := 0
			if !(v <= n.th) {
				k = 1
			}
			if v != v {
				k = 2
			}
			idx[r] = n.kids[k&3]
		}
	}
}

// blockRows is how many rows are scored together, tree by tree.
const blockRows = 128

// scratch holds a call's per-row scores and has-score flags, and the leaves of a block.
type scratch[T real] struct {
	scores []T
	has    []bool
	idx    []int32
}

func (f *forest[T]) getScratch(pool *sync.Pool, n int) *scratch[T] {
	s, _ := pool.Get().(*scratch[T])
	if s == nil {
		s = &scratch[T]{idx: make([]int32, blockRows)}
	}
	if cap(s.scores) < n {
		s.scores = make([]T, n)
		s.has = make([]bool, n)
	}
	s.scores, s.has = s.scores[:n], s.has[:n]
	clear(s.scores)
	clear(s.has)
	return s
}

// score accumulates the leaves of every tree into scores and has, rows × nTargets, in
// tree order for each row.
func (f *forest[T]) score(x []T, rows, stride int, sc *scratch[T]) {
	if rows == 1 && f.fast {
		f.scoreRow(x[:stride], sc)
		return
	}
	for b := 0; b < rows; b += blockRows {
		end := min(rows, b+blockRows)
		for t := range f.roots {
			f.walk(t, x, b, end, stride, sc.idx)
			f.aggregate(sc.idx[:end-b], sc.scores[b*f.nTargets:], sc.has[b*f.nTargets:])
		}
	}
}

// scoreRow is score for a single row. Four trees are walked at once, so that their
// chains of dependent loads overlap; their leaves are then added in tree order.
func (f *forest[T]) scoreRow(row []T, sc *scratch[T]) {
	nodes := f.nodes
	var leaf [4]int32
	for t := 0; t < len(f.roots); t += 4 {
		group := min(4, len(f.roots)-t)
		depth := 0
		for j := range group {
			leaf[j] = f.roots[t+j]
			depth = max(depth, f.depth[t+j])
		}
		for j := group; j < 4; j++ {
			leaf[j] = leaf[0]
		}
		for range depth {
			for j := range leaf {
				n := &nodes[leaf[j]]
				v := row[n.feat]
				k := 0
				if !(v <= n.th) {
					k = 1
				}
				if v != v {
					k = 2
				}
				leaf[j] = n.kids[k&3]
			}
		}
		for _, i := range leaf[:group] {
			f.addLeaf(i, sc.scores, sc.has)
		}
	}
}

// addLeaf adds one leaf to a row's scores.
func (f *forest[T]) addLeaf(i int32, scores []T, has []bool) {
	l := &f.leaves[i]
	if f.agg == aggSum || f.agg == aggAverage {
		if f.nTargets == 1 {
			scores[0] += l.value
			return
		}
		if l.count == 1 {
			scores[l.target] += l.value
			has[l.target] = true
			return
		}
	}
	f.aggregate([]int32{i}, scores, has)
}

// aggregate adds one tree's leaves, one per row, to the rows' scores.
func (f *forest[T]) aggregate(idx []int32, scores []T, has []bool) {
	nt := f.nTargets
	leaves := f.leaves
	if f.agg == aggSum || f.agg == aggAverage {
		if nt == 1 {
			for r, i := range idx {
				scores[r] += leaves[i].value
			}
			return
		}
		for r, i := range idx {
			l := &leaves[i]
			s, h := scores[r*nt:r*nt+nt], has[r*nt:r*nt+nt]
			if l.count == 1 {
				s[l.target] += l.value
				h[l.target] = true
				continue
			}
			for w := l.first; w < l.first+l.count; w++ {
				s[f.wTarget[w]] += f.wValue[w]
				h[f.wTarget[w]] = true
			}
		}
		return
	}
	for r, i := range idx {
		l := &leaves[i]
		s, h := scores[r*nt:r*nt+nt], has[r*nt:r*nt+nt]
		for w := l.first; w < l.first+l.count; w++ {
			t, v := f.wTarget[w], f.wValue[w]
			if nt == 1 && w > l.first {
				break // a single target takes a leaf's first weight, as onnxruntime does
			}
			if h[t] && ((f.agg == aggMin && !(v < s[t])) || (f.agg == aggMax && !(v > s[t]))) {
				continue
			}
			s[t], h[t] = v, true
		}
	}
}

// finalizeRegression turns one row's aggregated scores into outputs, as onnxruntime's
// tree aggregators do: base values, averaging, then the post transform.
func (f *forest[T]) finalizeRegression(s []T, has []bool, post transform, out []float64) {
	nTrees := T(len(f.roots))
	if f.nTargets == 1 {
		var origin T
		if len(f.base) == 1 {
			origin = f.base[0]
		}
		v := s[0]
		switch f.agg {
		case aggSum:
			v += origin
		case aggAverage:
			v = v/nTrees + origin
		default:
			if has[0] {
				v += origin
			} else {
				v = origin
			}
		}
		if post == postProbit {
			out[0] = float64(probit(float32(v)))
		} else {
			out[0] = float64(v)
		}
		return
	}
	useBase := len(f.base) == f.nTargets
	vals := make([]T, len(s))
	for j := range s {
		v := s[j]
		switch f.agg {
		case aggSum:
			if useBase {
				v += f.base[j]
			}
		case aggAverage:
			v /= nTrees
			if useBase {
				v += f.base[j]
			}
		default:
			if useBase {
				v = f.base[j] + v
			}
		}
		if has[j] {
			vals[j] = v
		}
	}
	writeScores(vals, post, out, -1)
}

// writeScores applies a post transform, computed in float32 as onnxruntime does, and
// completes a single binary score into two as addSecond says (onnxruntime's
// write_scores: 0 and 1 for all-positive weights, 2 and 3 for mixed ones, -1 none).
func writeScores[T real](vals []T, post transform, out []float64, addSecond int) {
	if len(vals) >= 2 {
		switch post {
		case postProbit:
			for i, v := range vals {
				out[i] = float64(probit(float32(v)))
			}
		case postLogistic:
			for i, v := range vals {
				out[i] = float64(logistic(float32(v)))
			}
		case postSoftmax:
			softmax32(vals, out, false)
		case postSoftmaxZero:
			softmax32(vals, out, true)
		default:
			for i, v := range vals {
				out[i] = float64(v)
			}
		}
		return
	}
	v := float32(vals[0])
	if post == postProbit {
		out[0] = float64(probit(v))
		return
	}
	switch addSecond {
	case 0, 1:
		out[0], out[1] = float64(1-v), float64(v)
	case 2, 3:
		if post == postLogistic {
			out[0], out[1] = float64(logistic(-v)), float64(logistic(v))
		} else {
			out[0], out[1] = float64(-v), float64(v)
		}
	default:
		out[0] = float64(vals[0])
	}
}

func softmax32[T real](vals []T, out []float64, skipZeros bool) {
	vmax := float32(-math.MaxFloat32)
	for _, v := range vals {
		vmax = max(vmax, float32(v))
	}
	expNegMax := exp32(-vmax)
	var sum float32
	for i, v := range vals {
		f := float32(v)
		if skipZeros && f <= 0.0000001 && f >= -0.0000001 {
			out[i] = float64(f * expNegMax)
			continue
		}
		e := exp32(f - vmax)
		out[i] = float64(e)
		sum += e
	}
	for i := range vals {
		out[i] = float64(float32(out[i]) / sum)
	}
}

func exp32(x float32) float32 { return float32(math.Exp(float64(x))) }

func logistic(v float32) float32 {
	e := 1 / (1 + exp32(-abs32(v)))
	if v < 0 {
		return 1 - e
	}
	return e
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

// probit is onnxruntime's: √2 · erfinv(2v−1), with its approximation of erfinv.
func probit(v float32) float32 {
	return float32(math.Sqrt2) * erfInv32(2*v-1)
}

func erfInv32(x float32) float32 {
	sgn := float32(1)
	if x < 0 {
		sgn = -1
	}
	x = (1 - x) * (1 + x)
	lg := float32(math.Log(float64(x)))
	v := 2/(float32(math.Pi)*0.147) + 0.5*lg
	v2 := 1 / float32(0.147) * lg
	v3 := -v + float32(math.Sqrt(float64(v*v-v2)))
	return sgn * float32(math.Sqrt(float64(v3)))
}
