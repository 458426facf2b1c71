// Package onnx is a pure-Go ONNX inference engine for the models most teams serve:
// tabular classifiers and regressors (scikit-learn, XGBoost and LightGBM through their
// ONNX converters), k nearest neighbours and text pipelines from skl2onnx, and small
// neural networks. It loads a model once, checks and plans its
// graph, folds what is constant, and then runs it for any number of concurrent callers.
//
// It implements the ai.onnx.ml domain (tree ensembles, linear models, SVMs, encoders and
// the map and sequence types of ZipMap and DictVectorizer), the core operators the
// converters and exporters emit (Scan with its subgraph among them), and the two
// com.microsoft operators skl2onnx writes (Tokenizer, CDist); docs/onnx.md lists them. A model that uses anything else
// fails at load time with an error that names every missing operator.
package onnx

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/mlship/mlship/internal/onnx/onnxpb"
)

// The errors the engine returns wrap one of these.
var (
	// ErrInvalidModel: the file is not a well-formed ONNX model.
	ErrInvalidModel = errors.New("invalid ONNX model")
	// ErrUnsupported: the model is well formed but uses something the engine lacks.
	ErrUnsupported = errors.New("unsupported by the ONNX engine")
	// ErrInvalidInput: the inputs given to Run do not fit the model.
	ErrInvalidInput = errors.New("invalid input")
)

// ValueInfo describes a graph input or output.
type ValueInfo struct {
	Name string
	// Kind is "tensor", "map" or "seq" (a sequence of maps).
	Kind string
	// DType is the element type of a tensor, or the value type of a map (or of the maps in
	// a sequence).
	DType DType
	// KeyType is the key type of a map, or of the maps in a sequence.
	KeyType DType
	// Shape has -1 for a dimension of any size; it is nil when the model gives no shape.
	Shape []int64
}

// Model is a loaded, checked and planned ONNX graph. Run is safe for concurrent use.
type Model struct {
	inputs, outputs []ValueInfo
	opsets          map[string]int64
	// slots numbers every value of the graph; constants fill theirs before a run.
	slots     int
	consts    []Value // by slot; nil for values computed at run time
	inputSlot []int
	outSlot   []int
	steps     []step
	producer  string
}

type step struct {
	name string // the node's name or op type, for errors
	op   string // domain:OpType
	k    kernel
	in   []int // slots, -1 for an absent optional input
	out  []int
	free []int // slots whose last reader is this step
}

// kernel is one node's computation. It returns one value per node output (nil for an
// output it does not produce).
type kernel interface {
	run(in []Value) ([]Value, error)
}

// LoadFile loads a model from a file.
func LoadFile(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Load(data)
}

// Load parses, checks and plans a model.
func Load(data []byte) (m *Model, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("%w: onnx: internal error: %v", ErrInvalidModel, r)
		}
	}()
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(data, &mp); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidModel, err)
	}
	return build(&mp)
}

// Inputs describes the graph inputs a caller must give (initializers excluded).
func (m *Model) Inputs() []ValueInfo { return m.inputs }

// Outputs describes the graph outputs Run returns.
func (m *Model) Outputs() []ValueInfo { return m.outputs }

// Opsets are the operator set versions the model imports, by domain ("" is ai.onnx).
func (m *Model) Opsets() map[string]int64 { return m.opsets }

// Producer is the tool that wrote the model, as it says ("skl2onnx 1.20.0").
func (m *Model) Producer() string { return m.producer }

func build(mp *onnxpb.ModelProto) (*Model, error) {
	g := mp.GetGraph()
	if g == nil {
		return nil, fmt.Errorf("%w: no graph", ErrInvalidModel)
	}
	opsets := map[string]int64{}
	for _, o := range mp.GetOpsetImport() {
		opsets[normDomain(o.GetDomain())] = o.GetVersion()
	}
	if len(opsets) == 0 {
		return nil, fmt.Errorf("%w: the model imports no operator set", ErrInvalidModel)
	}
	if err := checkOperators(g.GetNode(), opsets); err != nil {
		return nil, err
	}
	m, err := buildGraph(g, opsets, nil)
	if err != nil {
		return nil, err
	}
	m.producer = strings.TrimSpace(mp.GetProducerName() + " " + mp.GetProducerVersion())
	return m, nil
}

