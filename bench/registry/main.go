// Command registry benchmarks mlship's model registry side by side with MLflow's own
// server.
//
// It starts each server itself as a subprocess on a free loopback port with a fresh
// temporary data directory, one server at a time, and measures:
//
//	create_version  --clients concurrent POST /api/2.0/mlflow/model-versions/create for one
//	                registered model, for --duration after --warmup; versions must come
//	                out distinct and gap-free
//	big_model       a --files x --file-size model (1 GiB by default) uploaded through the
//	                artifact proxy into a run, registered as a version, and downloaded
//	                back through get-download-uri + the artifact proxy with sha256 checks;
//	                the server's peak memory growth during register + download is reported
//
// All traffic goes to 127.0.0.1. The run exits non-zero when a check fails.
package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/mlship/mlship/bench/internal/benchkit"
	"io"
	"log"
	"slices"
	"strings"
	"time"
)

const (
	targetMLflow = "mlflow"
	targetMlship = "mlship"
)

var allTargets = []string{targetMLflow, targetMlship}

type config struct {
	mlshipBin      string
	mlflowPython   string
	targets        []string
	clients        int
	duration       time.Duration
	warmup         time.Duration
	files          int
	fileSize       int64
	parallel       int
	skipBig        bool
	startupTimeout time.Duration
	output         string
	keepData       bool
}

func main() { benchkit.Main("registry", parseFlags, run) }

func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := config{fileSize: 16 << 20}
	var targets string
	fs := benchkit.NewFlagSet("registry",
		"Starts mlship and MLflow's `mlflow server` (default workers, SQLite) one after the other on\n"+
			"free loopback ports and measures model-version creation under concurrent clients, then\n"+
			"uploads, registers and downloads a big model version (default 64 x 16MiB = 1GiB),\n"+
			"reporting times and the server's peak memory growth. See bench/README.md.",
		stderr)
	fs.StringVar(&cfg.mlshipBin, "mlship-bin", "bin/mlship", "mlship `binary`, started as: BIN server --host 127.0.0.1 --port P --data-dir DIR")
	fs.StringVar(&cfg.mlflowPython, "mlflow-python", ".venv-bench/bin/python", "`python` with mlflow installed (see bench/setup.sh), started as: PYTHON -m mlflow server ...")
	fs.StringVar(&targets, "targets", strings.Join(allTargets, ","), "comma-separated servers to benchmark: "+strings.Join(allTargets, ","))
	fs.IntVar(&cfg.clients, "clients", 20, "concurrent clients creating model versions")
	fs.DurationVar(&cfg.duration, "duration", 15*time.Second, "measured duration of create_version")
	fs.DurationVar(&cfg.warmup, "warmup", 3*time.Second, "unmeasured warm-up before create_version")
	fs.IntVar(&cfg.files, "files", 64, "files in the big model version")
	fs.Var(benchkit.ByteSize{N: &cfg.fileSize}, "file-size", "size of each file of the big model version (B, KiB, MiB, GiB)")
	fs.IntVar(&cfg.parallel, "parallel", 4, "files uploaded / downloaded at once (MLflow's client downloads 4 at once)")
	fs.BoolVar(&cfg.skipBig, "skip-big", false, "skip the big model version, run create_version only")
	fs.DurationVar(&cfg.startupTimeout, "startup-timeout", 2*time.Minute, "how long to wait for a server's /health")
	benchkit.OutputFlag(fs, &cfg.output)
	fs.BoolVar(&cfg.keepData, "keep-data", false, "keep the servers' temporary data directories and logs")
	if err := benchkit.Parse(fs, args); err != nil {
		return cfg, err
	}
	for name := range strings.SplitSeq(targets, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !slices.Contains(allTargets, name) {
			return cfg, fmt.Errorf("--targets: unknown name %q (known: %s)", name, strings.Join(allTargets, ","))
		}
		if !slices.Contains(cfg.targets, name) {
			cfg.targets = append(cfg.targets, name)
		}
	}
	switch {
	case len(cfg.targets) == 0:
		return cfg, errors.New("--targets: nothing selected")
	case cfg.clients < 1 || cfg.parallel < 1 || cfg.files < 1:
		return cfg, errors.New("--clients, --parallel and --files must be at least 1")
	case cfg.duration <= 0 || cfg.warmup < 0:
		return cfg, errors.New("--duration must be positive and --warmup not negative")
	}
	if err := benchkit.CheckOutput(cfg.output); err != nil {
		return cfg, err
	}
	return cfg, benchkit.AbsPaths(&cfg.mlshipBin, &cfg.mlflowPython)
}

// run benchmarks every selected target in turn and prints the report.
func run(ctx context.Context, cfg config, stdout io.Writer, logger *log.Logger) error {
	client := newHTTPClient(max(cfg.clients, cfg.parallel))
	rep := newReport(ctx, cfg)
	logger.Printf("machine: %s", rep.Machine.Summary())
	var failures []error
	for _, name := range cfg.targets {
		res, err := benchTarget(ctx, cfg, name, client, logger)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		for _, p := range res.Problems {
			failures = append(failures, fmt.Errorf("%s: %s", name, p))
		}
		rep.Targets = append(rep.Targets, res)
	}
	rep.Machine.LoadAvgEnd = benchkit.LoadAvg()
	if err := rep.write(stdout, cfg.output); err != nil {
		return err
	}
	return errors.Join(failures...)
}

// server is what benchkit needs to start the servers.
func (c config) server() benchkit.ServerConfig {
	return benchkit.ServerConfig{MlshipBin: c.mlshipBin, MlflowPython: c.mlflowPython,
		StartupTimeout: c.startupTimeout, KeepData: c.keepData}
}
