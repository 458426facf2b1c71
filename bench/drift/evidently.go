package main

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/mlship/mlship/bench/internal/benchkit"
)

//go:embed evidently_drift.py
var evidentlyScript []byte

// evidentlyRun is Evidently's side of the drift figure.
type evidentlyRun struct {
	*evidentlyResult
	// Seconds is the Python process from start to exit, imports included.
	Seconds    float64 `json:"process_seconds"`
	LoadBefore string  `json:"load_before"`
}

// benchEvidently runs evidently_drift.py on both files with the pinned Evidently.
func benchEvidently(ctx context.Context, cfg config, d *dataFiles, work string, logger *log.Logger) (*evidentlyRun, error) {
	script := filepath.Join(work, "evidently_drift.py")
	if err := os.WriteFile(script, evidentlyScript, 0o644); err != nil {
		return nil, err
	}
	out := filepath.Join(work, "evidently.json")
	ctx, cancel := context.WithTimeout(ctx, cfg.stepTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, cfg.evidentlyPython, script, d.Reference, d.Current, out)
	// Evidently's telemetry lives in its UI service, not in reports; this keeps it off
	// all the same. Nothing here leaves the machine.
	cmd.Env = append(os.Environ(), "ITERATIVE_DO_NOT_TRACK=1", "DO_NOT_TRACK=1")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	run := &evidentlyRun{LoadBefore: benchkit.LoadAvg()}
	logger.Printf("evidently: load both files with pandas, then Report([DataDriftPreset()])")
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", script, err, benchkit.LastBytes(stderr.Bytes(), 3000))
	}
	run.Seconds = time.Since(t0).Seconds()
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	if run.evidentlyResult, err = parseEvidentlyResult(data); err != nil {
		return nil, err
	}
	return run, nil
}

// step returns a named step's figures (zero when absent).
func (e *evidentlyRun) step(name string) evidentlyStep { return e.Steps[name] }

// loadSeconds is pandas.read_csv of both files.
func (e *evidentlyRun) loadSeconds() float64 {
	return e.step("load_reference").Seconds + e.step("load_current").Seconds
}

// reportSeconds is the drift report: kinds, Report.run and reading its result.
func (e *evidentlyRun) reportSeconds() float64 {
	return e.step("report").Seconds + e.step("result").Seconds
}
