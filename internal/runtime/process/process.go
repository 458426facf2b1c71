// Package process runs models in worker processes: a pool of programs, in the model's
// own language, that each load the model once and then answer predictions one at a
// time over their stdin and stdout, in the worker protocol of docs/worker-protocol.md.
// It owns the pool: starting workers, dispatching requests to idle ones, replacing
// workers that crash or hang, and stopping them. Python and R run the workers embedded
// in the binary (package runtimes); New runs any command that speaks the protocol.
package process

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	goruntime "runtime"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
	"github.com/mlship/mlship/runtimes"
)

// Options configure a process runtime. The zero value of each field means its default.
type Options struct {
	// Name is the runtime's name ("python", "r", "command"). Default "command".
	Name string
	// Command is the worker's command line. The model's directory is appended as its
	// last argument and also set in the environment as MLSHIP_MODEL_DIR; it is the
	// worker's working directory too.
	Command []string
	// Workers is the number of worker processes per model. Default: the number of
	// CPUs, at most 8, since each worker holds its own copy of the model.
	Workers int
	// StartTimeout bounds a worker's start, from exec to its ready frame. Default 2m.
	StartTimeout time.Duration
	// RequestTimeout bounds one prediction; a worker that takes longer is killed and
	// replaced. Default 60s.
	RequestTimeout time.Duration
	// StopGrace is how long stopping a worker waits after closing its stdin, and again
	// after SIGTERM, before it sends SIGKILL. Default 5s.
	StopGrace time.Duration
	// Env is added to the environment the worker inherits from the server
	// (KEY=value; later entries win).
	Env []string
	// Interpreter runs the embedded worker of Python and R. Default: $MLSHIP_PYTHON
	// or python3; $MLSHIP_RSCRIPT or Rscript.
	Interpreter string
	// ScriptDir is where Python and R write their embedded worker scripts. Default: a
	// directory under the user's cache directory.
	ScriptDir string
	// Logger receives the workers' stderr and lifecycle events, unless the Spec of a
	// Load carries its own.
	Logger *slog.Logger
}

const (
	maxDefaultWorkers     = 8
	defaultStartTimeout   = 2 * time.Minute
	defaultRequestTimeout = 60 * time.Second
	defaultStopGrace      = 5 * time.Second
)

func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = "command"
	}
	if o.Workers <= 0 {
		o.Workers = min(goruntime.NumCPU(), maxDefaultWorkers)
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = defaultStartTimeout
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = defaultRequestTimeout
	}
	if o.StopGrace <= 0 {
		o.StopGrace = defaultStopGrace
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// processRuntime is a runtime.Runtime whose models run in worker processes.
type processRuntime struct {
	opts Options
	// command returns the worker's command line; the embedded workers write their
	// script on first use.
	command func() ([]string, error)
}

var _ runtime.Runtime = (*processRuntime)(nil)

// New returns a runtime that runs opts.Command as the worker of every model it loads.
func New(opts Options) runtime.Runtime {
	opts = opts.withDefaults()
	argv := opts.Command
	return &processRuntime{opts: opts, command: func() ([]string, error) {
		if len(argv) == 0 || argv[0] == "" {
			return nil, fault.Invalidf("the %s runtime has no worker command", opts.Name)
		}
		return argv, nil
	}}
}

// Python returns a runtime that serves MLflow pyfunc models with the embedded Python
// worker, run as `python -u worker.py MODEL_DIR`.
func Python(opts Options) runtime.Runtime {
	if opts.Name == "" {
		opts.Name = "python"
	}
	return embedded(opts, "MLSHIP_PYTHON", "python3", "python/mlship_worker.py", "-u")
}

// R returns a runtime that serves R models saved with saveRDS with the embedded R
// worker, run as `Rscript worker.R MODEL_DIR`.
func R(opts Options) runtime.Runtime {
	if opts.Name == "" {
		opts.Name = "r"
	}
	return embedded(opts, "MLSHIP_RSCRIPT", "Rscript", "r/worker.R")
}

// embedded returns a runtime that runs an embedded worker script with an interpreter:
// opts.Interpreter, else $envVar, else def.
func embedded(opts Options, envVar, def, script string, flags ...string) runtime.Runtime {
	opts = opts.withDefaults()
	interp := opts.Interpreter
	if interp == "" {
		interp = os.Getenv(envVar)
	}
	if interp == "" {
		interp = def
	}
	return &processRuntime{opts: opts, command: func() ([]string, error) {
		path, err := runtimes.Script(opts.ScriptDir, script)
		if err != nil {
			return nil, fault.Wrap(fault.Unavailable, err, "cannot install the %s worker script", opts.Name)
		}
		argv := append([]string{interp}, flags...)
		return append(argv, path), nil
	}}
}

func (r *processRuntime) Name() string { return r.opts.Name }

// Load starts the model's workers and returns once every one has loaded the model.
// If a worker cannot load it, the error's message carries the worker's own words.
func (r *processRuntime) Load(ctx context.Context, spec runtime.Spec) (runtime.Model, error) {
	argv, err := r.command()
	if err != nil {
		return nil, err
	}
	m, err := newModel(r.opts, spec, argv)
	if err != nil {
		return nil, err
	}
	if err := m.start(ctx); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// label names a model in messages: its name and version, or its directory.
func label(spec runtime.Spec) string {
	switch {
	case spec.Name != "" && spec.Version != "":
		return fmt.Sprintf("%s version %s", spec.Name, spec.Version)
	case spec.Name != "":
		return spec.Name
	}
	return spec.Dir
}
