// Package ort serves ONNX models through ONNX Runtime's shared library, loaded at run
// time, for the models whose operators the native engine (internal/onnx) lacks. It
// needs cgo, so it is built only with the build tag onnxruntime (make
// build-onnxruntime); in other builds New reports ErrNotBuilt. WithFallback puts it
// behind the native engine: a model runs natively when it can, and through ONNX
// Runtime when it uses operators the engine does not have.
package ort

import "github.com/mlship/mlship/internal/fault"

// ErrNotBuilt is New's error in a build without ONNX Runtime support.
var ErrNotBuilt = fault.New(fault.NotImplemented, "this mlship was built without ONNX Runtime support: build with `make build-onnxruntime`")
