package ort

import (
	"context"
	"errors"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/onnx"
	"github.com/mlship/mlship/internal/runtime"
)

// WithFallback returns the "onnx" runtime that loads each model with native and, when
// native refuses it for using something it lacks (onnx.ErrUnsupported) and libPath is
// not empty, loads it with ONNX Runtime from the shared library at libPath instead.
// The library is loaded the first time a model needs it.
func WithFallback(native runtime.Runtime, libPath string) runtime.Runtime {
	return fallback{native: native, libPath: libPath}
}

type fallback struct {
	native  runtime.Runtime
	libPath string
}

var _ runtime.Runtime = fallback{}

// Name implements runtime.Runtime.
func (f fallback) Name() string { return f.native.Name() }

// Load implements runtime.Runtime.
func (f fallback) Load(ctx context.Context, spec runtime.Spec) (runtime.Model, error) {
	m, err := f.native.Load(ctx, spec)
	if err == nil || !errors.Is(err, onnx.ErrUnsupported) {
		return m, err
	}
	if f.libPath == "" {
		return nil, fault.Wrap(fault.KindOf(err), err,
			"%s; such a model runs with ONNX Runtime when mlship is given its library (--onnxruntime-lib)", message(err))
	}
	rt, ortErr := New(f.libPath)
	if ortErr != nil {
		return nil, fault.Wrap(fault.KindOf(ortErr), errors.Join(err, ortErr),
			"%s; ONNX Runtime cannot run it either: %s", message(err), message(ortErr))
	}
	if spec.Logger != nil {
		spec.Logger.Info("the native ONNX engine cannot run this model: loading it with ONNX Runtime",
			"model", spec.Name, "version", spec.Version, "reason", message(err))
	}
	return rt.Load(ctx, spec)
}

// message is the client-facing message of err, or its text when it has none.
func message(err error) string {
	if msg := fault.Message(err); msg != "" {
		return msg
	}
	return err.Error()
}
