package scoring

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
)

func fp32(name string, shape []int64, v ...float32) runtime.Tensor {
	data := make([]byte, 0, 4*len(v))
	for _, f := range v {
		data = binary.LittleEndian.AppendUint32(data, math.Float32bits(f))
	}
	return runtime.Tensor{Name: name, Datatype: runtime.FP32, Shape: shape, Data: data}
}

func boolTensor(name string, v ...bool) runtime.Tensor {
	t := runtime.Tensor{Name: name, Datatype: runtime.Bool, Shape: []int64{int64(len(v))}, Data: make([]byte, len(v))}
	for i, b := range v {
		if b {
			t.Data[i] = 1
		}
	}
	return t
}

// predictionCases are the model results of testdata/mlflow/predictions.py, as a
// runtime gives them.
var predictionCases = map[string]*runtime.Response{
	"int64 vector":   {Kind: runtime.ResultArray, Outputs: []runtime.Tensor{runtime.NewInt64("", []int64{3}, []int64{1, -2, 3})}},
	"float64 matrix": {Kind: runtime.ResultArray, Outputs: []runtime.Tensor{runtime.NewFloat64("", []int64{2, 2}, []float64{0.1, 1, 1e-7, 1e20})}},
	"float64 special": {Kind: runtime.ResultArray, Outputs: []runtime.Tensor{
		runtime.NewFloat64("", []int64{4}, []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1)})}},
	"float32 vector":  {Kind: runtime.ResultArray, Outputs: []runtime.Tensor{fp32("", []int64{3}, 0.1, 0.5, 3.4e38)}},
	"bool vector":     {Kind: runtime.ResultArray, Outputs: []runtime.Tensor{boolTensor("", true, false)}},
	"string vector":   {Kind: runtime.ResultArray, Outputs: []runtime.Tensor{runtime.NewStrings("", []int64{2}, []string{"a", `b"c`})}},
	"unicode strings": {Kind: runtime.ResultArray, Outputs: []runtime.Tensor{runtime.NewStrings("", []int64{2}, []string{"é😀", "\x00\x7f\b\f\n/"})}},
	"scalar":          {Kind: runtime.ResultArray, Outputs: []runtime.Tensor{runtime.NewFloat64("", []int64{}, []float64{2.5})}},
	"int32 rank 3": {Kind: runtime.ResultArray, Outputs: []runtime.Tensor{{Name: "", Datatype: runtime.Int32, Shape: []int64{2, 2, 2},
		Data: []byte{0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0, 7, 0, 0, 0}}}},
	"table": {Kind: runtime.ResultTable, Outputs: []runtime.Tensor{
		runtime.NewInt64("label", []int64{2}, []int64{1, 0}),
		runtime.NewFloat64("score", []int64{2}, []float64{0.25, math.NaN()}),
		runtime.NewStrings("name", []int64{2}, []string{"x", "y"}),
	}},
	"table of float32 and bool": {Kind: runtime.ResultTable, Outputs: []runtime.Tensor{
		fp32("p", []int64{2}, 0.1, 0.2), boolTensor("é", true, false)}},
	"table with list column": {Kind: runtime.ResultTable, Outputs: []runtime.Tensor{runtime.NewFloat64("v", []int64{2, 2}, []float64{1, 2, 3, 4})}},
	"named series":           {Kind: runtime.ResultSeries, Outputs: []runtime.Tensor{runtime.NewFloat64("prediction", []int64{2}, []float64{1.5, 2.5})}},
	"unnamed series":         {Kind: runtime.ResultSeries, Outputs: []runtime.Tensor{runtime.NewInt64("", []int64{2}, []int64{1, 2})}},
	"dict": {Kind: runtime.ResultDict, Outputs: []runtime.Tensor{
		runtime.NewInt64("a", []int64{2}, []int64{1, 2}),
		runtime.NewFloat64("b", []int64{2, 1}, []float64{0.5, 1.5}),
	}},
	"empty": {Kind: runtime.ResultArray, Outputs: []runtime.Tensor{runtime.NewFloat64("", []int64{0, 3}, nil)}},
}

