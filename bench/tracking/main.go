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
// Each workload is measured --runs times at each --clients count, and reported as the
// median of its windows with the failed requests of all of them beside it. With
// --mlship-auth, mlship is measured a second time started with --auth, its clients
// signed in as a user (not an administrator) with an API token: both servers run at
// once, their windows alternate, and the two are printed side by side. Only 200
// responses count as successes. The run exits non-zero when a workload's error rate is
// above --max-error-rate. All traffic goes to 127.0.0.1.
//
// With --backend postgres both servers run on one PostgreSQL (a throwaway cluster that
// tests/pg/start.sh starts, or MLSHIP_TEST_POSTGRES_URI), each on a database of its own,
// and with --replicas N mlship is also measured as N servers on one database and one
// artifacts folder, the clients' requests going round-robin over them, beside mlship
// as one server.
package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/mlship/mlship/bench/internal/benchkit"
	"io"
	"log"
	"slices"
	"strconv"
	"strings"
	"time"
)

// replicaTarget names mlship run as n servers on one database: "mlship-x3".
func replicaTarget(n int) string { return targetMlship + "-x" + strconv.Itoa(n) }

// Names of the servers under test and of the workloads, in the order they run.
var (
	allTargets   = []string{targetMLflow, targetMlship}
	allWorkloads = []string{"log_batch", "runs_create", "search_runs"}
)

const (
	targetMLflow     = "mlflow"
	targetMlship     = "mlship"
	targetMlshipAuth = "mlship+auth" // mlship server --auth, clients sending a token
)

type config struct {
	mlshipBin      string
	mlflowPython   string
	targets        []string
	workloads      []string
	clientCounts   []int // each workload is measured at each of these
	seedClients    int
	duration       time.Duration
	warmup         time.Duration
	repeats        int // measured windows per workload and client count
	searchRuns     int
	batchesPerRun  int
	maxErrorRate   float64
	startupTimeout time.Duration
	output         string
	keepData       bool
	mlshipAuth     bool // also measure mlship with --auth
	backend        string
	replicas       int       // >1: also measure mlship as this many servers on one database
	pg             *postgres // the cluster of --backend postgres, once started
}

func main() { benchkit.Main("tracking", parseFlags, run) }

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	var targets, workloads, clients string
	fs := benchkit.NewFlagSet("tracking",
		"Starts mlship and MLflow's `mlflow server` (default workers, SQLite) one after the other on\n"+
			"free loopback ports and measures requests/s of log_batch, runs_create and search_runs with\n"+
			"concurrent clients. See bench/README.md.",
		stderr)
	fs.StringVar(&cfg.mlshipBin, "mlship-bin", "bin/mlship", "mlship `binary`, started as: BIN server --host 127.0.0.1 --port P --data-dir DIR")
	fs.StringVar(&cfg.mlflowPython, "mlflow-python", ".venv-bench/bin/python", "`python` with mlflow installed (see bench/setup.sh), started as: PYTHON -m mlflow server ...")
	fs.StringVar(&targets, "targets", strings.Join(allTargets, ","), "comma-separated servers to benchmark: "+strings.Join(allTargets, ","))
	fs.StringVar(&workloads, "workloads", strings.Join(allWorkloads, ","), "comma-separated workloads: "+strings.Join(allWorkloads, ","))
	fs.StringVar(&clients, "clients", "20,8", "comma-separated concurrent client counts, each workload measured at each: 20 as MLflow's k6 benchmarks;\n"+
		"8, where MLflow's connection pool cannot deadlock (see bench/README.md)")
	fs.IntVar(&cfg.seedClients, "seed-clients", 8, "concurrent clients seeding the search experiment")
	fs.IntVar(&cfg.repeats, "runs", 5, "measured windows of each workload at each client count; the report gives their median req/s")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "measured duration of each window")
	fs.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "unmeasured warm-up before each window")
	fs.IntVar(&cfg.searchRuns, "search-runs", 25000, "MLflow runs seeded into the experiment that search_runs searches")
	fs.IntVar(&cfg.batchesPerRun, "batches-per-run", 50, "log_batch requests sent to one run before a client moves to a fresh one")
	fs.Float64Var(&cfg.maxErrorRate, "max-error-rate", 0.01, "fail when a workload's share of non-200 responses is above this")
	fs.DurationVar(&cfg.startupTimeout, "startup-timeout", 2*time.Minute, "how long to wait for a server's /health")
	benchkit.OutputFlag(fs, &cfg.output)
	fs.BoolVar(&cfg.keepData, "keep-data", false, "keep the servers' temporary data directories and logs")
	fs.BoolVar(&cfg.mlshipAuth, "mlship-auth", false, "also measure mlship started with --auth (target "+targetMlshipAuth+"), its clients sending a user's API token,\n"+
		"and print it beside mlship without: the ratio is auth on over auth off")
	fs.StringVar(&cfg.backend, "backend", backendSQLite, "metadata store of both servers: sqlite (a file in each server's data directory) or postgres (a database\n"+
		"of each on one PostgreSQL: a throwaway cluster started with tests/pg/start.sh, or MLSHIP_TEST_POSTGRES_URI's)")
	fs.IntVar(&cfg.replicas, "replicas", 1, "with --backend postgres and N > 1, also measure mlship as N servers on one database and one artifacts\n"+
		"folder (target mlship-xN), requests going round-robin over them, beside mlship as one server")
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
	if cfg.clientCounts, err = parseCounts(clients); err != nil {
		return cfg, err
	}
	if cfg.mlshipAuth {
		if !slices.Contains(cfg.targets, targetMlship) {
			return cfg, errors.New("--mlship-auth compares mlship with and without --auth: include mlship in --targets")
		}
		cfg.targets = append(cfg.targets, targetMlshipAuth)
	}
	if cfg.replicas > 1 {
		if cfg.backend != backendPostgres {
			return cfg, errors.New("--replicas: replicas share a database, which needs --backend postgres")
		}
		if !slices.Contains(cfg.targets, targetMlship) {
			return cfg, errors.New("--replicas compares mlship on several servers with mlship on one: include mlship in --targets")
		}
		cfg.targets = append(cfg.targets, replicaTarget(cfg.replicas))
	}
	return cfg, cfg.validate()
}

