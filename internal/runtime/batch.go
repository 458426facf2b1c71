package runtime

import (
	"fmt"
	"maps"
	"slices"
)

// Batchable reports whether b can join a batch that a starts: the same layout, the
// same inputs in the same order with the same datatypes and trailing dimensions, and
// no params (params apply to a whole call, so requests that carry them run alone).
func Batchable(a, b *Request) bool {
	if a.Layout != b.Layout || len(a.Inputs) != len(b.Inputs) || len(a.Params) > 0 || len(b.Params) > 0 {
		return false
	}
	for i := range a.Inputs {
		x, y := &a.Inputs[i], &b.Inputs[i]
		if x.Name != y.Name || x.Datatype != y.Datatype || len(x.Shape) != len(y.Shape) || len(x.Shape) == 0 {
			return false
		}
		if !slices.Equal(x.Shape[1:], y.Shape[1:]) {
			return false
		}
	}
	return true
}

// Concat stacks batchable requests along the first dimension.
func Concat(reqs []*Request) *Request {
	if len(reqs) == 1 {
		return reqs[0]
	}
	first := reqs[0]
	out := &Request{Layout: first.Layout, Inputs: make([]Tensor, len(first.Inputs)), Params: maps.Clone(first.Params)}
	for i, in := range first.Inputs {
		t := Tensor{Name: in.Name, Datatype: in.Datatype, Shape: slices.Clone(in.Shape)}
		var rows int64
		for _, r := range reqs {
			src := &r.Inputs[i]
			rows += src.Rows()
			t.Data = append(t.Data, src.Data...)
			t.Strings = append(t.Strings, src.Strings...)
		}
		t.Shape[0] = rows
		out.Inputs[i] = t
	}
	return out
}

// Split cuts the response to a concatenated request back into one response per
// request, rows[i] rows each. It fails when an output's first dimension is not the
// total of rows: the model did not answer row by row, and must not be batched.
func Split(resp *Response, rows []int64) ([]*Response, error) {
	if len(rows) == 1 {
		return []*Response{resp}, nil
	}
	var total int64
	for _, n := range rows {
		total += n
	}
	for _, o := range resp.Outputs {
		if len(o.Shape) == 0 || o.Shape[0] != total {
			return nil, fmt.Errorf("output %q has shape %v, not %d rows: the model does not predict row by row", o.Name, o.Shape, total)
		}
	}
	out := make([]*Response, len(rows))
	for i := range out {
		out[i] = &Response{Kind: resp.Kind, Outputs: make([]Tensor, len(resp.Outputs))}
	}
	for j, o := range resp.Outputs {
		per := Elements(o.Shape[1:])
		size := int64(o.Datatype.Size())
		var at int64
		for i, n := range rows {
			t := Tensor{Name: o.Name, Datatype: o.Datatype, Shape: slices.Clone(o.Shape)}
			t.Shape[0] = n
			if o.Datatype == Bytes {
				t.Strings = o.Strings[at*per : (at+n)*per]
			} else {
				t.Data = o.Data[at*per*size : (at+n)*per*size]
			}
			out[i].Outputs[j] = t
			at += n
		}
	}
	return out, nil
}
