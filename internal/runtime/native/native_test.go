package native

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
)

const corpus = "../../onnx/testdata/models"

// corpusCase is the part of a corpus case (internal/onnx/testdata/gen/cases.py) these
// tests read.
type corpusCase struct {
	Inputs []struct {
		Name  string  `json:"name"`
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

func readCase(t *testing.T, name string) corpusCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(corpus, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var c corpusCase
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func num(v any) float64 {
	if f, ok := v.(float64); ok {
		return f
	}
	return math.NaN()
}

// modelDir copies a corpus model into a new directory under file, with an MLmodel
// file when mlmodel is not empty.
func modelDir(t *testing.T, name, file, mlmodel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(corpus, name+".onnx"))
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

func load(t *testing.T, dir string) runtime.Model {
	t.Helper()
	m, err := Runtime{}.Load(context.Background(), runtime.Spec{Dir: dir, Name: "m"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func floatsOf(t *testing.T, x runtime.Tensor) []float64 {
	t.Helper()
	v, err := x.Float64s()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func close32(a, b float64) bool { return math.Abs(a-b) <= max(1e-6, 1e-5*math.Abs(b)) }

// TestPredictMatchesOnnxruntime serves corpus models through the runtime interface,
// with FP32 and FP64 requests, and checks onnxruntime's outputs; a ZipMap output comes
// back as FP32 [rows, classes].
func TestPredictMatchesOnnxruntime(t *testing.T) {
	mlmodel := "flavors:\n  onnx:\n    data: model.onnx\n    onnx_version: 1.23.2\n  python_function:\n    loader_module: mlflow.onnx\n"
	for _, tc := range []struct{ model, datatype string }{
		{"logreg_multiclass", "FP32"}, {"logreg_multiclass", "FP64"},
		{"bench_gradient_boosting", "FP32"}, {"random_forest_classifier", "FP64"},
		{"decision_tree_classifier_strings", "FP32"},
	} {
		t.Run(tc.model+"/"+tc.datatype, func(t *testing.T) {
			m := load(t, modelDir(t, tc.model, "model.onnx", mlmodel))
			meta := m.Metadata()
			if meta.Platform != "onnx_onnxv1" || !meta.Batchable || meta.Inputs[0].Datatype != runtime.FP32 {
				t.Fatalf("metadata %+v", meta)
			}
			c := readCase(t, tc.model)
			x := make([]float64, len(c.Inputs[0].Data))
			for i, v := range c.Inputs[0].Data {
				x[i] = num(v)
			}
			in := runtime.NewFloat64("X", c.Inputs[0].Shape, x)
			if tc.datatype == "FP32" {
				in = fp32(in)
			}
			resp, err := m.Predict(context.Background(), &runtime.Request{Inputs: []runtime.Tensor{in}})
			if err != nil {
				t.Fatal(err)
			}
			checkOutputs(t, c, resp)
		})
	}
}

func fp32(t runtime.Tensor) runtime.Tensor {
	v, _ := t.Float64s()
	out := runtime.Tensor{Name: t.Name, Shape: t.Shape, Datatype: runtime.FP32, Data: make([]byte, 4*len(v))}
	for i, f := range v {
		bits := math.Float32bits(float32(f))
		out.Data[4*i], out.Data[4*i+1], out.Data[4*i+2], out.Data[4*i+3] = byte(bits), byte(bits>>8), byte(bits>>16), byte(bits>>24)
	}
	return out
}

func checkOutputs(t *testing.T, c corpusCase, resp *runtime.Response) {
	t.Helper()
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
		vals := floatsOf(t, got)
		if len(vals) != len(wantVals) {
			t.Fatalf("%s has %d values, want %d", got.Name, len(vals), len(wantVals))
		}
		for j, v := range vals {
			if !close32(v, num(wantVals[j])) {
				t.Errorf("%s[%d] = %v, want %v", got.Name, j, v, wantVals[j])
			}
		}
	}
}

// TestColumnsLayout sends a table, one [rows] column per model input, to a pipeline
// whose inputs are [rows, 1] columns.
func TestColumnsLayout(t *testing.T) {
	m := load(t, modelDir(t, "column_transformer_logreg", "pipeline.onnx", ""))
	c := readCase(t, "column_transformer_logreg")
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
			vals[i] = num(v)
		}
		req.Inputs = append(req.Inputs, runtime.NewFloat64(in.Name, []int64{rows}, vals))
	}
	resp, err := m.Predict(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	checkOutputs(t, c, resp)
}

func TestLoadErrors(t *testing.T) {
	twoFiles := modelDir(t, "logreg_binary", "a.onnx", "")
	data, _ := os.ReadFile(filepath.Join(twoFiles, "a.onnx"))
	os.WriteFile(filepath.Join(twoFiles, "b.onnx"), data, 0o644)
	broken := t.TempDir()
	os.WriteFile(filepath.Join(broken, "model.onnx"), []byte("not a model"), 0o644)
	for name, tc := range map[string]struct {
		dir  string
		want string
	}{
		"two onnx files":    {twoFiles, "2 .onnx files"},
		"escaping flavor":   {modelDir(t, "logreg_binary", "model.onnx", "flavors:\n  onnx:\n    data: ../model.onnx\n"), "not inside"},
		"malformed":         {broken, "invalid ONNX model"},
		"no such directory": {filepath.Join(broken, "missing"), "cannot open"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Runtime{}.Load(context.Background(), runtime.Spec{Dir: tc.dir})
			if fault.KindOf(err) != fault.Invalid || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load: %v, want an Invalid error mentioning %q", err, tc.want)
			}
		})
	}
}

func TestPredictErrors(t *testing.T) {
	m := load(t, modelDir(t, "logreg_binary", "model.onnx", ""))
	ctx := context.Background()
	x := runtime.NewFloat64("X", []int64{1, 10}, make([]float64, 10))
	for name, tc := range map[string]struct {
		req  *runtime.Request
		want string
	}{
		"wrong name":  {&runtime.Request{Inputs: []runtime.Tensor{runtime.NewFloat64("Y", []int64{1, 10}, make([]float64, 10)), x}}, "2 inputs"},
		"wrong shape": {&runtime.Request{Inputs: []runtime.Tensor{runtime.NewFloat64("X", []int64{2, 5}, make([]float64, 10))}}, "shape"},
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
	m.Close()
	if _, err := m.Predict(ctx, &runtime.Request{Inputs: []runtime.Tensor{x}}); !errors.Is(err, fault.Unavailable) {
		t.Fatalf("Predict after Close: %v", err)
	}
}
