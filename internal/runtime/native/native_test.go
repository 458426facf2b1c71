package native

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/onnx"
	"github.com/mlship/mlship/internal/runtime"
	"github.com/mlship/mlship/internal/runtime/native/nativetest"
)

func TestConformance(t *testing.T) { nativetest.Run(t, Runtime{}) }

// TestMalformedModel: the engine's own words reach the client.
func TestMalformedModel(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "model.onnx"), []byte("not a model"), 0o644)
	_, err := Runtime{}.Load(context.Background(), runtime.Spec{Dir: dir})
	if fault.KindOf(err) != fault.Invalid || !strings.Contains(err.Error(), "invalid ONNX model") {
		t.Fatalf("Load: %v, want an Invalid error mentioning %q", err, "invalid ONNX model")
	}
}

// TestIntegerInputs: numbers convert to integer inputs only when they fit.
func TestIntegerInputs(t *testing.T) {
	info := func(d onnx.DType) onnx.ValueInfo {
		return onnx.ValueInfo{Name: "x", Kind: "tensor", DType: d, Shape: []int64{-1}}
	}
	for name, tc := range map[string]struct {
		info onnx.ValueInfo
		vals []float64
		ok   bool
	}{
		"uint8":            {info(onnx.Uint8), []float64{0, 255}, true},
		"uint8 overflow":   {info(onnx.Uint8), []float64{256}, false},
		"uint8 negative":   {info(onnx.Uint8), []float64{-1}, false},
		"int8":             {info(onnx.Int8), []float64{-128, 127}, true},
		"int8 overflow":    {info(onnx.Int8), []float64{128}, false},
		"int32 overflow":   {info(onnx.Int32), []float64{1 << 31}, false},
		"int32 fractional": {info(onnx.Int32), []float64{1.5}, false},
		"int64 from FP64":  {info(onnx.Int64), []float64{-(1 << 53)}, true},
		"int64 overflow":   {info(onnx.Int64), []float64{1 << 63}, false},
	} {
		t.Run(name, func(t *testing.T) {
			in := runtime.NewFloat64("x", []int64{int64(len(tc.vals))}, tc.vals)
			_, err := Inputs([]onnx.ValueInfo{tc.info}, &runtime.Request{Inputs: []runtime.Tensor{in}})
			if tc.ok && err != nil {
				t.Fatal(err)
			}
			if !tc.ok && (fault.KindOf(err) != fault.Invalid || !strings.Contains(err.Error(), "takes integers")) {
				t.Fatalf("Inputs: %v, want an Invalid error", err)
			}
		})
	}
}

// TestMissingInputSaysWhatWasSent: a request that names no input the model takes is
// told what it sent beside what the model takes.
func TestMissingInputSaysWhatWasSent(t *testing.T) {
	infos := []onnx.ValueInfo{{Name: "X", Kind: "tensor", DType: onnx.Float32, Shape: []int64{-1, 2}}}
	in := runtime.NewFloat64("features", []int64{1, 2}, []float64{1, 2})
	_, err := Inputs(infos, &runtime.Request{Inputs: []runtime.Tensor{in}})
	want := `the model needs input "X", which the request does not send (it sends "features"); the model's inputs are`
	if fault.KindOf(err) != fault.Invalid || !strings.Contains(err.Error(), want) {
		t.Fatalf("Inputs: %v, want an Invalid error saying %q", err, want)
	}
}

// TestBoolInputsOnlyForBoolModels: BOOL data is no number, so a numeric input refuses it
// with both datatypes named, and a BOOL input takes it.
func TestBoolInputsOnlyForBoolModels(t *testing.T) {
	for name, tc := range map[string]struct {
		dtype onnx.DType
		want  string
	}{
		"FP32 input":  {onnx.Float32, `input "x" takes numbers (FP32), got BOOL`},
		"INT64 input": {onnx.Int64, `input "x" takes numbers (INT64), got BOOL`},
		"BOOL input":  {onnx.Bool, ""},
	} {
		t.Run(name, func(t *testing.T) {
			info := onnx.ValueInfo{Name: "x", Kind: "tensor", DType: tc.dtype, Shape: []int64{-1}}
			in := runtime.Tensor{Name: "x", Datatype: runtime.Bool, Shape: []int64{2}, Data: []byte{1, 0}}
			_, err := Inputs([]onnx.ValueInfo{info}, &runtime.Request{Inputs: []runtime.Tensor{in}})
			if tc.want == "" && err != nil {
				t.Fatal(err)
			}
			if tc.want != "" && (fault.KindOf(err) != fault.Invalid || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Inputs: %v, want an Invalid error saying %q", err, tc.want)
			}
		})
	}
}
