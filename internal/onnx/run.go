package onnx

import (
	"fmt"
	"sync"
)

// slotPool recycles the per-run arrays of values, so that a run allocates only tensors.
var slotPool sync.Pool

// Run computes the model's outputs for the named inputs. Every graph input must be
// given, with its declared element type, rank and fixed dimensions.
func (m *Model) Run(inputs map[string]Value) (out map[string]Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("onnx: internal error: %v", r)
		}
	}()
	if err := m.checkInputs(inputs); err != nil {
		return nil, err
	}
	vals := m.slotsFor()
	defer m.releaseSlots(vals)
	for i, info := range m.inputs {
		vals[m.inputSlot[i]] = inputs[info.Name]
	}
	if err := m.exec(vals); err != nil {
		return nil, err
	}
	out = make(map[string]Value, len(m.outputs))
	for i, info := range m.outputs {
		v := vals[m.outSlot[i]]
		if v == nil {
			return nil, fmt.Errorf("onnx: output %q was not computed", info.Name)
		}
		out[info.Name] = v
	}
	return out, nil
}

// exec runs the steps over the slots, whose inputs and constants are filled.
func (m *Model) exec(vals []Value) error {
	in := make([]Value, 0, 8)
	for i := range m.steps {
		st := &m.steps[i]
		in = in[:0]
		for _, s := range st.in {
			if s < 0 {
				in = append(in, nil)
			} else {
				in = append(in, vals[s])
			}
		}
		res, err := st.k.run(in)
		if err != nil {
			return fmt.Errorf("node %s: %w", st.name, err)
		}
		for j, s := range st.out {
			if s >= 0 && j < len(res) {
				vals[s] = res[j]
			}
		}
		for _, s := range st.free {
			vals[s] = nil
		}
	}
	return nil
}

func (m *Model) slotsFor() []Value {
	if v, ok := slotPool.Get().(*[]Value); ok && cap(*v) >= m.slots {
		vals := (*v)[:m.slots]
		copy(vals, m.consts)
		return vals
	}
	vals := make([]Value, m.slots)
	copy(vals, m.consts)
	return vals
}

func (m *Model) releaseSlots(vals []Value) {
	clear(vals)
	slotPool.Put(&vals)
}

func (m *Model) checkInputs(inputs map[string]Value) error {
	for _, info := range m.inputs {
		v, ok := inputs[info.Name]
		if !ok || v == nil {
			return fmt.Errorf("%w: missing input %q (the model's inputs are %s)", ErrInvalidInput, info.Name, m.inputNames())
		}
		if err := checkValue(info, v); err != nil {
			return err
		}
	}
	if len(inputs) > len(m.inputs) {
		for name := range inputs {
			if !m.hasInput(name) {
				return fmt.Errorf("%w: unknown input %q (the model's inputs are %s)", ErrInvalidInput, name, m.inputNames())
			}
		}
	}
	return nil
}

func (m *Model) hasInput(name string) bool {
	for _, info := range m.inputs {
		if info.Name == name {
			return true
		}
	}
	return false
}

func (m *Model) inputNames() string {
	s := ""
	for i, info := range m.inputs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%q", info.Name)
	}
	return s
}

func checkValue(info ValueInfo, v Value) error {
	switch info.Kind {
	case "tensor":
		t, ok := v.(*Tensor)
		if !ok {
			return fmt.Errorf("%w: input %q must be a tensor, got %s", ErrInvalidInput, info.Name, v.Type())
		}
		if t.DType != info.DType {
			return fmt.Errorf("%w: input %q must be tensor(%s), got %s", ErrInvalidInput, info.Name, info.DType, t.Type())
		}
		if n, ok := numElements(t.Shape); !ok || n != t.Len() {
			return fmt.Errorf("%w: input %q: shape %v does not match its %d elements", ErrInvalidInput, info.Name, t.Shape, t.Len())
		}
		if info.Shape == nil {
			return nil
		}
		if len(t.Shape) != len(info.Shape) {
			return fmt.Errorf("%w: input %q must have shape %s, got %s", ErrInvalidInput, info.Name, shapeString(info.Shape), shapeString(t.Shape))
		}
		for i, d := range info.Shape {
			if d >= 0 && t.Shape[i] != d {
				return fmt.Errorf("%w: input %q must have shape %s, got %s", ErrInvalidInput, info.Name, shapeString(info.Shape), shapeString(t.Shape))
			}
		}
	case "map":
		mp, ok := v.(*Map)
		if !ok || mp.KeyType != info.KeyType || mp.Values == nil || mp.Values.DType != info.DType {
			return fmt.Errorf("%w: input %q must be map(%s,tensor(%s)), got %s", ErrInvalidInput, info.Name, info.KeyType, info.DType, v.Type())
		}
		if mp.Values.Len() != mp.Len() {
			return fmt.Errorf("%w: input %q has %d keys and %d values", ErrInvalidInput, info.Name, mp.Len(), mp.Values.Len())
		}
	default:
		return fmt.Errorf("%w: input %q is a %s, which the engine does not take as input", ErrUnsupported, info.Name, info.Kind)
	}
	return nil
}
