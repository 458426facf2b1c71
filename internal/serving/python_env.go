package serving

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
	"github.com/mlship/mlship/internal/runtime/process"
	"github.com/mlship/mlship/internal/runtime/pythonenv"
)

// The environment managers of the python runtime.
const (
	// EnvManagerUV builds each model's environment from its requirements with uv.
	EnvManagerUV = "uv"
	// EnvManagerLocal runs every model in the server's interpreter (--python).
	EnvManagerLocal = "local"
)

// envPython is the python runtime when models get their own environments: each load
// prepares the environment of the model's requirements, then starts its workers in it.
type envPython struct {
	opts process.Options
	envs *pythonenv.Builder
}

func (r envPython) Name() string { return r.opts.Name }

func (r envPython) Load(ctx context.Context, spec runtime.Spec) (runtime.Model, error) {
	env, err := r.envs.Prepare(ctx, spec.Dir)
	if err != nil {
		return nil, err
	}
	if spec.Logger != nil {
		spec.Logger.Info("python environment ready", "environment", env.Key[:12], "reused", env.Reused,
			"took", env.Took.Round(1e6), "python", env.Version, "dir", env.Dir)
		if env.Warning != "" {
			spec.Logger.Warn("python environment differs from the model's", "warning", env.Warning)
		}
	}
	runtime.Progress(ctx, "starting workers")
	opts := r.opts
	opts.Interpreter = env.Python
	m, err := process.Python(opts).Load(ctx, spec)
	if err != nil {
		return nil, err
	}
	return envModel{Model: m, env: env.String()}, nil
}

// envModel is a model that runs in an environment built for it.
type envModel struct {
	runtime.Model
	env string
}

func (m envModel) Metadata() runtime.Metadata {
	md := m.Model.Metadata()
	md.Environment = m.env
	return md
}

// localPython is the python runtime in the server's own interpreter: a model whose
// packages it lacks fails with what to do about it.
type localPython struct {
	runtime.Runtime
	interpreter string
	uvFound     bool
}

func (r localPython) Load(ctx context.Context, spec runtime.Spec) (runtime.Model, error) {
	runtime.Progress(ctx, "starting workers")
	m, err := r.Runtime.Load(ctx, spec)
	if err == nil || !strings.Contains(err.Error(), "No module named") {
		return m, err
	}
	how := "install uv (make deps puts it in .tools/bin/uv) and restart the server with --env-manager uv --uv PATH"
	if r.uvFound {
		how = "restart the server with --env-manager uv"
	}
	return nil, fault.Wrap(fault.KindOf(err), err, "%v. The interpreter %s lacks a package the model needs (the server runs with --env-manager local): "+
		"%s, so that each model gets an environment built from the requirements it was logged with, "+
		"or restart it with --python an interpreter that has them (pip install -r the model's requirements.txt, with mlflow, numpy and pandas)",
		err, r.interpreter, how)
}

// UsePythonEnvs chooses how Python models get their packages: with uv (manager "uv"),
// an environment built from each model's requirements under dir; locally ("local"),
// the interpreter c.Python as it is. An empty manager means local when c.Python is
// given, else uv when uv is found (the program uv, else uv on the PATH), else local.
func (c *RuntimeConfig) UsePythonEnvs(manager, uv, dir string) error {
	if uv == "" {
		uv, _ = exec.LookPath("uv")
	} else if p, err := exec.LookPath(uv); err == nil {
		uv = p
	} else {
		return fmt.Errorf("--uv %s: %w", uv, err)
	}
	c.UVFound = uv != ""
	if manager == "" {
		manager = EnvManagerLocal
		if c.Python == "" && uv != "" {
			manager = EnvManagerUV
		}
	}
	logger := cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	switch manager {
	case EnvManagerLocal:
		logger.Info("python models run in the local interpreter", "env_manager", manager, "python", localInterpreter(c.Python))
		return nil
	case EnvManagerUV:
	default:
		return fmt.Errorf("--env-manager must be uv or local, got %q", manager)
	}
	if uv == "" {
		return errors.New("--env-manager uv needs uv, which is not on the PATH: `make deps` installs it in .tools/bin/uv; pass its path with --uv, or use --env-manager local with --python")
	}
	c.PythonEnvs = &pythonenv.Builder{UV: uv, Dir: dir, Python: c.Python, Logger: c.Logger}
	logger.Info("python models run in environments built from their requirements", "env_manager", manager, "uv", uv, "dir", dir)
	return nil
}

// EnvManager is the environment manager of the python runtime: uv or local.
func (c RuntimeConfig) EnvManager() string {
	if c.PythonEnvs != nil {
		return EnvManagerUV
	}
	return EnvManagerLocal
}

// localInterpreter names the interpreter of the local environment manager.
func localInterpreter(python string) string {
	return cmp.Or(python, os.Getenv("MLSHIP_PYTHON"), "python3")
}
