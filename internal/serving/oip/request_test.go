package oip

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
)

func fp32Bytes(v ...float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, f := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	}
	return b
}

func fp32Tensor(name string, shape []int64, v ...float32) runtime.Tensor {
	return runtime.Tensor{Name: name, Datatype: runtime.FP32, Shape: shape, Data: fp32Bytes(v...)}
}

func TestDecodeJSON(t *testing.T) {
	cases := []struct {
		name string
		body string
		want InferRequest
	}{{
		name: "spec example",
		body: `{"id": "42", "inputs": [{"name": "input0", "shape": [2, 2], "datatype": "UINT32", "data": [1, 2, 3, 4]},
			{"name": "input1", "shape": [3], "datatype": "BOOL", "data": [true, false, true]}],
			"outputs": [{"name": "output0"}]}`,
		want: InferRequest{
			ID: "42",
			Request: runtime.Request{Inputs: []runtime.Tensor{
				{Name: "input0", Datatype: runtime.Uint32, Shape: []int64{2, 2}, Data: []byte{1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0}},
				{Name: "input1", Datatype: runtime.Bool, Shape: []int64{3}, Data: []byte{1, 0, 1}},
			}},
			Outputs: []RequestedOutput{{Name: "output0"}},
		},
	}, {
		name: "nested data, parameters, binary outputs",
		body: `{"parameters": {"binary_data_output": true, "priority": 1, "timeout": 1500},
			"inputs": [{"name": "x", "shape": [2, 1], "datatype": "FP32", "data": [[0.5], [-2]]}],
			"outputs": [{"name": "a"}, {"name": "b", "parameters": {"binary_data": false}}]}`,
		want: InferRequest{
			Parameters:   map[string]any{"binary_data_output": true, "priority": int64(1), "timeout": int64(1500)},
			Request:      runtime.Request{Inputs: []runtime.Tensor{fp32Tensor("x", []int64{2, 1}, 0.5, -2)}},
			Outputs:      []RequestedOutput{{Name: "a", Binary: true}, {Name: "b"}},
			BinaryOutput: true,
			timeout:      1500 * time.Microsecond,
		},
	}, {
		name: "bytes and unknown fields",
		body: `{"inputs": [{"name": "s", "shape": [2], "datatype": "BYTES", "data": ["a", "\u00e9"], "parameters": {"content_type": "str"}}], "extra": {"x": [1]}}`,
		want: InferRequest{Request: runtime.Request{Inputs: []runtime.Tensor{
			{Name: "s", Datatype: runtime.Bytes, Shape: []int64{2}, Strings: [][]byte{[]byte("a"), []byte("é")}},
		}}},
	}, {
		name: "column inputs",
		body: `{"inputs": [{"name": "age", "shape": [2], "datatype": "INT64", "data": [31, 42]},
			{"name": "income", "shape": [2, 1], "datatype": "FP64", "data": [1000.5, 2000]}]}`,
		want: InferRequest{Request: runtime.Request{Inputs: []runtime.Tensor{
			runtime.NewInt64("age", []int64{2}, []int64{31, 42}),
			runtime.NewFloat64("income", []int64{2, 1}, []float64{1000.5, 2000}),
		}}},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeInferRequest([]byte(tc.body), -1)
			if err != nil {
				t.Fatal(err)
			}
			assertRequest(t, got, &tc.want)
		})
	}
}

func assertRequest(t *testing.T, got, want *InferRequest) {
	t.Helper()
	want.Request.Layout = runtime.LayoutTensors
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", *got, *want)
	}
	for _, in := range got.Request.Inputs {
		if err := in.Check(); err != nil {
			t.Error(err)
		}
	}
}

// tritonInput is an input as tritonclient.http builds it with binary_data=True.
type tritonInput struct {
	name, datatype, shape string
	raw                   []byte
}

