package onnx

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// corpusCase is one model's inputs and onnxruntime's outputs, as
// testdata/gen/cases.py writes them.
type corpusCase struct {
	Model   string        `json:"model"`
	Inputs  []corpusValue `json:"inputs"`
	Outputs []corpusValue `json:"outputs"`
}

type corpusValue struct {
	Name  string  `json:"name"`
	Type  string  `json:"type"`
	Elem  string  `json:"elem"`
	Key   string  `json:"key"`
	Shape []int64 `json:"shape"`
	Data  []any   `json:"data"`
	Keys  []any   `json:"keys"`
	Maps  []struct {
		Keys []any `json:"keys"`
		Data []any `json:"data"`
	} `json:"maps"`
}

var elemTypes = map[string]DType{"float32": Float32, "float64": Float64, "int64": Int64, "int32": Int32, "string": String, "bool": Bool}

func jsonFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case string:
		switch x {
		case "NaN":
			return math.NaN()
		case "Infinity":
			return math.Inf(1)
		case "-Infinity":
			return math.Inf(-1)
		}
	case bool:
		if x {
			return 1
		}
		return 0
	}
	panic(fmt.Sprintf("not a number: %v", v))
}

func jsonTensor(elem string, shape []int64, data []any) *Tensor {
	if shape == nil {
		shape = []int64{int64(len(data))}
	}
	switch elemTypes[elem] {
	case Float32:
		out := make([]float32, len(data))
		for i, v := range data {
			out[i] = float32(jsonFloat(v))
		}
		return NewTensor(shape, out)
	case Float64:
		out := make([]float64, len(data))
		for i, v := range data {
			out[i] = jsonFloat(v)
		}
		return NewTensor(shape, out)
	case Int64:
		out := make([]int64, len(data))
		for i, v := range data {
			out[i] = int64(jsonFloat(v))
		}
		return NewTensor(shape, out)
	case Int32:
		out := make([]int32, len(data))
		for i, v := range data {
			out[i] = int32(jsonFloat(v))
		}
		return NewTensor(shape, out)
	case Bool:
		out := make([]bool, len(data))
		for i, v := range data {
			out[i] = v.(bool)
		}
		return NewTensor(shape, out)
	case String:
		out := make([]string, len(data))
		for i, v := range data {
			out[i] = fmt.Sprint(v)
		}
		return NewTensor(shape, out)
	}
	panic("unknown element type " + elem)
}

func jsonMap(key, elem string, keys, data []any) *Map {
	m := &Map{KeyType: elemTypes[key], Values: jsonTensor(elem, nil, data)}
	for _, k := range keys {
		if m.KeyType == String {
			m.StringKeys = append(m.StringKeys, fmt.Sprint(k))
		} else {
			m.Int64Keys = append(m.Int64Keys, int64(jsonFloat(k)))
		}
	}
	return m
}

func (v corpusValue) value() Value {
	switch v.Type {
	case "map":
		return jsonMap(v.Key, v.Elem, v.Keys, v.Data)
	case "seq_map":
		s := &Sequence{}
		for _, m := range v.Maps {
			s.Elems = append(s.Elems, jsonMap(v.Key, v.Elem, m.Keys, m.Data))
		}
		return s
	}
	return jsonTensor(v.Elem, v.Shape, v.Data)
}

// The tolerance of scores: relative, with an absolute floor for values near zero.
const (
	relTol = 1e-5
	absTol = 1e-6
)

func closeEnough(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	if a == b {
		return true
	}
	return math.Abs(a-b) <= max(absTol, relTol*max(math.Abs(a), math.Abs(b)))
}

// compareValues reports the first difference between the engine's value and onnxruntime's.
func compareValues(got Value, want Value) error {
	switch w := want.(type) {
	case *Tensor:
		g, ok := got.(*Tensor)
		if !ok {
			return fmt.Errorf("got %s, want %s", got.Type(), w.Type())
		}
		if g.DType != w.DType || !sameShape(g.Shape, w.Shape) {
			return fmt.Errorf("got %s%v, want %s%v", g.Type(), g.Shape, w.Type(), w.Shape)
		}
		return compareElems(g, w)
	case *Map:
		g, ok := got.(*Map)
		if !ok {
			return fmt.Errorf("got %s, want %s", got.Type(), w.Type())
		}
		if fmt.Sprint(g.Int64Keys, g.StringKeys) != fmt.Sprint(w.Int64Keys, w.StringKeys) {
			return fmt.Errorf("map keys %v%v, want %v%v", g.Int64Keys, g.StringKeys, w.Int64Keys, w.StringKeys)
		}
		return compareElems(g.Values, w.Values)
	case *Sequence:
		g, ok := got.(*Sequence)
		if !ok || len(g.Elems) != len(w.Elems) {
			return fmt.Errorf("got %s, want a sequence of %d", got.Type(), len(w.Elems))
		}
		for i := range w.Elems {
			if err := compareValues(g.Elems[i], w.Elems[i]); err != nil {
				return fmt.Errorf("element %d: %w", i, err)
			}
		}
	}
	return nil
}

