package onnx

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlship/mlship/internal/onnx/onnxpb"
)

// stringModel builds a model of one string input "S" [N] and string outputs from nodes,
// importing ai.onnx 17 and com.microsoft 1.
func stringModel(t *testing.T, nodes []*onnxpb.NodeProto, outputs ...string) *Model {
	t.Helper()
	info := func(name string, elem DType) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: name, Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: int32(elem)}}}}
	}
	g := &onnxpb.GraphProto{Name: "g", Node: nodes, Input: []*onnxpb.ValueInfoProto{info("S", String)}}
	for _, o := range outputs {
		g.Output = append(g.Output, info(o, String))
	}
	data, err := proto.Marshal(&onnxpb.ModelProto{IrVersion: 8, Graph: g, OpsetImport: []*onnxpb.OperatorSetIdProto{
		{Domain: "", Version: 17}, {Domain: "com.microsoft", Version: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func strAttr(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_STRING, S: []byte(v)}
}

func intAttr(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INT, I: v}
}

func withAttrs(n *onnxpb.NodeProto, a ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	n.Attribute = a
	return n
}

func runStrings(t *testing.T, m *Model, in ...string) (map[string]Value, error) {
	t.Helper()
	return m.Run(map[string]Value{"S": NewTensor([]int64{int64(len(in))}, in)})
}

// TestStringNormalizerLocale: a Turkish locale lowers I to dotless ı and raises i to İ;
// other locales use Unicode's default mappings.
func TestStringNormalizerLocale(t *testing.T) {
	tests := []struct {
		locale, action string
		want           []string
	}{
		{"tr_TR.UTF-8", "LOWER", []string{"ıstanbul", "izmir"}},
		{"tr_TR.UTF-8", "UPPER", []string{"ISTANBUL", "İZMİR"}},
		{"en_US.UTF-8", "LOWER", []string{"istanbul", "izmir"}},
		{"C.UTF-8", "UPPER", []string{"ISTANBUL", "İZMIR"}},
	}
	for _, tt := range tests {
		t.Run(tt.locale+" "+tt.action, func(t *testing.T) {
			m := stringModel(t, []*onnxpb.NodeProto{withAttrs(node("StringNormalizer", "", []string{"S"}, "Y"),
				strAttr("case_change_action", tt.action), strAttr("locale", tt.locale))}, "Y")
			out, err := runStrings(t, m, "Istanbul", "İzmir")
			if err != nil {
				t.Fatal(err)
			}
			if got := Data[string](out["Y"].(*Tensor)); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTextInputErrors(t *testing.T) {
	tokenizer := withAttrs(node("Tokenizer", "com.microsoft", []string{"S"}, "Y"), intAttr("mark", 0),
		strAttr("pad_value", "#"), intAttr("mincharnum", 1), strAttr("tokenexp", "[a-z]+"))
	normalizer := withAttrs(node("StringNormalizer", "", []string{"S"}, "Y"), strAttr("case_change_action", "LOWER"))
	tests := []struct {
		name string
		n    *onnxpb.NodeProto
		in   []string
		want string
	}{
		{"tokenizer invalid UTF-8", tokenizer, []string{"ok", "\xff\xfe"}, "UTF-8"},
		{"normalizer invalid UTF-8", normalizer, []string{"\xc3"}, "UTF-8"},
		{"normalizer empty", normalizer, []string{}, "C > 0"},
		{"short tokens rescanned without end", withAttrs(node("Tokenizer", "com.microsoft", []string{"S"}, "Y"),
			intAttr("mark", 0), strAttr("pad_value", "#"), intAttr("mincharnum", 1<<30), strAttr("tokenexp", "[a-z]+")),
			[]string{strings.Repeat("a", 1<<13)}, "too many tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := stringModel(t, []*onnxpb.NodeProto{tt.n}, "Y")
			_, err := runStrings(t, m, tt.in...)
			if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run: %v, want ErrInvalidInput mentioning %s", err, tt.want)
			}
		})
	}
}

func TestTextModelErrors(t *testing.T) {
	tests := []struct {
		name string
		n    *onnxpb.NodeProto
		want string
	}{
		{"tokenizer without mincharnum", withAttrs(node("Tokenizer", "com.microsoft", []string{"S"}, "Y"),
			intAttr("mark", 0), strAttr("pad_value", "#"), strAttr("tokenexp", "a")), "mincharnum"},
		{"tokenizer bad expression", withAttrs(node("Tokenizer", "com.microsoft", []string{"S"}, "Y"),
			intAttr("mark", 0), strAttr("pad_value", "#"), intAttr("mincharnum", 1), strAttr("tokenexp", "(a")), "tokenexp"},
		{"normalizer bad action", withAttrs(node("StringNormalizer", "", []string{"S"}, "Y"),
			strAttr("case_change_action", "TITLE")), "TITLE"},
		{"tfidf bad mode", withAttrs(node("TfIdfVectorizer", "", []string{"S"}, "Y"), strAttr("mode", "BM25")), "BM25"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &onnxpb.GraphProto{Name: "g", Node: []*onnxpb.NodeProto{tt.n},
				Input:  []*onnxpb.ValueInfoProto{{Name: "S", Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: int32(String)}}}}},
				Output: []*onnxpb.ValueInfoProto{{Name: "Y", Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: int32(String)}}}}}}
			data, _ := proto.Marshal(&onnxpb.ModelProto{IrVersion: 8, Graph: g, OpsetImport: []*onnxpb.OperatorSetIdProto{
				{Domain: "", Version: 17}, {Domain: "com.microsoft", Version: 1}}})
			_, err := Load(data)
			if !errors.Is(err, ErrInvalidModel) && !errors.Is(err, ErrUnsupported) || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load: %v, want an error mentioning %s", err, tt.want)
			}
		})
	}
}