// tritonBody builds a request body laid out as tritonclient.http's
// _get_inference_request lays it out (testdata/tritonclient has bodies it wrote): the
// request's JSON, then the inputs' raw bytes in input order. It returns the body and
// the value of the Inference-Header-Content-Length header.
func tritonBody(inputs []tritonInput, outputs string) ([]byte, int) {
	var b strings.Builder
	b.WriteString(`{"inputs": [`)
	for i, in := range inputs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`{"name": "` + in.name + `", "shape": ` + in.shape + `, "datatype": "` + in.datatype +
			`", "parameters": {"binary_data_size": ` + itoa(len(in.raw)) + `}}`)
	}
	b.WriteString(`]`)
	if outputs != "" {
		b.WriteString(`, "outputs": ` + outputs + `}`)
	} else {
		b.WriteString(`, "parameters": {"binary_data_output": true}}`)
	}
	body := []byte(b.String())
	n := len(body)
	for _, in := range inputs {
		body = append(body, in.raw...)
	}
	return body, n
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var d []byte
	for ; n > 0; n /= 10 {
		d = append([]byte{byte('0' + n%10)}, d...)
	}
	return string(d)
}

// serializeBytes is tritonclient's serialize_byte_tensor: each element a 4-byte
// little-endian length and its bytes.
func serializeBytes(s ...string) []byte {
	var b []byte
	for _, e := range s {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(e)))
		b = append(b, e...)
	}
	return b
}

func TestDecodeBinary(t *testing.T) {
	body, n := tritonBody([]tritonInput{
		{"INPUT0", "FP32", "[1, 3]", fp32Bytes(1, 2.5, -3)},
		{"INPUT1", "BYTES", "[2]", serializeBytes("hello", "")},
		{"INPUT2", "BOOL", "[2]", []byte{1, 0}},
		{"EMPTY", "INT64", "[0]", nil},
	}, `[{"name": "OUTPUT0", "parameters": {"binary_data": true}}, {"name": "OUTPUT1", "parameters": {"binary_data": false}}]`)
	got, err := DecodeInferRequest(body, n)
	if err != nil {
		t.Fatal(err)
	}
	assertRequest(t, got, &InferRequest{
		Request: runtime.Request{Inputs: []runtime.Tensor{
			fp32Tensor("INPUT0", []int64{1, 3}, 1, 2.5, -3),
			{Name: "INPUT1", Datatype: runtime.Bytes, Shape: []int64{2}, Strings: [][]byte{[]byte("hello"), {}}},
			{Name: "INPUT2", Datatype: runtime.Bool, Shape: []int64{2}, Data: []byte{1, 0}},
			{Name: "EMPTY", Datatype: runtime.Int64, Shape: []int64{0}, Data: []byte{}},
		}},
		Outputs: []RequestedOutput{{Name: "OUTPUT0", Binary: true}, {Name: "OUTPUT1"}},
	})
	// The tensors alias the body; their capacity stops at their own bytes.
	in := got.Request.Inputs[0]
	if &in.Data[0] != &body[n] || cap(in.Data) != 12 {
		t.Errorf("FP32 input does not alias its 12 bytes of the body (cap %d)", cap(in.Data))
	}
}

func TestDecodeBinaryMixedWithJSON(t *testing.T) {
	head := `{"inputs": [{"name": "a", "shape": [2], "datatype": "FP32", "parameters": {"binary_data_size": 8}},
		{"name": "b", "shape": [1], "datatype": "INT32", "data": [7]},
		{"name": "c", "shape": [1], "datatype": "FP32", "parameters": {"binary_data_size": 4}}]}`
	body := append([]byte(head), fp32Bytes(1, 2, 3)...)
	got, err := DecodeInferRequest(body, len(head))
	if err != nil {
		t.Fatal(err)
	}
	assertRequest(t, got, &InferRequest{
		Parameters: nil, BinaryOutput: false,
		Request: runtime.Request{Inputs: []runtime.Tensor{
			fp32Tensor("a", []int64{2}, 1, 2),
			{Name: "b", Datatype: runtime.Int32, Shape: []int64{1}, Data: []byte{7, 0, 0, 0}},
			fp32Tensor("c", []int64{1}, 3),
		}},
	})
	// A header equal to the body's length means no binary data.
	only := []byte(`{"inputs": [{"name": "b", "shape": [1], "datatype": "INT32", "data": [7]}]}`)
	if _, err := DecodeInferRequest(only, len(only)); err != nil {
		t.Error(err)
	}
}

