package onnx

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlship/mlship/internal/onnx/onnxpb"
)

// graphModel builds a model of one float input "X" [N, 3] from nodes.
func graphModel(nodes []*onnxpb.NodeProto, outputs ...string) []byte {
	elem := int32(Float32)
	dims := []*onnxpb.TensorShapeProto_Dimension{
		{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}},
		{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 3}},
	}
	tensorType := func(name string) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: name, Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: elem, Shape: &onnxpb.TensorShapeProto{Dim: dims}}}}}
	}
	g := &onnxpb.GraphProto{Name: "g", Node: nodes, Input: []*onnxpb.ValueInfoProto{tensorType("X")}}
	for _, o := range outputs {
		g.Output = append(g.Output, tensorType(o))
	}
	m := &onnxpb.ModelProto{IrVersion: 8, Graph: g, OpsetImport: []*onnxpb.OperatorSetIdProto{
		{Domain: "", Version: 17}, {Domain: "ai.onnx.ml", Version: 3}}}
	data, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return data
}

func node(op, domain string, in []string, out ...string) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: op, Domain: domain, Input: in, Output: out}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		data  []byte
		is    error
		wants []string
	}{
		{"not protobuf", []byte("\xff\xff\xff not a model"), ErrInvalidModel, nil},
		{"empty", nil, ErrInvalidModel, []string{"no graph"}},
		{"unsupported operators named", graphModel([]*onnxpb.NodeProto{
			node("FancyOp", "", []string{"X"}, "a"),
			node("Relu", "", []string{"a"}, "b"),
			node("MysteryEncoder", "ai.onnx.ml", []string{"b"}, "Y"),
		}, "Y"), ErrUnsupported, []string{"ai.onnx:FancyOp", "ai.onnx.ml:MysteryEncoder"}},
		{"undefined input", graphModel([]*onnxpb.NodeProto{node("Relu", "", []string{"nowhere"}, "Y")}, "Y"),
			ErrInvalidModel, []string{`"nowhere"`}},
		{"cycle", graphModel([]*onnxpb.NodeProto{
			node("Add", "", []string{"X", "b"}, "a"),
			node("Relu", "", []string{"a"}, "b"),
		}, "b"), ErrInvalidModel, []string{"cycle"}},
		{"output never computed", graphModel([]*onnxpb.NodeProto{node("Relu", "", []string{"X"}, "a")}, "Y"),
			ErrInvalidModel, []string{`"Y"`}},
		{"domain not imported", graphModel([]*onnxpb.NodeProto{node("Relu", "com.example", []string{"X"}, "Y")}, "Y"),
			ErrInvalidModel, []string{"com.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.data)
			if !errors.Is(err, tt.is) {
				t.Fatalf("Load: %v, want %v", err, tt.is)
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
		})
	}
}

