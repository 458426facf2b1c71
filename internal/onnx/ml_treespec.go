package onnx

import (
	"fmt"
	"math"
	"sort"
)

// Branch modes of tree nodes, as TreeEnsemble (ai.onnx.ml 5) numbers them.
const (
	branchLEQ uint8 = iota
	branchLT
	branchGTE
	branchGT
	branchEQ
	branchNEQ
	branchMember
	modeLeaf uint8 = 255
)

var branchModes = map[string]uint8{
	"BRANCH_LEQ": branchLEQ, "BRANCH_LT": branchLT, "BRANCH_GTE": branchGTE, "BRANCH_GT": branchGT,
	"BRANCH_EQ": branchEQ, "BRANCH_NEQ": branchNEQ, "BRANCH_MEMBER": branchMember, "LEAF": modeLeaf,
}

// Aggregate functions and post transforms of tree ensembles and linear models.
type aggregate uint8

const (
	aggSum aggregate = iota
	aggAverage
	aggMin
	aggMax
)

type transform uint8

const (
	postNone transform = iota
	postLogistic
	postSoftmax
	postSoftmaxZero
	postProbit
)

var transforms = map[string]transform{
	"NONE": postNone, "LOGISTIC": postLogistic, "SOFTMAX": postSoftmax,
	"SOFTMAX_ZERO": postSoftmaxZero, "PROBIT": postProbit,
}

func parseTransform(s string) (transform, error) {
	t, ok := transforms[s]
	if !ok {
		return 0, fmt.Errorf("%w: post_transform %q", ErrInvalidModel, s)
	}
	return t, nil
}

// specNode is one node of a tree ensemble before it is compiled for a threshold type.
type specNode struct {
	feature  int
	value    float64
	mode     uint8
	yes, no  int // children, indexes into spec.nodes
	missTrue bool
	members  []float64 // for branchMember
	weights  []leafWeight
}

type leafWeight struct {
	target int
	value  float64
}

// treeSpec is a tree ensemble in one shape, whichever operator it came from: nodes,
// the roots of the trees in evaluation order, and how the leaves combine.
type treeSpec struct {
	nodes    []specNode
	roots    []int
	nTargets int
	agg      aggregate
	post     transform
	base     []float64
}

// specFromLegacy reads the attributes of TreeEnsembleRegressor and
// TreeEnsembleClassifier (prefix "target" or "class"), as onnxruntime interprets them:
// nodes are named by (tree id, node id), a tree's root is its first listed node, weights
// on interior nodes are ignored and every leaf must have one.
func specFromLegacy(a attrs, prefix string, nTargets int) (*treeSpec, error) {
	treeIDs, nodeIDs := a.ints("nodes_treeids"), a.ints("nodes_nodeids")
	feats, modes := a.ints("nodes_featureids"), a.strs("nodes_modes")
	yes, no := a.ints("nodes_truenodeids"), a.ints("nodes_falsenodeids")
	missing := a.ints("nodes_missing_value_tracks_true")
	values, err := a.float64s("nodes_values")
	if err != nil {
		return nil, err
	}
	n := len(treeIDs)
	if n == 0 || len(nodeIDs) != n || len(feats) != n || len(modes) != n || len(yes) != n || len(no) != n || len(values) != n {
		return nil, fmt.Errorf("%w: the nodes_* attributes must all have the same, non-zero length", ErrInvalidModel)
	}
	type key struct{ tree, node int64 }
	index := make(map[key]int, n)
	spec := &treeSpec{nodes: make([]specNode, n), nTargets: nTargets}
	for i := range n {
		k := key{treeIDs[i], nodeIDs[i]}
		if _, dup := index[k]; dup {
			return nil, fmt.Errorf("%w: node %d of tree %d is defined twice", ErrInvalidModel, k.node, k.tree)
		}
		index[k] = i
		mode, ok := branchModes[modes[i]]
		if !ok || mode == branchMember {
			return nil, fmt.Errorf("%w: node mode %q", ErrInvalidModel, modes[i])
		}
		spec.nodes[i] = specNode{feature: int(feats[i]), value: values[i], mode: mode,
			missTrue: i < len(missing) && missing[i] == 1}
		if i == 0 || treeIDs[i] != treeIDs[i-1] {
			spec.roots = append(spec.roots, i)
		}
	}
	for i := range spec.nodes {
		nd := &spec.nodes[i]
		if nd.mode == modeLeaf {
			continue
		}
		y, ok1 := index[key{treeIDs[i], yes[i]}]
		f, ok2 := index[key{treeIDs[i], no[i]}]
		if !ok1 || !ok2 || y == i || f == i {
			return nil, fmt.Errorf("%w: node %d of tree %d has a missing or invalid child", ErrInvalidModel, nodeIDs[i], treeIDs[i])
		}
		nd.yes, nd.no = y, f
	}
	if err := legacyWeights(a, prefix, spec, func(t, nd int64) (int, bool) { i, ok := index[key{t, nd}]; return i, ok }); err != nil {
		return nil, err
	}
	if spec.base, err = a.float64s("base_values"); err != nil {
		return nil, err
	}
	if spec.post, err = parseTransform(a.str("post_transform", "NONE")); err != nil {
		return nil, err
	}
	switch a.str("aggregate_function", "SUM") {
	case "SUM":
		spec.agg = aggSum
	case "AVERAGE":
		spec.agg = aggAverage
	case "MIN":
		spec.agg = aggMin
	case "MAX":
		spec.agg = aggMax
	default:
		return nil, fmt.Errorf("%w: aggregate_function %q", ErrInvalidModel, a.str("aggregate_function", ""))
	}
	return spec, spec.check()
}

