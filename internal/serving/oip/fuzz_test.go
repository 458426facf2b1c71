package oip

import (
	"testing"

	"github.com/mlship/mlship/internal/runtime"
)

// FuzzDecodeInferRequest feeds arbitrary bodies and header values to the decoder. It
// must never panic, and whatever it accepts must be tensors that agree with their
// shapes and encode back.
func FuzzDecodeInferRequest(f *testing.F) {
	seeds := []string{
		`{"id": "1", "inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [[1, 2], [3, 4]]}], "outputs": [{"name": "y"}]}`,
		`{"inputs": [{"name": "s", "shape": [1], "datatype": "BYTES", "data": ["a"]}], "parameters": {"binary_data_output": true}}`,
		`{"inputs": [{"name": "b", "shape": [], "datatype": "BOOL", "data": true}]}`,
		`{"inputs": [{"name": "h", "shape": [2], "datatype": "FP16", "data": [1, NaN]}, {"name": "u", "shape": [1], "datatype": "UINT64", "data": [1e3]}]}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), -1)
	}
	body, n := tritonBody([]tritonInput{
		{"x", "FP32", "[1, 2]", fp32Bytes(1, 2)},
		{"s", "BYTES", "[2]", serializeBytes("ab", "")},
		{"b", "BOOL", "[1]", []byte{1}},
	}, `[{"name": "y", "parameters": {"binary_data": true}}]`)
	f.Add(body, n)
	f.Fuzz(func(t *testing.T, body []byte, jsonLength int) {
		req, err := DecodeInferRequest(body, jsonLength)
		if err != nil {
			return
		}
		if req.Request.Layout != runtime.LayoutTensors || len(req.Request.Inputs) == 0 {
			t.Fatalf("accepted a request without inputs: %+v", req)
		}
		for _, in := range req.Request.Inputs {
			if err := in.Check(); err != nil {
				t.Fatalf("accepted an inconsistent tensor: %v", err)
			}
		}
		resp := &runtime.Response{Outputs: req.Request.Inputs}
		req.Outputs = nil
		if _, _, err := EncodeInferResponse(req, "m", "1", resp); err != nil {
			t.Fatalf("cannot encode the inputs back: %v", err)
		}
	})
}
