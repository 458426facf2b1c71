package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/mlship/mlship/bench/internal/benchkit"
)

//go:embed ceiling.py
var ceilingScript []byte

// ceiling is scikit-learn's own speed on the measured row, with no server: the most requests
// a second that a server with one Python worker and batches of one can answer (ceiling.py).
type ceiling struct {
	CallsPerSec   float64 `json:"calls_per_s"`
	CPUPerCallMs  float64 `json:"cpu_ms_per_call"`
	Calls         int     `json:"calls"`
	LoadAvgBefore string  `json:"load_avg_before"`
	// OfBestOther is CallsPerSec ÷ the best req/s of MLflow and MLServer: the lead over them
	// that a one-worker server which spent nothing around the model would reach.
	OfBestOther float64 `json:"of_best_other,omitempty"`
}

// measureCeiling runs ceiling.py with the benchmark's Python for d.
func measureCeiling(ctx context.Context, cfg config, m *model, work string, d time.Duration) (*ceiling, error) {
	script := filepath.Join(work, "ceiling.py")
	if err := os.WriteFile(script, ceilingScript, 0o644); err != nil {
		return nil, err
	}
	row, err := json.Marshal(m.Rows[0])
	if err != nil {
		return nil, err
	}
	load := benchkit.LoadAvg()
	cmd := exec.CommandContext(ctx, cfg.benchPython, script, m.SklearnDir, string(row), fmt.Sprint(d.Seconds()))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("ceiling.py: %w\n%s", err, tailBytes(stderr.Bytes(), 2000))
	}
	c := &ceiling{LoadAvgBefore: load}
	if err := json.Unmarshal(bytes.TrimSpace(out), c); err != nil {
		return nil, fmt.Errorf("ceiling.py printed %q: %w", out, err)
	}
	return c, nil
}
