package serving

import (
	"bytes"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
	"github.com/mlship/mlship/internal/runtime/native"
	"github.com/mlship/mlship/internal/runtime/ort"
	"github.com/mlship/mlship/internal/runtime/process"
	"github.com/mlship/mlship/internal/runtime/pythonenv"
	"github.com/mlship/mlship/internal/runtime/sandbox"
)

// builtinRuntimes are the runtimes every server has; a spec may also name a declared one.
var builtinRuntimes = []string{"auto", "python", "r", "onnx"}

// DeclaredRuntime is a worker program the operator declared: the only way a command
// line reaches a worker. Deployments name it; they never carry a command.
type DeclaredRuntime struct {
	// Command is the worker program and its arguments; the model's directory is
	// appended. A program name without a slash is looked up on the server's PATH.
	Command []string `yaml:"command" json:"command"`
	// ReadOnly are paths, besides the model's directory and the program, that the
	// worker may read in the sandbox (its installation, its script).
	ReadOnly []string `yaml:"read_only" json:"read_only,omitempty"`
	// Env are variables set in the worker's environment.
	Env map[string]string `yaml:"env" json:"env,omitempty"`
}

// runtimesFile is the file of --runtimes-config.
type runtimesFile struct {
	Runtimes map[string]DeclaredRuntime `yaml:"runtimes"`
}

var (
	runtimeNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)
	envNamePattern     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// LoadRuntimes reads a runtimes file (YAML: runtimes: NAME: {command, read_only,
// env}); unknown keys are errors.
func LoadRuntimes(path string) (map[string]DeclaredRuntime, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("runtimes config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f runtimesFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("runtimes config %s: %w", path, err)
	}
	for name, rt := range f.Runtimes {
		if err := rt.check(name); err != nil {
			return nil, fmt.Errorf("runtimes config %s: %w", path, err)
		}
	}
	return f.Runtimes, nil
}

func (rt DeclaredRuntime) check(name string) error {
	switch {
	case !runtimeNamePattern.MatchString(name):
		return fmt.Errorf("runtime name %q: use lower-case letters, digits, '_' and '-', starting with a letter", name)
	case slices.Contains(builtinRuntimes, name):
		return fmt.Errorf("runtime %q is built in and cannot be declared", name)
	case len(rt.Command) == 0 || rt.Command[0] == "":
		return fmt.Errorf("runtime %q has no command", name)
	}
	for _, p := range rt.ReadOnly {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("runtime %q: read_only path %q is not absolute", name, p)
		}
	}
	for k := range rt.Env {
		if !envNamePattern.MatchString(k) {
			return fmt.Errorf("runtime %q: %q is not an environment variable name", name, k)
		}
	}
	return nil
}

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
	// Declared are the runtimes the operator declared, by name.
	Declared map[string]DeclaredRuntime
	// Sandbox confines every worker process; nil is no sandbox.
	Sandbox *sandbox.Sandbox
	// Unsandboxed lets workers run when no sandbox works (--unsafe-unsandboxed-workers);
	// without it, worker runtimes refuse to load anything.
	Unsandboxed bool
	// WorkerEnv are variables (NAME=VALUE) the operator passes to every worker.
	WorkerEnv []string
	// PythonEnvs, if set, builds each Python model's environment from the
	// requirements it was logged with (--env-manager uv); nil runs every model in
	// Python (--env-manager local).
	PythonEnvs *pythonenv.Builder
	// UVFound says uv was found, for the advice of a model that the local
	// interpreter cannot load.
	UVFound bool
	Logger  *slog.Logger
}

// Factory returns the runtime factory of a Manager: the native ONNX engine, and the
// process runtimes (python, r and the declared ones) set up with each deployment's
// workers and timeout, in the sandbox.
func (c RuntimeConfig) Factory() RuntimeFactory {
	return func(name string, spec Spec) (runtime.Runtime, error) {
		if name == "onnx" {
			return ort.WithFallback(native.Runtime{}, c.ONNXRuntimeLib), nil
		}
		if err := c.Check(name); err != nil {
			return nil, err
		}
		if err := c.confined(name); err != nil {
			return nil, err
		}
		opts := process.Options{Name: name, Workers: spec.Workers, RequestTimeout: time.Duration(spec.Timeout),
			StartTimeout: c.StartTimeout, ScriptDir: c.ScriptDir, Logger: c.Logger,
			Sandbox: c.Sandbox, Env: c.WorkerEnv}
		switch name {
		case "python":
			if c.PythonEnvs != nil {
				return envPython{opts: opts, envs: c.PythonEnvs}, nil
			}
			opts.Interpreter = c.Python
			return localPython{Runtime: process.Python(opts), interpreter: localInterpreter(c.Python), uvFound: c.UVFound}, nil
		case "r":
			opts.Interpreter = c.Rscript
			return process.R(opts), nil
		}
		rt := c.Declared[name]
		opts.Command, opts.ReadOnly = rt.Command, rt.ReadOnly
		// The runtime's variables, then the operator's --worker-env, which win.
		opts.Env = append(envList(rt.Env), c.WorkerEnv...)
		return process.New(opts), nil
	}
}

// Check reports whether a spec may name runtime name: a built-in or a declared one.
func (c RuntimeConfig) Check(name string) error {
	if name == "" || slices.Contains(builtinRuntimes, name) {
		return nil
	}
	if _, ok := c.Declared[name]; ok {
		return nil
	}
	declared := "none"
	if len(c.Declared) > 0 {
		declared = strings.Join(slices.Sorted(maps.Keys(c.Declared)), ", ")
	}
	return fault.Invalidf("unknown runtime %q: use auto, python, r, onnx, or a runtime the operator declared with `mlship server --runtimes-config FILE` (declared here: %s)", name, declared)
}

// confined refuses a worker runtime when no sandbox works, unless the operator
// allowed unconfined workers.
func (c RuntimeConfig) confined(name string) error {
	if c.Unsandboxed || (c.Sandbox != nil && c.Sandbox.Confined()) {
		return nil
	}
	why := ""
	if c.Sandbox != nil && c.Sandbox.Unavailable() != "" {
		why = " (" + c.Sandbox.Unavailable() + ")"
	}
	return fault.New(fault.Unavailable, "the %s runtime runs the model's code in worker processes, and this server has no sandbox for them%s: "+
		"install bubblewrap (apt-get install bubblewrap) or use Linux 6.7 or later with Landlock and restart the server with --worker-sandbox auto, "+
		"or, if every model it serves is trusted, restart it with --unsafe-unsandboxed-workers", name, why)
}

func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}
