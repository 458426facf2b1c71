//go:build !(onnxruntime && cgo)

package ort

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
	"github.com/mlship/mlship/internal/runtime/native"
)

// TestNotBuilt: a build without ONNX Runtime says how to get one, at New and when a
// model needs it.
func TestNotBuilt(t *testing.T) {
	if _, err := New("/usr/lib/libonnxruntime.so"); !errors.Is(err, ErrNotBuilt) {
		t.Fatalf("New: %v, want ErrNotBuilt", err)
	}
	rt := WithFallback(native.Runtime{}, "/usr/lib/libonnxruntime.so")
	_, err := rt.Load(context.Background(), runtime.Spec{Dir: cumSumTopKModel(t)})
	if !errors.Is(err, ErrNotBuilt) || fault.KindOf(err) != fault.NotImplemented {
		t.Fatalf("Load: %v, want ErrNotBuilt", err)
	}
	for _, want := range []string{"ai.onnx:CumSum", "make build-onnxruntime"} {
		if !strings.Contains(fault.Message(err), want) {
			t.Errorf("message %q does not mention %q", fault.Message(err), want)
		}
	}
}
