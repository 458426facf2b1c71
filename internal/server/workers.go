package server

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os/exec"
	"slices"

	"github.com/mlship/mlship/internal/config"
	"github.com/mlship/mlship/internal/runtime/pythonenv"
	"github.com/mlship/mlship/internal/serving"
)

// workerRuntimes sets up the runtimes that run model code in worker processes: the
// operator's declared runtimes, the sandbox chosen by probing, and the workers'
// environment.
func workerRuntimes(cfg config.Server, logger *slog.Logger) (serving.RuntimeConfig, error) {
	rc := serving.RuntimeConfig{Python: cfg.Python, Rscript: cfg.Rscript, ONNXRuntimeLib: cfg.ONNXRuntimeLib,
		Unsandboxed: cfg.Worker.Unsandboxed, WorkerEnv: cfg.Worker.Env, Logger: logger}
	if cfg.RuntimesConfig != "" {
		declared, err := serving.LoadRuntimes(cfg.RuntimesConfig)
		if err != nil {
			return rc, err
		}
		rc.Declared = declared
		logger.Info("declared runtimes", "runtimes", slices.Sorted(maps.Keys(declared)), "file", cfg.RuntimesConfig)
	}
	if err := pythonEnvs(&rc, cfg, logger); err != nil {
		return rc, err
	}
	sb, err := serving.StartSandbox(cfg.Worker.SandboxConfig(), cfg.Worker.Unsandboxed, logger)
	if err != nil {
		return rc, err
	}
	rc.Sandbox = sb
	return rc, nil
}

// pythonEnvs chooses how Python models get their packages: with uv, an environment
// built from each model's requirements under the data directory; locally, the
// interpreter the operator named. An explicit --python keeps the local manager unless
// --env-manager uv asks otherwise.
func pythonEnvs(rc *serving.RuntimeConfig, cfg config.Server, logger *slog.Logger) error {
	uv := cfg.UV
	if uv == "" {
		uv, _ = exec.LookPath("uv")
	} else if p, err := exec.LookPath(uv); err == nil {
		uv = p
	} else {
		return fmt.Errorf("--uv %s: %w", cfg.UV, err)
	}
	rc.UVFound = uv != ""
	manager := cfg.EnvManager
	if manager == "" {
		manager = serving.EnvManagerLocal
		if cfg.Python == "" && uv != "" {
			manager = serving.EnvManagerUV
		}
	}
	if manager == serving.EnvManagerLocal {
		logger.Info("python models run in the local interpreter", "env_manager", manager, "python", cmp.Or(cfg.Python, "python3"))
		return nil
	}
	if uv == "" {
		return errors.New("--env-manager uv needs uv, which is not on the PATH: `make deps` installs it in .tools/bin/uv; pass its path with --uv, or use --env-manager local with --python")
	}
	rc.PythonEnvs = &pythonenv.Builder{UV: uv, Dir: cfg.EnvsDir, Python: cfg.Python, Logger: logger}
	logger.Info("python models run in environments built from their requirements", "env_manager", manager, "uv", uv, "dir", cfg.EnvsDir)
	return nil
}
