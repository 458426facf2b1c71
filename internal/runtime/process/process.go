// Package process runs models in worker processes: a pool of programs, in the model's
// own language, that each load the model once and then answer predictions one at a
// time over their stdin and stdout, in the worker protocol of docs/worker-protocol.md.
// It owns the pool: starting workers, dispatching requests to idle ones, replacing
// workers that crash or hang, and stopping them. Python and R run the workers embedded
// in the binary (package runtimes); New runs a command the operator gave that speaks
// the protocol. Every worker runs in the sandbox of package sandbox, with an
// environment built for it rather than the server's.
package process

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
	"github.com/mlship/mlship/internal/runtime/sandbox"
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
	// Env is added to the environment built for every worker (KEY=value; later
	// entries win). A worker inherits nothing of the server's environment: it gets
	// PATH, HOME, TMPDIR, LANG, LC_ALL, PYTHONDONTWRITEBYTECODE, MLSHIP_MODEL_DIR and
	// Env (see workerEnv).
	Env []string
	// Sandbox confines the workers; nil runs them unconfined.
	Sandbox *sandbox.Sandbox
	// ReadOnly are paths, besides the model's directory, the interpreter's
	// installation and the worker script, that a sandboxed worker may read.
	ReadOnly []string
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
	if o.Sandbox == nil {
		o.Sandbox = sandbox.Unconfined()
	}
	return o
}

// processRuntime is a runtime.Runtime whose models run in worker processes.
type processRuntime struct {
	opts Options
	// command returns how to start a worker; the embedded workers write their script
	// and find their interpreter's installation on first use.
	command func() (launch, error)
}

// launch is a worker's command line, without the model directory, and the paths it
// needs to read besides the model's.
type launch struct {
	argv     []string
	readOnly []string
}

var _ runtime.Runtime = (*processRuntime)(nil)

// New returns a runtime that runs opts.Command as the worker of every model it loads.
// The command is the operator's (a runtime declared in the server's configuration, or
// the command line of mlship serve), never a client's. Its program and opts.ReadOnly
// are readable in the sandbox.
func New(opts Options) runtime.Runtime {
	opts = opts.withDefaults()
	argv := opts.Command
	return &processRuntime{opts: opts, command: func() (launch, error) {
		if len(argv) == 0 || argv[0] == "" {
			return launch{}, fault.Invalidf("the %s runtime has no worker command", opts.Name)
		}
		prog, paths := programPaths(argv[0])
		return launch{argv: append([]string{prog}, argv[1:]...), readOnly: append(paths, opts.ReadOnly...)}, nil
	}}
}

// Python returns a runtime that serves MLflow pyfunc models with the embedded Python
// worker, run as `python -u worker.py MODEL_DIR`.
func Python(opts Options) runtime.Runtime {
	if opts.Name == "" {
		opts.Name = "python"
	}
	return embedded(opts, interpreter{envVar: "MLSHIP_PYTHON", def: "python3", install: pythonInstall},
		"python/mlship_worker.py", "-u")
}

// R returns a runtime that serves R models saved with saveRDS with the embedded R
// worker, run as `Rscript worker.R MODEL_DIR`.
func R(opts Options) runtime.Runtime {
	if opts.Name == "" {
		opts.Name = "r"
	}
	return embedded(opts, interpreter{envVar: "MLSHIP_RSCRIPT", def: "Rscript", install: rInstall}, "r/worker.R")
}

// embedded returns a runtime that runs an embedded worker script with an interpreter:
// opts.Interpreter, else $envVar, else def.
func embedded(opts Options, in interpreter, script string, flags ...string) runtime.Runtime {
	opts = opts.withDefaults()
	name := cmp.Or(opts.Interpreter, os.Getenv(in.envVar), in.def)
	return &processRuntime{opts: opts, command: func() (launch, error) {
		path, err := runtimes.Script(opts.ScriptDir, script)
		if err != nil {
			return launch{}, fault.Wrap(fault.Unavailable, err, "cannot install the %s worker script", opts.Name)
		}
		exe, paths, err := in.find(name)
		if err != nil {
			return launch{}, fault.Wrap(fault.Unavailable, err, "the %s runtime's interpreter %q: %v", opts.Name, name, err)
		}
		argv := append(append([]string{exe}, flags...), path)
		return launch{argv: argv, readOnly: append(append(paths, filepath.Dir(path)), opts.ReadOnly...)}, nil
	}}
}

func (r *processRuntime) Name() string { return r.opts.Name }

// Load starts the model's workers and returns once every one has loaded the model.
// If a worker cannot load it, the error's message carries the worker's own words.
func (r *processRuntime) Load(ctx context.Context, spec runtime.Spec) (runtime.Model, error) {
	l, err := r.command()
	if err != nil {
		return nil, err
	}
	m, err := newModel(r.opts, spec, l)
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
