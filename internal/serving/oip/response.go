package oip

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
	"github.com/mlship/mlship/internal/serving/tensorjson"
)

// EncodeInferResponse encodes the response to req (which may be nil: then every
// output is sent as JSON). Only the outputs req asks for are sent, in its order; an
// output it asks for that resp lacks is an error of kind fault.Invalid. modelVersion
// is left out when "".
//
// Outputs sent as JSON have their data flat. Floats are written with the fewest
// digits that read back as the same value of their datatype, in Python's layout (1.0,
// 1e-05); NaN and the infinities as NaN, Infinity and -Infinity, as Triton writes them
// (they are not strict JSON: clients that cannot read them should ask for binary
// outputs). Outputs sent as binary data have the parameter binary_data_size and their
// bytes follow the JSON, in output order.
//
// jsonLength is the length of the JSON part; when it is less than len(body), the
// caller sends it in the Inference-Header-Content-Length header. A broken output
// tensor is an error without a fault kind: it is the model's fault.
func EncodeInferResponse(req *InferRequest, modelName, modelVersion string, resp *runtime.Response) (body []byte, jsonLength int, err error) {
	outs, err := selectOutputs(req, resp)
	if err != nil {
		return nil, 0, err
	}
	size := 128
	for _, o := range outs {
		if err := tensorjson.CheckOutput(o.t); err != nil {
			return nil, 0, err
		}
		size += 96 + len(o.t.Name) + estimateSize(o.t, o.binary)
	}
	buf := make([]byte, 0, size)
	buf = append(buf, `{"model_name":`...)
	buf = tensorjson.AppendString(buf, []byte(modelName))
	if modelVersion != "" {
		buf = append(buf, `,"model_version":`...)
		buf = tensorjson.AppendString(buf, []byte(modelVersion))
	}
	if req != nil && req.ID != "" {
		buf = append(buf, `,"id":`...)
		buf = tensorjson.AppendString(buf, []byte(req.ID))
	}
	buf = append(buf, `,"outputs":[`...)
	for i, o := range outs {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendOutput(buf, o)
	}
	buf = append(buf, "]}"...)
	jsonLength = len(buf)
	for _, o := range outs {
		if o.binary {
			buf = appendBinary(buf, o.t)
		}
	}
	return buf, jsonLength, nil
}

// output is one tensor to send and how.
type output struct {
	t      *runtime.Tensor
	binary bool
}

func selectOutputs(req *InferRequest, resp *runtime.Response) ([]output, error) {
	if req == nil || len(req.Outputs) == 0 {
		binary := req != nil && req.BinaryOutput
		outs := make([]output, len(resp.Outputs))
		for i := range resp.Outputs {
			outs[i] = output{t: &resp.Outputs[i], binary: binary}
		}
		return outs, nil
	}
	outs := make([]output, 0, len(req.Outputs))
	for _, want := range req.Outputs {
		t := findOutput(resp, want.Name)
		if t == nil {
			return nil, fault.Invalidf("unknown output %q: the model's outputs are %s", want.Name, outputNames(resp))
		}
		outs = append(outs, output{t: t, binary: want.Binary})
	}
	return outs, nil
}

func findOutput(resp *runtime.Response, name string) *runtime.Tensor {
	for i := range resp.Outputs {
		if resp.Outputs[i].Name == name {
			return &resp.Outputs[i]
		}
	}
	return nil
}

func outputNames(resp *runtime.Response) string {
	names := make([]string, len(resp.Outputs))
	for i, t := range resp.Outputs {
		names[i] = strconv.Quote(t.Name)
	}
	return strings.Join(names, ", ")
}

// estimateSize guesses the bytes an output's data takes, to size the buffer once.
func estimateSize(t *runtime.Tensor, binary bool) int {
	n := int(runtime.Elements(t.Shape))
	switch {
	case t.Datatype == runtime.Bytes:
		size := 0
		for _, s := range t.Strings {
			size += len(s) + 4
		}
		return size
	case binary:
		return len(t.Data)
	}
	return n * 12
}

func appendOutput(buf []byte, o output) []byte {
	t := o.t
	buf = append(buf, `{"name":`...)
	buf = tensorjson.AppendString(buf, []byte(t.Name))
	buf = append(buf, `,"datatype":"`...)
	buf = append(buf, t.Datatype...)
	buf = append(buf, `","shape":[`...)
	for i, d := range t.Shape {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = strconv.AppendInt(buf, d, 10)
	}
	buf = append(buf, ']')
	if o.binary {
		buf = append(buf, `,"parameters":{"binary_data_size":`...)
		buf = strconv.AppendInt(buf, int64(binarySize(t)), 10)
		return append(buf, "}}"...)
	}
	buf = append(buf, `,"data":`...)
	buf = tensorjson.AppendFlat(buf, t)
	return append(buf, '}')
}

func binarySize(t *runtime.Tensor) int {
	if t.Datatype != runtime.Bytes {
		return len(t.Data)
	}
	size := 0
	for _, s := range t.Strings {
		size += 4 + len(s)
	}
	return size
}

func appendBinary(buf []byte, t *runtime.Tensor) []byte {
	if t.Datatype != runtime.Bytes {
		return append(buf, t.Data...)
	}
	for _, s := range t.Strings {
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(s)))
		buf = append(buf, s...)
	}
	return buf
}
