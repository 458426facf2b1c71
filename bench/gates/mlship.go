package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os/exec"
	"strings"
	"time"

	"github.com/mlship/mlship/bench/internal/benchkit"
)

// The registered model and the dataset both tools evaluate.
const (
	modelName   = "gates-bench"
	datasetName = "gates-bench-data"
)

// step is one timed command against the mlship server: its wall time, the CPU time the
// server used meanwhile, and the server's peak RSS during it.
type step struct {
	Name          string  `json:"name"`
	Command       string  `json:"command"`
	Seconds       float64 `json:"seconds"`
	ServerCPU     float64 `json:"server_cpu_seconds"`
	ServerPeakRSS int64   `json:"server_peak_rss_bytes"`
	// PeakIsStepOnly is true when the server's VmHWM was reset before the step.
	PeakIsStepOnly bool   `json:"peak_is_step_only"`
	LoadBefore     string `json:"load_before"`
}

// mlshipServer is a running `mlship server` and the binary that talks to it.
type mlshipServer struct {
	*benchkit.Server
	bin string
}

func startMlship(ctx context.Context, cfg config, logger *log.Logger) (*mlshipServer, error) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
	s, err := benchkit.StartServer(ctx, cfg.server(), benchkit.Mlship, client, logger)
	if err != nil {
		return nil, err
	}
	return &mlshipServer{Server: s, bin: cfg.mlshipBin}, nil
}

// cli runs `mlship ARGS --server URL` as one measured step and returns its stdout.
func (s *mlshipServer) cli(ctx context.Context, name string, timeout time.Duration, args ...string) (step, []byte, error) {
	st := step{Name: name, Command: "mlship " + strings.Join(args, " "), LoadBefore: benchkit.LoadAvg()}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, append(args, "--server", s.BaseURL)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	pid := s.PID()
	st.PeakIsStepOnly = resetPeakRSS(pid)
	cpu0, t0 := procCPU(pid), time.Now()
	err := cmd.Run()
	st.Seconds = time.Since(t0).Seconds()
	st.ServerCPU = procCPU(pid) - cpu0
	st.ServerPeakRSS = statusBytes(pid, "VmHWM")
	if err != nil {
		return st, stdout.Bytes(), fmt.Errorf("%s: %w\n%s", st.Command, err, lastBytes(stderr.Bytes(), 2000))
	}
	return st, stdout.Bytes(), nil
}

// mlshipResult is mlship's side of the figure.
type mlshipResult struct {
	Register step `json:"register"` // mlship data add: not part of the evaluation
	SetGate  step `json:"gate_set"` // mlship gate set: not part of it either
	Evaluate step `json:"evaluate"` // mlship gate evaluate: the figure
	// From the evaluation's record: the job alone, from its start to its end.
	JobSeconds float64            `json:"job_seconds"`
	RowsDone   int64              `json:"rows_done"`
	Runtime    string             `json:"runtime"`
	Status     string             `json:"status"`
	Passed     *bool              `json:"passed,omitempty"`
	RunID      string             `json:"run_id,omitempty"`
	Metrics    map[string]float64 `json:"metrics"`
}

// evaluation is what `mlship gate evaluate -o json` prints that the figure uses.
type evaluation struct {
	Status     string `json:"status"`
	Error      string `json:"error"`
	RowsDone   int64  `json:"rows_done"`
	Runtime    string `json:"runtime"`
	StartedAt  int64  `json:"started_at"`
	FinishedAt int64  `json:"finished_at"`
	Passed     *bool  `json:"passed"`
	RunID      string `json:"run_id"`
	Result     *struct {
		Metrics map[string]float64 `json:"metrics"`
	} `json:"result"`
}

// benchMlship registers the benchmark file, gives the model its benchmark and times
// the evaluation of the version, which reads the stored file, runs the model on it
// through the native ONNX runtime and computes the metrics.
func benchMlship(ctx context.Context, cfg config, s *mlshipServer, f *files, version string, logger *log.Logger) (*mlshipResult, error) {
	res := &mlshipResult{}
	var err error
	logger.Printf("mlship: data add (%d rows)", f.Rows)
	if res.Register, _, err = s.cli(ctx, "register", cfg.stepTimeout, "data", "add", datasetName, f.Bench, "--quiet", "-o", "json"); err != nil {
		return nil, err
	}
	logger.Printf("mlship: gate set")
	if res.SetGate, _, err = s.cli(ctx, "gate set", cfg.stepTimeout, "gate", "set", modelName, "--dataset", datasetName+"/1",
		"--target", targetName, "--task", "classification", "--threshold", "accuracy_score>=0.5", "-o", "json"); err != nil {
		return nil, err
	}
	logger.Printf("mlship: gate evaluate %s/%s", modelName, version)
	st, out, err := s.cli(ctx, "gate evaluate", cfg.stepTimeout, "gate", "evaluate", modelName+"/"+version, "-o", "json", "-q")
	res.Evaluate = st
	// Exit status 5 is a version that failed the gate: the figures still stand.
	if err != nil && !isExit(err, 5) {
		return nil, err
	}
	var e evaluation
	if err := json.Unmarshal(out, &e); err != nil {
		return nil, fmt.Errorf("%s: unexpected answer %.300s (%v)", st.Command, out, err)
	}
	if e.Status != "succeeded" || e.Result == nil {
		return nil, fmt.Errorf("%s: status %q: %s", st.Command, e.Status, e.Error)
	}
	res.JobSeconds = float64(e.FinishedAt-e.StartedAt) / 1000
	res.RowsDone, res.Runtime, res.Status, res.Passed, res.RunID = e.RowsDone, e.Runtime, e.Status, e.Passed, e.RunID
	res.Metrics = e.Result.Metrics
	if res.Runtime != "onnx" {
		return nil, fmt.Errorf("the evaluation ran on the %q runtime, not mlship's native ONNX runtime", res.Runtime)
	}
	if res.RowsDone != f.Rows {
		return nil, fmt.Errorf("the evaluation did %d rows of %d", res.RowsDone, f.Rows)
	}
	return res, nil
}

func isExit(err error, code int) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && ee.ExitCode() == code
}

func lastBytes(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(bytes.TrimSpace(b))
}
