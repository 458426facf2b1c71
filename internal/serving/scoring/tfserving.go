package scoring

import (
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
	"github.com/mlship/mlship/internal/serving/tensorjson"
)

// decodeTFServing reads TF Serving's formats, which MLflow and KServe v1 share:
//
//   - "instances", the row format: a list of rows. Rows that are dictionaries are
//     records: each key becomes a tensor of the key's values, stacked; every record
//     must have every key. Other rows are stacked into one unnamed tensor.
//   - "inputs", the columnar format: a list (one unnamed tensor), a dictionary of
//     name to list (one tensor per name), or a single value.
//
// Errors are of kind fault.Invalid.
func decodeTFServing(v tensorjson.Value, instances bool) (*runtime.Request, error) {
	switch {
	case v.Kind() == tensorjson.Object:
		return namedTensors(v)
	case v.Kind() == tensorjson.Null:
		return nil, fault.Invalidf("the input is null")
	case instances && v.Kind() == tensorjson.Array && v.Len() > 0 && firstElem(v).Kind() == tensorjson.Object:
		return instanceRecords(v)
	}
	t, err := tensorjson.Infer("", v)
	if err != nil {
		return nil, err
	}
	return &runtime.Request{Layout: runtime.LayoutTensors, Inputs: []runtime.Tensor{t}}, nil
}

func firstElem(v tensorjson.Value) tensorjson.Value {
	for e := range v.Elems() {
		return e
	}
	return tensorjson.Value{}
}

// namedTensors reads a dictionary of name to value, one tensor each, in the order the
// names first appear. A name given twice keeps its last value, as in Python.
func namedTensors(v tensorjson.Value) (*runtime.Request, error) {
	var names []string
	values := map[string]tensorjson.Value{}
	for k, val := range v.Members() {
		name := k.Str()
		if _, seen := values[name]; !seen {
			names = append(names, name)
		}
		values[name] = val
	}
	req := &runtime.Request{Layout: runtime.LayoutTensors, Inputs: make([]runtime.Tensor, len(names))}
	for i, name := range names {
		t, err := tensorjson.Infer(name, values[name])
		if err != nil {
			return nil, err
		}
		req.Inputs[i] = t
	}
	return req, nil
}

// instanceRecords reads instances that are records, as MLflow's parse_instances_data
// does: the values of each key, in record order, stacked into one tensor, so that the
// model is given named tensors (MLflow gives it a dict of arrays, not a DataFrame).
func instanceRecords(v tensorjson.Value) (*runtime.Request, error) {
	var names []string
	rows := map[string][]tensorjson.Value{}
	i := 0
	for rec := range v.Elems() {
		if rec.Kind() != tensorjson.Object {
			return nil, fault.Invalidf("instances[%d] is not a dictionary, but instances[0] is: the instances must all be records or all be rows", i)
		}
		for k, val := range rec.Members() {
			name := k.Str()
			if _, seen := rows[name]; !seen {
				names = append(names, name)
			}
			rows[name] = append(rows[name], val)
		}
		i++
	}
	req := &runtime.Request{Layout: runtime.LayoutTensors, Inputs: make([]runtime.Tensor, len(names))}
	for c, name := range names {
		if len(rows[name]) != len(rows[names[0]]) {
			return nil, fault.Invalidf("The length of values for each input/column name are not the same")
		}
		t, err := tensorjson.InferRows(name, rows[name])
		if err != nil {
			return nil, err
		}
		req.Inputs[c] = t
	}
	return req, nil
}

// DecodeV1 decodes the body of KServe v1's POST /v1/models/{name}:predict:
// {"instances": [...]} or {"inputs": ...}, read as TF Serving reads them (see
// decodeTFServing). Errors are of kind fault.Invalid. Strings in the request's tensors
// may alias body, which the caller must leave untouched while it is in use.
func DecodeV1(body []byte) (*runtime.Request, error) {
	doc, err := tensorjson.Parse(body)
	if err != nil {
		return nil, err
	}
	root := doc.Root()
	if root.Kind() != tensorjson.Object {
		return nil, fault.Invalidf(`the request must be a JSON object with "instances" or "inputs"`)
	}
	var instances, inputs tensorjson.Value
	for k, val := range root.Members() {
		switch {
		case k.Is("instances"):
			instances = val
		case k.Is("inputs"):
			inputs = val
		}
	}
	switch {
	case instances.Kind() != tensorjson.Missing && inputs.Kind() != tensorjson.Missing:
		return nil, fault.Invalidf(`the request must have one of "instances" and "inputs", not both`)
	case instances.Kind() != tensorjson.Missing:
		if instances.Kind() != tensorjson.Array {
			return nil, fault.Invalidf(`"instances" must be a list`)
		}
		return decodeTFServing(instances, true)
	case inputs.Kind() != tensorjson.Missing:
		return decodeTFServing(inputs, false)
	}
	return nil, fault.Invalidf(`the request must have "instances" or "inputs"`)
}