// buildGraph checks and plans a graph. outer is nil for a model's main graph; for a
// subgraph (a Scan body) it names the enclosing graph's values the subgraph reads, which
// become inputs after the subgraph's own.
func buildGraph(g *onnxpb.GraphProto, opsets map[string]int64, outer *outerScope) (*Model, error) {
	m := &Model{opsets: opsets}
	p := &planner{m: m, slot: map[string]int{}, sub: outer != nil}
	if err := p.declare(g); err != nil {
		return nil, err
	}
	p.declareOuter(outer)
	nodes, err := topoSort(g.GetNode(), p.slot)
	if err != nil {
		return nil, err
	}
	if err := p.plan(nodes); err != nil {
		return nil, err
	}
	if err := p.outputs(g); err != nil {
		return nil, err
	}
	p.fold()
	p.lastUses()
	return m, nil
}

func normDomain(d string) string {
	if d == "" || d == "ai.onnx" {
		return ""
	}
	return d
}

func opKey(domain, op string) string {
	if d := normDomain(domain); d != "" {
		return d + ":" + op
	}
	return "ai.onnx:" + op
}

// planner turns a graph into steps over numbered slots.
type planner struct {
	m    *Model
	slot map[string]int
	sub  bool // planning a subgraph, whose inputs and outputs may leave out their types
}

func (p *planner) newSlot(name string) int {
	i := p.m.slots
	p.slot[name] = i
	p.m.slots++
	p.m.consts = append(p.m.consts, nil)
	return i
}

// declare numbers the initializers and the graph inputs.
func (p *planner) declare(g *onnxpb.GraphProto) error {
	for _, init := range g.GetInitializer() {
		t, err := tensorFromProto(init)
		if err != nil {
			return err
		}
		p.m.consts[p.newSlot(init.GetName())] = t
	}
	for _, vi := range g.GetInput() {
		if i, ok := p.slot[vi.GetName()]; ok && p.m.consts[i] != nil {
			continue // an initializer listed as an input: a default the engine keeps constant
		}
		if vi.GetName() == "" {
			return fmt.Errorf("%w: a graph input has no name", ErrInvalidModel)
		}
		info, err := valueInfo(vi)
		if err != nil && !p.sub {
			return err
		}
		info.Name = vi.GetName()
		p.m.inputs = append(p.m.inputs, info)
		p.m.inputSlot = append(p.m.inputSlot, p.newSlot(vi.GetName()))
	}
	return nil
}

func valueInfo(vi *onnxpb.ValueInfoProto) (ValueInfo, error) {
	info := ValueInfo{Name: vi.GetName()}
	tp := vi.GetType()
	if s := tp.GetSequenceType(); s != nil {
		info.Kind = "seq"
		tp = s.GetElemType()
	}
	switch {
	case tp.GetTensorType() != nil:
		if info.Kind == "seq" {
			return info, fmt.Errorf("%w: %q is a sequence of tensors", ErrUnsupported, vi.GetName())
		}
		info.Kind = "tensor"
		tt := tp.GetTensorType()
		info.DType = DType(tt.GetElemType())
		if tt.GetShape() != nil {
			info.Shape = []int64{}
			for _, d := range tt.GetShape().GetDim() {
				if d.GetDimParam() == "" && d.GetDimValue() > 0 {
					info.Shape = append(info.Shape, d.GetDimValue())
				} else {
					info.Shape = append(info.Shape, -1)
				}
			}
		}
	case tp.GetMapType() != nil:
		if info.Kind == "" {
			info.Kind = "map"
		}
		mt := tp.GetMapType()
		info.KeyType = DType(mt.GetKeyType())
		info.DType = DType(mt.GetValueType().GetTensorType().GetElemType())
	default:
		return info, fmt.Errorf("%w: %q has a type the engine does not know", ErrUnsupported, vi.GetName())
	}
	if _, ok := dtypeNames[info.DType]; !ok {
		return info, fmt.Errorf("%w: %q has element type %d", ErrUnsupported, vi.GetName(), info.DType)
	}
	return info, nil
}

