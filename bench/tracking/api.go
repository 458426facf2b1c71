package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// newHTTPClient returns the one client shared by every benchmark request. Its pool keeps
// an idle keep-alive connection for each concurrent client, so no request pays for a
// new TCP connection in steady state. Proxies from the environment are ignored: all
// traffic goes straight to 127.0.0.1.
func newHTTPClient(concurrency int) *http.Client {
	conns := 2 * concurrency
	transport := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
	}
	return &http.Client{Transport: transport, Timeout: 2 * time.Minute}
}

// statusError is a response other than 200.
type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.code, e.body) }

// api speaks MLflow's REST API (/api/2.0/mlflow) to one server, or round-robin to the
// replicas of one.
type api struct {
	base   string
	client *http.Client
	// replicas, when set, are the base URLs each request goes to in turn, instead of base.
	replicas []string
	next     atomic.Uint64
	// authorization is sent as the Authorization header when set.
	authorization string
}

// Request and response shapes of the MLflow REST API, reduced to the fields used here.
type (
	keyValue struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	metric struct {
		Key       string  `json:"key"`
		Value     float64 `json:"value"`
		Timestamp int64   `json:"timestamp"`
		Step      int64   `json:"step"`
	}
	logBatchRequest struct {
		RunID   string     `json:"run_id"`
		Metrics []metric   `json:"metrics"`
		Params  []keyValue `json:"params"`
		Tags    []keyValue `json:"tags"`
	}
	createRunRequest struct {
		ExperimentID string     `json:"experiment_id"`
		StartTime    int64      `json:"start_time"`
		Tags         []keyValue `json:"tags"`
	}
	searchRunsRequest struct {
		ExperimentIDs []string `json:"experiment_ids"`
		MaxResults    int      `json:"max_results"`
	}
)

// post sends body as JSON to an MLflow endpoint and decodes a 200 answer into out, or
// discards it when out is nil. Any other status is a *statusError.
func (a *api) post(ctx context.Context, endpoint string, body, out any) error {
	buf, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url()+"/api/2.0/mlflow/"+endpoint, bytes.NewReader(buf))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if a.authorization != "" {
		req.Header.Set("Authorization", a.authorization)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		_, _ = io.Copy(io.Discard, resp.Body)
		return &statusError{code: resp.StatusCode, body: strings.TrimSpace(string(snippet))}
	}
	if out != nil {
		err = json.NewDecoder(resp.Body).Decode(out)
	}
	// Drain to the end so the connection goes back to the pool.
	if _, cerr := io.Copy(io.Discard, resp.Body); err == nil {
		err = cerr
	}
	return err
}

// url is the base URL of the server the next request goes to.
func (a *api) url() string {
	if len(a.replicas) == 0 {
		return a.base
	}
	return a.replicas[(a.next.Add(1)-1)%uint64(len(a.replicas))]
}

func (a *api) createExperiment(ctx context.Context, name string) (string, error) {
	var out struct {
		ExperimentID string `json:"experiment_id"`
	}
	body := map[string]any{"name": name, "tags": []keyValue{{"description", "mlship bench"}}}
	if err := a.post(ctx, "experiments/create", body, &out); err != nil {
		return "", fmt.Errorf("experiments/create: %w", err)
	}
	return out.ExperimentID, nil
}

// createRun creates a run as MLflow's k6 CreateRun script does.
func (a *api) createRun(ctx context.Context, experimentID string) (string, error) {
	var out struct {
		Run struct {
			Info struct {
				RunID string `json:"run_id"`
			} `json:"info"`
		} `json:"run"`
	}
	body := createRunRequest{
		ExperimentID: experimentID,
		StartTime:    time.Now().UnixMilli(),
		Tags:         []keyValue{{"mlflow.user", "bench"}},
	}
	if err := a.post(ctx, "runs/create", body, &out); err != nil {
		return "", err
	}
	if out.Run.Info.RunID == "" {
		return "", fmt.Errorf("runs/create: answer has no run.info.run_id")
	}
	return out.Run.Info.RunID, nil
}

// logBatch sends MLflow's k6 batch: 10 metrics, 3 params and 5 tags. Param keys end in
// paramSuffix because a run's params are immutable: each request logs new keys.
func (a *api) logBatch(ctx context.Context, runID, paramSuffix string) error {
	return a.post(ctx, "runs/log-batch", newBatch(runID, paramSuffix), nil)
}

func newBatch(runID, paramSuffix string) logBatchRequest {
	now := time.Now().UnixMilli()
	b := logBatchRequest{
		RunID:   runID,
		Metrics: make([]metric, 10),
		Params:  make([]keyValue, 3),
		Tags:    make([]keyValue, 5),
	}
	for i := range b.Metrics {
		b.Metrics[i] = metric{Key: "metric_" + strconv.Itoa(i), Value: float64(i) * rand.Float64(), Timestamp: now}
	}
	for i := range b.Params {
		b.Params[i] = keyValue{"param_" + strconv.Itoa(i) + paramSuffix, "param_value_" + strconv.Itoa(i)}
	}
	for i := range b.Tags {
		b.Tags[i] = keyValue{"tag_" + strconv.Itoa(i), "tag_value_" + strconv.Itoa(i)}
	}
	return b
}

// searchRuns asks for the first 1000 runs of an experiment, as the mlflow-go k6
// SearchRuns script does, and discards the answer.
func (a *api) searchRuns(ctx context.Context, experimentID string) error {
	return a.post(ctx, "runs/search", searchRunsRequest{[]string{experimentID}, 1000}, nil)
}

// countSearchRuns runs the same search and returns how many runs came back.
func (a *api) countSearchRuns(ctx context.Context, experimentID string) (int, error) {
	var out struct {
		Runs []json.RawMessage `json:"runs"`
	}
	err := a.post(ctx, "runs/search", searchRunsRequest{[]string{experimentID}, 1000}, &out)
	return len(out.Runs), err
}
