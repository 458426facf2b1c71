package fault

import (
	"errors"
	"testing"
)

func TestErrorTellsItsCauseOnce(t *testing.T) {
	cause := errors.New("onnx: unsupported: operators Scan, TopK")
	inner := Wrap(Invalid, cause, "cannot serve model.onnx with the native ONNX engine: %v", cause)
	outer := Wrap(KindOf(inner), inner, "%s; such a model runs with ONNX Runtime (--onnxruntime-lib)", Message(inner))
	tests := []struct {
		err  error
		want string
	}{
		{Wrap(Invalid, cause, "cannot load"), "cannot load: onnx: unsupported: operators Scan, TopK"},
		{inner, "cannot serve model.onnx with the native ONNX engine: onnx: unsupported: operators Scan, TopK"},
		{outer, "cannot serve model.onnx with the native ONNX engine: onnx: unsupported: operators Scan, TopK; such a model runs with ONNX Runtime (--onnxruntime-lib)"},
		{New(NotFound, "no such run"), "no such run"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q\nwant      %q", got, tt.want)
		}
	}
	if !errors.Is(outer, cause) || KindOf(outer) != Invalid {
		t.Errorf("the chain is kept: Is(cause) %v, kind %v", errors.Is(outer, cause), KindOf(outer))
	}
}
