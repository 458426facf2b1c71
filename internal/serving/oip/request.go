package oip

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
	"github.com/mlship/mlship/internal/serving/tensorjson"
)

// MaxRank is the most dimensions an input may have.
const MaxRank = 32

// DecodeInferRequest decodes an inference request. jsonLength is the value of the
// Inference-Header-Content-Length header, or -1 when the request has none; then the
// whole body is JSON.
//
// Every error is of kind fault.Invalid (or fault.TooLarge for a body over 2 GiB), with
// a message that names the input at fault. The request's tensors may alias body, which
// the caller must leave untouched while the request is in use.
func DecodeInferRequest(body []byte, jsonLength int) (*InferRequest, error) {
	head, bin, err := splitBody(body, jsonLength)
	if err != nil {
		return nil, err
	}
	doc, err := tensorjson.Parse(head)
	if err != nil {
		return nil, err
	}
	var f [4]tensorjson.Value
	if err := members(doc.Root(), f[:], func() string { return "the request" }, "id", "parameters", "inputs", "outputs"); err != nil {
		return nil, err
	}
	id, params, inputs, outputs := f[0], f[1], f[2], f[3]
	req := &InferRequest{Request: runtime.Request{Layout: runtime.LayoutTensors}}
	if err := req.decodeHeader(id, params); err != nil {
		return nil, err
	}
	pending, err := req.decodeInputs(inputs, bin != nil)
	if err != nil {
		return nil, err
	}
	if err := req.decodeBinary(pending, bin); err != nil {
		return nil, err
	}
	if err := req.decodeOutputs(outputs); err != nil {
		return nil, err
	}
	return req, nil
}

// splitBody splits a body into its JSON and its binary data; bin is nil when the
// request has no Inference-Header-Content-Length.
func splitBody(body []byte, jsonLength int) (head, bin []byte, err error) {
	switch {
	case jsonLength == -1:
		return body, nil, nil
	case jsonLength < 0 || jsonLength > len(body):
		return nil, nil, fault.Invalidf("%s is %d but the body has %d bytes", HeaderJSONLength, jsonLength, len(body))
	}
	return body[:jsonLength], body[jsonLength:], nil
}

// members checks that v is an object and sets out[i] to its member named names[i]
// (Missing when it has none). Other keys are ignored; a key named twice is an error.
// what names v in errors; it is called only then.
func members(v tensorjson.Value, out []tensorjson.Value, what func() string, names ...string) error {
	if v.Kind() != tensorjson.Object {
		return fault.Invalidf("%s must be a JSON object", what())
	}
	for k, val := range v.Members() {
		for i, name := range names {
			if !k.Is(name) {
				continue
			}
			if out[i].Kind() != tensorjson.Missing {
				return fault.Invalidf("%s has %q twice", what(), name)
			}
			out[i] = val
		}
	}
	return nil
}

func (r *InferRequest) decodeHeader(id, params tensorjson.Value) error {
	switch id.Kind() {
	case tensorjson.Missing:
	case tensorjson.String:
		r.ID = id.Str()
	default:
		return fault.Invalidf(`the request's "id" must be a string`)
	}
	switch params.Kind() {
	case tensorjson.Missing, tensorjson.Null:
		return nil
	case tensorjson.Object:
	default:
		return fault.Invalidf(`the request's "parameters" must be a JSON object`)
	}
	r.Parameters = params.Interface().(map[string]any)
	if v, ok := r.Parameters["binary_data_output"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			return fault.Invalidf(`the request's parameter "binary_data_output" must be true or false`)
		}
		r.BinaryOutput = b
	}
	if v, ok := r.Parameters["timeout"]; ok {
		us, isInt := v.(int64)
		if !isInt || us < 0 || us > math.MaxInt64/int64(time.Microsecond) {
			return fault.Invalidf(`the request's parameter "timeout" must be a non-negative integer of microseconds`)
		}
		r.timeout = time.Duration(us) * time.Microsecond
	}
	return nil
}

// binaryInput is an input whose data follows the JSON.
type binaryInput struct {
	index int   // in r.Request.Inputs
	size  int64 // its binary_data_size
}

func (r *InferRequest) decodeInputs(inputs tensorjson.Value, hasBinary bool) ([]binaryInput, error) {
	switch {
	case inputs.Kind() == tensorjson.Missing:
		return nil, fault.Invalidf(`the request has no "inputs"`)
	case inputs.Kind() != tensorjson.Array:
		return nil, fault.Invalidf(`the request's "inputs" must be an array`)
	case inputs.Len() == 0:
		return nil, fault.Invalidf(`the request's "inputs" is empty`)
	}
	r.Request.Inputs = make([]runtime.Tensor, 0, inputs.Len())
	var pending []binaryInput
	k := 0
	for in := range inputs.Elems() {
		t, size, err := decodeInput(in, k, hasBinary)
		if err != nil {
			return nil, err
		}
		for _, prev := range r.Request.Inputs {
			if prev.Name == t.Name {
				return nil, fault.Invalidf("input %q appears twice", t.Name)
			}
		}
		if size >= 0 {
			pending = append(pending, binaryInput{index: k, size: size})
		}
		r.Request.Inputs = append(r.Request.Inputs, t)
		k++
	}
	return pending, nil
}

