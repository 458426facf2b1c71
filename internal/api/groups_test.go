package api_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/tracking"
)

// groupRuns makes an experiment whose runs have lr 0.1 (auc 0.7, 0.9, NaN), 0.01 (auc
// 0.8, loss 2), 1 (no auc) and no lr (auc 0.5), a run of team b among the 0.1s, and a
// deleted run.
func groupRuns(t *testing.T, s *testServer) string {
	t.Helper()
	var exp struct {
		ExperimentID string `json:"experiment_id"`
	}
	s.ok(t, "POST", mlflow+"experiments/create", map[string]any{"name": "groups"}, &exp)
	for i, r := range []struct {
		lr, team string
		metrics  map[string]any
		deleted  bool
	}{
		{"0.1", "a", map[string]any{"auc": 0.7}, false},
		{"0.1", "b", map[string]any{"auc": 0.9}, false},
		{"0.1", "a", map[string]any{"auc": "NaN"}, false},
		{"0.01", "a", map[string]any{"auc": 0.8, "loss": 2.0}, false},
		{"1", "a", map[string]any{"loss": 1.0}, false},
		{"", "a", map[string]any{"auc": 0.5}, false},
		{"0.1", "a", map[string]any{"auc": 100.0}, true},
	} {
		var run struct {
			Run struct {
				Info struct {
					RunID string `json:"run_id"`
				} `json:"info"`
			} `json:"run"`
		}
		s.ok(t, "POST", mlflow+"runs/create", map[string]any{"experiment_id": exp.ExperimentID, "start_time": i}, &run)
		id := run.Run.Info.RunID
		var ms []map[string]any
		for k, v := range r.metrics {
			ms = append(ms, map[string]any{"key": k, "value": v, "timestamp": 1, "step": 0})
		}
		params := []map[string]string{}
		if r.lr != "" {
			params = append(params, map[string]string{"key": "lr", "value": r.lr})
		}
		s.ok(t, "POST", mlflow+"runs/log-batch", map[string]any{"run_id": id, "metrics": ms, "params": params,
			"tags": []map[string]string{{"key": "team", "value": r.team}}}, nil)
		if r.deleted {
			s.ok(t, "POST", mlflow+"runs/delete", map[string]any{"run_id": id}, nil)
		}
	}
	return exp.ExperimentID
}

func TestRunGroups(t *testing.T) {
	s := newServer(t)
	exp := groupRuns(t, s)
	var g tracking.RunGroups
	s.ok(t, "GET", "/api/v1/experiments/"+exp+"/groups?param=lr&metrics=auc,loss", nil, &g)
	if g.Param != "lr" || g.Runs != 6 || g.Truncated || len(g.Groups) != 4 {
		t.Fatalf("groups = %+v", g)
	}
	// Numeric order, the runs without lr last.
	for i, want := range []string{"0.01", "0.1", "1", "<none>"} {
		got := "<none>"
		if g.Groups[i].Value != nil {
			got = *g.Groups[i].Value
		}
		if got != want {
			t.Errorf("group %d = %s, want %s", i, got, want)
		}
	}
	tenth := g.Groups[1]
	auc := tenth.Metrics[0]
	if tenth.Runs != 3 || auc.Key != "auc" || auc.Runs != 2 || *auc.Mean != 0.8 || *auc.Min != 0.7 || *auc.Max != 0.9 {
		t.Errorf("lr=0.1 = %+v, auc %+v", tenth, auc)
	}
	if loss := tenth.Metrics[1]; loss.Key != "loss" || loss.Runs != 0 || loss.Mean != nil {
		t.Errorf("lr=0.1 loss = %+v", loss)
	}
	if one := g.Groups[2]; one.Runs != 1 || one.Metrics[0].Mean != nil || *one.Metrics[1].Mean != 1 {
		t.Errorf("lr=1 = %+v", one)
	}
	if none := g.Groups[3]; none.Runs != 1 || *none.Metrics[0].Mean != 0.5 {
		t.Errorf("no lr = %+v", none)
	}
	// The filter narrows every group; without metrics, no aggregates.
	g = tracking.RunGroups{}
	s.ok(t, "GET", "/api/v1/experiments/"+exp+"/groups?param=lr&filter="+url.QueryEscape("tags.team = 'a' and metrics.auc > 0.6"), nil, &g)
	if g.Runs != 2 || len(g.Groups) != 2 || *g.Groups[1].Value != "0.1" || g.Groups[1].Runs != 1 || len(g.Groups[1].Metrics) != 0 {
		t.Errorf("filtered = %+v", g)
	}
}

func TestRunGroupsBadInput(t *testing.T) {
	s := newServer(t)
	exp := groupRuns(t, s)
	var names []string
	for i := range tracking.MaxGroupMetrics + 1 {
		names = append(names, fmt.Sprintf("m%d", i))
	}
	many := strings.Join(names, ",")
	for _, tc := range []struct {
		target string
		status int
		code   string
	}{
		{"/api/v1/experiments/" + exp + "/groups", 400, "INVALID_PARAMETER_VALUE"},
		{"/api/v1/experiments/" + exp + "/groups?param=lr&filter=" + url.QueryEscape("metrics.auc >"), 400, "INVALID_PARAMETER_VALUE"},
		{"/api/v1/experiments/" + exp + "/groups?param=lr&filter=" + url.QueryEscape("nonsense.x = 1"), 400, "INVALID_PARAMETER_VALUE"},
		{"/api/v1/experiments/" + exp + "/groups?param=" + url.QueryEscape("../x"), 400, "INVALID_PARAMETER_VALUE"},
		{"/api/v1/experiments/" + exp + "/groups?param=lr&metrics=", 400, "INVALID_PARAMETER_VALUE"},
		{"/api/v1/experiments/" + exp + "/groups?param=lr&metrics=" + many, 400, "INVALID_PARAMETER_VALUE"},
		{"/api/v1/experiments/abc/groups?param=lr", 400, "INVALID_PARAMETER_VALUE"},
		{"/api/v1/experiments/999/groups?param=lr", 404, "RESOURCE_DOES_NOT_EXIST"},
	} {
		status, body := s.do(t, "GET", tc.target, nil, nil)
		if status != tc.status || !strings.Contains(string(body), tc.code) {
			t.Errorf("GET %.100s = %d %.200s, want %d %s", tc.target, status, body, tc.status, tc.code)
		}
	}
}
