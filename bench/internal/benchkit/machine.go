package benchkit

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
)

// Machine is what a benchmark report says of the machine it ran on.
type Machine struct {
	CPUs          int    `json:"cpus"`
	CPUModel      string `json:"cpu_model,omitempty"`
	OSArch        string `json:"os_arch"`
	GoVersion     string `json:"go_version"`
	MLflowVersion string `json:"mlflow_version,omitempty"`
	MLflowWorkers string `json:"mlflow_workers,omitempty"`
	MlshipBin     string `json:"mlship_bin,omitempty"`
	MlshipVersion string `json:"mlship_version,omitempty"`
	// Backend is the servers' metadata store, as the summary names it; empty for SQLite.
	Backend string `json:"backend,omitempty"`
	// Load averages when the run started and ended: other work on the machine
	// takes CPU from the servers and the load generator alike.
	LoadAvgStart string `json:"loadavg_start"`
	LoadAvgEnd   string `json:"loadavg_end,omitempty"`
}

// NewMachine reads the machine's facts and those of the servers a run will start.
func NewMachine(ctx context.Context, cfg ServerConfig, targets []string) Machine {
	m := Machine{
		CPUs:         runtime.NumCPU(),
		CPUModel:     CPUModel(),
		OSArch:       runtime.GOOS + "/" + runtime.GOARCH,
		GoVersion:    runtime.Version(),
		LoadAvgStart: LoadAvg(),
	}
	if slices.Contains(targets, MLflow) {
		m.MLflowVersion, m.MLflowWorkers = MLflowFacts(ctx, cfg.MlflowPython)
	}
	if slices.Contains(targets, Mlship) {
		m.MlshipBin = cfg.MlshipBin
		m.MlshipVersion = MlshipVersion(ctx, cfg.MlshipBin)
	}
	return m
}

func CPUModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// LoadAvg returns the 1, 5 and 15 minute load averages from /proc/loadavg.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// MLflowFacts returns the installed MLflow version and the default worker count that
// `mlflow server --help` documents, which is what the benchmark runs with.
func MLflowFacts(ctx context.Context, python string) (version, workers string) {
	out, err := exec.CommandContext(ctx, python, "-c", "import mlflow; print(mlflow.__version__)").Output()
	if err != nil {
		return "unknown (" + err.Error() + ")", ""
	}
	version = strings.TrimSpace(string(out))
	help, err := exec.CommandContext(ctx, python, "-m", "mlflow", "server", "--help").Output()
	if err != nil {
		return version, "unknown"
	}
	// Click wraps the help text; join it back into single spaces before matching.
	if m := workersDefault.FindStringSubmatch(strings.Join(strings.Fields(string(help)), " ")); m != nil {
		return version, m[1] + " (uvicorn, default of `mlflow server --workers`)"
	}
	return version, "unknown"
}

func MlshipVersion(ctx context.Context, bin string) string {
	out, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return strings.TrimSpace(string(out))
}

func (m Machine) Summary() string {
	s := fmt.Sprintf("%d CPUs (%s), %s, %s", m.CPUs, m.CPUModel, m.OSArch, m.GoVersion)
	if m.MLflowVersion != "" {
		backend := m.Backend
		if backend == "" {
			backend = "SQLite"
		}
		s += fmt.Sprintf("; mlflow %s, workers %s, %s backend", m.MLflowVersion, m.MLflowWorkers, backend)
	}
	if m.MlshipBin != "" {
		s += fmt.Sprintf("; mlship %s (%s)", m.MlshipVersion, m.MlshipBin)
	}
	return s
}

// workersDefault finds the default of --workers in `mlflow server --help`.
var workersDefault = regexp.MustCompile(`--workers TEXT Number of worker processes to handle requests \(default: (\d+)\)`)