func legacyWeights(a attrs, prefix string, spec *treeSpec, find func(t, n int64) (int, bool)) error {
	ids, nodes, trees := a.ints(prefix+"_ids"), a.ints(prefix+"_nodeids"), a.ints(prefix+"_treeids")
	ws, err := a.float64s(prefix + "_weights")
	if err != nil {
		return err
	}
	if len(nodes) != len(ids) || len(trees) != len(ids) || len(ws) != len(ids) {
		return fmt.Errorf("%w: the %s_* attributes must all have the same length", ErrInvalidModel, prefix)
	}
	// onnxruntime visits the weights in (tree, node) order, then in attribute order.
	order := make([]int, len(ids))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(x, y int) bool {
		i, j := order[x], order[y]
		if trees[i] != trees[j] {
			return trees[i] < trees[j]
		}
		return nodes[i] < nodes[j]
	})
	for _, i := range order {
		leaf, ok := find(trees[i], nodes[i])
		if !ok {
			return fmt.Errorf("%w: a weight names node %d of tree %d, which does not exist", ErrInvalidModel, nodes[i], trees[i])
		}
		if spec.nodes[leaf].mode != modeLeaf {
			continue
		}
		if ids[i] < 0 || ids[i] >= int64(spec.nTargets) {
			return fmt.Errorf("%w: a weight's target or class %d is out of range [0,%d)", ErrInvalidModel, ids[i], spec.nTargets)
		}
		spec.nodes[leaf].weights = append(spec.nodes[leaf].weights, leafWeight{int(ids[i]), ws[i]})
	}
	return nil
}

