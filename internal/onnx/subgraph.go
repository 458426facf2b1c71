package onnx

import (
	"fmt"
	"slices"

	"github.com/mlship/mlship/internal/onnx/onnxpb"
)

// subgraphs are the graphs a node carries as attributes (a Scan's body).
func subgraphs(n *onnxpb.NodeProto) []*onnxpb.GraphProto {
	var out []*onnxpb.GraphProto
	for _, a := range n.GetAttribute() {
		if g := a.GetG(); g != nil {
			out = append(out, g)
		}
		out = append(out, a.GetGraphs()...)
	}
	return out
}

// nodeInputs are the values a node reads: its inputs, then the values of the enclosing
// graph that its subgraphs read.
func nodeInputs(n *onnxpb.NodeProto) []string {
	refs := subgraphRefs(n)
	if len(refs) == 0 {
		return n.GetInput()
	}
	return append(slices.Clone(n.GetInput()), refs...)
}

// subgraphRefs names, in order of first use, the values a node's subgraphs read from
// outside themselves.
func subgraphRefs(n *onnxpb.NodeProto) []string {
	var refs []string
	for _, g := range subgraphs(n) {
		for _, r := range freeNames(g) {
			if !slices.Contains(refs, r) {
				refs = append(refs, r)
			}
		}
	}
	return refs
}

// freeNames are the names a graph (or the subgraphs of its nodes) reads and does not
// define.
func freeNames(g *onnxpb.GraphProto) []string {
	defined := map[string]bool{"": true}
	for _, vi := range g.GetInput() {
		defined[vi.GetName()] = true
	}
	for _, t := range g.GetInitializer() {
		defined[t.GetName()] = true
	}
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			defined[o] = true
		}
	}
	var free []string
	add := func(name string) {
		if !defined[name] && !slices.Contains(free, name) {
			free = append(free, name)
		}
	}
	for _, n := range g.GetNode() {
		for _, in := range nodeInputs(n) {
			add(in)
		}
	}
	for _, vi := range g.GetOutput() {
		add(vi.GetName())
	}
	return free
}

// outerScope is what a subgraph sees of its enclosing graph: the names it reads, and
// their values where they are constants.
type outerScope struct {
	names  []string
	consts []Value
}

// declareOuter makes each outer value the subgraph reads an input after its own.
func (p *planner) declareOuter(outer *outerScope) {
	if outer == nil {
		return
	}
	for i, name := range outer.names {
		s := p.newSlot(name)
		p.m.inputSlot = append(p.m.inputSlot, s)
		if i < len(outer.consts) {
			p.m.consts[s] = outer.consts[i]
		}
	}
}

// subgraph plans the graph attribute name of the node, as a model whose inputs are the
// graph's own followed by the node's implicit inputs.
func (n *nodeCtx) subgraph(name string) (*Model, error) {
	a, ok := n.attrs[name]
	if !ok || a.GetG() == nil {
		return nil, fmt.Errorf("%w: attribute %q must be a graph", ErrInvalidModel, name)
	}
	own := len(n.proto.GetInput())
	var consts []Value
	if own <= len(n.consts) {
		consts = n.consts[own:]
	}
	body, err := buildGraph(a.GetG(), n.opsets, &outerScope{names: n.implicit, consts: consts})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return body, nil
}

// runBody runs a subgraph on its inputs (its own, then the outer values it reads) and
// writes its outputs to out.
func (m *Model) runBody(args []Value, out []Value) error {
	vals := m.slotsFor()
	defer m.releaseSlots(vals)
	for i, a := range args {
		vals[m.inputSlot[i]] = a
	}
	if err := m.exec(vals); err != nil {
		return err
	}
	for i, s := range m.outSlot {
		if out[i] = vals[s]; out[i] == nil {
			return fmt.Errorf("%w: output %q of the subgraph was not computed", ErrInvalidInput, m.outputs[i].Name)
		}
	}
	return nil
}
