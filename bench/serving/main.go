// Command serving benchmarks model serving: `mlship serve` side by side with MLflow's
// scoring server (`mlflow models serve`) and MLServer (`mlserver` with `mlserver-mlflow`),
// all serving the same scikit-learn model in the same run.
//
// It builds the model with make_model.py (a GradientBoostingClassifier with 100 trees on
// 20 features, saved with mlflow.sklearn, and the same fit exported to ONNX), starts each
// server in turn as a subprocess on free loopback ports, checks that it answers what
// scikit-learn predicts, and then drives it with a closed loop of concurrent clients, each
// sending one-row requests back to back over keep-alive connections: a warm-up, then a
// measured window. Every server is measured on each protocol it speaks of the two that
// mlship serves: MLflow's /invocations and Open Inference Protocol v2 JSON.
//
// The servers listen on 127.0.0.1 only, run one at a time, and are stopped with their
// whole process group when the run ends, fails or is interrupted.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mlship/mlship/bench/internal/benchkit"
)

// The servers a run can start, in the order they run.
const (
	serverMLflow   = "mlflow"
	serverMLServer = "mlserver"
	serverMlship   = "mlship"
)

var allServers = []string{serverMLflow, serverMLServer, serverMlship}

type config struct {
	only           []string
	onnx           bool
	likeForLike    bool
	ceiling        time.Duration
	runs           int
	concurrency    int
	duration       time.Duration
	warmup         time.Duration
	timeout        time.Duration
	workers        int
	mlshipBin      string
	mlshipArgs     []string
	benchPython    string
	mlserverPython string
	modelName      string
	modelDir       string
	startupTimeout time.Duration
	maxErrorRate   float64
	output         string
	keep           bool
}

func main() { benchkit.Main("serving", parseFlags, run) }

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	var only, mlshipArgs string
	fs := benchkit.NewFlagSet("serving",
		"Serves one scikit-learn model with mlflow models serve, MLServer and mlship serve, one after\n"+
			"the other on free loopback ports, and measures requests/s and latency of one-row requests\n"+
			"under concurrent clients. See bench/README.md.",
		stderr)
	fs.StringVar(&only, "only", strings.Join(allServers, ","), "comma-separated servers to benchmark: "+strings.Join(allServers, ","))
	fs.BoolVar(&cfg.onnx, "onnx", false, "also serve the ONNX export of the model with mlship's native runtime (serve --runtime onnx)")
	fs.BoolVar(&cfg.likeForLike, "like-for-like", true, "also serve the python runtime as the Python servers run by default: --workers 1 (or --workers N) --max-batch-size 1")
	fs.DurationVar(&cfg.ceiling, "ceiling", 5*time.Second, "before the servers, time scikit-learn's predict of the measured row in a loop, with no server, for this long: the most a server with one worker and batches of one can answer (0: not measured)")
	fs.IntVar(&cfg.runs, "runs", 3, "measured windows per server and protocol; the report gives the median run's figures and every run's req/s")
	fs.IntVar(&cfg.concurrency, "concurrency", 32, "concurrent clients, each sending its next request when the last one is answered")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "measured window of each run")
	fs.DurationVar(&cfg.warmup, "warmup", 3*time.Second, "unmeasured load before each measured window")
	fs.DurationVar(&cfg.timeout, "timeout", 30*time.Second, "timeout of one request")
	fs.IntVar(&cfg.workers, "workers", 0, "workers of the Python servers: mlflow models serve --workers, MLServer parallel_workers (0: each server's own default, 1 for both)")
	fs.StringVar(&cfg.mlshipBin, "mlship-bin", "bin/mlship", "mlship `binary`, started as: BIN serve MODEL_DIR --host 127.0.0.1 --port P --runtime python|onnx [ARGS]")
	fs.StringVar(&mlshipArgs, "mlship-args", "", "extra `args` for mlship serve, split on spaces (e.g. \"--workers 2 --max-batch-size 32 --max-batch-delay 2ms\")")
	fs.StringVar(&cfg.benchPython, "bench-python", ".venv-bench/bin/python", "`python` with mlflow, scikit-learn and skl2onnx (bench/setup.sh): builds the model, runs `mlflow models serve` and mlship's Python workers")
	fs.StringVar(&cfg.mlserverPython, "mlserver-python", ".venv-mlserver/bin/python", "`python` with mlserver and mlserver-mlflow (bench/setup.sh)")
	fs.StringVar(&cfg.modelName, "model-name", "", "model name over OIP v2 (default: the model directory's base name, gbc)")
	fs.StringVar(&cfg.modelDir, "model-dir", "", "use the models and expected.json that make_model.py wrote to this `dir` instead of building them")
	fs.DurationVar(&cfg.startupTimeout, "startup-timeout", 3*time.Minute, "how long a server may take to become ready")
	fs.Float64Var(&cfg.maxErrorRate, "max-error-rate", 0.01, "exit non-zero when a measurement's share of failed requests is above this")
	benchkit.OutputFlag(fs, &cfg.output)
	fs.BoolVar(&cfg.keep, "keep", false, "keep the work directory (model, server logs) afterwards")
	if err := benchkit.Parse(fs, args); err != nil {
		return cfg, err
	}
	var err error
	if cfg.only, err = benchkit.ParseList("only", only, allServers); err != nil {
		return cfg, err
	}
	cfg.mlshipArgs = strings.Fields(mlshipArgs)
	return cfg, cfg.validate()
}