func TestTopKAndScanRunErrors(t *testing.T) {
	topk, scan := loadCorpus(t, "topk_ties"), loadCorpus(t, "scan_directions_axes")
	tests := []struct {
		name   string
		m      *Model
		inputs map[string]Value
		want   string
	}{
		// k = 3 along axis 0 of a batch of two rows.
		{"k larger than the axis", topk, map[string]Value{"x": NewTensor([]int64{2, 7}, make([]float32, 14)),
			"n": NewTensor([]int64{2, 5}, make([]int64, 10))}, "larger than axis 0"},
		{"scan inputs of different lengths", scan, map[string]Value{"s0": NewTensor([]int64{3}, make([]float32, 3)),
			"xa": NewTensor([]int64{2, 3}, make([]float32, 6)), "xb": NewTensor([]int64{3, 4}, make([]float32, 12))}, "iterations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.m.Run(tt.inputs)
			if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run: %v, want ErrInvalidInput mentioning %s", err, tt.want)
			}
		})
	}
}

// TestScanBodyOperatorsNamed: an operator the engine lacks inside a Scan body is named
// at load time with the graph's own.
func TestScanBodyOperatorsNamed(t *testing.T) {
	body := &onnxpb.GraphProto{Name: "body", Node: []*onnxpb.NodeProto{node("FancyOp", "", []string{"s", "x"}, "s2", "y")},
		Input: []*onnxpb.ValueInfoProto{{Name: "s"}, {Name: "x"}}, Output: []*onnxpb.ValueInfoProto{{Name: "s2"}, {Name: "y"}}}
	scan := withAttrs(node("Scan", "", []string{"X", "X"}, "S", "Y"), intAttr("num_scan_inputs", 1),
		&onnxpb.AttributeProto{Name: "body", Type: onnxpb.AttributeProto_GRAPH, G: body})
	_, err := Load(graphModel([]*onnxpb.NodeProto{scan, node("MysteryOp", "", []string{"Y"}, "Z")}, "Z"))
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "ai.onnx:FancyOp, ai.onnx:MysteryOp") {
		t.Fatalf("Load: %v, want both operators named", err)
	}
}

// TestSubgraphDepthCapped: Scans nested past the cap are refused at load, before any
// planning.
func TestSubgraphDepthCapped(t *testing.T) {
	body := &onnxpb.GraphProto{Name: "leaf", Node: []*onnxpb.NodeProto{node("Identity", "", []string{"x"}, "y")},
		Input: []*onnxpb.ValueInfoProto{{Name: "x"}}, Output: []*onnxpb.ValueInfoProto{{Name: "y"}}}
	for range maxGraphDepth + 1 {
		scan := withAttrs(node("Scan", "", []string{"x"}, "y"), intAttr("num_scan_inputs", 1),
			&onnxpb.AttributeProto{Name: "body", Type: onnxpb.AttributeProto_GRAPH, G: body})
		body = &onnxpb.GraphProto{Name: "level", Node: []*onnxpb.NodeProto{scan},
			Input: []*onnxpb.ValueInfoProto{{Name: "x"}}, Output: []*onnxpb.ValueInfoProto{{Name: "y"}}}
	}
	top := withAttrs(node("Scan", "", []string{"X"}, "Y"), intAttr("num_scan_inputs", 1),
		&onnxpb.AttributeProto{Name: "body", Type: onnxpb.AttributeProto_GRAPH, G: body})
	_, err := Load(graphModel([]*onnxpb.NodeProto{top}, "Y"))
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "nested") {
		t.Fatalf("Load: %v, want ErrUnsupported about nesting", err)
	}
}
