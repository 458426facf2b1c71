package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"github.com/mlship/mlship/bench/internal/benchkit"
	"log"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// targetResult is everything measured against one server.
type targetResult struct {
	Name      string           `json:"name"`
	Seed      *seedResult      `json:"seed,omitempty"`
	Workloads []workloadResult `json:"workloads"`
}

// targetBench drives the workloads against one running server.
type targetBench struct {
	cfg       config
	name      string
	api       *api
	log       *log.Logger
	searchExp string // experiment holding cfg.searchRuns seeded runs
	pids      []int  // the server's processes (one per replica), whose CPU time each window reads
	clients   int    // concurrent clients of the window being measured
	// experiments counts the experiments created, to name each one apart.
	experiments int
}

// benchTargets starts the named servers, seeds each, measures every selected workload
// on each and stops them. Several servers run at once and their windows alternate
// (mlship with and without --auth): what else the machine does then falls on both
// alike, and their ratio is read from windows measured seconds apart.
func benchTargets(ctx context.Context, cfg config, names []string, client *http.Client, logger *log.Logger) ([]targetResult, error) {
	tbs := make([]*targetBench, len(names))
	results := make([]targetResult, len(names))
	for i, name := range names {
		tb, cleanup, err := startTarget(ctx, cfg, name, client, logger)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		defer cleanup()
		tbs[i], results[i] = tb, targetResult{Name: name}
	}
	for i, tb := range tbs {
		if cfg.wants("search_runs") {
			tb.clients = cfg.seedClients
			seed, err := tb.seed(ctx)
			if err != nil {
				return nil, fmt.Errorf("%s: seeding: %w", tb.name, err)
			}
			results[i].Seed = &seed
		}
	}
	// The runs go round every workload and client count in turn, so that what else the
	// machine does at one moment does not fall on one figure alone. Each window starts
	// on fresh connections: which of MLflow's workers a keep-alive connection lands on
	// decides whether its connection pool deadlocks, so the runs draw that anew.
	windows := map[[3]int][]workloadResult{}
	for i := range cfg.repeats {
		for ci, clients := range cfg.clientCounts {
			for wi, w := range cfg.workloads {
				for k := range tbs {
					// Odd runs go the other way round, so that what one server's window
					// leaves behind (a checkpoint, dirty pages written back) does not
					// always fall on the same neighbour.
					ti := k
					if i%2 == 1 {
						ti = len(tbs) - 1 - k
					}
					tb := tbs[ti]
					client.CloseIdleConnections()
					tb.clients = clients
					r, err := tb.run(ctx, w)
					if err != nil {
						return nil, fmt.Errorf("%s: %s, %d clients: %w", tb.name, w, clients, err)
					}
					logger.Printf("%s %s, %d clients, run %d of %d: %.1f req/s, %d errors, p50 %.1f ms, p99 %.1f ms, CPU per success: server %.2f ms, database %.2f ms",
						tb.name, w, clients, i+1, cfg.repeats, r.ReqPerSec, r.Errors, r.LatencyMs.P50, r.LatencyMs.P99,
						1000*r.ServerCPUSeconds/float64(max(r.Successes, 1)), 1000*r.DatabaseCPUSeconds/float64(max(r.Successes, 1)))
					windows[[3]int{ti, wi, ci}] = append(windows[[3]int{ti, wi, ci}], r)
				}
			}
		}
	}
	for ti := range tbs {
		for wi := range cfg.workloads {
			for ci, clients := range cfg.clientCounts {
				results[ti].Workloads = append(results[ti].Workloads, medianWindow(windows[[3]int{ti, wi, ci}], clients))
			}
		}
	}
	return results, nil
}

