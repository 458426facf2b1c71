// Command tracking benchmarks mlship side by side with MLflow's own tracking server.
//
// It starts each server itself as a subprocess on a free loopback port with a fresh
// temporary data directory, one server at a time so that they never share the CPU, and
// drives the MLflow REST API with a fixed number of concurrent clients for a fixed
// duration per workload. The workloads are those of MLflow's own benchmarks
// (dev/benchmarks/k6LogBatchPerfScript.js and the mlflow/mlflow-go k6 scripts):
//
//	log_batch    POST /api/2.0/mlflow/runs/log-batch, 10 metrics, 3 params, 5 tags
//	runs_create  POST /api/2.0/mlflow/runs/create
//	search_runs  POST /api/2.0/mlflow/runs/search, max_results=1000, over an
//	             experiment seeded with --runs runs
//
// Only 200 responses count as successes. The run exits non-zero when a workload's
// error rate is above --max-error-rate. All traffic goes to 127.0.0.1.
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

// Names of the servers under test and of the workloads, in the order they run.
var (
	allTargets   = []string{targetMLflow, targetMlship}
	allWorkloads = []string{"log_batch", "runs_create", "search_runs"}
)

const (
	targetMLflow = "mlflow"
	targetMlship = "mlship"
)

type config struct {
	mlshipBin      string
	mlflowPython   string
	targets        []string
	workloads      []string
	clients        int
	seedClients    int
	duration       time.Duration
	warmup         time.Duration
	runs           int
	batchesPerRun  int
	maxErrorRate   float64
	startupTimeout time.Duration
	output         string
	keepData       bool
}

func main() { benchkit.Main("tracking", parseFlags, run) }

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	var targets, workloads string
	fs := benchkit.NewFlagSet("tracking",
		"Starts mlship and MLflow's `mlflow server` (default workers, SQLite) one after the other on\n"+
			"free loopback ports and measures requests/s of log_batch, runs_create and search_runs with\n"+
			"concurrent clients. See bench/README.md.",
		stderr)
	fs.StringVar(&cfg.mlshipBin, "mlship-bin", "bin/mlship", "mlship `binary`, started as: BIN server --host 127.0.0.1 --port P --data-dir DIR")
	fs.StringVar(&cfg.mlflowPython, "mlflow-python", ".venv-bench/bin/python", "`python` with mlflow installed (see bench/setup.sh), started as: PYTHON -m mlflow server ...")
	fs.StringVar(&targets, "targets", strings.Join(allTargets, ","), "comma-separated servers to benchmark: "+strings.Join(allTargets, ","))
	fs.StringVar(&workloads, "workloads", strings.Join(allWorkloads, ","), "comma-separated workloads: "+strings.Join(allWorkloads, ","))
	fs.IntVar(&cfg.clients, "clients", 20, "concurrent clients per workload (MLflow's k6 benchmarks use 20 VUs)")
	fs.IntVar(&cfg.seedClients, "seed-clients", 0, "concurrent clients seeding the search experiment (0: same as --clients)")
	fs.DurationVar(&cfg.duration, "duration", 20*time.Second, "measured duration of each workload")
	fs.DurationVar(&cfg.warmup, "warmup", 3*time.Second, "unmeasured warm-up before each workload")
	fs.IntVar(&cfg.runs, "runs", 25000, "runs seeded into the experiment that search_runs searches")
	fs.IntVar(&cfg.batchesPerRun, "batches-per-run", 50, "log_batch requests sent to one run before a client moves to a fresh one")
	fs.Float64Var(&cfg.maxErrorRate, "max-error-rate", 0.01, "fail when a workload's share of non-200 responses is above this")
	fs.DurationVar(&cfg.startupTimeout, "startup-timeout", 2*time.Minute, "how long to wait for a server's /health")
	benchkit.OutputFlag(fs, &cfg.output)
	fs.BoolVar(&cfg.keepData, "keep-data", false, "keep the servers' temporary data directories and logs")
	if err := benchkit.Parse(fs, args); err != nil {
		return cfg, err
	}
	var err error
	if cfg.targets, err = benchkit.ParseList("targets", targets, allTargets); err != nil {
		return cfg, err
	}
	if cfg.workloads, err = benchkit.ParseList("workloads", workloads, allWorkloads); err != nil {
		return cfg, err
	}
	if cfg.seedClients == 0 {
		cfg.seedClients = cfg.clients
	}
	return cfg, cfg.validate()
}

func (c *config) validate() error {
	switch {
	case c.clients < 1 || c.seedClients < 1:
		return errors.New("--clients and --seed-clients must be at least 1")
	case c.duration <= 0 || c.warmup < 0:
		return errors.New("--duration must be positive and --warmup not negative")
	case c.runs < 1:
		return errors.New("--runs must be at least 1")
	case c.batchesPerRun < 1:
		return errors.New("--batches-per-run must be at least 1")
	}
	if err := benchkit.CheckOutput(c.output); err != nil {
		return err
	}
	return benchkit.AbsPaths(&c.mlshipBin, &c.mlflowPython)
}

func (c *config) wants(workload string) bool { return slices.Contains(c.workloads, workload) }

// run benchmarks every selected target in turn, prints the report and fails when a
// workload saw too many errors.
func run(ctx context.Context, cfg config, stdout io.Writer, logger *log.Logger) error {
	client := newHTTPClient(max(cfg.clients, cfg.seedClients))
	rep := newReport(ctx, cfg)
	logger.Printf("machine: %s", rep.Machine.Summary())
	for _, name := range cfg.targets {
		res, err := benchTarget(ctx, cfg, name, client, logger)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		rep.Targets = append(rep.Targets, res)
	}
	rep.Machine.LoadAvgEnd = benchkit.LoadAvg()
	rep.computeRatios()
	if err := rep.write(stdout, cfg.output); err != nil {
		return err
	}
	return rep.checkErrorRates(cfg.maxErrorRate)
}

// server is what benchkit needs to start the servers.
func (c config) server() benchkit.ServerConfig {
	return benchkit.ServerConfig{MlshipBin: c.mlshipBin, MlflowPython: c.mlflowPython,
		StartupTimeout: c.startupTimeout, KeepData: c.keepData}
}