// specFromV5 reads the attributes of TreeEnsemble (ai.onnx.ml 5): interior nodes and
// leaves are separate lists; leaves follow the interior nodes in spec.nodes.
func specFromV5(a attrs) (*treeSpec, error) {
	feats := a.ints("nodes_featureids")
	yes, no := a.ints("nodes_truenodeids"), a.ints("nodes_falsenodeids")
	yesLeaf, noLeaf := a.ints("nodes_trueleafs"), a.ints("nodes_falseleafs")
	missing := a.ints("nodes_missing_value_tracks_true")
	splits, err := a.float64s("nodes_splits")
	if err != nil {
		return nil, err
	}
	modesT, err := a.tensor("nodes_modes")
	if err != nil {
		return nil, err
	}
	n := len(feats)
	if n == 0 || modesT == nil || modesT.Len() != n || len(yes) != n || len(no) != n || len(yesLeaf) != n || len(noLeaf) != n || len(splits) != n {
		return nil, fmt.Errorf("%w: the nodes_* attributes must all have the same, non-zero length", ErrInvalidModel)
	}
	modes, err := toFloat64s(modesT)
	if err != nil {
		return nil, err
	}
	targets := a.ints("leaf_targetids")
	weights, err := a.float64s("leaf_weights")
	if err != nil {
		return nil, err
	}
	if len(targets) != len(weights) || len(targets) == 0 {
		return nil, fmt.Errorf("%w: leaf_targetids and leaf_weights must have the same, non-zero length", ErrInvalidModel)
	}
	members, err := a.float64s("membership_values")
	if err != nil {
		return nil, err
	}
	spec := &treeSpec{nodes: make([]specNode, n+len(targets)), nTargets: int(a.int("n_targets", 0))}
	if spec.nTargets <= 0 {
		return nil, fmt.Errorf("%w: n_targets must be positive", ErrInvalidModel)
	}
	child := func(id, leaf int64) (int, error) {
		if leaf != 0 {
			if id < 0 || id >= int64(len(targets)) {
				return 0, fmt.Errorf("%w: leaf %d out of range", ErrInvalidModel, id)
			}
			return n + int(id), nil
		}
		if id < 0 || id >= int64(n) {
			return 0, fmt.Errorf("%w: node %d out of range", ErrInvalidModel, id)
		}
		return int(id), nil
	}
	for i := range n {
		mode := uint8(modes[i])
		if modes[i] < 0 || mode > branchMember {
			return nil, fmt.Errorf("%w: node mode %v", ErrInvalidModel, modes[i])
		}
		nd := specNode{feature: int(feats[i]), value: splits[i], mode: mode, missTrue: i < len(missing) && missing[i] == 1}
		if mode == branchMember {
			nd.members, members = nextMembers(members)
		}
		if nd.yes, err = child(yes[i], yesLeaf[i]); err != nil {
			return nil, err
		}
		if nd.no, err = child(no[i], noLeaf[i]); err != nil {
			return nil, err
		}
		spec.nodes[i] = nd
	}
	for j, t := range targets {
		if t < 0 || t >= int64(spec.nTargets) {
			return nil, fmt.Errorf("%w: leaf target %d out of range [0,%d)", ErrInvalidModel, t, spec.nTargets)
		}
		spec.nodes[n+j] = specNode{mode: modeLeaf, weights: []leafWeight{{int(t), weights[j]}}}
	}
	for _, r := range a.ints("tree_roots") {
		if r < 0 || r >= int64(n) {
			return nil, fmt.Errorf("%w: tree root %d out of range", ErrInvalidModel, r)
		}
		spec.roots = append(spec.roots, int(r))
	}
	agg, post := a.int("aggregate_function", 1), a.int("post_transform", 0)
	if agg < 0 || agg > 3 || post < 0 || post > 4 {
		return nil, fmt.Errorf("%w: aggregate_function %d or post_transform %d", ErrInvalidModel, agg, post)
	}
	spec.agg = [...]aggregate{aggAverage, aggSum, aggMin, aggMax}[agg]
	spec.post = [...]transform{postNone, postSoftmax, postLogistic, postSoftmaxZero, postProbit}[post]
	return spec, spec.check()
}

// nextMembers splits the next NaN-delimited set off the membership values.
func nextMembers(vals []float64) (set, rest []float64) {
	for i, v := range vals {
		if math.IsNaN(v) {
			return vals[:i], vals[i+1:]
		}
	}
	return vals, nil
}

// check rejects what would make evaluation loop or read out of bounds: cycles, leaves
// without weights, negative features.
func (s *treeSpec) check() error {
	if len(s.roots) == 0 {
		return fmt.Errorf("%w: the ensemble has no trees", ErrInvalidModel)
	}
	const (
		unseen = iota
		open
		done
	)
	state := make([]uint8, len(s.nodes))
	var visit func(i, depth int) error
	visit = func(i, depth int) error {
		if depth > 4096 {
			return fmt.Errorf("%w: a tree is deeper than 4096 levels", ErrInvalidModel)
		}
		switch state[i] {
		case open:
			return fmt.Errorf("%w: a tree has a cycle", ErrInvalidModel)
		case done:
			return nil
		}
		nd := &s.nodes[i]
		if nd.mode == modeLeaf {
			state[i] = done
			if len(nd.weights) == 0 {
				return fmt.Errorf("%w: a leaf has no weight", ErrInvalidModel)
			}
			return nil
		}
		if nd.feature < 0 {
			return fmt.Errorf("%w: negative feature id %d", ErrInvalidModel, nd.feature)
		}
		state[i] = open
		if err := visit(nd.yes, depth+1); err != nil {
			return err
		}
		if err := visit(nd.no, depth+1); err != nil {
			return err
		}
		state[i] = done
		return nil
	}
	for _, r := range s.roots {
		if err := visit(r, 0); err != nil {
			return err
		}
	}
	return nil
}

func (s *treeSpec) maxFeature() int {
	m := -1
	for _, nd := range s.nodes {
		if nd.mode != modeLeaf && nd.feature > m {
			m = nd.feature
		}
	}
	return m
}

// depths gives each node the number of branches on the longest path from it to a leaf.
// Nodes may be shared (check has ruled out cycles), so each is computed once.
func (s *treeSpec) depths() []int {
	d := make([]int, len(s.nodes))
	done := make([]bool, len(s.nodes))
	var visit func(i int) int
	visit = func(i int) int {
		if done[i] {
			return d[i]
		}
		if nd := &s.nodes[i]; nd.mode != modeLeaf {
			d[i] = 1 + max(visit(nd.yes), visit(nd.no))
		}
		done[i] = true
		return d[i]
	}
	for _, r := range s.roots {
		visit(r)
	}
	return d
}
