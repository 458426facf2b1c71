package onnx

import (
	"fmt"
	"slices"
)

func init() {
	register("", newScan, "Scan")
}

// scan is Scan: a body run once per slice of the scan inputs, carrying state variables
// from one iteration to the next and stacking its scan outputs. Before opset 9 every input
// and output has a batch dimension first and an optional first input, sequence_lens,
// gives each batch item its number of iterations (scan outputs past it are zeros).
type scan struct {
	body       *Model
	batched    bool // opset 8
	nScanIn    int
	inAxes     []int64 // per scan input; negative counts from the end
	inReverse  []bool
	outAxes    []int64 // per scan output
	outReverse []bool
	nOwn       int // the node's own inputs; the implicit ones follow
}

func newScan(n *nodeCtx) (kernel, error) {
	body, err := n.subgraph("body")
	if err != nil {
		return nil, err
	}
	s := &scan{body: body, batched: n.opset < 9, nScanIn: int(n.attrs.int("num_scan_inputs", 0)), nOwn: len(n.proto.GetInput())}
	nStates := s.nStates()
	nScanOut := len(body.outSlot) - nStates
	if s.nScanIn < 1 || nStates < 0 || nScanOut < 0 || len(body.inputs) != nStates+s.nScanIn {
		return nil, fmt.Errorf("%w: Scan has %d inputs, %d scan inputs and a body of %d inputs and %d outputs",
			ErrInvalidModel, s.nOwn, s.nScanIn, len(body.inputs), len(body.outSlot))
	}
	if len(n.proto.GetOutput()) > nStates+nScanOut {
		return nil, fmt.Errorf("%w: Scan has %d outputs, its body %d", ErrInvalidModel, len(n.proto.GetOutput()), nStates+nScanOut)
	}
	if s.batched {
		// Opset 8 scans the axis after the batch, forward or back by "directions".
		s.inAxes, s.outAxes, s.outReverse = make([]int64, s.nScanIn), make([]int64, nScanOut), make([]bool, nScanOut)
		dirs, err := scanAttr(n, "directions", s.nScanIn)
		s.inReverse = flags(dirs)
		return s, err
	}
	if s.inAxes, err = scanAttr(n, "scan_input_axes", s.nScanIn); err != nil {
		return nil, err
	}
	if s.outAxes, err = scanAttr(n, "scan_output_axes", nScanOut); err != nil {
		return nil, err
	}
	dirs, err := scanAttr(n, "scan_input_directions", s.nScanIn)
	if err != nil {
		return nil, err
	}
	s.inReverse = flags(dirs)
	if dirs, err = scanAttr(n, "scan_output_directions", nScanOut); err != nil {
		return nil, err
	}
	s.outReverse = flags(dirs)
	return s, nil
}

// nStates is the number of state variables: the inputs that are neither scanned nor
// opset 8's sequence_lens.
func (s *scan) nStates() int {
	if s.batched {
		return s.nOwn - 1 - s.nScanIn
	}
	return s.nOwn - s.nScanIn
}

// scanAttr reads a per-input list attribute, zeros when absent.
func scanAttr(n *nodeCtx, name string, count int) ([]int64, error) {
	v := n.attrs.ints(name)
	if v == nil {
		return make([]int64, count), nil
	}
	if len(v) != count {
		return nil, fmt.Errorf("%w: Scan attribute %s has %d values for %d", ErrInvalidModel, name, len(v), count)
	}
	return v, nil
}

func flags(v []int64) []bool {
	out := make([]bool, len(v))
	for i, d := range v {
		out[i] = d != 0
	}
	return out
}

func (s *scan) run(in []Value) ([]Value, error) {
	if s.batched {
		return s.runBatched(in)
	}
	nStates := s.nStates()
	scanIn := make([]*Tensor, s.nScanIn)
	for j := range scanIn {
		t, err := tensorArg(in, nStates+j)
		if err != nil {
			return nil, err
		}
		scanIn[j] = t
	}
	finals, outs, err := s.loop(in[:nStates], scanIn, in[s.nOwn:])
	if err != nil {
		return nil, err
	}
	for _, t := range outs {
		finals = append(finals, t)
	}
	return finals, nil
}