// startTarget starts one target and returns what drives it and what stops it:
// mlship+auth is mlship with --auth, its clients signed in with an ordinary user's
// token; mlship-xN is N mlship servers on one database and one artifacts folder.
func startTarget(ctx context.Context, cfg config, name string, client *http.Client, logger *log.Logger) (*targetBench, func(), error) {
	logger.Printf("%s: starting server", name)
	scfg, server, adminPassword, replicas := cfg.server(), name, "", 1
	switch {
	case name == targetMlshipAuth:
		adminPassword = rand.Text()
		scfg.MlshipArgs = []string{"--auth"}
		scfg.MlshipEnv = []string{"MLSHIP_ADMIN_PASSWORD=" + adminPassword}
		server = benchkit.Mlship
	case strings.HasPrefix(name, targetMlship+"-x"):
		replicas, server = cfg.replicas, benchkit.Mlship
	}
	var cleanups []func()
	cleanup := func() {
		for _, f := range slices.Backward(cleanups) {
			f()
		}
	}
	if cfg.pg != nil {
		uri, err := cfg.pg.createDatabase(ctx, name)
		if err != nil {
			return nil, nil, err
		}
		if server == benchkit.MLflow {
			scfg.MlflowBackendStoreURI = sqlalchemyURI(uri)
		} else {
			scfg.MlshipArgs = append(scfg.MlshipArgs, "--backend-store-uri", uri)
		}
		logger.Printf("%s: on PostgreSQL database %s", name, uri)
	}
	if replicas > 1 {
		// One artifacts folder for all, as replicas share a bucket or a shared volume.
		shared, err := os.MkdirTemp("", "mlship-bench-artifacts-")
		if err != nil {
			return nil, nil, err
		}
		cleanups = append(cleanups, func() {
			if !cfg.keepData {
				os.RemoveAll(shared)
			}
		})
		scfg.MlshipArgs = append(scfg.MlshipArgs, "--artifacts-destination", shared)
	}
	tb := &targetBench{cfg: cfg, name: name, api: &api{client: client}, log: logger}
	// One after the other: the first applies the migrations to the empty database.
	for i := range replicas {
		srv, err := benchkit.StartServer(ctx, scfg, server, client, logger)
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		cleanups = append(cleanups, func() { srv.Cleanup(cfg.keepData, logger) })
		logger.Printf("%s: healthy at %s (data in %s)", name, srv.BaseURL, srv.Dir)
		tb.pids = append(tb.pids, srv.PID())
		if i == 0 {
			tb.api.base = srv.BaseURL
		}
		if replicas > 1 {
			tb.api.replicas = append(tb.api.replicas, srv.BaseURL)
		}
	}
	if adminPassword != "" {
		token, err := userToken(ctx, client, tb.api.base, adminPassword)
		if err != nil {
			cleanup()
			return nil, nil, fmt.Errorf("sign in: %w", err)
		}
		tb.api.authorization = "Bearer " + token
	}
	return tb, cleanup, nil
}

// run warms up and then measures one workload.
func (tb *targetBench) run(ctx context.Context, workload string) (workloadResult, error) {
	if workload == "log_batch" {
		return tb.runLogBatch(ctx)
	}
	steps, err := tb.steps(ctx, workload)
	if err != nil {
		return workloadResult{}, err
	}
	tb.log.Printf("%s %s: warm-up %s, then %s with %d clients", tb.name, workload, tb.cfg.warmup, tb.cfg.duration, tb.clients)
	measure(ctx, steps, tb.cfg.warmup)
	r := tb.measure(ctx, steps)
	r.Name = workload
	return r, ctx.Err()
}

// measure measures one window and the CPU time the server spent in it, which the
// machine's other load changes far less than the window's rate.
func (tb *targetBench) measure(ctx context.Context, steps []step) workloadResult {
	db := tb.cfg.pg.pid()
	cpu, dbCPU, self := benchkit.TreeCPU(tb.pids...), benchkit.TreeCPU(db), benchkit.ProcessCPU(os.Getpid())
	r := measure(ctx, steps, tb.cfg.duration)
	r.ServerCPUSeconds = benchkit.TreeCPU(tb.pids...) - cpu
	r.ClientCPUSeconds = benchkit.ProcessCPU(os.Getpid()) - self
	if db > 0 {
		r.DatabaseCPUSeconds = benchkit.TreeCPU(db) - dbCPU
	}
	return r
}

// steps builds one step per client for runs_create or search_runs.
func (tb *targetBench) steps(ctx context.Context, workload string) ([]step, error) {
	var s step
	switch workload {
	case "runs_create":
		exp, err := tb.newExperiment(ctx, "bench-runs-create")
		if err != nil {
			return nil, err
		}
		s = func(ctx context.Context) error { _, err := tb.api.createRun(ctx, exp); return err }
	case "search_runs":
		s = func(ctx context.Context) error { return tb.api.searchRuns(ctx, tb.searchExp) }
	default:
		return nil, fmt.Errorf("unknown workload %q", workload)
	}
	steps := make([]step, tb.clients)
	for i := range steps {
		steps[i] = s
	}
	return steps, nil
}