func (c *config) validate() error {
	switch {
	case c.seedClients < 1:
		return errors.New("--seed-clients must be at least 1")
	case c.duration <= 0 || c.warmup < 0:
		return errors.New("--duration must be positive and --warmup not negative")
	case c.repeats < 1 || c.searchRuns < 1:
		return errors.New("--runs and --search-runs must be at least 1")
	case c.batchesPerRun < 1:
		return errors.New("--batches-per-run must be at least 1")
	case c.backend != backendSQLite && c.backend != backendPostgres:
		return fmt.Errorf("--backend: %q is neither %s nor %s", c.backend, backendSQLite, backendPostgres)
	case c.replicas < 1:
		return errors.New("--replicas must be at least 1")
	}
	if err := benchkit.CheckOutput(c.output); err != nil {
		return err
	}
	return benchkit.AbsPaths(&c.mlshipBin, &c.mlflowPython)
}

func (c *config) wants(workload string) bool { return slices.Contains(c.workloads, workload) }

// parseCounts reads --clients: distinct positive counts, in the order given.
func parseCounts(value string) ([]int, error) {
	var counts []int
	for f := range strings.SplitSeq(value, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--clients: %q is not a positive count", f)
		}
		if !slices.Contains(counts, n) {
			counts = append(counts, n)
		}
	}
	if len(counts) == 0 {
		return nil, errors.New("--clients: no count given")
	}
	return counts, nil
}

// run benchmarks every selected target in turn, prints the report and fails when a
// workload saw too many errors.
func run(ctx context.Context, cfg config, stdout io.Writer, logger *log.Logger) error {
	client := newHTTPClient(max(slices.Max(cfg.clientCounts), cfg.seedClients) * cfg.replicas)
	if cfg.backend == backendPostgres {
		pg, err := startPostgres(ctx, logger)
		if err != nil {
			return err
		}
		defer pg.stop()
		cfg.pg = pg
	}
	rep := newReport(ctx, cfg)
	if cfg.pg != nil {
		rep.Machine.Backend = "PostgreSQL " + cfg.pg.version
	}
	logger.Printf("machine: %s", rep.Machine.Summary())
	for _, group := range targetGroups(cfg.targets) {
		res, err := benchTargets(ctx, cfg, group, client, logger)
		if err != nil {
			return err
		}
		rep.Targets = append(rep.Targets, res...)
	}
	rep.Machine.LoadAvgEnd = benchkit.LoadAvg()
	rep.computeRatios()
	if err := rep.write(stdout, cfg.output); err != nil {
		return err
	}
	return rep.checkErrorRates(cfg.maxErrorRate)
}

// targetGroups are the targets measured together: mlship with and without --auth, or
// on one server and on several, their windows alternating (the idle one costs the
// measured one next to nothing); MLflow alone.
func targetGroups(targets []string) [][]string {
	var groups [][]string
	mlship := -1
	for _, t := range targets {
		switch {
		case t == targetMLflow:
			groups = append(groups, []string{t})
		case mlship < 0:
			mlship = len(groups)
			groups = append(groups, []string{t})
		default:
			groups[mlship] = append(groups[mlship], t)
		}
	}
	return groups
}

// server is what benchkit needs to start the servers.
func (c config) server() benchkit.ServerConfig {
	return benchkit.ServerConfig{MlshipBin: c.mlshipBin, MlflowPython: c.mlflowPython,
		StartupTimeout: c.startupTimeout, KeepData: c.keepData}
}