// loop runs the body over the scan inputs and returns the final states and the stacked
// scan outputs.
func (s *scan) loop(states []Value, scanIn []*Tensor, implicit []Value) ([]Value, []*Tensor, error) {
	nStates := len(states)
	axes := make([]int, len(scanIn))
	steps := -1
	for j, t := range scanIn {
		ax, err := normAxis(s.inAxes[j], len(t.Shape))
		if err != nil {
			return nil, nil, fmt.Errorf("scan input %d: %w", j, err)
		}
		if steps >= 0 && int(t.Shape[ax]) != steps {
			return nil, nil, fmt.Errorf("%w: Scan inputs of %d and %d iterations", ErrInvalidInput, steps, t.Shape[ax])
		}
		axes[j], steps = ax, int(t.Shape[ax])
	}
	args := make([]Value, 0, nStates+len(scanIn)+len(implicit))
	args = append(args, states...)
	args = append(args, make([]Value, len(scanIn))...)
	args = append(args, implicit...)
	res := make([]Value, len(s.body.outSlot))
	stacked := make([][]*Tensor, len(s.outAxes))
	for it := range steps {
		for j, t := range scanIn {
			idx := it
			if s.inReverse[j] {
				idx = steps - 1 - it
			}
			args[nStates+j] = sliceAt(t, axes[j], idx)
		}
		if err := s.body.runBody(args, res); err != nil {
			return nil, nil, fmt.Errorf("Scan iteration %d: %w", it, err)
		}
		copy(args, res[:nStates])
		for k := range stacked {
			t, ok := res[nStates+k].(*Tensor)
			if !ok {
				return nil, nil, fmt.Errorf("%w: Scan output %d is a %s", ErrUnsupported, k, res[nStates+k].Type())
			}
			stacked[k] = append(stacked[k], t)
		}
	}
	outs := make([]*Tensor, len(stacked))
	for k, parts := range stacked {
		if s.outReverse[k] {
			slices.Reverse(parts)
		}
		var err error
		if len(parts) == 0 {
			outs[k], err = s.emptyOutput(k, nStates)
		} else {
			outs[k], err = stackTensors(parts, s.outAxes[k])
		}
		if err != nil {
			return nil, nil, fmt.Errorf("scan output %d: %w", k, err)
		}
	}
	return slices.Clone(args[:nStates]), outs, nil
}