// runLogBatch measures log_batch. Each client logs to runs of its own and moves to a
// fresh run every cfg.batchesPerRun requests, so that a run's params stay few (MLflow
// reads all of a run's params on each log-batch). Runs are created outside the timed
// windows: one per client before the warm-up, and as many as the measured window needs
// at the warm-up's rate after it; runs created inside the window anyway are reported as
// inline_run_creates.
func (tb *targetBench) runLogBatch(ctx context.Context) (workloadResult, error) {
	exp, err := tb.newExperiment(ctx, "bench-log-batch")
	if err != nil {
		return workloadResult{}, err
	}
	clients := make([]*logBatchClient, tb.clients)
	steps := make([]step, len(clients))
	for i := range clients {
		clients[i] = &logBatchClient{api: tb.api, exp: exp, perRun: tb.cfg.batchesPerRun}
		steps[i] = clients[i].step
	}
	if err := tb.fillRunPools(ctx, clients, 1); err != nil {
		return workloadResult{}, err
	}
	tb.log.Printf("%s log_batch: warm-up %s, then %s with %d clients", tb.name, tb.cfg.warmup, tb.cfg.duration, tb.clients)
	warm := measure(ctx, steps, tb.cfg.warmup)
	if err := tb.fillRunPools(ctx, clients, tb.runsPerClient(warm.ReqPerSec)); err != nil {
		return workloadResult{}, err
	}
	for _, c := range clients {
		c.inline = 0
	}
	r := tb.measure(ctx, steps)
	r.Name = "log_batch"
	for _, c := range clients {
		r.InlineRunCreates += c.inline
	}
	return r, ctx.Err()
}

// runsPerClient is how many runs a client needs for a measured window at 1.5 times
// the given rate of log_batch requests per second, over all clients.
func (tb *targetBench) runsPerClient(rate float64) int {
	batches := rate * tb.cfg.duration.Seconds() * 1.5 / float64(tb.clients)
	return int(math.Ceil(batches/float64(tb.cfg.batchesPerRun))) + 1
}

// fillRunPools creates perClient fresh runs for each client, replacing its pool.
func (tb *targetBench) fillRunPools(ctx context.Context, clients []*logBatchClient, perClient int) error {
	runs := make([]string, perClient*len(clients))
	start := time.Now()
	var retries atomic.Int64
	err := parallel(ctx, len(runs), tb.clients, func(ctx context.Context, i int) error {
		return retry(ctx, &retries, func() (err error) {
			runs[i], err = tb.api.createRun(ctx, clients[0].exp)
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("creating runs for log_batch: %w", err)
	}
	for i, c := range clients {
		c.pool = runs[i*perClient : (i+1)*perClient]
	}
	tb.log.Printf("%s log_batch: created %d runs (%d per client) in %.1fs with %d retries, not measured",
		tb.name, len(runs), perClient, time.Since(start).Seconds(), retries.Load())
	return nil
}

// logBatchClient is one client's state; only its own goroutine touches it.
type logBatchClient struct {
	api    *api
	exp    string
	perRun int
	pool   []string // runs created ahead of time
	run    string
	sent   int // batches sent to run
	inline int // runs created inside a measured window
}

func (c *logBatchClient) step(ctx context.Context) error {
	if c.run == "" || c.sent == c.perRun {
		if err := c.nextRun(ctx); err != nil {
			return err
		}
	}
	c.sent++
	return c.api.logBatch(ctx, c.run, "_"+strconv.Itoa(c.sent))
}

func (c *logBatchClient) nextRun(ctx context.Context) error {
	c.sent = 0
	if n := len(c.pool); n > 0 {
		c.run, c.pool = c.pool[n-1], c.pool[:n-1]
		return nil
	}
	c.inline++
	var err error
	c.run, err = c.api.createRun(ctx, c.exp)
	return err
}

// newExperiment creates an experiment for a workload. Like all set-up requests it is
// retried, since MLflow can fail a request with 400 when overloaded.
func (tb *targetBench) newExperiment(ctx context.Context, name string) (id string, err error) {
	// Every window has an experiment of its own, and experiment names are unique.
	tb.experiments++
	name += "-" + strconv.Itoa(tb.experiments)
	err = retry(ctx, new(atomic.Int64), func() error {
		id, err = tb.api.createExperiment(ctx, name)
		return err
	})
	return id, err
}
