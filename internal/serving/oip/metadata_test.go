package oip

import (
	"encoding/json"
	"testing"

	"github.com/mlship/mlship/internal/runtime"
)

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var irisMetadata = runtime.Metadata{
	Platform: "onnx_onnxv1",
	Inputs:   []runtime.TensorSpec{{Name: "X", Datatype: runtime.FP32, Shape: []int64{-1, 4}}},
	Outputs: []runtime.TensorSpec{
		{Name: "label", Datatype: runtime.Int64, Shape: []int64{-1}},
		{Name: "probabilities", Datatype: runtime.FP32, Shape: []int64{-1, 3}},
	},
	Batchable: true,
}

func TestServerMetadata(t *testing.T) {
	cases := []struct {
		ext  []string
		want string
	}{
		{nil, `{"name":"mlship","version":"1.0","extensions":[]}`},
		{[]string{ExtensionBinaryTensorData, ExtensionModelRepository}, `{"name":"mlship","version":"1.0","extensions":["binary_tensor_data","model_repository"]}`},
	}
	for _, tc := range cases {
		if got := marshal(t, NewServerMetadata("mlship", "1.0", tc.ext)); got != tc.want {
			t.Errorf("got %s, want %s", got, tc.want)
		}
	}
}

func TestModelMetadata(t *testing.T) {
	got := marshal(t, NewModelMetadata("iris", []string{"3"}, irisMetadata))
	want := `{"name":"iris","versions":["3"],"platform":"onnx_onnxv1",` +
		`"inputs":[{"name":"X","datatype":"FP32","shape":[-1,4]}],` +
		`"outputs":[{"name":"label","datatype":"INT64","shape":[-1]},{"name":"probabilities","datatype":"FP32","shape":[-1,3]}]}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	columns := runtime.Metadata{Platform: "mlflow_pyfunc", Columns: true,
		Inputs:  []runtime.TensorSpec{{Name: "age", Datatype: runtime.Int64, Shape: []int64{-1}}, {Name: "city", Datatype: runtime.Bytes}},
		Outputs: []runtime.TensorSpec{}}
	got = marshal(t, NewModelMetadata("m", nil, columns))
	want = `{"name":"m","platform":"mlflow_pyfunc","inputs":[{"name":"age","datatype":"INT64","shape":[-1]},{"name":"city","datatype":"BYTES","shape":[]}],"outputs":[]}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestModelConfig(t *testing.T) {
	cases := []struct {
		name     string
		md       runtime.Metadata
		maxBatch int
		want     string
	}{{
		name: "batching", md: irisMetadata, maxBatch: 64,
		want: `{"name":"iris","platform":"onnx_onnxv1","max_batch_size":64,` +
			`"input":[{"name":"X","data_type":"TYPE_FP32","dims":[4]}],` +
			`"output":[{"name":"label","data_type":"TYPE_INT64","dims":[]},{"name":"probabilities","data_type":"TYPE_FP32","dims":[3]}],` +
			`"dynamic_batching":{}}`,
	}, {
		name: "no batching", md: irisMetadata, maxBatch: 0,
		want: `{"name":"iris","platform":"onnx_onnxv1","max_batch_size":0,` +
			`"input":[{"name":"X","data_type":"TYPE_FP32","dims":[-1,4]}],` +
			`"output":[{"name":"label","data_type":"TYPE_INT64","dims":[-1]},{"name":"probabilities","data_type":"TYPE_FP32","dims":[-1,3]}]}`,
	}, {
		name: "fixed first dimension",
		md: runtime.Metadata{Platform: "p", Batchable: true,
			Inputs:  []runtime.TensorSpec{{Name: "s", Datatype: runtime.Bytes, Shape: []int64{1}, Optional: true}},
			Outputs: []runtime.TensorSpec{{Name: "y", Datatype: runtime.BF16, Shape: []int64{-1}}}},
		maxBatch: 8,
		want: `{"name":"iris","platform":"p","max_batch_size":0,` +
			`"input":[{"name":"s","data_type":"TYPE_STRING","dims":[1],"optional":true}],` +
			`"output":[{"name":"y","data_type":"TYPE_BF16","dims":[-1]}]}`,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := marshal(t, NewModelConfig("iris", tc.md, tc.maxBatch)); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestErrorBody(t *testing.T) {
	if got := marshal(t, ErrorBody{Error: "bad"}); got != `{"error":"bad"}` {
		t.Errorf("got %s", got)
	}
}