// topoSort orders the nodes so that each comes after the producers of its inputs,
// keeping the file's order where it already is one.
func topoSort(nodes []*onnxpb.NodeProto, known map[string]int) ([]*onnxpb.NodeProto, error) {
	producer := map[string]int{}
	for i, n := range nodes {
		for _, o := range n.GetOutput() {
			if o == "" {
				continue
			}
			if _, dup := producer[o]; dup {
				return nil, fmt.Errorf("%w: value %q is produced twice", ErrInvalidModel, o)
			}
			if _, ok := known[o]; ok {
				return nil, fmt.Errorf("%w: node output %q shadows a graph input or initializer", ErrInvalidModel, o)
			}
			producer[o] = i
		}
	}
	waiting := make([]int, len(nodes))
	readers := make([][]int, len(nodes))
	for i, n := range nodes {
		for _, in := range nodeInputs(n) {
			if in == "" {
				continue
			}
			if j, ok := producer[in]; ok {
				waiting[i]++
				readers[j] = append(readers[j], i)
			} else if _, ok := known[in]; !ok {
				return nil, fmt.Errorf("%w: node %s reads %q, which nothing defines", ErrInvalidModel, nodeName(n), in)
			}
		}
	}
	var ready, order []int
	for i := range nodes {
		if waiting[i] == 0 {
			ready = append(ready, i)
		}
	}
	for len(ready) > 0 {
		sort.Ints(ready)
		i := ready[0]
		ready = ready[1:]
		order = append(order, i)
		for _, r := range readers[i] {
			if waiting[r]--; waiting[r] == 0 {
				ready = append(ready, r)
			}
		}
	}
	if len(order) != len(nodes) {
		return nil, fmt.Errorf("%w: the graph has a cycle", ErrInvalidModel)
	}
	out := make([]*onnxpb.NodeProto, len(order))
	for k, i := range order {
		out[k] = nodes[i]
	}
	return out, nil
}

func nodeName(n *onnxpb.NodeProto) string {
	if n.GetName() != "" {
		return fmt.Sprintf("%q (%s)", n.GetName(), n.GetOpType())
	}
	return n.GetOpType()
}

// checkOperators fails, naming every one, if any operator or domain is unknown, in the
// graph or in its subgraphs.
func checkOperators(nodes []*onnxpb.NodeProto, opsets map[string]int64) error {
	var missing []string
	if err := collectMissing(nodes, opsets, &missing, 0); err != nil {
		return err
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("%w: operators %s", ErrUnsupported, strings.Join(missing, ", "))
	}
	return nil
}

// maxGraphDepth caps the nesting of subgraphs, whose planning costs grow with its square.
const maxGraphDepth = 32