func (c *config) validate() error {
	switch {
	case c.concurrency < 1 || c.runs < 1:
		return errors.New("--concurrency and --runs must be at least 1")
	case c.duration <= 0 || c.warmup < 0 || c.timeout <= 0:
		return errors.New("--duration and --timeout must be positive and --warmup not negative")
	case c.workers < 0:
		return errors.New("--workers must not be negative")
	case c.onnx && !c.wants(serverMlship):
		return errors.New("--onnx measures mlship's native runtime: keep mlship in --only")
	}
	if err := benchkit.CheckOutput(c.output); err != nil {
		return err
	}
	return benchkit.AbsPaths(&c.mlshipBin, &c.benchPython, &c.mlserverPython, &c.modelDir)
}

func (c *config) wants(server string) bool { return slices.Contains(c.only, server) }

// run prepares the model, measures every selected server in turn and prints the report.
// It fails, after printing, when a measurement saw too many errors or a wrong answer,
// or a server could not be measured.
func run(ctx context.Context, cfg config, stdout io.Writer, logger *log.Logger) error {
	if err := checkTools(ctx, cfg); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "mlship-bench-serving-")
	if err != nil {
		return err
	}
	defer removeWork(work, cfg.keep, logger)
	m, err := prepareModel(ctx, cfg, work, logger)
	if err != nil {
		return err
	}
	rep := newReport(ctx, cfg, m)
	logger.Printf("machine: %s; load %s", rep.Machine.Summary(), rep.Machine.LoadAvgStart)
	var failed []error
	if cfg.ceiling > 0 {
		logger.Printf("scikit-learn's predict alone, no server, for %s", cfg.ceiling)
		if rep.Ceiling, err = measureCeiling(ctx, cfg, m, work, cfg.ceiling); err != nil {
			failed = append(failed, err)
			rep.Failures = append(rep.Failures, "the ceiling (scikit-learn alone): "+firstLine(err.Error()))
		}
	}
	// A server that fails to start or answers wrongly is not timed, and fails the run;
	// the others are still measured and reported.
	for _, t := range targets(cfg, m) {
		rows, err := benchTarget(ctx, cfg, t, work, logger)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			logger.Printf("%s FAILED: %v", t.label(), err)
			failed = append(failed, fmt.Errorf("%s: %w", t.label(), err))
			rep.Failures = append(rep.Failures, t.label()+": "+firstLine(err.Error()))
			continue
		}
		rep.addTarget(t, rows)
	}
	rep.finish()
	if err := rep.write(stdout, cfg.output); err != nil {
		return err
	}
	return errors.Join(append(failed, rep.checkErrorRates(cfg.maxErrorRate))...)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func removeWork(dir string, keep bool, logger *log.Logger) {
	if keep {
		logger.Printf("kept the model and server logs in %s", dir)
		return
	}
	if err := os.RemoveAll(dir); err != nil {
		logger.Printf("remove %s: %v", dir, err)
	}
}
