package onnx

import (
	"fmt"
	"slices"
)

func init() {
	register("", newScan, "Scan")
}

// scan is Scan from opset 9: a body run once per slice of the scan inputs, carrying state
// variables from one iteration to the next and stacking its scan outputs.
type scan struct {
	body       *Model
	nScanIn    int
	inAxes     []int64 // per scan input; negative counts from the end
	inReverse  []bool
	outAxes    []int64 // per scan output
	outReverse []bool
	nOwn       int // the node's own inputs; the implicit ones follow
}

func newScan(n *nodeCtx) (kernel, error) {
	if n.opset < 9 {
		return nil, fmt.Errorf("%w: Scan of opset %d (its batched form before opset 9)", ErrUnsupported, n.opset)
	}
	body, err := n.subgraph("body")
	if err != nil {
		return nil, err
	}
	s := &scan{body: body, nScanIn: int(n.attrs.int("num_scan_inputs", 0)), nOwn: len(n.proto.GetInput())}
	nStates := s.nOwn - s.nScanIn
	nScanOut := len(body.outSlot) - nStates
	if s.nScanIn < 1 || nStates < 0 || nScanOut < 0 || len(body.inputs) != s.nOwn {
		return nil, fmt.Errorf("%w: Scan has %d inputs, %d scan inputs and a body of %d inputs and %d outputs",
			ErrInvalidModel, s.nOwn, s.nScanIn, len(body.inputs), len(body.outSlot))
	}
	if len(n.proto.GetOutput()) > nStates+nScanOut {
		return nil, fmt.Errorf("%w: Scan has %d outputs, its body %d", ErrInvalidModel, len(n.proto.GetOutput()), nStates+nScanOut)
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
	nStates := s.nOwn - s.nScanIn
	scanIn := make([]*Tensor, s.nScanIn)
	axes := make([]int, s.nScanIn)
	steps := -1
	for j := range scanIn {
		t, err := tensorArg(in, nStates+j)
		if err != nil {
			return nil, err
		}
		ax, err := normAxis(s.inAxes[j], len(t.Shape))
		if err != nil {
			return nil, fmt.Errorf("scan input %d: %w", j, err)
		}
		if steps >= 0 && int(t.Shape[ax]) != steps {
			return nil, fmt.Errorf("%w: Scan inputs of %d and %d iterations", ErrInvalidInput, steps, t.Shape[ax])
		}
		scanIn[j], axes[j], steps = t, ax, int(t.Shape[ax])
	}
	args := make([]Value, 0, len(in))
	args = append(args, in[:nStates]...)
	args = append(args, make([]Value, s.nScanIn)...)
	args = append(args, in[s.nOwn:]...)
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
			return nil, fmt.Errorf("Scan iteration %d: %w", it, err)
		}
		copy(args, res[:nStates])
		for k := range stacked {
			t, ok := res[nStates+k].(*Tensor)
			if !ok {
				return nil, fmt.Errorf("%w: Scan output %d is a %s", ErrUnsupported, k, res[nStates+k].Type())
			}
			stacked[k] = append(stacked[k], t)
		}
	}
	out := make([]Value, 0, len(res))
	out = append(out, args[:nStates]...)
	for k, parts := range stacked {
		if s.outReverse[k] {
			slices.Reverse(parts)
		}
		t, err := s.stack(k, parts, nStates)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
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

// stack joins the per-iteration values of scan output k along its axis.
func (s *scan) stack(k int, parts []*Tensor, nStates int) (*Tensor, error) {
	if len(parts) == 0 {
		return s.emptyOutput(k, nStates)
	}
	first := parts[0]
	for _, p := range parts[1:] {
		if p.DType != first.DType || !sameShape(p.Shape, first.Shape) {
			return nil, fmt.Errorf("%w: Scan output %d changes from %s%v to %s%v between iterations", ErrInvalidInput, k, first.Type(), first.Shape, p.Type(), p.Shape)
		}
	}
	ax, err := normAxis(s.outAxes[k], len(first.Shape)+1)
	if err != nil {
		return nil, fmt.Errorf("scan output %d: %w", k, err)
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