// TestPredictionsLikeMLflow holds EncodePredictions to the bytes MLflow's
// predictions_to_json writes for the same results.
func TestPredictionsLikeMLflow(t *testing.T) {
	f, err := os.Open("testdata/mlflow/predictions.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	seen := 0
	for s.Scan() {
		var c struct{ Name, MLflow string }
		if err := json.Unmarshal(s.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		resp, ok := predictionCases[c.Name]
		if !ok {
			t.Errorf("no response for case %q", c.Name)
			continue
		}
		seen++
		got, err := EncodePredictions(resp)
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		if string(got) != c.MLflow {
			t.Errorf("%s:\n got %s\nwant %s", c.Name, got, c.MLflow)
		}
	}
	if seen != len(predictionCases) {
		t.Errorf("%d of %d cases are in predictions.jsonl", seen, len(predictionCases))
	}
}

func TestEncodeV1(t *testing.T) {
	cases := []struct {
		name string
		resp *runtime.Response
		want string
	}{
		{"array", predictionCases["float32 vector"], `{"predictions":[0.1,0.5,3.4e+38]}`},
		{"series", predictionCases["named series"], `{"predictions":[1.5,2.5]}`},
		{"table", predictionCases["table"], `{"predictions":[{"label":1,"score":0.25,"name":"x"},{"label":0,"score":NaN,"name":"y"}]}`},
		{"dict", predictionCases["dict"], `{"predictions":{"a":[1,2],"b":[[0.5],[1.5]]}}`},
		{"no kind, one output", &runtime.Response{Outputs: []runtime.Tensor{runtime.NewInt64("y", []int64{1}, []int64{4})}}, `{"predictions":[4]}`},
		{"no kind, outputs", &runtime.Response{Outputs: []runtime.Tensor{runtime.NewInt64("y", []int64{1}, []int64{4}), runtime.NewStrings("z", []int64{}, []string{"é"})}}, `{"predictions":{"y":[4],"z":"é"}}`},
	}
	for _, tc := range cases {
		got, err := EncodeV1(tc.resp)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

func TestEncodeBrokenResults(t *testing.T) {
	cases := []struct {
		name string
		resp *runtime.Response
		want string
	}{
		{"array of two", &runtime.Response{Kind: runtime.ResultArray, Outputs: []runtime.Tensor{runtime.NewInt64("a", []int64{1}, []int64{1}), runtime.NewInt64("b", []int64{1}, []int64{1})}}, "has 2 outputs, not 1"},
		{"ragged table", &runtime.Response{Kind: runtime.ResultTable, Outputs: []runtime.Tensor{runtime.NewInt64("a", []int64{1}, []int64{1}), runtime.NewInt64("b", []int64{2}, []int64{1, 2})}}, `column "b" of a table result has 2 rows, column "a" has 1`},
		{"scalar column", &runtime.Response{Kind: runtime.ResultTable, Outputs: []runtime.Tensor{runtime.NewInt64("a", []int64{}, []int64{1})}}, "has no rows dimension"},
		{"short data", &runtime.Response{Kind: runtime.ResultArray, Outputs: []runtime.Tensor{{Name: "a", Datatype: runtime.FP64, Shape: []int64{2}, Data: make([]byte, 8)}}}, `model output "a"`},
		{"unknown kind", &runtime.Response{Kind: "graph", Outputs: []runtime.Tensor{runtime.NewInt64("a", []int64{1}, []int64{1})}}, `unknown model result kind "graph"`},
	}
	for _, tc := range cases {
		for _, encode := range []func(*runtime.Response) ([]byte, error){EncodePredictions, EncodeV1} {
			_, err := encode(tc.resp)
			if err == nil || fault.KindOf(err) != fault.Internal || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v, want an internal error containing %q", tc.name, err, tc.want)
			}
		}
	}
}
