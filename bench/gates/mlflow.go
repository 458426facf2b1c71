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

//go:embed mlflow_gates.py
var mlflowScript []byte

// The evaluator configs mlflow.evaluate runs with: its default, and without the SHAP
// explainability step (the only part of the default evaluator a config turns off).
// The floor is no mlflow.evaluate at all: the model run once through onnxruntime and
// scikit-learn's metrics, what the figure costs in Python without MLflow's evaluator.
const (
	configDefault = "default"
	configNoSHAP  = "no-explainability"
	configFloor   = "floor"
)

var evaluatorConfigs = []string{configDefault, configNoSHAP, configFloor}

// mlflowRunner runs mlflow_gates.py with the MLflow client pointed at the mlship server.
type mlflowRunner struct {
	python, work, trackingURI string
	timeout                   time.Duration
}

// pyStep is one timed step of the Python process.
type pyStep struct {
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"cpu_seconds"`
	MaxRSS     int64   `json:"max_rss_bytes"` // the process's peak so far
}

// loggedModel is what log-model reports.
type loggedModel struct {
	Steps       map[string]pyStep `json:"steps"`
	ModelURI    string            `json:"model_uri"`
	Version     string            `json:"version"`
	ONNXOutputs []string          `json:"onnx_outputs"`
	ONNXBytes   int64             `json:"onnx_bytes"`
	TrainRows   int64             `json:"train_rows"`
	Versions    map[string]string `json:"versions"`
	// AsLogged is mlflow.evaluate on the registered ONNX model as it is, on a few rows.
	AsLogged struct {
		OK      bool     `json:"ok"`
		Error   string   `json:"error,omitempty"`
		Where   string   `json:"where,omitempty"`
		Metrics []string `json:"metrics,omitempty"`
	} `json:"as_logged"`
}

// mlflowResult is one mlflow.evaluate run.
type mlflowResult struct {
	Config          string             `json:"config"`
	EvaluatorConfig map[string]any     `json:"evaluator_config"`
	Rows            int64              `json:"rows"`
	Steps           map[string]pyStep  `json:"steps"`
	Metrics         map[string]float64 `json:"metrics"`
	Artifacts       []string           `json:"artifacts"`
	RunID           string             `json:"run_id"`
	MaxRSS          int64              `json:"max_rss_bytes"`
	Versions        map[string]string  `json:"versions"`
	// ProcessSeconds is the Python process from start to exit, imports included.
	ProcessSeconds float64 `json:"process_seconds"`
	LoadBefore     string  `json:"load_before"`
}

// label names the run in the report.
func (r *mlflowResult) label() string {
	if r.Config == configFloor {
		return "floor: onnxruntime + sklearn.metrics"
	}
	return "mlflow.evaluate (" + r.Config + ")"
}

// loadSeconds is pandas.read_csv; evaluateSeconds is loading the model and
// mlflow.evaluate; together they are the anchor's figure.
func (r *mlflowResult) loadSeconds() float64     { return r.Steps["load"].Seconds }
func (r *mlflowResult) evaluateSeconds() float64 { return r.Steps["evaluate"].Seconds }
func (r *mlflowResult) seconds() float64         { return r.loadSeconds() + r.evaluateSeconds() }

func (m *mlflowRunner) logModel(ctx context.Context, train, name string) (*loggedModel, error) {
	var lm loggedModel
	if err := m.run(ctx, &lm, "log-model", train, name); err != nil {
		return nil, err
	}
	return &lm, nil
}

func (m *mlflowRunner) evaluate(ctx context.Context, bench, modelURI, config string) (*mlflowResult, error) {
	r := &mlflowResult{LoadBefore: benchkit.LoadAvg()}
	t0 := time.Now()
	if err := m.run(ctx, r, "evaluate", bench, modelURI, config); err != nil {
		return nil, err
	}
	r.ProcessSeconds = time.Since(t0).Seconds()
	return r, nil
}

// run runs the script's command with ARGS and OUT.json, and decodes OUT.json into v.
func (m *mlflowRunner) run(ctx context.Context, v any, command string, args ...string) error {
	script := filepath.Join(m.work, "mlflow_gates.py")
	if err := os.WriteFile(script, mlflowScript, 0o644); err != nil {
		return err
	}
	out := filepath.Join(m.work, fmt.Sprintf("mlflow-%s-%d.json", command, time.Now().UnixNano()))
	// mlflow downloads the model into temporary directories it leaves behind: keep them
	// in the work directory, which goes at the end.
	tmp := filepath.Join(m.work, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, m.python, append(append([]string{script, command}, args...), out)...)
	// Nothing leaves the machine: the tracking server is the local mlship server.
	cmd.Env = append(os.Environ(), "MLFLOW_TRACKING_URI="+m.trackingURI, "DO_NOT_TRACK=true",
		"MLFLOW_DISABLE_TELEMETRY=true", "PYTHONUNBUFFERED=1", "TMPDIR="+tmp)
	cmd.Dir = m.work
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", filepath.Base(script), command, err, benchkit.LastBytes(stderr.Bytes(), 3000))
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", out, err)
	}
	return nil
}