func compareElems(g, w *Tensor) error {
	if g.Len() != w.Len() {
		return fmt.Errorf("%d elements, want %d", g.Len(), w.Len())
	}
	switch w.DType {
	case Float32, Float64:
		gv, _ := toFloat64s(g)
		wv, _ := toFloat64s(w)
		for i := range wv {
			if !closeEnough(gv[i], wv[i]) {
				return fmt.Errorf("element %d: got %v, want %v", i, gv[i], wv[i])
			}
		}
	default:
		for i := range w.Len() {
			if a, b := formatElem(g, i), formatElem(w, i); w.DType != String && a != b {
				return fmt.Errorf("element %d: got %s, want %s", i, a, b)
			}
			if w.DType == String && Data[string](g)[i] != Data[string](w)[i] {
				return fmt.Errorf("element %d: got %q, want %q", i, Data[string](g)[i], Data[string](w)[i])
			}
		}
	}
	return nil
}

// checkCase runs one case and compares every output.
func checkCase(t *testing.T, dir string, c corpusCase) {
	t.Helper()
	m, err := LoadFile(filepath.Join(dir, c.Model))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	inputs := map[string]Value{}
	for _, in := range c.Inputs {
		inputs[in.Name] = in.value()
	}
	out, err := m.Run(inputs)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, want := range c.Outputs {
		got, ok := out[want.Name]
		if !ok {
			t.Errorf("output %q missing", want.Name)
			continue
		}
		if err := compareValues(got, want.value()); err != nil {
			t.Errorf("output %q: %v", want.Name, err)
		}
	}
}

const modelsDir = "testdata/models"

func corpusCases(t *testing.T) []corpusCase {
	files, err := filepath.Glob(filepath.Join(modelsDir, "*.json"))
	if err != nil || len(files) < 25 {
		t.Fatalf("the corpus has %d cases (%v); regenerate it with testdata/gen/gen.py", len(files), err)
	}
	var cases []corpusCase
	for _, f := range files {
		if filepath.Base(f) == "manifest.json" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c corpusCase
		if err := json.Unmarshal(data, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		cases = append(cases, c)
	}
	return cases
}

// TestCorpus runs every corpus model on its committed inputs and compares the results
// with the onnxruntime outputs committed beside them.
func TestCorpus(t *testing.T) {
	for _, c := range corpusCases(t) {
		t.Run(strings.TrimSuffix(c.Model, ".onnx"), func(t *testing.T) {
			t.Parallel()
			checkCase(t, modelsDir, c)
		})
	}
}

// referencePython finds a Python with onnxruntime: MLSHIP_ONNX_REFERENCE_PYTHON, or the
// repository's .venv.
func referencePython() string {
	candidates := []string{os.Getenv("MLSHIP_ONNX_REFERENCE_PYTHON"), "../../.venv/bin/python", "../../.venv-onnxgen/bin/python"}
	for _, py := range candidates {
		if py == "" {
			continue
		}
		if err := exec.Command(py, "-c", "import onnxruntime, numpy").Run(); err == nil {
			return py
		}
	}
	return ""
}

// TestCorpusFreshInputs draws new random inputs for every model (a new seed each run),
// has onnxruntime compute them, and checks that the engine agrees.
func TestCorpusFreshInputs(t *testing.T) {
	py := referencePython()
	if py == "" {
		t.Skip("no Python with onnxruntime: set MLSHIP_ONNX_REFERENCE_PYTHON or install tests/requirements.txt into .venv")
	}
	seed := time.Now().UnixNano() % 1_000_000_007
	cmd := exec.Command(py, "testdata/gen/reference.py", modelsDir, fmt.Sprint(seed))
	cmd.Stderr = os.Stderr
	data, err := cmd.Output()
	if err != nil {
		t.Fatalf("reference.py (seed %d): %v", seed, err)
	}
	var cases []corpusCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatalf("reference.py output (seed %d): %v", seed, err)
	}
	for _, c := range cases {
		t.Run(strings.TrimSuffix(c.Model, ".onnx"), func(t *testing.T) {
			t.Parallel()
			defer func() {
				if t.Failed() {
					t.Logf("seed %d: rerun with python testdata/gen/reference.py %s %d", seed, modelsDir, seed)
				}
			}()
			checkCase(t, modelsDir, c)
		})
	}
}
