package server

import (
	"log/slog"
	"maps"
	"slices"

	"github.com/mlship/mlship/internal/config"
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
	if err := rc.UsePythonEnvs(cfg.EnvManager, cfg.UV, cfg.EnvsDir); err != nil {
		return rc, err
	}
	sb, err := serving.StartSandbox(cfg.Worker.SandboxConfig(), cfg.Worker.Unsandboxed, logger)
	if err != nil {
		return rc, err
	}
	rc.Sandbox = sb
	return rc, nil
}
