package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os/exec"

	"github.com/mlship/mlship/bench/internal/benchkit"
)

// The registered model and the dataset both tools evaluate.
const (
	modelName   = "gates-bench"
	datasetName = "gates-bench-data"
)

// mlshipResult is mlship's side of the figure.
type mlshipResult struct {
	Register benchkit.Step `json:"register"` // mlship data add: not part of the evaluation
	SetGate  benchkit.Step `json:"gate_set"` // mlship gate set: not part of it either
	Evaluate benchkit.Step `json:"evaluate"` // mlship gate evaluate: the figure
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
func benchMlship(ctx context.Context, cfg config, s *benchkit.MlshipServer, f *files, version string, logger *log.Logger) (*mlshipResult, error) {
	res := &mlshipResult{}
	logger.Printf("mlship: data add (%d rows)", f.Rows)
	c, err := s.Run(ctx, "register", cfg.stepTimeout, "data", "add", datasetName, f.Bench, "--quiet", "-o", "json")
	if err != nil {
		return nil, err
	}
	res.Register = c.Step
	logger.Printf("mlship: gate set")
	c, err = s.Run(ctx, "gate set", cfg.stepTimeout, "gate", "set", modelName, "--dataset", datasetName+"/1",
		"--target", targetName, "--task", "classification", "--threshold", "accuracy_score>=0.5", "-o", "json")
	if err != nil {
		return nil, err
	}
	res.SetGate = c.Step
	logger.Printf("mlship: gate evaluate %s/%s", modelName, version)
	c, err = s.Run(ctx, "gate evaluate", cfg.stepTimeout, "gate", "evaluate", modelName+"/"+version, "-o", "json", "-q")
	res.Evaluate = c.Step
	// Exit status 5 is a version that failed the gate: the figures still stand.
	if err != nil && !isExit(err, 5) {
		return nil, err
	}
	e, err := parseEvaluation(c)
	if err != nil {
		return nil, err
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

// parseEvaluation reads the evaluation `mlship gate evaluate -o json` printed; it fails
// unless the evaluation succeeded.
func parseEvaluation(c benchkit.Call) (*evaluation, error) {
	var e evaluation
	if err := json.Unmarshal(c.Stdout, &e); err != nil {
		return nil, fmt.Errorf("%s: unexpected answer %.300s (%v)", c.Step.Command, c.Stdout, err)
	}
	if e.Status != "succeeded" || e.Result == nil {
		return nil, fmt.Errorf("%s: status %q: %s", c.Step.Command, e.Status, e.Error)
	}
	return &e, nil
}

func isExit(err error, code int) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && ee.ExitCode() == code
}
