package process

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
)

// venvPython returns the test virtualenv's interpreter (the module root's .venv), or
// skips the test when it or the packages the Python worker needs are missing.
func venvPython(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("the Python worker tests start Python processes: skipped in -short mode")
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("no module root above the test directory")
		}
		dir = parent
	}
	python := filepath.Join(dir, ".venv", "bin", "python")
	if _, err := os.Stat(python); err != nil {
		t.Skipf("no test virtualenv (%s): run make deps", python)
	}
	if _, err := pythonPackagesOnce(python); err != nil {
		t.Skipf("the test virtualenv lacks the Python worker's packages: %v", err)
	}
	return python
}

// pythonPackagesOnce checks once per run of the test binary that the interpreter has the
// Python worker's packages (importing them takes seconds).
var pythonPackagesOnce = onceFor(func(python string) (struct{}, error) {
	if out, err := exec.Command(python, "-c", "import numpy, pandas, sklearn, mlflow.pyfunc").CombinedOutput(); err != nil {
		return struct{}{}, fmt.Errorf("%v\n%s", err, out)
	}
	return struct{}{}, nil
})

// pythonModels saves the test models, once per run of the test binary.
func pythonModels(t testing.TB, python string) string {
	t.Helper()
	dir, err := pythonModelsOnce(python)
	if err != nil {
		t.Fatalf("make_python_models.py: %v", err)
	}
	return dir
}

var pythonModelsOnce = onceFor(func(python string) (string, error) {
	dir := filepath.Join(scratch(), "python-models")
	cmd := exec.Command(python, filepath.Join("testdata", "make_python_models.py"), dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v\n%s", err, out)
	}
	return dir, nil
})

func loadPython(t testing.TB, python, dir string, workers int) runtime.Model {
	t.Helper()
	rt := Python(Options{Interpreter: python, Workers: workers, ScriptDir: filepath.Join(scratch(), "scripts"),
		StartTimeout: 60 * time.Second, StopGrace: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m, err := rt.Load(ctx, runtime.Spec{Dir: dir, Name: filepath.Base(dir), Version: "1"})
	if err != nil {
		t.Fatalf("Load %s: %v", dir, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// readF64 reads a file of little-endian float64s.
func readF64(t testing.TB, path string) []float64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, len(data)/8)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:]))
	}
	return out
}

// column returns column j of a row-major matrix with n columns.
func column(m []float64, n, j int) []float64 {
	var out []float64
	for i := j; i < len(m); i += n {
		out = append(out, m[i])
	}
	return out
}

func TestPythonSklearnRegressor(t *testing.T) {
	t.Parallel() // each loads a Python worker: seconds of imports, most of the package's time
	python := venvPython(t)
	dir := pythonModels(t, python)
	m := loadPython(t, python, filepath.Join(dir, "regressor"), 1)
	md := m.Metadata()
	if md.Platform != "mlflow_pyfunc" || !md.Columns || !md.Batchable || len(md.Inputs) != 4 ||
		fmt.Sprint(md.Inputs[1]) != fmt.Sprint(runtime.TensorSpec{Name: "b", Datatype: runtime.FP64, Shape: []int64{-1}}) {
		t.Fatalf("metadata = %+v", md)
	}
	x := readF64(t, filepath.Join(dir, "X.f64"))
	want := readF64(t, filepath.Join(dir, "regressor.f64"))
	rows := int64(len(want))

	var cols []runtime.Tensor
	for j, name := range []string{"a", "b", "c", "d"} {
		cols = append(cols, runtime.NewFloat64(name, []int64{rows}, column(x, 4, j)))
	}
	requests := map[string]*runtime.Request{
		"columns":       {Layout: runtime.LayoutColumns, Inputs: cols},
		"one matrix":    {Inputs: []runtime.Tensor{runtime.NewFloat64("inputs", []int64{rows, 4}, x)}},
		"named tensors": {Inputs: cols},
	}
	for name, req := range requests {
		t.Run(name, func(t *testing.T) {
			resp, err := m.Predict(testContext(t), req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Kind != runtime.ResultArray || len(resp.Outputs) != 1 || resp.Outputs[0].Datatype != runtime.FP64 {
				t.Fatalf("reply %s %+v", resp.Kind, resp.Outputs)
			}
			got, _ := resp.Outputs[0].Float64s()
			for i := range want {
				if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
					t.Fatalf("prediction %d = %v, want exactly %v", i, got[i], want[i])
				}
			}
		})
	}
	t.Run("missing column", func(t *testing.T) {
		req := &runtime.Request{Layout: runtime.LayoutColumns, Inputs: cols[:3]}
		_, err := m.Predict(testContext(t), req)
		if !errors.Is(err, fault.Invalid) || !strings.Contains(fault.Message(err), "d") {
			t.Fatalf("err = %v, want fault.Invalid naming the missing column", err)
		}
	})
	t.Run("strings for numbers", func(t *testing.T) {
		bad := slices.Clone(cols)
		bad[0] = runtime.NewStrings("a", []int64{rows}, make([]string, rows))
		_, err := m.Predict(testContext(t), &runtime.Request{Layout: runtime.LayoutColumns, Inputs: bad})
		if !errors.Is(err, fault.Invalid) {
			t.Fatalf("err = %v, want fault.Invalid", err)
		}
	})
}

