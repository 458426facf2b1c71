package runtime

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestConcatAndSplitKeepRowsApart(t *testing.T) {
	a := &Request{Inputs: []Tensor{NewFloat64("x", []int64{1, 2}, []float64{1, 2}), NewStrings("s", []int64{1}, []string{"a"})}}
	b := &Request{Inputs: []Tensor{NewFloat64("x", []int64{2, 2}, []float64{3, 4, 5, 6}), NewStrings("s", []int64{2}, []string{"b", "c"})}}
	if !Batchable(a, b) {
		t.Fatal("two requests with the same inputs should batch")
	}
	c := Concat([]*Request{a, b})
	if got, _ := c.Inputs[0].Float64s(); !slices.Equal(got, []float64{1, 2, 3, 4, 5, 6}) || c.Inputs[0].Shape[0] != 3 {
		t.Fatalf("concatenated x = %v shape %v", got, c.Inputs[0].Shape)
	}
	resp := &Response{Kind: ResultArray, Outputs: []Tensor{NewFloat64("y", []int64{3}, []float64{10, 20, 30})}}
	parts, err := Split(resp, []int64{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := parts[1].Outputs[0].Float64s(); !slices.Equal(got, []float64{20, 30}) {
		t.Fatalf("second part = %v", got)
	}
	if _, err := Split(&Response{Outputs: []Tensor{NewFloat64("y", []int64{1}, []float64{1})}}, []int64{1, 2}); err == nil {
		t.Fatal("a response with the wrong number of rows split without error")
	}
}

func TestBatchableRefuses(t *testing.T) {
	base := &Request{Inputs: []Tensor{NewFloat64("x", []int64{1, 2}, []float64{1, 2})}}
	for name, other := range map[string]*Request{
		"other name":   {Inputs: []Tensor{NewFloat64("z", []int64{1, 2}, []float64{1, 2})}},
		"other width":  {Inputs: []Tensor{NewFloat64("x", []int64{1, 3}, []float64{1, 2, 3})}},
		"other type":   {Inputs: []Tensor{NewInt64("x", []int64{1, 2}, []int64{1, 2})}},
		"other layout": {Layout: LayoutColumns, Inputs: []Tensor{NewFloat64("x", []int64{1, 2}, []float64{1, 2})}},
		"params":       {Inputs: []Tensor{NewFloat64("x", []int64{1, 2}, []float64{1, 2})}, Params: map[string]any{"k": 1}},
	} {
		if Batchable(base, other) {
			t.Errorf("%s: batched", name)
		}
	}
}

func TestCheck(t *testing.T) {
	for name, tt := range map[string]Tensor{
		"short data":    {Name: "x", Datatype: FP64, Shape: []int64{2}, Data: make([]byte, 8)},
		"ragged bytes":  {Name: "x", Datatype: FP32, Shape: []int64{1}, Data: make([]byte, 3)},
		"negative dim":  {Name: "x", Datatype: FP64, Shape: []int64{-1}},
		"huge":          {Name: "x", Datatype: FP64, Shape: []int64{1 << 40, 1 << 40}},
		"strings count": {Name: "x", Datatype: Bytes, Shape: []int64{2}, Strings: [][]byte{[]byte("a")}},
		"bad type":      {Name: "x", Datatype: "FP128", Shape: []int64{0}},
	} {
		if err := tt.Check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := (&Tensor{Name: "x", Datatype: FP64, Shape: []int64{2}, Data: make([]byte, 16)}).Check(); err != nil {
		t.Errorf("a good tensor was refused: %v", err)
	}
}

func TestChooseRuntime(t *testing.T) {
	cases := []struct {
		files map[string]string
		want  string
	}{
		{map[string]string{"MLmodel": "flavors:\n  python_function: {}\n  sklearn: {}\n"}, "python"},
		{map[string]string{"MLmodel": "flavors:\n  python_function: {}\n  onnx: {}\n", "model.onnx": ""}, "onnx"},
		{map[string]string{"model.onnx": ""}, "onnx"},
		{map[string]string{"model.rds": ""}, "r"},
		{map[string]string{"MLmodel": "flavors:\n  python_function: {}\nmetadata:\n  mlship_runtime: command\n"}, "command"},
	}
	for _, c := range cases {
		dir := t.TempDir()
		for name, body := range c.files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		f, err := Inspect(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := f.Choose("auto"); err != nil || got != c.want {
			t.Errorf("%v: Choose = %q, %v; want %q", c.files, got, err, c.want)
		}
	}
	if _, err := (Format{}).Choose(""); err == nil {
		t.Error("an empty directory got a runtime")
	}
}