func TestDecodeErrors(t *testing.T) {
	input := func(s string) string { return `{"inputs": [` + s + `]}` }
	const withBinary = -3 // the case's body is followed by 4 bytes of binary data
	cases := []struct {
		name       string
		body       string
		jsonLength int
		want       string
	}{
		{"not JSON", `{"inputs": [}`, -1, "invalid JSON at offset 12"},
		{"trailing garbage", `{"inputs": []} x`, -1, "unexpected data after the JSON value"},
		{"not an object", `[1]`, -1, "the request must be a JSON object"},
		{"no inputs", `{}`, -1, `the request has no "inputs"`},
		{"inputs not array", `{"inputs": {}}`, -1, `"inputs" must be an array`},
		{"empty inputs", `{"inputs": []}`, -1, `"inputs" is empty`},
		{"duplicate field", `{"inputs": [], "inputs": []}`, -1, `the request has "inputs" twice`},
		{"id not string", `{"id": 42, "inputs": []}`, -1, `"id" must be a string`},
		{"parameters not object", `{"parameters": [], "inputs": []}`, -1, `"parameters" must be a JSON object`},
		{"binary_data_output not bool", `{"parameters": {"binary_data_output": 1}, "inputs": []}`, -1, `"binary_data_output" must be true or false`},
		{"timeout not integer", `{"parameters": {"timeout": 1.5}, "inputs": []}`, -1, `"timeout" must be a non-negative integer`},
		{"input not object", input(`1`), -1, "inputs[0] must be a JSON object"},
		{"no name", input(`{"shape": [1], "datatype": "FP32", "data": [1]}`), -1, `inputs[0] has no "name" string`},
		{"no shape", input(`{"name": "x", "datatype": "FP32", "data": [1]}`), -1, `input "x" has no "shape"`},
		{"shape not array", input(`{"name": "x", "shape": 1, "datatype": "FP32", "data": [1]}`), -1, `input "x": "shape" must be an array`},
		{"negative dim", input(`{"name": "x", "shape": [-1], "datatype": "FP32", "data": [1]}`), -1, `input "x": shape dimensions must be non-negative integers, not -1`},
		{"fractional dim", input(`{"name": "x", "shape": [1.5], "datatype": "FP32", "data": [1]}`), -1, "not 1.5"},
		{"string dim", input(`{"name": "x", "shape": ["1"], "datatype": "FP32", "data": [1]}`), -1, "must be non-negative integers"},
		{"huge dims", input(`{"name": "x", "shape": [100000, 100000, 100000], "datatype": "FP32", "data": [1]}`), -1, "has more than 268435456 elements"},
		{"dim overflow", input(`{"name": "x", "shape": [99999999999999999999], "datatype": "FP32", "data": [1]}`), -1, "must be non-negative integers"},
		{"rank", input(`{"name": "x", "shape": [` + strings.Repeat("1,", 32) + `1], "datatype": "FP32", "data": [1]}`), -1, "shape has 33 dimensions; at most 32"},
		{"no datatype", input(`{"name": "x", "shape": [1], "data": [1]}`), -1, `input "x" has no "datatype" string`},
		{"unknown datatype", input(`{"name": "x", "shape": [1], "datatype": "FLOAT", "data": [1]}`), -1, `input "x": unknown datatype "FLOAT": use one of BOOL`},
		{"no data", input(`{"name": "x", "shape": [1], "datatype": "FP32"}`), -1, `input "x" has no "data" and no binary_data_size`},
		{"count", input(`{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3]}`), -1, `input "x": shape [2 2] needs 4 elements, data has 3`},
		{"ragged", input(`{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [[1, 2], [3]]}`), -1, `input "x": data[1] has 1 elements`},
		{"wrong type", input(`{"name": "x", "shape": [1], "datatype": "INT32", "data": [1.5]}`), -1, `input "x": element 0: 1.5 is not an integer`},
		{"int range", input(`{"name": "x", "shape": [1], "datatype": "UINT8", "data": [256]}`), -1, "256 is out of range for UINT8"},
		{"bool from number", input(`{"name": "x", "shape": [1], "datatype": "BOOL", "data": [1]}`), -1, "1 is not a boolean"},
		{"bytes from number", input(`{"name": "x", "shape": [1], "datatype": "BYTES", "data": [1]}`), -1, "is not a string"},
		{"duplicate input", input(`{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}, {"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}`), -1, `input "x" appears twice`},
		{"duplicate input field", input(`{"name": "x", "name": "y", "shape": [1], "datatype": "FP32", "data": [1]}`), -1, `inputs[0] has "name" twice`},
		{"deep nesting", input(`{"name": "x", "shape": [1], "datatype": "FP32", "data": ` + strings.Repeat("[", 100) + `]}`), -1, "nesting deeper than 64"},
		{"shared memory", input(`{"name": "x", "shape": [1], "datatype": "FP32", "parameters": {"shared_memory_region": "r"}}`), -1, "shared memory is not supported"},
		{"header over body", `{"inputs": []}`, 100, "Inference-Header-Content-Length is 100 but the body has 14 bytes"},
		{"header negative", `{"inputs": []}`, -2, "Inference-Header-Content-Length is -2"},
		{"binary without header", input(`{"name": "x", "shape": [1], "datatype": "FP32", "parameters": {"binary_data_size": 4}}`), -1, "has binary_data_size but the request has no Inference-Header-Content-Length header"},
		{"binary and data", input(`{"name": "x", "shape": [1], "datatype": "FP32", "data": [1], "parameters": {"binary_data_size": 4}}`), withBinary, "has both data and binary_data_size"},
		{"binary size negative", input(`{"name": "x", "shape": [1], "datatype": "FP32", "parameters": {"binary_data_size": -4}}`), withBinary, "binary_data_size must be a non-negative integer"},
		{"outputs not array", `{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}], "outputs": {}}`, -1, `"outputs" must be an array`},
		{"output without name", `{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}], "outputs": [{}]}`, -1, `outputs[0] has no "name" string`},
		{"output twice", `{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}], "outputs": [{"name": "y"}, {"name": "y"}]}`, -1, `output "y" is requested twice`},
		{"output binary_data not bool", `{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}], "outputs": [{"name": "y", "parameters": {"binary_data": "yes"}}]}`, -1, "binary_data must be true or false"},
		{"classification", `{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}], "outputs": [{"name": "y", "parameters": {"classification": 3}}]}`, -1, "classification is not supported"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			jl := tc.jsonLength
			body := []byte(tc.body)
			if jl == withBinary {
				jl = len(body)
				body = append(body, make([]byte, 4)...)
			}
			_, err := DecodeInferRequest(body, jl)
			if err == nil {
				t.Fatalf("DecodeInferRequest succeeded, want %q", tc.want)
			}
			if !errors.Is(err, fault.Invalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("DecodeInferRequest: %v\nwant an Invalid error containing %q", err, tc.want)
			}
		})
	}
}