func TestPythonSklearnClassifier(t *testing.T) {
	t.Parallel()
	python := venvPython(t)
	dir := pythonModels(t, python)
	m := loadPython(t, python, filepath.Join(dir, "classifier"), 1)
	if md := m.Metadata(); md.Columns || len(md.Inputs) != 1 || md.Inputs[0].Datatype != runtime.FP64 {
		t.Fatalf("metadata of a model without signature = %+v", md)
	}
	x := readF64(t, filepath.Join(dir, "X.f64"))
	labels, err := os.ReadFile(filepath.Join(dir, "classifier.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(string(labels))
	req := &runtime.Request{Inputs: []runtime.Tensor{runtime.NewFloat64("x", []int64{int64(len(want)), 4}, x)}}
	resp, err := m.Predict(testContext(t), req)
	if err != nil {
		t.Fatal(err)
	}
	out := resp.Outputs[0]
	if out.Datatype != runtime.Bytes || len(out.Strings) != len(want) {
		t.Fatalf("output %+v", out)
	}
	for i, w := range want {
		if string(out.Strings[i]) != w {
			t.Fatalf("label %d = %q, want %q", i, out.Strings[i], w)
		}
	}
}

func TestPythonCustomModel(t *testing.T) {
	t.Parallel()
	python := venvPython(t)
	dir := pythonModels(t, python)
	m := loadPython(t, python, filepath.Join(dir, "custom"), 1)
	req := &runtime.Request{Layout: runtime.LayoutColumns, Inputs: []runtime.Tensor{
		runtime.NewFloat64("x", []int64{2}, []float64{1.5, -4}),
		runtime.NewStrings("name", []int64{2}, []string{"ada", "żółw"}),
	}, Params: map[string]any{"scale": 10.0}}
	resp, err := m.Predict(testContext(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Kind != runtime.ResultTable || len(resp.Outputs) != 2 {
		t.Fatalf("reply %s with %d outputs, want a table of 2 columns", resp.Kind, len(resp.Outputs))
	}
	doubled, _ := resp.Outputs[0].Float64s()
	if resp.Outputs[0].Name != "doubled" || !slices.Equal(doubled, []float64{30, -80}) {
		t.Errorf("doubled = %v", doubled)
	}
	if g := resp.Outputs[1]; g.Name != "greeting" || string(g.Strings[1]) != "hello żółw" {
		t.Errorf("greeting = %q", g.Strings)
	}
}

func TestPythonTensorModel(t *testing.T) {
	t.Parallel()
	python := venvPython(t)
	dir := pythonModels(t, python)
	m := loadPython(t, python, filepath.Join(dir, "tensor"), 1)
	want := runtime.TensorSpec{Name: "image", Datatype: runtime.FP32, Shape: []int64{-1, 2, 2}}
	if md := m.Metadata(); md.Columns || len(md.Inputs) != 1 || fmt.Sprint(md.Inputs[0]) != fmt.Sprint(want) {
		t.Fatalf("metadata = %+v, want one input %+v", md, want)
	}
	// Two flattened images: the worker reshapes them to the signature's (-1, 2, 2).
	data := make([]byte, 0, 32)
	for _, v := range []float32{1, 2, 3, 4, 10, 20, 30, 40} {
		data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
	}
	req := &runtime.Request{Inputs: []runtime.Tensor{{Name: "image", Datatype: runtime.FP32, Shape: []int64{2, 4}, Data: data}}}
	resp, err := m.Predict(testContext(t), req)
	if err != nil {
		t.Fatal(err)
	}
	out := resp.Outputs[0]
	sums, _ := out.Float64s()
	if out.Datatype != runtime.FP32 || fmt.Sprint(out.Shape) != "[2 2]" || !slices.Equal(sums, []float64{3, 7, 30, 70}) {
		t.Fatalf("output %s%v = %v, want FP32[2 2] [3 7 30 70]", out.Datatype, out.Shape, sums)
	}
}

func TestPythonLoadError(t *testing.T) {
	t.Parallel()
	python := venvPython(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "MLmodel"), []byte("flavors:\n  python_function:\n    loader_module: no_such_module_anywhere\n"), 0o600)
	rt := Python(Options{Interpreter: python, Workers: 1, ScriptDir: t.TempDir(), StartTimeout: 60 * time.Second})
	_, err := rt.Load(testContext(t), runtime.Spec{Dir: dir, Name: "broken"})
	if !errors.Is(err, fault.Invalid) || !strings.Contains(fault.Message(err), "no_such_module_anywhere") {
		t.Fatalf("err = %v, want the Python exception in the message", err)
	}
}

// BenchmarkPythonBatch1 measures one row through the real Python worker and an MLflow
// scikit-learn model: the server's and the worker's per-request overhead.
func BenchmarkPythonBatch1(b *testing.B) {
	python := venvPython(b)
	dir := pythonModels(b, python)
	m := loadPython(b, python, filepath.Join(dir, "regressor"), 1)
	req := &runtime.Request{Layout: runtime.LayoutColumns, Inputs: []runtime.Tensor{
		runtime.NewFloat64("a", []int64{1}, []float64{1}), runtime.NewFloat64("b", []int64{1}, []float64{2}),
		runtime.NewFloat64("c", []int64{1}, []float64{3}), runtime.NewFloat64("d", []int64{1}, []float64{4}),
	}}
	ctx := context.Background()
	for b.Loop() {
		if _, err := m.Predict(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
