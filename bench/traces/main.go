// Command traces benchmarks mlship's trace ingest and trace search side by side with
// MLflow's own tracking server.
//
// It starts each server itself, one at a time, as a subprocess on a free loopback
// port with a fresh temporary data directory and SQLite (benchkit), and measures:
//
//	ingest  OTLP/HTTP protobuf POSTs to /v1/traces (header x-mlflow-experiment-id) of
//	        --traces-per-request traces of --spans spans each, from --clients
//	        concurrent clients, in --runs windows: spans stored per second
//	search  POST /api/3.0/mlflow/traces/search as MLflow's Python client sends it
//	        (experiment location, a filter on the mlflow.traceName tag and on
//	        timestamp_ms, order_by timestamp_ms DESC, max_results 100) over an
//	        experiment seeded with --search-traces traces through /v1/traces:
//	        median and p95 latency of --searches searches from one client
//
// The same Go client drives both servers; ratios are mlship's over MLflow's.
package main

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mlship/mlship/bench/internal/benchkit"
)

var allTargets = []string{benchkit.MLflow, benchkit.Mlship}

type config struct {
	mlshipBin        string
	mlflowPython     string
	targets          []string
	clients          int
	spans            int // spans per trace, ingest
	tracesPerRequest int
	runs             int
	duration         time.Duration
	warmup           time.Duration
	searchTraces     int
	seedClients      int
	seedBatch        int // traces per seeding request
	searches         int
	startupTimeout   time.Duration
	output           string
	keepData         bool
}

func main() { benchkit.Main("traces", parseFlags, run) }

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	var targets string
	fs := benchkit.NewFlagSet("traces",
		"Starts mlship and MLflow's `mlflow server` (default workers, SQLite) one after the other on\n"+
			"free loopback ports and measures OTLP span ingest (spans/s) and trace search latency over\n"+
			"an experiment of --search-traces traces. See bench/README.md.",
		stderr)
	fs.StringVar(&cfg.mlshipBin, "mlship-bin", "bin/mlship", "mlship `binary`, started as: BIN server --host 127.0.0.1 --port P --data-dir DIR")
	fs.StringVar(&cfg.mlflowPython, "mlflow-python", ".venv-bench/bin/python", "`python` with mlflow installed (see bench/setup.sh)")
	fs.StringVar(&targets, "targets", strings.Join(allTargets, ","), "comma-separated servers to benchmark: "+strings.Join(allTargets, ","))
	fs.IntVar(&cfg.clients, "clients", 4, "concurrent ingest clients")
	fs.IntVar(&cfg.spans, "spans", 10, "spans per ingested trace (a root and its children)")
	fs.IntVar(&cfg.tracesPerRequest, "traces-per-request", 100, "traces in one ingest request")
	fs.IntVar(&cfg.runs, "runs", 3, "measured ingest windows; the report gives their median spans/s")
	fs.DurationVar(&cfg.duration, "duration", 15*time.Second, "measured duration of each ingest window")
	fs.DurationVar(&cfg.warmup, "warmup", 10*time.Second, "unmeasured warm-up before each ingest window (MLflow's workers answer their first OTLP requests slowly)")
	fs.IntVar(&cfg.searchTraces, "search-traces", 100000, "traces seeded (through /v1/traces) into the experiment that is searched")
	fs.IntVar(&cfg.seedClients, "seed-clients", 4, "concurrent clients seeding the searched experiment")
	fs.IntVar(&cfg.seedBatch, "seed-batch", 500, "traces (of 2 spans) in one seeding request")
	fs.IntVar(&cfg.searches, "searches", 100, "measured searches, one at a time, after 10 unmeasured ones")
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
	return cfg, cfg.validate()
}

func (c *config) validate() error {
	switch {
	case c.clients < 1 || c.seedClients < 1:
		return errors.New("--clients and --seed-clients must be at least 1")
	case c.spans < 1 || c.tracesPerRequest < 1 || c.seedBatch < 1:
		return errors.New("--spans, --traces-per-request and --seed-batch must be at least 1")
	case c.runs < 1 || c.searches < 1:
		return errors.New("--runs and --searches must be at least 1")
	case c.duration <= 0 || c.warmup < 0:
		return errors.New("--duration must be positive and --warmup not negative")
	case c.searchTraces < 4000:
		return errors.New("--search-traces must be at least 4,000 (a search asks for a page of 100 of the traces of one name, a tenth of them, started after a cut at least a quarter of the way through)")
	}
	if err := benchkit.CheckOutput(c.output); err != nil {
		return err
	}
	return benchkit.AbsPaths(&c.mlshipBin, &c.mlflowPython)
}

