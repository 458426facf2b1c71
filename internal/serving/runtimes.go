package serving

import (
	"log/slog"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
	"github.com/mlship/mlship/internal/runtime/native"
	"github.com/mlship/mlship/internal/runtime/ort"
	"github.com/mlship/mlship/internal/runtime/process"
)

// RuntimeConfig is what the runtimes need from the process's configuration.
type RuntimeConfig struct {
	// Python and Rscript are the interpreters of the embedded workers; empty means
	// $MLSHIP_PYTHON or python3, $MLSHIP_RSCRIPT or Rscript.
	Python, Rscript string
	// ScriptDir is where the embedded worker scripts are written; empty means the
	// user's cache directory.
	ScriptDir string
	// StartTimeout bounds a worker's start, including loading the model.
	StartTimeout time.Duration
	// ONNXRuntimeLib, if set, is ONNX Runtime's shared library: ONNX models with
	// operators the native engine lacks run through it.
	ONNXRuntimeLib string
	Logger         *slog.Logger
}

// Factory returns the runtime factory of a Manager: the native ONNX engine, and the
// process runtimes (python, r, command) set up with each deployment's workers, command
// and timeout.
func (c RuntimeConfig) Factory() RuntimeFactory {
	return func(name string, spec Spec) (runtime.Runtime, error) {
		opts := process.Options{Name: name, Workers: spec.Workers, RequestTimeout: time.Duration(spec.Timeout),
			StartTimeout: c.StartTimeout, ScriptDir: c.ScriptDir, Logger: c.Logger}
		switch name {
		case "python":
			opts.Interpreter = c.Python
			return process.Python(opts), nil
		case "r":
			opts.Interpreter = c.Rscript
			return process.R(opts), nil
		case "command":
			opts.Command = spec.Command
			return process.New(opts), nil
		case "onnx":
			return ort.WithFallback(native.Runtime{}, c.ONNXRuntimeLib), nil
		}
		return nil, fault.Invalidf("unknown runtime %q: use python, r, onnx or command", name)
	}
}
