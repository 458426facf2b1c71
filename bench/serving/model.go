package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

//go:embed make_model.py
var makeModelScript []byte

// model is what make_model.py wrote: the model directories and the labels that
// scikit-learn and onnxruntime predict for the rows the harness sends.
type model struct {
	Name          string            `json:"model_name"`
	NFeatures     int               `json:"n_features"`
	Rows          [][]float64       `json:"rows"`
	SklearnLabels []int64           `json:"sklearn_labels"`
	SklearnDir    string            `json:"sklearn_model"`
	OnnxDir       string            `json:"onnx_model,omitempty"`
	OnnxInput     string            `json:"onnx_input,omitempty"`
	OnnxLabels    []int64           `json:"onnx_labels,omitempty"`
	Versions      map[string]string `json:"versions"`
	BuildSeconds  float64           `json:"build_seconds,omitempty"`
}

// prepareModel runs make_model.py into work/model, or reads a directory it wrote before.
func prepareModel(ctx context.Context, cfg config, work string, logger *log.Logger) (*model, error) {
	dir := cfg.modelDir
	var took time.Duration
	if dir == "" {
		dir = filepath.Join(work, "model")
		start := time.Now()
		if err := buildModel(ctx, cfg.benchPython, work, dir, logger); err != nil {
			return nil, err
		}
		took = time.Since(start)
	}
	m, err := readModel(filepath.Join(dir, "expected.json"))
	if err != nil {
		return nil, err
	}
	m.BuildSeconds = took.Seconds()
	if cfg.modelName != "" {
		m.Name = cfg.modelName
	}
	if cfg.onnx && m.OnnxDir == "" {
		return nil, errors.New("--onnx: make_model.py wrote no ONNX model (skl2onnx missing from " + cfg.benchPython + "? run bash bench/setup.sh)")
	}
	return m, nil
}

func buildModel(ctx context.Context, python, work, dir string, logger *log.Logger) error {
	script := filepath.Join(work, "make_model.py")
	if err := os.WriteFile(script, makeModelScript, 0o644); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	logger.Printf("building the model with %s", python)
	out, err := exec.CommandContext(ctx, python, script, dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("make_model.py: %w\n%s", err, tailBytes(out, 3000))
	}
	logger.Printf("%s", bytes.TrimSpace(out))
	return nil
}

func readModel(path string) (*model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w (build it with make_model.py, or leave out --model-dir)", err)
	}
	var m model
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(m.Rows) == 0 || len(m.Rows) != len(m.SklearnLabels) || m.SklearnDir == "" {
		return nil, fmt.Errorf("%s: no rows, or rows and labels disagree", path)
	}
	return &m, nil
}

// The two protocols measured.
const (
	protoInvocations = "invocations" // MLflow scoring: POST /invocations
	protoOIP         = "oip-v2-json" // Open Inference Protocol v2 over REST, JSON body
)

// endpoint is one protocol of one server: where to send, what, and what must come back.
type endpoint struct {
	Protocol string
	Path     string
	Body     []byte  // the measured request: one row
	Check    []byte  // every check row in one request
	Want     []int64 // the labels for the check rows; Want[0] is the measured row's
}

// tensorInput says how an OIP v2 request names and types the model's one input.
type tensorInput struct {
	Name     string
	Datatype string
}

// invocationsEndpoint sends rows in MLflow's `inputs` format: the model's signature is a
// float64 tensor of shape (-1, 20), which `inputs` maps onto directly.
func invocationsEndpoint(rows [][]float64, want []int64) endpoint {
	body := func(rows [][]float64) []byte {
		b, _ := json.Marshal(map[string]any{"inputs": jsonRows(rows)})
		return b
	}
	return endpoint{Protocol: protoInvocations, Path: "/invocations", Body: body(rows[:1]), Check: body(rows), Want: want}
}

