// Package nativetest is the conformance suite of the ONNX runtimes (the native engine
// and ONNX Runtime): Run serves models of internal/onnx's corpus through a
// runtime.Runtime and checks its answers against the outputs onnxruntime gave for the
// same inputs, and its errors for bad model directories and bad requests. The
// helpers it is built from are exported for tests of one runtime's own behaviour.
package nativetest

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
)

// Corpus is the directory of the corpus models: each NAME.onnx with NAME.json, its
// inputs and onnxruntime's outputs (internal/onnx/testdata/gen/cases.py).
func Corpus() string {
	_, file, _, _ := goruntime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "onnx", "testdata", "models")
}

// MLmodel is an MLmodel file of the onnx flavor whose model file is model.onnx.
const MLmodel = "flavors:\n  onnx:\n    data: model.onnx\n    onnx_version: 1.23.2\n  python_function:\n    loader_module: mlflow.onnx\n"

// Case is the part of a corpus case that the runtime tests read.
type Case struct {
	Inputs []struct {
		Name  string  `json:"name"`
		Type  string  `json:"type"` // "tensor", "map"
		Elem  string  `json:"elem"` // "float32", "float64", "int64", "string", "bool"
		Shape []int64 `json:"shape"`
		Data  []any   `json:"data"`
	} `json:"inputs"`
	Outputs []struct {
		Name  string  `json:"name"`
		Type  string  `json:"type"`
		Shape []int64 `json:"shape"`
		Data  []any   `json:"data"`
		Maps  []struct {
			Data []any `json:"data"`
		} `json:"maps"`
	} `json:"outputs"`
}