func TestDecodeBinaryErrors(t *testing.T) {
	cases := []struct {
		name   string
		inputs []tritonInput
		extra  []byte // appended after the inputs' bytes
		size   int    // overrides the first input's binary_data_size when > 0
		want   string
	}{
		{"short fixed", []tritonInput{{"x", "FP32", "[3]", fp32Bytes(1, 2)}}, nil, 0, `input "x": binary_data_size is 8 but shape [3] of FP32 needs 12 bytes`},
		{"long fixed", []tritonInput{{"x", "FP32", "[1]", fp32Bytes(1, 2)}}, nil, 0, "binary_data_size is 8 but shape [1] of FP32 needs 4 bytes"},
		{"trailing bytes", []tritonInput{{"x", "FP32", "[1]", fp32Bytes(1)}}, []byte{9, 9}, 0, "the body has 2 bytes after the binary data of the inputs"},
		{"overrun", []tritonInput{{"x", "FP32", "[1]", fp32Bytes(1)}}, nil, 400, `input "x": binary_data_size 400 overruns the body: 4 bytes of binary data are left`},
		{"bool not 0 or 1", []tritonInput{{"x", "BOOL", "[2]", []byte{1, 2}}}, nil, 0, "BOOL element 1 is 2"},
		{"bytes length overruns", []tritonInput{{"s", "BYTES", "[1]", []byte{9, 0, 0, 0, 'a'}}}, nil, 0, "BYTES element 0 of 9 bytes overruns"},
		{"bytes too few", []tritonInput{{"s", "BYTES", "[2]", append(serializeBytes("abcd"), 1)}}, nil, 0, "ends inside the length of BYTES element 1"},
		{"bytes too many", []tritonInput{{"s", "BYTES", "[1]", serializeBytes("a", "b")}}, nil, 0, "binary data has 5 bytes after the 1 BYTES elements"},
		{"bytes huge shape", []tritonInput{{"s", "BYTES", "[100000000]", serializeBytes("a")}}, nil, 0, "5 bytes of binary data cannot hold the 100000000 BYTES elements"},
		{"huge shape, little data", []tritonInput{{"x", "FP64", "[16384, 16384]", fp32Bytes(1)}}, nil, 0, "needs 2147483648 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, n := tritonBody(tc.inputs, "")
			if tc.size > 0 {
				head := strings.Replace(string(body[:n]), `"binary_data_size": `+itoa(len(tc.inputs[0].raw)), `"binary_data_size": `+itoa(tc.size), 1)
				body = append([]byte(head), body[n:]...)
				n = len(head)
			}
			body = append(body, tc.extra...)
			_, err := DecodeInferRequest(body, n)
			if !errors.Is(err, fault.Invalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("DecodeInferRequest: %v\nwant an Invalid error containing %q", err, tc.want)
			}
		})
	}
}

