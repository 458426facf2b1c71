package ort

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/onnx"
	"github.com/mlship/mlship/internal/runtime"
	"github.com/mlship/mlship/internal/runtime/native"
	"github.com/mlship/mlship/internal/runtime/native/nativetest"
)

// TestFallbackPrefersNative: a model the native engine runs never touches the
// library, even a missing one.
func TestFallbackPrefersNative(t *testing.T) {
	rt := WithFallback(native.Runtime{}, "/nonexistent/libonnxruntime.so")
	if rt.Name() != "onnx" {
		t.Fatalf("Name() = %q", rt.Name())
	}
	m := nativetest.Load(t, rt, nativetest.ModelDir(t, "logreg_binary", "model.onnx", ""))
	if _, ok := m.(*native.Model); !ok {
		t.Fatalf("loaded as %T, want the native engine", m)
	}
}

// TestFallbackWithoutLibrary: with no library, a model with operators the native engine
// lacks fails at load time, naming them.
func TestFallbackWithoutLibrary(t *testing.T) {
	_, err := WithFallback(native.Runtime{}, "").Load(context.Background(), runtime.Spec{Dir: cumSumTopKModel(t)})
	if fault.KindOf(err) != fault.Invalid || !errors.Is(err, onnx.ErrUnsupported) {
		t.Fatalf("Load: %v, want an Invalid error wrapping onnx.ErrUnsupported", err)
	}
	for _, want := range []string{"ai.onnx:CumSum", "--onnxruntime-lib"} {
		if !strings.Contains(fault.Message(err), want) {
			t.Errorf("message %q does not mention %q", fault.Message(err), want)
		}
	}
}
