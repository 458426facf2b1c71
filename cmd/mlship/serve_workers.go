package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
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
		rc.Declared = map[string]serving.DeclaredRuntime{"command": {Command: argv, ReadOnly: commandPaths(argv, f.commandReadOnly)}}
	case spec.Runtime == "command":
		return rc, usageError{fmt.Errorf("--runtime command needs --command: the worker program and its arguments")}
	}
	if err := rc.UsePythonEnvs(f.envManager, f.uv, f.envsDir()); err != nil {
		return rc, usageError{err}
	}
	sb, err := serving.StartSandbox(f.worker.SandboxConfig(), f.worker.Unsandboxed, logger)
	if err != nil {
		return rc, err
	}
	rc.Sandbox = sb
	return rc, nil
}

// commandPaths are what the sandbox lets a --command worker read besides the model:
// the paths given with --command-read-only, and the absolute paths among its
// arguments (its script, say), which the operator typed.
func commandPaths(argv, readOnly []string) []string {
	paths := slices.Clone(readOnly)
	for _, a := range argv[1:] {
		if filepath.IsAbs(a) {
			if _, err := os.Stat(a); err == nil {
				paths = append(paths, a)
			}
		}
	}
	return paths
}

// envsDir holds the Python environments of --env-manager uv: beside the downloaded
// models, in --cache-dir or the user's cache directory.
func (f *serveFlags) envsDir() string {
	if f.cacheDir != "" {
		return filepath.Join(f.cacheDir, "envs")
	}
	if base, err := os.UserCacheDir(); err == nil {
		return filepath.Join(base, "mlship", "envs")
	}
	return filepath.Join(os.TempDir(), "mlship-envs")
}
