//go:build !(onnxruntime && cgo)

package ort

import "github.com/mlship/mlship/internal/runtime"

// New reports ErrNotBuilt: this build has no ONNX Runtime support.
func New(libPath string) (runtime.Runtime, error) { return nil, ErrNotBuilt }
