package oip

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
)

func testResponse() *runtime.Response {
	return &runtime.Response{Kind: runtime.ResultDict, Outputs: []runtime.Tensor{
		fp32Tensor("probabilities", []int64{2, 2}, 0.25, 0.75, 0.1, 0.9),
		runtime.NewInt64("label", []int64{2}, []int64{1, -3}),
		runtime.NewStrings("name", []int64{2}, []string{"setosa", "versi\"color"}),
		{Name: "flag", Datatype: runtime.Bool, Shape: []int64{1}, Data: []byte{1}},
	}}
}

func TestEncodeJSON(t *testing.T) {
	req := &InferRequest{ID: "req-1"}
	body, n, err := EncodeInferResponse(req, "iris", "3", testResponse())
	if err != nil {
		t.Fatal(err)
	}
	if n != len(body) {
		t.Errorf("jsonLength %d, body %d bytes: no output is binary", n, len(body))
	}
	want := `{"model_name":"iris","model_version":"3","id":"req-1","outputs":[` +
		`{"name":"probabilities","datatype":"FP32","shape":[2,2],"data":[0.25,0.75,0.1,0.9]},` +
		`{"name":"label","datatype":"INT64","shape":[2],"data":[1,-3]},` +
		`{"name":"name","datatype":"BYTES","shape":[2],"data":["setosa","versi\"color"]},` +
		`{"name":"flag","datatype":"BOOL","shape":[1],"data":[true]}]}`
	if string(body) != want {
		t.Errorf("got  %s\nwant %s", body, want)
	}
	if !json.Valid(body) {
		t.Error("not JSON")
	}
}

func TestEncodeNoVersionNoID(t *testing.T) {
	resp := &runtime.Response{Outputs: []runtime.Tensor{runtime.NewFloat64("y", []int64{}, []float64{2})}}
	body, _, err := EncodeInferResponse(nil, "m", "", resp)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"model_name":"m","outputs":[{"name":"y","datatype":"FP64","shape":[],"data":[2.0]}]}`; string(body) != want {
		t.Errorf("got  %s\nwant %s", body, want)
	}
}

func TestEncodeNonFinite(t *testing.T) {
	resp := &runtime.Response{Outputs: []runtime.Tensor{runtime.NewFloat64("y", []int64{3}, []float64{math.NaN(), math.Inf(1), math.Inf(-1)})}}
	body, _, err := EncodeInferResponse(nil, "m", "", resp)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), `"data":[NaN,Infinity,-Infinity]`) {
		t.Errorf("got %s", body)
	}
}

// tritonResult reads a response as tritonclient.http's InferResult does: the JSON is
// the first Inference-Header-Content-Length bytes, and the binary outputs follow in
// output order, each binary_data_size bytes long.
func tritonResult(t *testing.T, body []byte, jsonLength int) (map[string]any, map[string][]byte) {
	t.Helper()
	var head map[string]any
	if err := json.Unmarshal(body[:jsonLength], &head); err != nil {
		t.Fatalf("JSON part: %v: %s", err, body[:jsonLength])
	}
	raw := map[string][]byte{}
	off := jsonLength
	for _, o := range head["outputs"].([]any) {
		out := o.(map[string]any)
		params, ok := out["parameters"].(map[string]any)
		if !ok {
			continue
		}
		size := int(params["binary_data_size"].(float64))
		raw[out["name"].(string)] = body[off : off+size]
		off += size
	}
	if off != len(body) {
		t.Errorf("%d bytes left after the binary outputs", len(body)-off)
	}
	return head, raw
}

func TestEncodeBinary(t *testing.T) {
	// tritonclient with no outputs listed asks for all of them in binary.
	body, n := tritonBody([]tritonInput{{"x", "FP32", "[1]", fp32Bytes(1)}}, "")
	req, err := DecodeInferRequest(body, n)
	if err != nil {
		t.Fatal(err)
	}
	resp := testResponse()
	out, jsonLength, err := EncodeInferResponse(req, "iris", "", resp)
	if err != nil {
		t.Fatal(err)
	}
	head, raw := tritonResult(t, out, jsonLength)
	if len(raw) != 4 {
		t.Fatalf("%d binary outputs, want 4", len(raw))
	}
	if !reflect.DeepEqual(raw["probabilities"], resp.Outputs[0].Data) || !reflect.DeepEqual(raw["label"], resp.Outputs[1].Data) {
		t.Error("fixed-size outputs differ")
	}
	if want := serializeBytes("setosa", "versi\"color"); !reflect.DeepEqual(raw["name"], want) {
		t.Errorf("BYTES output %q, want %q", raw["name"], want)
	}
	if !reflect.DeepEqual(raw["flag"], []byte{1}) {
		t.Errorf("BOOL output %v", raw["flag"])
	}
	first := head["outputs"].([]any)[0].(map[string]any)
	if _, has := first["data"]; has || first["datatype"] != "FP32" || !reflect.DeepEqual(first["shape"], []any{2.0, 2.0}) {
		t.Errorf("binary output's JSON: %v", first)
	}
}

func TestEncodeRequestedOutputs(t *testing.T) {
	body := `{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}],
		"outputs": [{"name": "name", "parameters": {"binary_data": true}}, {"name": "probabilities"}]}`
	req, err := DecodeInferRequest([]byte(body), -1)
	if err != nil {
		t.Fatal(err)
	}
	out, jsonLength, err := EncodeInferResponse(req, "iris", "", testResponse())
	if err != nil {
		t.Fatal(err)
	}
	head, raw := tritonResult(t, out, jsonLength)
	outs := head["outputs"].([]any)
	if len(outs) != 2 || outs[0].(map[string]any)["name"] != "name" || outs[1].(map[string]any)["name"] != "probabilities" {
		t.Fatalf("outputs %v", outs)
	}
	if len(raw) != 1 || raw["name"] == nil {
		t.Errorf("binary outputs %v", raw)
	}
	if got := outs[1].(map[string]any)["data"]; !reflect.DeepEqual(got, []any{0.25, 0.75, 0.1, 0.9}) {
		t.Errorf("JSON output data %v", got)
	}

	req.Outputs = append(req.Outputs, RequestedOutput{Name: "nope"})
	_, _, err = EncodeInferResponse(req, "iris", "", testResponse())
	if !errors.Is(err, fault.Invalid) || !strings.Contains(err.Error(), `unknown output "nope": the model's outputs are "probabilities", "label", "name", "flag"`) {
		t.Errorf("unknown output: %v", err)
	}
}