// TestTritonclientBodies decodes bodies that tritonclient.http itself built (see
// testdata/tritonclient/gen.py).
func TestTritonclientBodies(t *testing.T) {
	cases := []struct {
		name string
		want InferRequest
	}{{
		name: "defaults",
		want: InferRequest{
			Parameters:   map[string]any{"binary_data_output": true},
			BinaryOutput: true,
			Request: runtime.Request{Inputs: []runtime.Tensor{
				fp32Tensor("INPUT0", []int64{1, 4}, 1.5, -2.25, 3.0, 0.1),
				runtime.NewInt64("INPUT1", []int64{2}, []int64{7, -9}),
				runtime.NewStrings("INPUT2", []int64{3}, []string{"hello", "", "é"}),
				{Name: "INPUT3", Datatype: runtime.Bool, Shape: []int64{2}, Data: []byte{1, 0}},
				{Name: "INPUT4", Datatype: runtime.FP16, Shape: []int64{2}, Data: []byte{0x00, 0x3c, 0x00, 0x38}},
			}},
		},
	}, {
		name: "json",
		want: InferRequest{
			ID:         "req-7",
			Parameters: map[string]any{"timeout": int64(5000)},
			timeout:    5 * time.Millisecond,
			Request: runtime.Request{Inputs: []runtime.Tensor{
				runtime.NewFloat64("x", []int64{2, 3}, []float64{1, 2.5, -3, 0.1, 1e-7, 1e20}),
				runtime.NewStrings("s", []int64{2}, []string{"a", "b\"c"}),
				{Name: "b", Datatype: runtime.Bool, Shape: []int64{2}, Data: []byte{0, 1}},
			}},
			Outputs: []RequestedOutput{{Name: "y"}, {Name: "z", Binary: true}},
		},
	}, {
		name: "mixed",
		want: InferRequest{
			Request: runtime.Request{Inputs: []runtime.Tensor{
				{Name: "a", Datatype: runtime.Uint8, Shape: []int64{3}, Data: []byte{1, 2, 3}},
				{Name: "b", Datatype: runtime.Int32, Shape: []int64{1, 2}, Data: []byte{4, 0, 0, 0, 5, 0, 0, 0}},
				runtime.NewFloat64("c", []int64{1}, []float64{2}),
			}},
			Outputs: []RequestedOutput{{Name: "y", Binary: true}},
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join("testdata", "tritonclient")
			body, err := os.ReadFile(filepath.Join(dir, tc.name+".body"))
			if err != nil {
				t.Fatal(err)
			}
			n, err := os.ReadFile(filepath.Join(dir, tc.name+".len"))
			if err != nil {
				t.Fatal(err)
			}
			jsonLength, err := strconv.Atoi(strings.TrimSpace(string(n)))
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeInferRequest(body, jsonLength)
			if err != nil {
				t.Fatal(err)
			}
			assertRequest(t, got, &tc.want)
		})
	}
}
