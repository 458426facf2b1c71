// Command gates benchmarks a model evaluation on a benchmark dataset: mlship's
// `mlship gate evaluate` (the version runs on mlship's native ONNX runtime, as a
// background job of the server) against mlflow.evaluate on the same model and the same
// data, in rows per second, with a check that both compute the same metrics.
//
// Everything runs on this machine, one tool at a time: the mlship server on a free
// 127.0.0.1 port with a temporary data directory, which is also the tracking server
// the MLflow client logs the model and mlflow.evaluate's runs to. The files are written
// into a temporary directory that is removed at the end (unless --keep). The run exits
// non-zero when a step fails or the two disagree on a metric.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"path/filepath"
	"time"

	"github.com/mlship/mlship/bench/internal/benchkit"
)

type config struct {
	rows           int64
	mlshipBin      string
	mlflowPython   string
	workDir        string
	stepTimeout    time.Duration
	startupTimeout time.Duration
	tolerance      float64
	output         string
	keep           bool
}

func main() { benchkit.Main("gates", parseFlags, run) }

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := benchkit.NewFlagSet("gates",
		"Generates a --rows benchmark CSV (20 numeric features, a 0/1 target), logs an ONNX classifier\n"+
			"to a local mlship server with the MLflow client, and times `mlship gate evaluate` against\n"+
			"mlflow.evaluate on the same model and data. See bench/README.md.",
		stderr)
	fs.Int64Var(&cfg.rows, "rows", 1_000_000, "rows of the benchmark dataset")
	fs.StringVar(&cfg.mlshipBin, "mlship-bin", "bin/mlship", "mlship `binary`: the server (BIN server --host 127.0.0.1 --port P --data-dir DIR) and the client commands")
	fs.StringVar(&cfg.mlflowPython, "mlflow-python", ".venv-bench/bin/python", "`python` with mlflow, onnxruntime, skl2onnx and scikit-learn (bash bench/setup.sh bench)")
	fs.StringVar(&cfg.workDir, "work-dir", "", "`dir` to create the temporary directory in (default: $TMPDIR or /tmp)")
	fs.DurationVar(&cfg.stepTimeout, "step-timeout", 30*time.Minute, "longest any one step (an evaluation, a model fit) may take")
	fs.DurationVar(&cfg.startupTimeout, "startup-timeout", time.Minute, "how long the mlship server may take to answer /health")
	fs.Float64Var(&cfg.tolerance, "tolerance", 1e-6, "largest absolute difference allowed between the two tools' metrics")
	benchkit.OutputFlag(fs, &cfg.output)
	fs.BoolVar(&cfg.keep, "keep", false, "keep the generated files, the server's data directory and the tools' output")
	if err := benchkit.Parse(fs, args); err != nil {
		return cfg, err
	}
	return cfg, cfg.validate()
}

func (c *config) validate() error {
	switch {
	case c.rows < 2:
		return errors.New("--rows must be at least 2")
	case c.stepTimeout <= 0 || c.startupTimeout <= 0:
		return errors.New("--step-timeout and --startup-timeout must be positive")
	case c.tolerance < 0:
		return errors.New("--tolerance must not be negative")
	}
	if err := benchkit.CheckOutput(c.output); err != nil {
		return err
	}
	return benchkit.AbsPaths(&c.mlshipBin, &c.mlflowPython)
}

func (c config) server() benchkit.ServerConfig {
	return benchkit.ServerConfig{MlshipBin: c.mlshipBin, StartupTimeout: c.startupTimeout, KeepData: c.keep}
}

// checkTools fails early, before writing the files, when a tool is missing.
func checkTools(cfg config) error {
	return benchkit.CheckTools(
		benchkit.Tool{Path: cfg.mlshipBin, Hint: "go build -o bin/mlship ./cmd/mlship"},
		benchkit.Tool{Path: cfg.mlflowPython, Hint: "bash bench/setup.sh bench"})
}

// run measures both tools and prints the report. It fails, after printing, when
// their metrics disagree.
func run(ctx context.Context, cfg config, stdout io.Writer, logger *log.Logger) error {
	if err := checkTools(cfg); err != nil {
		return err
	}
	work, removeWork, err := benchkit.WorkDir(cfg.workDir, "gates", cfg.keep, logger)
	if err != nil {
		return err
	}
	defer removeWork()
	rep := newReport(ctx, cfg)
	logger.Printf("machine: %s; load %s; work dir %s", rep.Machine.Summary(), rep.Machine.LoadAvgStart, work)
	if err := measure(ctx, cfg, work, rep, logger); err != nil {
		return err
	}
	rep.Machine.LoadAvgEnd = benchkit.LoadAvg()
	rep.Check = compareMetrics(rep.Mlship.Metrics, rep.MLflow, cfg.tolerance)
	if err := rep.write(stdout, cfg.output); err != nil {
		return err
	}
	return rep.Check.err()
}

// measure writes the files, starts the server, logs the model and times both tools:
// mlship first, then mlflow.evaluate with each evaluator config.
func measure(ctx context.Context, cfg config, work string, rep *report, logger *log.Logger) error {
	files, err := generateFiles(cfg, work, logger)
	if err != nil {
		return err
	}
	rep.Files = *files
	s, err := benchkit.StartMlship(ctx, cfg.server(), logger)
	if err != nil {
		return err
	}
	defer s.Cleanup(cfg.keep, logger)
	py := &mlflowRunner{python: cfg.mlflowPython, work: work, trackingURI: s.BaseURL, timeout: cfg.stepTimeout}
	logger.Printf("mlflow: fit a GradientBoostingClassifier on %d rows, convert it with skl2onnx, log it with mlflow.onnx.log_model", trainRows)
	if rep.Model, err = py.logModel(ctx, files.Train, modelName); err != nil {
		return fmt.Errorf("log the model: %w", err)
	}
	if rep.Mlship, err = benchMlship(ctx, cfg, s, files, rep.Model.Version, logger); err != nil {
		return fmt.Errorf("mlship: %w", err)
	}
	for _, c := range evaluatorConfigs {
		logger.Printf("python: pandas.read_csv, then %s", (&mlflowResult{Config: c}).label())
		r, err := py.evaluate(ctx, files.Bench, rep.Model.ModelURI, c)
		if err != nil {
			return fmt.Errorf("%s: %w", (&mlflowResult{Config: c}).label(), err)
		}
		rep.MLflow = append(rep.MLflow, r)
	}
	return nil
}

// files are the generated CSV files.
type files struct {
	Train      string  `json:"train"`
	Bench      string  `json:"benchmark"`
	TrainBytes int64   `json:"train_bytes"`
	BenchBytes int64   `json:"benchmark_bytes"`
	Rows       int64   `json:"rows"`
	GenerateS  float64 `json:"generate_seconds"`
}

func generateFiles(cfg config, work string, logger *log.Logger) (*files, error) {
	f := &files{Train: filepath.Join(work, "train.csv"), Bench: filepath.Join(work, "benchmark.csv"), Rows: cfg.rows}
	logger.Printf("writing %s (%d rows) and %s (%d rows)", f.Train, trainRows, f.Bench, cfg.rows)
	t0 := time.Now()
	var err error
	if f.TrainBytes, err = writeFile(f.Train, seedTrain, trainRows); err != nil {
		return nil, err
	}
	if f.BenchBytes, err = writeFile(f.Bench, seedBench, cfg.rows); err != nil {
		return nil, err
	}
	f.GenerateS = time.Since(t0).Seconds()
	return f, nil
}