func TestEncodeBrokenOutput(t *testing.T) {
	resp := &runtime.Response{Outputs: []runtime.Tensor{{Name: "y", Datatype: runtime.FP32, Shape: []int64{2}, Data: make([]byte, 4)}}}
	_, _, err := EncodeInferResponse(nil, "m", "", resp)
	if err == nil || fault.KindOf(err) != fault.Internal {
		t.Errorf("broken output: %v (kind %v), want an internal error", err, fault.KindOf(err))
	}
}

// TestRoundTrip decodes what the encoder writes, as a client that reads the outputs
// back as inputs would, for every datatype, in JSON and in binary.
func TestRoundTrip(t *testing.T) {
	tensors := []runtime.Tensor{
		{Name: "b", Datatype: runtime.Bool, Shape: []int64{2}, Data: []byte{0, 1}},
		{Name: "u8", Datatype: runtime.Uint8, Shape: []int64{2}, Data: []byte{0, 255}},
		{Name: "u16", Datatype: runtime.Uint16, Shape: []int64{1}, Data: []byte{0xff, 0xff}},
		{Name: "u32", Datatype: runtime.Uint32, Shape: []int64{1}, Data: []byte{1, 2, 3, 4}},
		{Name: "u64", Datatype: runtime.Uint64, Shape: []int64{1}, Data: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{Name: "i8", Datatype: runtime.Int8, Shape: []int64{2}, Data: []byte{0x80, 0x7f}},
		{Name: "i16", Datatype: runtime.Int16, Shape: []int64{1}, Data: []byte{0x00, 0x80}},
		{Name: "i32", Datatype: runtime.Int32, Shape: []int64{1}, Data: []byte{0xff, 0xff, 0xff, 0xff}},
		runtime.NewInt64("i64", []int64{2}, []int64{math.MinInt64, math.MaxInt64}),
		{Name: "f16", Datatype: runtime.FP16, Shape: []int64{3}, Data: []byte{0x01, 0x00, 0xff, 0x7b, 0x66, 0x2e}},
		{Name: "bf16", Datatype: runtime.BF16, Shape: []int64{2}, Data: []byte{0x01, 0x00, 0x7f, 0x7f}},
		fp32Tensor("f32", []int64{3}, 0.1, math.SmallestNonzeroFloat32, math.MaxFloat32),
		runtime.NewFloat64("f64", []int64{2, 2}, []float64{0.1, math.SmallestNonzeroFloat64, math.MaxFloat64, -1e-300}),
		runtime.NewStrings("s", []int64{2}, []string{"a\u00e9\n", ""}),
	}
	for _, binaryOut := range []bool{false, true} {
		resp := &runtime.Response{Outputs: tensors}
		out, jsonLength, err := EncodeInferResponse(&InferRequest{BinaryOutput: binaryOut}, "m", "", resp)
		if err != nil {
			t.Fatal(err)
		}
		// A response is a request once "outputs" is renamed "inputs".
		asRequest := strings.Replace(string(out[:jsonLength]), `"outputs":`, `"inputs":`, 1)
		jl := -1
		if binaryOut {
			jl = len(asRequest)
		}
		req, err := DecodeInferRequest(append([]byte(asRequest), out[jsonLength:]...), jl)
		if err != nil {
			t.Fatalf("binary %v: %v\n%s", binaryOut, err, asRequest)
		}
		for i, got := range req.Request.Inputs {
			want := tensors[i]
			if got.Name != want.Name || got.Datatype != want.Datatype || !reflect.DeepEqual(got.Shape, want.Shape) ||
				!reflect.DeepEqual(got.Data, want.Data) && len(want.Data) > 0 || !sameStrings(got.Strings, want.Strings) {
				t.Errorf("binary %v: %s read back as %+v, want %+v", binaryOut, want.Name, got, want)
			}
		}
	}
}

func sameStrings(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if string(a[i]) != string(b[i]) {
			return false
		}
	}
	return true
}

func TestBinaryBytesLayout(t *testing.T) {
	s := runtime.NewStrings("s", []int64{1}, []string{"xyz"})
	out, n, err := EncodeInferResponse(&InferRequest{BinaryOutput: true}, "m", "", &runtime.Response{Outputs: []runtime.Tensor{s}})
	if err != nil {
		t.Fatal(err)
	}
	if got := out[n:]; binary.LittleEndian.Uint32(got) != 3 || string(got[4:]) != "xyz" {
		t.Errorf("binary BYTES %q", got)
	}
}