func (c config) server() benchkit.ServerConfig {
	return benchkit.ServerConfig{MlshipBin: c.mlshipBin, MlflowPython: c.mlflowPython,
		StartupTimeout: c.startupTimeout, KeepData: c.keepData}
}

func newHTTPClient(conns int) *http.Client {
	return &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{
		Proxy: nil, MaxIdleConns: 2 * conns, MaxIdleConnsPerHost: 2 * conns, MaxConnsPerHost: 0}}
}

// run measures every selected target in turn and prints the report.
func run(ctx context.Context, cfg config, stdout io.Writer, logger *log.Logger) error {
	tools := []benchkit.Tool{}
	if slices.Contains(cfg.targets, benchkit.Mlship) {
		tools = append(tools, benchkit.Tool{Path: cfg.mlshipBin, Hint: "go build -o bin/mlship ./cmd/mlship"})
	}
	if slices.Contains(cfg.targets, benchkit.MLflow) {
		tools = append(tools, benchkit.Tool{Path: cfg.mlflowPython, Hint: "bash bench/setup.sh bench"})
	}
	if err := benchkit.CheckTools(tools...); err != nil {
		return err
	}
	client := newHTTPClient(max(cfg.clients, cfg.seedClients))
	rep := report{ReportHeader: benchkit.NewReportHeader(ctx, cfg.server(), cfg.targets), Config: reportConfig(cfg)}
	logger.Printf("machine: %s", rep.Machine.Summary())
	for _, target := range cfg.targets {
		res, err := benchTarget(ctx, cfg, target, client, logger)
		if err != nil {
			return err
		}
		rep.Targets = append(rep.Targets, res)
	}
	rep.Machine.LoadAvgEnd = benchkit.LoadAvg()
	rep.computeRatios()
	if cfg.output == "json" {
		return benchkit.WriteJSON(stdout, rep)
	}
	rep.writeText(stdout)
	return rep.check()
}

// benchTarget starts one server, measures ingest, seeds the searched experiment and
// measures search, then stops it.
func benchTarget(ctx context.Context, cfg config, target string, client *http.Client, logger *log.Logger) (targetResult, error) {
	res := targetResult{Name: target}
	srv, err := benchkit.StartServer(ctx, cfg.server(), target, client, logger)
	if err != nil {
		return res, err
	}
	defer srv.Cleanup(cfg.keepData, logger)
	api := &api{base: srv.BaseURL, client: client}
	logger.Printf("%s: started at %s", target, srv.BaseURL)

	exp, err := api.createExperiment(ctx, "bench-ingest")
	if err != nil {
		return res, err
	}
	for i := range cfg.runs {
		w, err := measureIngest(ctx, cfg, api, exp, srv.PID())
		if err != nil {
			return res, err
		}
		logger.Printf("%s: ingest window %d/%d: %.0f spans/s, %d of %d requests failed, p50 %.1f ms", target, i+1, cfg.runs,
			w.SpansPerSec, w.Errors, w.Requests, w.LatencyMs.P50)
		res.Ingest = append(res.Ingest, w)
	}

	searchExp, err := api.createExperiment(ctx, "bench-search")
	if err != nil {
		return res, err
	}
	seed, err := seedSearch(ctx, cfg, api, searchExp, srv.PID(), logger, target)
	if err != nil {
		return res, err
	}
	res.Seed = seed
	res.Search, err = measureSearch(ctx, cfg, api, searchExp, srv.PID(), seed.base)
	if err != nil {
		return res, err
	}
	logger.Printf("%s: search p50 %.1f ms, p95 %.1f ms", target, res.Search.LatencyMs.P50, res.Search.LatencyMs.P95)
	res.summarize()
	return res, nil
}