// oipEndpoint sends rows as one OIP v2 tensor of shape [n, features], data flattened.
func oipEndpoint(name string, in tensorInput, rows [][]float64, want []int64) endpoint {
	body := func(rows [][]float64) []byte {
		var flat []json.RawMessage
		for _, r := range rows {
			flat = append(flat, jsonRows([][]float64{r})[0]...)
		}
		b, _ := json.Marshal(map[string]any{"inputs": []map[string]any{{
			"name": in.Name, "shape": []int{len(rows), len(rows[0])}, "datatype": in.Datatype, "data": flat,
		}}})
		return b
	}
	return endpoint{Protocol: protoOIP, Path: "/v2/models/" + name + "/infer", Body: body(rows[:1]), Check: body(rows), Want: want}
}

// jsonRows writes each float with the fewest digits that read back as the same float64,
// as Python's json module does, so every server parses exactly the rows scikit-learn saw.
func jsonRows(rows [][]float64) [][]json.RawMessage {
	out := make([][]json.RawMessage, len(rows))
	for i, r := range rows {
		for _, v := range r {
			out[i] = append(out[i], json.RawMessage(strconv.FormatFloat(v, 'g', -1, 64)))
		}
	}
	return out
}

// labels reads the predicted class labels out of a response of either protocol.
func labels(protocol string, body []byte) ([]int64, error) {
	if protocol == protoOIP {
		return oipLabels(body)
	}
	return invocationsLabels(body)
}

// invocationsLabels reads {"predictions": ...}: a list of labels (scikit-learn through
// pyfunc), a list of records or a dict of columns with a "label" column (an ONNX model's
// outputs as a DataFrame).
func invocationsLabels(body []byte) ([]int64, error) {
	var resp struct {
		Predictions json.RawMessage `json:"predictions"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || resp.Predictions == nil {
		return nil, fmt.Errorf("not a {\"predictions\": ...} response: %.200s", body)
	}
	var records []map[string]json.RawMessage
	if json.Unmarshal(resp.Predictions, &records) == nil && len(records) > 0 && records[0] != nil {
		var out []int64
		for _, r := range records {
			ls, err := numbers(r["label"])
			if err != nil {
				return nil, fmt.Errorf("predictions record without a numeric label: %.200s", body)
			}
			out = append(out, ls...)
		}
		return out, nil
	}
	var columns map[string]json.RawMessage
	if json.Unmarshal(resp.Predictions, &columns) == nil {
		return numbers(columns["label"])
	}
	return numbers(resp.Predictions)
}

// oipLabels reads the output named "label", else the only output, else the first integer one.
func oipLabels(body []byte) ([]int64, error) {
	var resp struct {
		Outputs []struct {
			Name     string          `json:"name"`
			Datatype string          `json:"datatype"`
			Data     json.RawMessage `json:"data"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || len(resp.Outputs) == 0 {
		return nil, fmt.Errorf("not an OIP v2 response with outputs: %.200s", body)
	}
	pick := -1
	for i, o := range resp.Outputs {
		switch {
		case o.Name == "label":
			return numbers(o.Data)
		case pick < 0 && (len(resp.Outputs) == 1 || o.Datatype == "INT64" || o.Datatype == "INT32"):
			pick = i
		}
	}
	if pick < 0 {
		return nil, fmt.Errorf("no label output among %.200s", body)
	}
	return numbers(resp.Outputs[pick].Data)
}

// numbers flattens a JSON number or nested arrays of numbers into integers.
func numbers(raw json.RawMessage) ([]int64, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil || v == nil {
		return nil, fmt.Errorf("not numbers: %.200s", raw)
	}
	var out []int64
	var walk func(any) error
	walk = func(v any) error {
		switch x := v.(type) {
		case float64:
			if x != float64(int64(x)) {
				return fmt.Errorf("label %v is not an integer", x)
			}
			out = append(out, int64(x))
		case []any:
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("not a number: %v", x)
		}
		return nil
	}
	return out, walk(v)
}

func tailBytes(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(bytes.TrimSpace(b))
}