// ReadCase reads the inputs and outputs of the corpus model name.
func ReadCase(t testing.TB, name string) Case {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(Corpus(), name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var c Case
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// Num is a JSON number of a case as a float64: a number, a bool (0 or 1), or one of
// the strings "Infinity" and "-Infinity"; NaN for anything else ("NaN" included).
func Num(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case bool:
		if x {
			return 1
		}
		return 0
	case string:
		switch x {
		case "Infinity":
			return math.Inf(1)
		case "-Infinity":
			return math.Inf(-1)
		}
	}
	return math.NaN()
}

// ModelDir copies the corpus model name into a new directory as file, with an
// MLmodel file when mlmodel is not empty.
func ModelDir(t testing.TB, name, file, mlmodel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(Corpus(), name+".onnx"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, file), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if mlmodel != "" {
		if err := os.WriteFile(filepath.Join(dir, "MLmodel"), []byte(mlmodel), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Load loads the model in dir with rt, and closes it when the test ends.
func Load(t testing.TB, rt runtime.Runtime, dir string) runtime.Model {
	t.Helper()
	m, err := rt.Load(context.Background(), runtime.Spec{Dir: dir, Name: "m"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// FP32 converts a numeric tensor to FP32.
func FP32(t runtime.Tensor) runtime.Tensor {
	v, _ := t.Float64s()
	out := runtime.Tensor{Name: t.Name, Shape: t.Shape, Datatype: runtime.FP32, Data: make([]byte, 4*len(v))}
	for i, f := range v {
		bits := math.Float32bits(float32(f))
		out.Data[4*i], out.Data[4*i+1], out.Data[4*i+2], out.Data[4*i+3] = byte(bits), byte(bits>>8), byte(bits>>16), byte(bits>>24)
	}
	return out
}

// NumericRequest is the case's first input, as an FP64 or FP32 tensor named "X".
func NumericRequest(c Case, datatype runtime.Datatype) *runtime.Request {
	x := make([]float64, len(c.Inputs[0].Data))
	for i, v := range c.Inputs[0].Data {
		x[i] = Num(v)
	}
	in := runtime.NewFloat64("X", c.Inputs[0].Shape, x)
	if datatype == runtime.FP32 {
		in = FP32(in)
	}
	return &runtime.Request{Inputs: []runtime.Tensor{in}}
}

// Request is the case's inputs as they are, each a tensor of its own element type;
// false when an input is not a tensor.
func Request(c Case) (*runtime.Request, bool) {
	req := &runtime.Request{}
	for _, in := range c.Inputs {
		if in.Type != "tensor" {
			return nil, false
		}
		switch in.Elem {
		case "string":
			vals := make([]string, len(in.Data))
			for i, v := range in.Data {
				vals[i], _ = v.(string)
			}
			req.Inputs = append(req.Inputs, runtime.NewStrings(in.Name, in.Shape, vals))
			continue
		case "int64":
			vals := make([]int64, len(in.Data))
			for i, v := range in.Data {
				vals[i] = int64(Num(v))
			}
			req.Inputs = append(req.Inputs, runtime.NewInt64(in.Name, in.Shape, vals))
			continue
		}
		vals := make([]float64, len(in.Data))
		for i, v := range in.Data {
			vals[i] = Num(v)
		}
		t := runtime.NewFloat64(in.Name, in.Shape, vals)
		switch in.Elem {
		case "float32":
			t = FP32(t)
		case "bool":
			t = runtime.Tensor{Name: in.Name, Datatype: runtime.Bool, Shape: in.Shape, Data: make([]byte, len(vals))}
			for i, v := range vals {
				t.Data[i] = byte(v)
			}
		}
		req.Inputs = append(req.Inputs, t)
	}
	return req, true
}

// Close32 reports whether a is b within the float32 tolerance of the corpus; NaN is
// close to NaN.
func Close32(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return a == b || math.Abs(a-b) <= max(1e-6, 1e-5*math.Abs(b))
}

// CheckOutputs compares a response with onnxruntime's outputs: labels exactly, scores
// within Close32; a ZipMap output must come back as FP32 [rows, classes].
func CheckOutputs(t testing.TB, c Case, resp *runtime.Response) {
	t.Helper()
	if len(resp.Outputs) != len(c.Outputs) {
		t.Fatalf("%d outputs, want %d", len(resp.Outputs), len(c.Outputs))
	}
	for i, want := range c.Outputs {
		got := resp.Outputs[i]
		if got.Name != want.Name {
			t.Fatalf("output %d is %q, want %q", i, got.Name, want.Name)
		}
		var wantVals []any
		if want.Type == "seq_map" {
			for _, m := range want.Maps {
				wantVals = append(wantVals, m.Data...)
			}
			if got.Datatype != runtime.FP32 || len(got.Shape) != 2 || got.Shape[0] != int64(len(want.Maps)) {
				t.Fatalf("ZipMap output %q is %s%v", got.Name, got.Datatype, got.Shape)
			}
		} else {
			wantVals = want.Data
		}
		if got.Datatype == runtime.Bytes {
			for j, s := range got.Strings {
				if string(s) != wantVals[j] {
					t.Errorf("%s[%d] = %q, want %v", got.Name, j, s, wantVals[j])
				}
			}
			continue
		}
		vals, err := got.Float64s()
		if err != nil {
			t.Fatal(err)
		}
		if len(vals) != len(wantVals) {
			t.Fatalf("%s has %d values, want %d", got.Name, len(vals), len(wantVals))
		}
		for j, v := range vals {
			if !Close32(v, Num(wantVals[j])) {
				t.Errorf("%s[%d] = %v, want %v", got.Name, j, v, wantVals[j])
			}
		}
	}
}

// Run runs the conformance suite against rt.
func Run(t *testing.T, rt runtime.Runtime) {
	t.Run("PredictMatchesOnnxruntime", func(t *testing.T) { testPredict(t, rt) })
	t.Run("Corpus", func(t *testing.T) { testCorpus(t, rt) })
	t.Run("ColumnsLayout", func(t *testing.T) { testColumns(t, rt) })
	t.Run("LoadErrors", func(t *testing.T) { testLoadErrors(t, rt) })
	t.Run("PredictErrors", func(t *testing.T) { testPredictErrors(t, rt) })
}

// testPredict serves corpus models with FP32 and FP64 requests and checks
// onnxruntime's outputs; a ZipMap output comes back as FP32 [rows, classes].
func testPredict(t *testing.T, rt runtime.Runtime) {
	for _, tc := range []struct {
		model    string
		datatype runtime.Datatype
	}{
		{"logreg_multiclass", runtime.FP32}, {"logreg_multiclass", runtime.FP64},
		{"bench_gradient_boosting", runtime.FP32}, {"random_forest_classifier", runtime.FP64},
		{"decision_tree_classifier_strings", runtime.FP32},
	} {
		t.Run(tc.model+"/"+string(tc.datatype), func(t *testing.T) {
			m := Load(t, rt, ModelDir(t, tc.model, "model.onnx", MLmodel))
			meta := m.Metadata()
			if meta.Platform != "onnx_onnxv1" || !meta.Batchable || meta.Inputs[0].Datatype != runtime.FP32 {
				t.Fatalf("metadata %+v", meta)
			}
			c := ReadCase(t, tc.model)
			resp, err := m.Predict(context.Background(), NumericRequest(c, tc.datatype))
			if err != nil {
				t.Fatal(err)
			}
			CheckOutputs(t, c, resp)
		})
	}
}

// testCorpus serves every corpus model whose inputs are tensors, with the inputs
// as the case gives them, and checks onnxruntime's outputs.
func testCorpus(t *testing.T, rt runtime.Runtime) {
	found, err := filepath.Glob(filepath.Join(Corpus(), "*.onnx"))
	if err != nil || len(found) == 0 {
		t.Fatalf("no corpus models in %s: %v", Corpus(), err)
	}
	for _, file := range found {
		name := strings.TrimSuffix(filepath.Base(file), ".onnx")
		t.Run(name, func(t *testing.T) {
			c := ReadCase(t, name)
			req, ok := Request(c)
			if !ok {
				t.Skip("the model takes a map")
			}
			resp, err := Load(t, rt, ModelDir(t, name, "model.onnx", "")).Predict(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			CheckOutputs(t, c, resp)
		})
	}
}

// testColumns sends a table, one [rows] column per model input, to a pipeline whose
// inputs are [rows, 1] columns.
func testColumns(t *testing.T, rt runtime.Runtime) {
	m := Load(t, rt, ModelDir(t, "column_transformer_logreg", "pipeline.onnx", ""))
	c := ReadCase(t, "column_transformer_logreg")
	req := &runtime.Request{Layout: runtime.LayoutColumns}
	for _, in := range c.Inputs {
		rows := in.Shape[0]
		if s, ok := in.Data[0].(string); ok && s != "NaN" {
			vals := make([]string, rows)
			for i, v := range in.Data {
				vals[i] = v.(string)
			}
			req.Inputs = append(req.Inputs, runtime.NewStrings(in.Name, []int64{rows}, vals))
			continue
		}
		vals := make([]float64, rows)
		for i, v := range in.Data {
			vals[i] = Num(v)
		}
		req.Inputs = append(req.Inputs, runtime.NewFloat64(in.Name, []int64{rows}, vals))
	}
	resp, err := m.Predict(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	CheckOutputs(t, c, resp)
}

func testLoadErrors(t *testing.T, rt runtime.Runtime) {
	twoFiles := ModelDir(t, "logreg_binary", "a.onnx", "")
	data, _ := os.ReadFile(filepath.Join(twoFiles, "a.onnx"))
	os.WriteFile(filepath.Join(twoFiles, "b.onnx"), data, 0o644)
	broken := t.TempDir()
	os.WriteFile(filepath.Join(broken, "model.onnx"), []byte("not a model"), 0o644)
	for name, tc := range map[string]struct {
		dir  string
		want string
	}{
		"two onnx files":    {twoFiles, "2 .onnx files"},
		"escaping flavor":   {ModelDir(t, "logreg_binary", "model.onnx", "flavors:\n  onnx:\n    data: ../model.onnx\n"), "not inside"},
		"malformed":         {broken, "model.onnx"},
		"no such directory": {filepath.Join(broken, "missing"), "cannot open"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := rt.Load(context.Background(), runtime.Spec{Dir: tc.dir})
			if fault.KindOf(err) != fault.Invalid || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load: %v, want an Invalid error mentioning %q", err, tc.want)
			}
		})
	}
}

func testPredictErrors(t *testing.T, rt runtime.Runtime) {
	m := Load(t, rt, ModelDir(t, "logreg_binary", "model.onnx", ""))
	ctx := context.Background()
	x := runtime.NewFloat64("X", []int64{1, 10}, make([]float64, 10))
	for name, tc := range map[string]struct {
		req  *runtime.Request
		want string
	}{
		"wrong name":  {&runtime.Request{Inputs: []runtime.Tensor{runtime.NewFloat64("Y", []int64{1, 10}, make([]float64, 10)), x}}, "2 inputs"},
		"missing":     {&runtime.Request{Inputs: []runtime.Tensor{runtime.NewFloat64("Y", []int64{1, 10}, make([]float64, 10))}}, `needs input "X"`},
		"wrong shape": {&runtime.Request{Inputs: []runtime.Tensor{runtime.NewFloat64("X", []int64{2, 5}, make([]float64, 10))}}, "shape"},
		"wrong rank":  {&runtime.Request{Inputs: []runtime.Tensor{runtime.NewFloat64("X", []int64{10}, make([]float64, 10))}}, "shape"},
		"strings":     {&runtime.Request{Inputs: []runtime.Tensor{runtime.NewStrings("X", []int64{1}, []string{"a"})}}, "BYTES"},
		"bad data":    {&runtime.Request{Inputs: []runtime.Tensor{{Name: "X", Datatype: runtime.FP64, Shape: []int64{1, 10}, Data: []byte{1}}}}, "bytes"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := m.Predict(ctx, tc.req)
			if fault.KindOf(err) != fault.Invalid || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Predict: %v, want an Invalid error mentioning %q", err, tc.want)
			}
		})
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Predict(canceled, &runtime.Request{Inputs: []runtime.Tensor{x}}); !errors.Is(err, fault.DeadlineExceeded) {
		t.Fatalf("Predict with a canceled context: %v", err)
	}
	m.Close()
	if _, err := m.Predict(ctx, &runtime.Request{Inputs: []runtime.Tensor{x}}); !errors.Is(err, fault.Unavailable) {
		t.Fatalf("Predict after Close: %v", err)
	}
}