// runBatched is opset 8's Scan: the loop once per batch item, over its sequence length.
func (s *scan) runBatched(in []Value) ([]Value, error) {
	nStates := s.nStates()
	own := make([]*Tensor, nStates+s.nScanIn)
	batch, steps := int64(-1), int64(-1)
	for i := range own {
		t, err := tensorArg(in, 1+i)
		if err != nil {
			return nil, err
		}
		if len(t.Shape) < 1 || (i >= nStates && len(t.Shape) < 2) || (batch >= 0 && t.Shape[0] != batch) ||
			(i >= nStates && steps >= 0 && t.Shape[1] != steps) {
			return nil, fmt.Errorf("%w: Scan input %s%v: states are [batch, ...] and scan inputs [batch, sequence, ...], alike in batch and sequence", ErrInvalidInput, t.Type(), t.Shape)
		}
		own[i], batch = t, t.Shape[0]
		if i >= nStates {
			steps = t.Shape[1]
		}
	}
	if batch == 0 {
		return nil, fmt.Errorf("%w: Scan of an empty batch", ErrInvalidInput)
	}
	lens, err := sequenceLens(optTensor(in, 0), batch, steps)
	if err != nil {
		return nil, err
	}
	finals := make([][]*Tensor, nStates)
	outs := make([][]*Tensor, len(s.outAxes))
	for b := range int(batch) {
		states := make([]Value, nStates)
		for i := range states {
			states[i] = sliceAt(own[i], 0, b)
		}
		scanIn := make([]*Tensor, s.nScanIn)
		for j := range scanIn {
			scanIn[j] = headRows(sliceAt(own[nStates+j], 0, b), lens[b])
		}
		fs, scanned, err := s.loop(states, scanIn, in[s.nOwn:])
		if err != nil {
			return nil, fmt.Errorf("batch item %d: %w", b, err)
		}
		for i, f := range fs {
			t, ok := f.(*Tensor)
			if !ok {
				return nil, fmt.Errorf("%w: Scan state %d is a %s", ErrUnsupported, i, f.Type())
			}
			finals[i] = append(finals[i], t)
		}
		for k, t := range scanned {
			if t, err = padRows(t, steps); err != nil {
				return nil, err
			}
			outs[k] = append(outs[k], t)
		}
	}
	var out []Value
	for _, parts := range append(finals, outs...) {
		t, err := stackTensors(parts, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// sequenceLens checks opset 8's sequence_lens, each in 1 to steps; all steps without it.
func sequenceLens(t *Tensor, batch, steps int64) ([]int64, error) {
	if t == nil {
		lens := make([]int64, batch)
		for i := range lens {
			lens[i] = steps
		}
		return lens, nil
	}
	lens := Data[int64](t)
	if int64(len(lens)) != batch {
		return nil, fmt.Errorf("%w: Scan sequence_lens holds %d lengths for a batch of %d", ErrInvalidInput, len(lens), batch)
	}
	for _, l := range lens {
		if l < 1 || l > steps {
			return nil, fmt.Errorf("%w: Scan sequence length %d is not in 1 to %d", ErrInvalidInput, l, steps)
		}
	}
	return lens, nil
}

// headRows is the first n rows of t, shared.
func headRows(t *Tensor, n int64) *Tensor {
	if len(t.Shape) == 0 || n >= t.Shape[0] {
		return t
	}
	_, _, inner := axisSplit(t.Shape, 0)
	shape := slices.Clone(t.Shape)
	shape[0] = n
	return &Tensor{DType: t.DType, Shape: shape, data: subSlice(t, 0, int(n)*inner)}
}

// padRows extends t to rows rows along its first axis with zeros.
func padRows(t *Tensor, rows int64) (*Tensor, error) {
	if len(t.Shape) == 0 || t.Shape[0] >= rows {
		return t, nil
	}
	shape := slices.Clone(t.Shape)
	shape[0] = rows
	out, err := newTensorOf(t.DType, shape)
	if err != nil {
		return nil, err
	}
	copyRange(out, 0, t, 0, t.Len())
	return out, nil
}

// sliceAt is t's slice idx along axis ax, with that axis removed. A slice along the first
// axis shares t's elements.
func sliceAt(t *Tensor, ax, idx int) *Tensor {
	shape := slices.Delete(slices.Clone(t.Shape), ax, ax+1)
	outer, dim, inner := axisSplit(t.Shape, ax)
	if outer == 1 {
		return &Tensor{DType: t.DType, Shape: shape, data: subSlice(t, idx*inner, (idx+1)*inner)}
	}
	out, _ := newTensorOf(t.DType, shape)
	for o := range outer {
		copyRange(out, o*inner, t, (o*dim+idx)*inner, inner)
	}
	return out
}

// subSlice is t's elements lo to hi, shared.
func subSlice(t *Tensor, lo, hi int) any {
	switch d := t.data.(type) {
	case []float32:
		return d[lo:hi:hi]
	case []float64:
		return d[lo:hi:hi]
	case []int64:
		return d[lo:hi:hi]
	case []int32:
		return d[lo:hi:hi]
	case []uint8:
		return d[lo:hi:hi]
	case []int8:
		return d[lo:hi:hi]
	case []bool:
		return d[lo:hi:hi]
	case []string:
		return d[lo:hi:hi]
	}
	return nil
}

// stackTensors joins tensors of one type and shape along a new axis.
func stackTensors(parts []*Tensor, axis int64) (*Tensor, error) {
	first := parts[0]
	for _, p := range parts[1:] {
		if p.DType != first.DType || !sameShape(p.Shape, first.Shape) {
			return nil, fmt.Errorf("%w: Scan output changes from %s%v to %s%v between iterations", ErrInvalidInput, first.Type(), first.Shape, p.Type(), p.Shape)
		}
	}
	ax, err := normAxis(axis, len(first.Shape)+1)
	if err != nil {
		return nil, err
	}
	shape := slices.Insert(slices.Clone(first.Shape), ax, int64(len(parts)))
	out, err := newTensorOf(first.DType, shape)
	if err != nil {
		return nil, err
	}
	outer, _, inner := axisSplit(shape, ax)
	pos := 0
	for o := range outer {
		for _, p := range parts {
			copyRange(out, pos, p, o*inner, inner)
			pos += inner
		}
	}
	return out, nil
}

// emptyOutput is a scan output after no iteration: its shape is what the body declares.
func (s *scan) emptyOutput(k, nStates int) (*Tensor, error) {
	info := s.body.outputs[nStates+k]
	if info.Kind != "tensor" || info.Shape == nil || slices.Contains(info.Shape, -1) {
		return nil, fmt.Errorf("%w: Scan ran no iteration and its body does not declare the shape of output %q", ErrInvalidInput, info.Name)
	}
	ax, err := normAxis(s.outAxes[k], len(info.Shape)+1)
	if err != nil {
		return nil, err
	}
	return newTensorOf(info.DType, slices.Insert(slices.Clone(info.Shape), ax, 0))
}
