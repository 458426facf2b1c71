package mlflowapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mlship/mlship/internal/config"
	"github.com/mlship/mlship/internal/server"
)

// BenchmarkSearchRunsHTTP measures runs/search for a page of 1000 runs through the whole
// HTTP stack, JSON encoding included.
func BenchmarkSearchRunsHTTP(b *testing.B) {
	ctx := context.Background()
	cfg := config.DefaultServer()
	cfg.DataDir = b.TempDir()
	if err := cfg.Resolve(); err != nil {
		b.Fatal(err)
	}
	srv, err := server.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	exp := seedRuns(b, ts.URL, 3000)
	body := []byte(`{"experiment_ids":["` + exp + `"],"max_results":1000}`)
	b.ResetTimer()
	for b.Loop() {
		resp, err := http.Post(ts.URL+"/api/2.0/mlflow/runs/search", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n < 1000 {
			b.Fatal(resp.StatusCode, n)
		}
		b.SetBytes(n)
	}
}

// seedRuns creates an experiment of n runs, each with MLflow's benchmark payload
// (10 metrics, 3 params, 5 tags), through the API.
func seedRuns(b *testing.B, base string, n int) string {
	post := func(path string, body any) map[string]any {
		buf, _ := json.Marshal(body)
		resp, err := http.Post(base+"/api/2.0/mlflow/"+path, "application/json", bytes.NewReader(buf))
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != 200 {
			b.Fatal(path, resp.StatusCode, out)
		}
		return out
	}
	exp := post("experiments/create", map[string]any{"name": "bench"})["experiment_id"].(string)
	for i := range n {
		run := post("runs/create", map[string]any{"experiment_id": exp, "start_time": i})
		id := run["run"].(map[string]any)["info"].(map[string]any)["run_id"]
		var metrics, params, tags []map[string]any
		for k := range 10 {
			metrics = append(metrics, map[string]any{"key": fmt.Sprint("m", k), "value": k, "timestamp": 1})
		}
		for k := range 3 {
			params = append(params, map[string]any{"key": fmt.Sprint("p", k), "value": "v"})
		}
		for k := range 5 {
			tags = append(tags, map[string]any{"key": fmt.Sprint("t", k), "value": "v"})
		}
		post("runs/log-batch", map[string]any{"run_id": id, "metrics": metrics, "params": params, "tags": tags})
	}
	return exp
}
