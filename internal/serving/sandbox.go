package serving

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/mlship/mlship/internal/runtime/sandbox"
)

// StartSandbox probes the workers' sandbox as cfg asks and says in the log which one is
// in force: loudly when model code runs unconfined or cannot run at all.
func StartSandbox(cfg sandbox.Config, unsandboxed bool, logger *slog.Logger) (*sandbox.Sandbox, error) {
	sb, err := sandbox.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("--worker-sandbox %s: %w", cfg.Mechanism, err)
	}
	l := sb.Limits()
	uid, _ := sb.Owner()
	switch {
	case sb.Confined():
		logger.Info("workers run sandboxed", "sandbox", sb.Name(), "uid", uid, "memory_bytes", l.Memory, "cpu", l.CPU,
			"processes", l.Processes, "file_size_bytes", l.FileSize, "unavailable", sb.Unavailable())
	case unsandboxed:
		logger.Warn("UNSAFE: workers run model code with no sandbox, as the server's user, with the server's reach: "+
			"any model loaded with the python, r or a declared runtime can read, write and connect to whatever this server can "+
			"(--unsafe-unsandboxed-workers)", "sandbox", sb.Name(), "unavailable", sb.Unavailable())
	default:
		logger.Warn("no sandbox for workers: the python, r and declared runtimes refuse to load models; install bubblewrap "+
			"(apt-get install bubblewrap) or use Linux 6.7 or later with Landlock, or accept the risk with --unsafe-unsandboxed-workers",
			"sandbox", sb.Name(), "unavailable", sb.Unavailable())
	}
	return sb, nil
}

// Runtimes names every runtime a spec may ask for: the built-in ones, then the
// declared ones.
func (c RuntimeConfig) Runtimes() []string {
	return append(slices.Clone(builtinRuntimes), slices.Sorted(maps.Keys(c.Declared))...)
}