// decodeInput decodes input k. Its data is decoded unless it is binary; then size is
// its binary_data_size, otherwise -1.
func decodeInput(in tensorjson.Value, k int, hasBinary bool) (t runtime.Tensor, size int64, err error) {
	var f [5]tensorjson.Value
	what := func() string { return fmt.Sprintf("inputs[%d]", k) }
	if err := members(in, f[:], what, "name", "shape", "datatype", "parameters", "data"); err != nil {
		return t, 0, err
	}
	name, shape, datatype, params, data := f[0], f[1], f[2], f[3], f[4]
	if name.Kind() != tensorjson.String {
		return t, 0, fault.Invalidf(`inputs[%d] has no "name" string`, k)
	}
	t.Name = name.Str()
	if t.Shape, err = decodeShape(t.Name, shape); err != nil {
		return t, 0, err
	}
	if t.Datatype, err = decodeDatatype(t.Name, datatype); err != nil {
		return t, 0, err
	}
	if size, err = binaryDataSize(t.Name, params); err != nil {
		return t, 0, err
	}
	switch {
	case size >= 0 && data.Kind() != tensorjson.Missing:
		return t, 0, fault.Invalidf("input %q has both data and binary_data_size", t.Name)
	case size >= 0 && !hasBinary:
		return t, 0, fault.Invalidf("input %q has binary_data_size but the request has no %s header", t.Name, HeaderJSONLength)
	case size >= 0:
		return t, size, nil
	case data.Kind() == tensorjson.Missing:
		return t, 0, fault.Invalidf(`input %q has no "data" and no binary_data_size parameter`, t.Name)
	}
	return t, -1, tensorjson.Decode(&t, data)
}

func decodeShape(name string, v tensorjson.Value) ([]int64, error) {
	switch {
	case v.Kind() == tensorjson.Missing:
		return nil, fault.Invalidf(`input %q has no "shape"`, name)
	case v.Kind() != tensorjson.Array:
		return nil, fault.Invalidf(`input %q: "shape" must be an array of dimensions`, name)
	case v.Len() > MaxRank:
		return nil, fault.Invalidf("input %q: shape has %d dimensions; at most %d are allowed", name, v.Len(), MaxRank)
	}
	shape := make([]int64, 0, v.Len())
	for d := range v.Elems() {
		n, ok := d.Int64()
		if !ok || n < 0 {
			return nil, fault.Invalidf("input %q: shape dimensions must be non-negative integers, not %s", name, tensorjson.Describe(d))
		}
		shape = append(shape, n)
	}
	if runtime.Elements(shape) < 0 {
		return nil, fault.Invalidf("input %q: shape %v has more than %d elements", name, shape, runtime.MaxElements)
	}
	return shape, nil
}

// datatypes maps the names of the datatypes to themselves, so that a name read from
// a request becomes a Datatype without an allocation.
var datatypes = map[string]runtime.Datatype{}

func init() {
	for _, d := range []runtime.Datatype{runtime.Bool, runtime.Uint8, runtime.Uint16, runtime.Uint32, runtime.Uint64,
		runtime.Int8, runtime.Int16, runtime.Int32, runtime.Int64, runtime.FP16, runtime.BF16, runtime.FP32,
		runtime.FP64, runtime.Bytes} {
		datatypes[string(d)] = d
	}
}

func decodeDatatype(name string, v tensorjson.Value) (runtime.Datatype, error) {
	if v.Kind() != tensorjson.String {
		return "", fault.Invalidf(`input %q has no "datatype" string`, name)
	}
	if d, ok := datatypes[string(v.Bytes())]; ok {
		return d, nil
	}
	_, err := runtime.ParseDatatype(v.Str())
	return "", fault.Invalidf("input %q: %s", name, fault.Message(err))
}

// binaryDataSize reads an input's parameters: its binary_data_size, or -1.
func binaryDataSize(name string, params tensorjson.Value) (int64, error) {
	if params.Kind() == tensorjson.Missing || params.Kind() == tensorjson.Null {
		return -1, nil
	}
	var f [2]tensorjson.Value
	what := func() string { return fmt.Sprintf("input %q: parameters", name) }
	if err := members(params, f[:], what, "binary_data_size", "shared_memory_region"); err != nil {
		return 0, err
	}
	if f[1].Kind() != tensorjson.Missing {
		return 0, fault.Invalidf("input %q: shared memory is not supported; send the data in the body", name)
	}
	if f[0].Kind() == tensorjson.Missing {
		return -1, nil
	}
	n, ok := f[0].Int64()
	if !ok || n < 0 {
		return 0, fault.Invalidf("input %q: binary_data_size must be a non-negative integer", name)
	}
	return n, nil
}

