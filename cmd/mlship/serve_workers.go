package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/mlship/mlship/internal/serving"
)

// runtimes sets up the runtimes of mlship serve: the workers' sandbox, as the server
// has it, and the command line the operator typed (--command) as the runtime named
// command, which spec then names.
func (f *serveFlags) runtimes(spec *serving.Spec, logger *slog.Logger) (serving.RuntimeConfig, error) {
	rc := serving.RuntimeConfig{Python: f.python, Rscript: f.rscript, ONNXRuntimeLib: f.onnxruntimeLib,
		Unsandboxed: f.worker.Unsandboxed, WorkerEnv: f.worker.Env, Logger: logger}
	switch argv := strings.Fields(f.spec.command); {
	case len(argv) > 0 && spec.Runtime != "auto" && spec.Runtime != "command":
		return rc, usageError{fmt.Errorf("--command runs with --runtime command, not --runtime %s", spec.Runtime)}
	case len(argv) > 0:
		spec.Runtime = "command"
		rc.Declared = map[string]serving.DeclaredRuntime{"command": {Command: argv}}
	case spec.Runtime == "command":
		return rc, usageError{fmt.Errorf("--runtime command needs --command: the worker program and its arguments")}
	}
	sb, err := serving.StartSandbox(f.worker.SandboxConfig(), f.worker.Unsandboxed, logger)
	if err != nil {
		return rc, err
	}
	rc.Sandbox = sb
	return rc, nil
}