func collectMissing(nodes []*onnxpb.NodeProto, opsets map[string]int64, missing *[]string, depth int) error {
	if depth > maxGraphDepth {
		return fmt.Errorf("%w: subgraphs nested more than %d deep", ErrUnsupported, maxGraphDepth)
	}
	for _, n := range nodes {
		key := opKey(n.GetDomain(), n.GetOpType())
		if _, ok := opsets[normDomain(n.GetDomain())]; !ok {
			return fmt.Errorf("%w: node %s uses domain %q, which the model does not import", ErrInvalidModel, nodeName(n), n.GetDomain())
		}
		if _, ok := registry[key]; !ok && !slices.Contains(*missing, key) {
			*missing = append(*missing, key)
		}
		for _, g := range subgraphs(n) {
			if err := collectMissing(g.GetNode(), opsets, missing, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *planner) plan(nodes []*onnxpb.NodeProto) error {
	for _, n := range nodes {
		key := opKey(n.GetDomain(), n.GetOpType())
		nc := &nodeCtx{
			proto:    n,
			attrs:    attrs{},
			opset:    p.m.opsets[normDomain(n.GetDomain())],
			opsets:   p.m.opsets,
			consts:   p.constInputs(n),
			implicit: subgraphRefs(n),
		}
		for _, a := range n.GetAttribute() {
			nc.attrs[a.GetName()] = a
		}
		k, err := registry[key](nc)
		if err != nil {
			return fmt.Errorf("node %s: %w", nodeName(n), err)
		}
		st := step{name: nodeName(n), op: key, k: k}
		for _, in := range nodeInputs(n) {
			if in == "" {
				st.in = append(st.in, -1)
			} else {
				st.in = append(st.in, p.slot[in])
			}
		}
		for _, o := range n.GetOutput() {
			if o == "" {
				st.out = append(st.out, -1)
			} else {
				st.out = append(st.out, p.newSlot(o))
			}
		}
		p.m.steps = append(p.m.steps, st)
	}
	return nil
}

// constInputs gives a kernel builder the node's inputs that are known at load time.
func (p *planner) constInputs(n *onnxpb.NodeProto) []Value {
	names := nodeInputs(n)
	out := make([]Value, len(names))
	for i, in := range names {
		if s, ok := p.slot[in]; ok && in != "" {
			out[i] = p.m.consts[s]
		}
	}
	return out
}

func (p *planner) outputs(g *onnxpb.GraphProto) error {
	for _, vi := range g.GetOutput() {
		s, ok := p.slot[vi.GetName()]
		if !ok {
			return fmt.Errorf("%w: graph output %q is never computed", ErrInvalidModel, vi.GetName())
		}
		info, err := valueInfo(vi)
		if err != nil && !p.sub {
			return err
		}
		info.Name = vi.GetName()
		p.m.outputs = append(p.m.outputs, info)
		p.m.outSlot = append(p.m.outSlot, s)
	}
	if len(p.m.outputs) == 0 {
		return fmt.Errorf("%w: the graph has no outputs", ErrInvalidModel)
	}
	return nil
}

// fold runs, once, every step whose inputs are all constant.
func (p *planner) fold() {
	kept := p.m.steps[:0]
	for _, st := range p.m.steps {
		if !p.foldable(st) {
			kept = append(kept, st)
			continue
		}
		in := make([]Value, len(st.in))
		for i, s := range st.in {
			if s >= 0 {
				in[i] = p.m.consts[s]
			}
		}
		out, err := st.k.run(in)
		if err != nil {
			kept = append(kept, st) // let the error surface at run time, where it belongs
			continue
		}
		for i, s := range st.out {
			if s >= 0 && i < len(out) {
				p.m.consts[s] = out[i]
			}
		}
	}
	p.m.steps = kept
}

func (p *planner) foldable(st step) bool {
	for _, s := range st.in {
		if s >= 0 && p.m.consts[s] == nil {
			return false
		}
	}
	return true
}

func (p *planner) lastUses() {
	last := map[int]int{}
	for i, st := range p.m.steps {
		for _, s := range st.in {
			if s >= 0 && p.m.consts[s] == nil {
				last[s] = i
			}
		}
	}
	for _, s := range p.m.outSlot {
		delete(last, s)
	}
	for s, i := range last {
		p.m.steps[i].free = append(p.m.steps[i].free, s)
	}
}

// nodeCtx is what a kernel builder sees of its node.
type nodeCtx struct {
	proto  *onnxpb.NodeProto
	attrs  attrs
	opset  int64            // the version of the node's domain the model imports
	opsets map[string]int64 // every domain's version, for subgraphs
	// consts are the node's inputs known at load time, nil where not: its own inputs,
	// then the implicit ones.
	consts []Value
	// implicit names the enclosing graph's values the node's subgraphs read; the kernel
	// receives them after the node's own inputs.
	implicit []string
}

func (n *nodeCtx) constTensor(i int) *Tensor {
	if i < len(n.consts) {
		t, _ := n.consts[i].(*Tensor)
		return t
	}
	return nil
}

type builder func(n *nodeCtx) (kernel, error)

// registry maps domain:OpType to the builder of its kernel.
var registry = map[string]builder{}

func register(domain string, b builder, ops ...string) {
	for _, op := range ops {
		registry[opKey(domain, op)] = b
	}
}

// Operators lists the operators the engine implements, as domain:OpType.
func Operators() []string {
	out := make([]string, 0, len(registry))
	for k := range registry {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
