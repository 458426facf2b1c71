// Command drift benchmarks mlship's datasets and drift side by side with the Python
// tools people use for the same jobs (the "Measure" section of issue 6):
//
//	drift     the profile and drift report of two generated CSV files (1,000,000 rows
//	          by 50 numeric and categorical columns each, the second shifted in known
//	          columns): mlship's server registering both files and comparing them,
//	          against Evidently's DataDriftPreset on the same files loaded with
//	          pandas; times, CPU and peak memory of both, the in-process figures of
//	          mlship's packages on the same files, and a check that both tools find
//	          the same drifted columns
//	register  a 2 GiB CSV file registered with `mlship data add` against `dvc add` of
//	          the same file, in GB/s
//
// Everything runs on this machine: the mlship server on a free 127.0.0.1 port with a
// temporary data directory, one tool at a time. The files are written into a
// temporary directory that is removed at the end (unless --keep). The run exits
// non-zero when a step fails or the two tools disagree on which columns drifted.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/mlship/mlship/bench/internal/benchkit"
)

// The parts a run can measure.
const (
	partDrift    = "drift"
	partRegister = "register"
)

var allParts = []string{partDrift, partRegister}

type config struct {
	only            []string
	rows            int64
	cols            int
	regSize         int64
	regRuns         int
	mlshipBin       string
	evidentlyPython string
	dvc             string
	workDir         string
	cpuProfileDir   string
	stepTimeout     time.Duration
	startupTimeout  time.Duration
	output          string
	keep            bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == inprocessArg {
		if err := inprocessMain(os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "drift (in process):", err)
			os.Exit(1)
		}
		return
	}
	benchkit.Main("drift", parseFlags, run)
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := config{regSize: 2 << 30}
	var only string
	fs := benchkit.NewFlagSet("drift",
		"Generates a reference and a current CSV file (--rows x --cols, known columns shifted) and\n"+
			"times mlship (register both, compare) against Evidently's DataDriftPreset on them; then\n"+
			"registers a --reg-size CSV with mlship data add and with dvc add. See bench/README.md.",
		stderr)
	fs.StringVar(&only, "only", strings.Join(allParts, ","), "comma-separated parts to run: "+strings.Join(allParts, ","))
	fs.Int64Var(&cfg.rows, "rows", 1_000_000, "rows of the reference and of the current file")
	fs.IntVar(&cfg.cols, "cols", 50, "columns of every generated file: 70% numeric, 30% categorical")
	fs.Var(benchkit.ByteSize{N: &cfg.regSize}, "reg-size", "size of the file registered by both tools (B, KiB, MiB, GiB); smaller when the disk is short")
	fs.IntVar(&cfg.regRuns, "reg-runs", 2, "registrations per tool, in the order mlship, dvc, dvc, mlship, ...")
	fs.StringVar(&cfg.mlshipBin, "mlship-bin", "bin/mlship", "mlship `binary`: the server (BIN server --host 127.0.0.1 --port P --data-dir DIR) and the client commands")
	fs.StringVar(&cfg.evidentlyPython, "evidently-python", ".venv-bench-drift/bin/python", "`python` with evidently 0.7.23 (bash bench/setup.sh drift)")
	fs.StringVar(&cfg.dvc, "dvc", ".venv-dvc/bin/dvc", "dvc `command` (bash bench/setup.sh drift)")
	fs.StringVar(&cfg.workDir, "work-dir", "", "`dir` to create the temporary directory in (default: $TMPDIR or /tmp)")
	fs.StringVar(&cfg.cpuProfileDir, "cpuprofile", "", "write a CPU profile of each in-process phase into this `dir` (go tool pprof DIR/read-tables.pprof)")
	fs.DurationVar(&cfg.stepTimeout, "step-timeout", 30*time.Minute, "longest any one step (a registration, a report) may take")
	fs.DurationVar(&cfg.startupTimeout, "startup-timeout", time.Minute, "how long the mlship server may take to answer /health")
	benchkit.OutputFlag(fs, &cfg.output)
	fs.BoolVar(&cfg.keep, "keep", false, "keep the generated files, the server data directories and Evidently's output")
	if err := benchkit.Parse(fs, args); err != nil {
		return cfg, err
	}
	var err error
	if cfg.only, err = benchkit.ParseList("only", only, allParts); err != nil {
		return cfg, err
	}
	return cfg, cfg.validate()
}

func (c *config) validate() error {
	switch {
	case c.rows < 1 || c.cols < 2:
		return errors.New("--rows must be at least 1 and --cols at least 2")
	case c.regSize < minRegSize:
		return fmt.Errorf("--reg-size must be at least %s", gib(minRegSize))
	case c.regRuns < 1:
		return errors.New("--reg-runs must be at least 1")
	case c.stepTimeout <= 0 || c.startupTimeout <= 0:
		return errors.New("--step-timeout and --startup-timeout must be positive")
	}
	if err := benchkit.CheckOutput(c.output); err != nil {
		return err
	}
	return benchkit.AbsPaths(&c.mlshipBin, &c.evidentlyPython, &c.dvc, &c.cpuProfileDir)
}

func (c *config) wants(part string) bool { return slices.Contains(c.only, part) }

// server is what benchkit needs to start mlship.
func (c config) server() benchkit.ServerConfig {
	return benchkit.ServerConfig{MlshipBin: c.mlshipBin, StartupTimeout: c.startupTimeout, KeepData: c.keep}
}

// checkTools fails early, before generating gigabytes, when a tool is missing.
func checkTools(cfg config) error {
	need := []benchkit.Tool{{Path: cfg.mlshipBin, Hint: "go build -o bin/mlship ./cmd/mlship"}}
	if cfg.wants(partDrift) {
		need = append(need, benchkit.Tool{Path: cfg.evidentlyPython, Hint: "bash bench/setup.sh drift"})
	}
	if cfg.wants(partRegister) {
		need = append(need, benchkit.Tool{Path: cfg.dvc, Hint: "bash bench/setup.sh drift"})
		if _, err := exec.LookPath("git"); err != nil {
			return errors.New("git is not on PATH: dvc add needs a Git repository")
		}
	}
	return benchkit.CheckTools(need...)
}

// run measures the selected parts and prints the report. It fails, after printing,
// when the tools disagree on which columns drifted.
func run(ctx context.Context, cfg config, stdout io.Writer, logger *log.Logger) error {
	if err := checkTools(cfg); err != nil {
		return err
	}
	work, removeWork, err := benchkit.WorkDir(cfg.workDir, "drift", cfg.keep, logger)
	if err != nil {
		return err
	}
	defer removeWork()
	rep := newReport(ctx, cfg)
	logger.Printf("machine: %s; load %s; work dir %s", rep.Machine.Summary(), rep.Machine.LoadAvgStart, work)
	if cfg.wants(partDrift) {
		if rep.Drift, err = benchDrift(ctx, cfg, work, logger); err != nil {
			return fmt.Errorf("drift: %w", err)
		}
	}
	if cfg.wants(partRegister) {
		if rep.Register, err = benchRegister(ctx, cfg, work, logger); err != nil {
			return fmt.Errorf("register: %w", err)
		}
	}
	rep.Machine.LoadAvgEnd = benchkit.LoadAvg()
	if err := rep.write(stdout, cfg.output); err != nil {
		return err
	}
	return rep.problems()
}