// decodeBinary gives each binary input its part of bin, in input order, and checks that
// the parts cover bin exactly.
func (r *InferRequest) decodeBinary(pending []binaryInput, bin []byte) error {
	off := 0
	for _, p := range pending {
		t := &r.Request.Inputs[p.index]
		if p.size > int64(len(bin)-off) {
			return fault.Invalidf("input %q: binary_data_size %d overruns the body: %d bytes of binary data are left", t.Name, p.size, len(bin)-off)
		}
		end := off + int(p.size)
		if err := setBinary(t, bin[off:end:end]); err != nil {
			return err
		}
		off = end
	}
	if off != len(bin) {
		return fault.Invalidf("the body has %d bytes after the binary data of the inputs; %s or binary_data_size is wrong", len(bin)-off, HeaderJSONLength)
	}
	return nil
}

// setBinary sets t's elements from its binary data, which it then aliases.
func setBinary(t *runtime.Tensor, part []byte) error {
	n := runtime.Elements(t.Shape)
	if t.Datatype == runtime.Bytes {
		return setBinaryStrings(t, part, n)
	}
	if need := n * int64(t.Datatype.Size()); int64(len(part)) != need {
		return fault.Invalidf("input %q: binary_data_size is %d but shape %v of %s needs %d bytes", t.Name, len(part), t.Shape, t.Datatype, need)
	}
	if t.Datatype == runtime.Bool {
		for i, b := range part {
			if b > 1 {
				return fault.Invalidf("input %q: BOOL element %d is %d; binary BOOL elements must be 0 or 1", t.Name, i, b)
			}
		}
	}
	t.Data = part
	return nil
}

// setBinaryStrings reads n BYTES elements, each a 4-byte little-endian length and then
// its bytes.
func setBinaryStrings(t *runtime.Tensor, part []byte, n int64) error {
	if n > int64(len(part))/4 {
		return fault.Invalidf("input %q: %d bytes of binary data cannot hold the %d BYTES elements of shape %v", t.Name, len(part), n, t.Shape)
	}
	t.Strings = make([][]byte, n)
	off := 0
	for i := range t.Strings {
		if len(part)-off < 4 {
			return fault.Invalidf("input %q: binary data ends inside the length of BYTES element %d", t.Name, i)
		}
		l := binary.LittleEndian.Uint32(part[off:])
		off += 4
		if int64(l) > int64(len(part)-off) {
			return fault.Invalidf("input %q: BYTES element %d of %d bytes overruns the input's binary data", t.Name, i, l)
		}
		end := off + int(l)
		t.Strings[i] = part[off:end:end]
		off = end
	}
	if off != len(part) {
		return fault.Invalidf("input %q: binary data has %d bytes after the %d BYTES elements of shape %v", t.Name, len(part)-off, n, t.Shape)
	}
	return nil
}

func (r *InferRequest) decodeOutputs(outputs tensorjson.Value) error {
	switch outputs.Kind() {
	case tensorjson.Missing, tensorjson.Null:
		return nil
	case tensorjson.Array:
	default:
		return fault.Invalidf(`the request's "outputs" must be an array`)
	}
	r.Outputs = make([]RequestedOutput, 0, outputs.Len())
	k := 0
	for out := range outputs.Elems() {
		o, err := r.decodeOutput(out, k)
		if err != nil {
			return err
		}
		for _, prev := range r.Outputs {
			if prev.Name == o.Name {
				return fault.Invalidf("output %q is requested twice", o.Name)
			}
		}
		r.Outputs = append(r.Outputs, o)
		k++
	}
	return nil
}

func (r *InferRequest) decodeOutput(out tensorjson.Value, k int) (RequestedOutput, error) {
	var f [2]tensorjson.Value
	if err := members(out, f[:], func() string { return fmt.Sprintf("outputs[%d]", k) }, "name", "parameters"); err != nil {
		return RequestedOutput{}, err
	}
	if f[0].Kind() != tensorjson.String {
		return RequestedOutput{}, fault.Invalidf(`outputs[%d] has no "name" string`, k)
	}
	o := RequestedOutput{Name: f[0].Str(), Binary: r.BinaryOutput}
	if f[1].Kind() == tensorjson.Missing || f[1].Kind() == tensorjson.Null {
		return o, nil
	}
	var p [3]tensorjson.Value
	what := func() string { return fmt.Sprintf("output %q: parameters", o.Name) }
	if err := members(f[1], p[:], what, "binary_data", "classification", "shared_memory_region"); err != nil {
		return o, err
	}
	binaryData, classification, shm := p[0], p[1], p[2]
	switch binaryData.Kind() {
	case tensorjson.Missing:
	case tensorjson.True, tensorjson.False:
		o.Binary = binaryData.Kind() == tensorjson.True
	default:
		return o, fault.Invalidf("output %q: binary_data must be true or false", o.Name)
	}
	if n, ok := classification.Int64(); classification.Kind() != tensorjson.Missing && (!ok || n != 0) {
		return o, fault.Invalidf("output %q: classification is not supported", o.Name)
	}
	if shm.Kind() != tensorjson.Missing {
		return o, fault.Invalidf("output %q: shared memory is not supported", o.Name)
	}
	return o, nil
}