func loadCorpus(t testing.TB, name string) *Model {
	t.Helper()
	m, err := LoadFile(filepath.Join(modelsDir, name+".onnx"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRunInputErrors(t *testing.T) {
	m := loadCorpus(t, "logreg_binary")
	good := NewTensor([]int64{2, 10}, make([]float32, 20))
	tests := []struct {
		name   string
		inputs map[string]Value
		want   string
	}{
		{"missing", map[string]Value{}, `missing input "X"`},
		{"unknown name", map[string]Value{"X": good, "Z": good}, `unknown input "Z"`},
		{"wrong type", map[string]Value{"X": NewTensor([]int64{2, 10}, make([]float64, 20))}, "tensor(float32)"},
		{"wrong rank", map[string]Value{"X": NewTensor([]int64{20}, make([]float32, 20))}, "shape"},
		{"wrong width", map[string]Value{"X": NewTensor([]int64{4, 5}, make([]float32, 20))}, "[-1,10]"},
		{"map for tensor", map[string]Value{"X": &Map{KeyType: Int64, Values: NewTensor([]int64{0}, []float32{})}}, "must be a tensor"},
		{"inconsistent tensor", map[string]Value{"X": &Tensor{DType: Float32, Shape: []int64{3, 10}, data: make([]float32, 20)}}, "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.Run(tt.inputs)
			if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run: %v, want ErrInvalidInput mentioning %s", err, tt.want)
			}
		})
	}
	if _, err := m.Run(map[string]Value{"X": good}); err != nil {
		t.Fatalf("Run on good input: %v", err)
	}
}

func TestEmptyBatch(t *testing.T) {
	for _, name := range []string{"bench_gradient_boosting", "logreg_multiclass", "random_forest_regressor"} {
		m := loadCorpus(t, name)
		out, err := m.Run(map[string]Value{"X": NewTensor([]int64{0, m.Inputs()[0].Shape[1]}, []float32{})})
		if err != nil {
			t.Errorf("%s: Run on 0 rows: %v", name, err)
			continue
		}
		for k, v := range out {
			if tt, ok := v.(*Tensor); ok && (len(tt.Shape) == 0 || tt.Shape[0] != 0) {
				t.Errorf("%s: output %s has shape %v for 0 rows", name, k, tt.Shape)
			}
		}
	}
}

// TestConcurrentRuns checks that one model serves many goroutines at once and gives
// each its own answer.
func TestConcurrentRuns(t *testing.T) {
	m := loadCorpus(t, "random_forest_classifier")
	rng := rand.New(rand.NewPCG(1, 2))
	const workers = 8
	inputs := make([]*Tensor, workers)
	want := make([]map[string]Value, workers)
	for i := range inputs {
		x := make([]float32, 5*10)
		for j := range x {
			x[j] = float32(rng.NormFloat64() * 2)
		}
		inputs[i] = NewTensor([]int64{5, 10}, x)
		out, err := m.Run(map[string]Value{"X": inputs[i]})
		if err != nil {
			t.Fatal(err)
		}
		want[i] = out
	}
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			for range 50 {
				out, err := m.Run(map[string]Value{"X": inputs[i]})
				if err != nil {
					t.Error(err)
					return
				}
				for k, v := range want[i] {
					if err := compareValues(out[k], v); err != nil {
						t.Errorf("worker %d output %s: %v", i, k, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

func TestOperatorsListed(t *testing.T) {
	ops := strings.Join(Operators(), " ")
	for _, op := range []string{"ai.onnx.ml:TreeEnsembleClassifier", "ai.onnx.ml:TreeEnsemble", "ai.onnx:Gemm", "ai.onnx.ml:ZipMap",
		"ai.onnx:Scan", "ai.onnx:TopK", "ai.onnx:TfIdfVectorizer", "ai.onnx:StringNormalizer", "com.microsoft:Tokenizer"} {
		if !strings.Contains(ops, op) {
			t.Errorf("Operators() lacks %s", op)
		}
	}
}

// FuzzLoad feeds the loader mutated models: it must return a model or an error, never
// panic (an internal error is a recovered panic) or hang, and a model it accepts must
// run on a small input without an internal error.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"logreg_binary", "decision_tree_regressor", "core_ops", "ml_preprocessing",
		"tree_ensemble_v5", "tree_classifier_logistic", "svc_probability", "column_transformer_logreg", "ml_maps",
		"knn_classifier", "scan_directions_axes", "scan_opset8_batched", "scan_nested", "text_count_logreg", "tokenizer",
		"tfidf_int_modes", "topk_ties", "string_normalizer", "knn_classifier_cdist"} {
		data, err := os.ReadFile(filepath.Join(modelsDir, name+".onnx"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	elementLimit = 1 << 16
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Load(data)
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("Load panicked: %v", err)
			}
			return
		}
		inputs := map[string]Value{}
		for _, in := range m.Inputs() {
			inputs[in.Name] = fuzzInput(in)
		}
		if _, err := m.Run(inputs); err != nil && strings.Contains(err.Error(), "internal error") {
			t.Fatalf("Run panicked: %v", err)
		}
	})
}

// fuzzInput makes a two-row input that fits a declared input.
func fuzzInput(in ValueInfo) Value {
	if in.Kind == "map" {
		return &Map{KeyType: in.KeyType, Int64Keys: []int64{1}, StringKeys: []string{"a"}, Values: fuzzTensor(in.DType, []int64{1})}
	}
	shape := []int64{2, 3}
	if in.Shape != nil {
		shape = make([]int64, len(in.Shape))
		for i, d := range in.Shape {
			shape[i] = 2
			if d >= 0 && d <= 64 {
				shape[i] = d
			}
		}
	}
	return fuzzTensor(in.DType, shape)
}

func fuzzTensor(dt DType, shape []int64) *Tensor {
	t, err := newTensorOf(dt, shape)
	if err != nil {
		return NewTensor([]int64{1}, []float32{0})
	}
	if d, ok := t.data.([]string); ok {
		for i := range d {
			d[i] = "a"
		}
	}
	return t
}
