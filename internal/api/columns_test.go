package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/tracking"
)

// columnRuns makes an experiment of three runs and a run elsewhere; it returns the
// experiment's id and the runs' ids (the stranger last).
func columnRuns(t *testing.T, s *testServer) (string, []string) {
	t.Helper()
	var exp struct {
		ExperimentID string `json:"experiment_id"`
	}
	s.ok(t, "POST", mlflow+"experiments/create", map[string]any{"name": "columns"}, &exp)
	var ids []string
	for i, metrics := range []map[string]any{
		{"auc": 0.7, "loss": 0.5},
		{"auc": 0.9, "loss": "NaN"},
		{"auc": 0.8},
		{"auc": 5.0}, // in the default experiment
	} {
		e := exp.ExperimentID
		if i == 3 {
			e = "0"
		}
		var run struct {
			Run struct {
				Info struct {
					RunID string `json:"run_id"`
				} `json:"info"`
			} `json:"run"`
		}
		s.ok(t, "POST", mlflow+"runs/create", map[string]any{"experiment_id": e, "start_time": i}, &run)
		id := run.Run.Info.RunID
		var ms []map[string]any
		for k, v := range metrics {
			ms = append(ms, map[string]any{"key": k, "value": v, "timestamp": 1, "step": 0})
		}
		params := []map[string]string{{"key": "lr", "value": "0.1"}}
		if i == 0 {
			params = append(params, map[string]string{"key": "depth", "value": "3"})
		}
		s.ok(t, "POST", mlflow+"runs/log-batch", map[string]any{"run_id": id, "metrics": ms, "params": params,
			"tags": []map[string]string{{"key": "team", "value": "fraud"}}}, nil)
		ids = append(ids, id)
	}
	return exp.ExperimentID, ids
}

func TestExperimentKeys(t *testing.T) {
	s := newServer(t)
	exp, _ := columnRuns(t, s)
	var keys tracking.ExperimentKeys
	s.ok(t, "GET", "/api/v1/experiments/"+exp+"/keys", nil, &keys)
	want := []tracking.KeyCount{{Key: "lr", Runs: 3}, {Key: "depth", Runs: 1}}
	if keys.Runs != 3 || keys.Partial || keys.Truncated || len(keys.Params) != 2 || keys.Params[0] != want[0] || keys.Params[1] != want[1] {
		t.Errorf("keys = %+v", keys)
	}
	if len(keys.Metrics) != 2 || keys.Metrics[0] != (tracking.KeyCount{Key: "auc", Runs: 3}) {
		t.Errorf("metrics = %+v", keys.Metrics)
	}
	if !hasKey(keys.Tags, "team", 3) || !hasKey(keys.Tags, "mlflow.runName", 3) {
		t.Errorf("tags = %+v", keys.Tags)
	}
	s.ok(t, "GET", "/api/v1/experiments/"+exp+"/keys?limit=1", nil, &keys)
	if !keys.Truncated || len(keys.Params) != 1 || keys.Params[0].Key != "lr" {
		t.Errorf("limit 1 = %+v", keys)
	}
}

func hasKey(ks []tracking.KeyCount, key string, runs int64) bool {
	for _, k := range ks {
		if k.Key == key {
			return k.Runs == runs
		}
	}
	return false
}

func TestMetricSummary(t *testing.T) {
	s := newServer(t)
	exp, ids := columnRuns(t, s)
	var sum tracking.MetricSummary
	s.ok(t, "GET", "/api/v1/experiments/"+exp+"/metric-summary", nil, &sum)
	if sum.Runs != 3 || sum.Partial || len(sum.Metrics) != 2 {
		t.Fatalf("summary = %+v", sum)
	}
	if m := sum.Metrics[0]; m.Key != "auc" || *m.Min != 0.7 || *m.Max != 0.9 || m.Runs != 3 {
		t.Errorf("auc = %+v", m)
	}
	if m := sum.Metrics[1]; m.Key != "loss" || *m.Min != 0.5 || *m.Max != 0.5 || m.Runs != 2 {
		t.Errorf("loss (one NaN) = %+v", m)
	}
	// A page: the runs named, those of another experiment left out.
	sum = tracking.MetricSummary{}
	s.ok(t, "GET", "/api/v1/experiments/"+exp+"/metric-summary?run_ids="+ids[1]+","+ids[2]+","+ids[3], nil, &sum)
	if sum.Runs != 2 || len(sum.Metrics) != 2 || *sum.Metrics[0].Min != 0.8 || *sum.Metrics[0].Max != 0.9 ||
		sum.Metrics[1].Min != nil || sum.Metrics[1].Runs != 1 {
		t.Errorf("page summary = %+v", sum)
	}
}

func TestColumnsBadInput(t *testing.T) {
	s := newServer(t)
	exp, _ := columnRuns(t, s)
	var many []string
	for i := range 1001 {
		many = append(many, fmt.Sprintf("%032x", i))
	}
	tooMany := strings.Join(many, ",")
	for _, tc := range []struct {
		target string
		status int
		code   string
	}{
		{"/api/v1/experiments/" + exp + "/keys?limit=0", 400, "INVALID_PARAMETER_VALUE"},
		{"/api/v1/experiments/" + exp + "/keys?limit=1001", 400, "INVALID_PARAMETER_VALUE"},
		{"/api/v1/experiments/" + exp + "/keys?limit=all", 400, "INVALID_PARAMETER_VALUE"},
		{"/api/v1/experiments/abc/keys", 400, "INVALID_PARAMETER_VALUE"},
		{"/api/v1/experiments/999/keys", 404, "RESOURCE_DOES_NOT_EXIST"},
		{"/api/v1/experiments/999/metric-summary", 404, "RESOURCE_DOES_NOT_EXIST"},
		{"/api/v1/experiments/" + exp + "/metric-summary?run_ids=", 400, "INVALID_PARAMETER_VALUE"},
		{"/api/v1/experiments/" + exp + "/metric-summary?run_ids=no%20such%20run", 400, "INVALID_PARAMETER_VALUE"},
		{"/api/v1/experiments/" + exp + "/metric-summary?run_ids=" + tooMany, 400, "INVALID_PARAMETER_VALUE"},
	} {
		status, body := s.do(t, "GET", tc.target, nil, nil)
		if status != tc.status || !strings.Contains(string(body), tc.code) {
			t.Errorf("GET %.100s = %d %.200s, want %d %s", tc.target, status, body, tc.status, tc.code)
		}
	}
}
