package api_test

import (
	"fmt"
	"math"
	"net/url"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/tracking"
)

// newRun creates a run in the default experiment and returns its id.
func newRun(t *testing.T, s *testServer) string {
	t.Helper()
	var run struct {
		Run struct {
			Info struct {
				RunID string `json:"run_id"`
			} `json:"info"`
		} `json:"run"`
	}
	s.ok(t, "POST", mlflow+"runs/create", map[string]any{"experiment_id": "0"}, &run)
	return run.Run.Info.RunID
}

// logPoints logs n points of key at steps 0..n-1 (timestamp 1000+step), value f(step).
func logPoints(t *testing.T, s *testServer, runID, key string, n int, f func(int) any) {
	t.Helper()
	for start := 0; start < n; start += 1000 {
		var ms []map[string]any
		for i := start; i < min(start+1000, n); i++ {
			ms = append(ms, map[string]any{"key": key, "value": f(i), "timestamp": 1000 + i, "step": i})
		}
		s.ok(t, "POST", mlflow+"runs/log-batch", map[string]any{"run_id": runID, "metrics": ms}, nil)
	}
}

func TestMetricHistoryDownsampled(t *testing.T) {
	s := newServer(t)
	run := newRun(t, s)
	logPoints(t, s, run, "loss", 5000, func(i int) any {
		switch i {
		case 2345:
			return 100.0 // a spike a thinning sample would miss
		case 4000:
			return "NaN"
		}
		return 1.0 / float64(i+1)
	})
	base := "/api/v1/runs/" + run + "/metrics/loss/history"

	var h tracking.History
	s.ok(t, "GET", base+"?points=100", nil, &h)
	if !h.Downsampled || h.TotalPoints != 5000 || h.Method != tracking.HistoryMethod || len(h.Buckets) != 100 || h.Points != nil {
		t.Fatalf("downsampled = %+v", h)
	}
	var count int64
	var peak float64
	for _, b := range h.Buckets {
		count += b.Count
		peak = max(peak, float64(b.Max))
		if b.X > b.XEnd || float64(b.Min) > float64(b.Max) {
			t.Errorf("bucket %+v", b)
		}
	}
	if first, last := h.Buckets[0], h.Buckets[99]; first.X != 0 || first.First != 1 || last.XEnd != 4999 {
		t.Errorf("first bucket %+v, last %+v", first, last)
	}
	if count != 5000 || peak != 100 {
		t.Errorf("buckets hold %d points, peak %v; want 5000 and the spike 100", count, peak)
	}
	if b := h.Buckets[80]; b.X != 4000 || !math.IsNaN(float64(b.First)) || math.IsNaN(float64(b.Min)) {
		t.Errorf("bucket with a NaN first point = %+v", b)
	}

	s.ok(t, "GET", base+"?points=10000", nil, &h)
	if h.Downsampled || h.Method != "raw" || len(h.Points) != 5000 || h.Points[2345].Value != 100 || h.Points[4999].Step != 4999 {
		t.Fatalf("raw: downsampled %v, %d points", h.Downsampled, len(h.Points))
	}

	s.ok(t, "GET", base+"?x=time&from=3000&to=3099&points=10", nil, &h)
	if h.X != "time" || h.TotalPoints != 100 || len(h.Buckets) != 10 || h.Buckets[0].X != 3000 || h.Buckets[9].XEnd != 3099 {
		t.Fatalf("time range = %+v", h)
	}
	s.ok(t, "GET", base+"?from=10&to=12", nil, &h)
	if h.Downsampled || len(h.Points) != 3 || h.Points[0].Step != 10 {
		t.Fatalf("step range = %+v", h)
	}
}

func TestMetricHistoryKeys(t *testing.T) {
	s := newServer(t)
	run := newRun(t, s)
	logPoints(t, s, run, "train/loss", 30, func(i int) any { return i })
	logPoints(t, s, run, "acc", 5, func(i int) any { return i })

	var h tracking.History
	s.ok(t, "GET", "/api/v1/runs/"+run+"/metrics/"+url.PathEscape("train/loss")+"/history", nil, &h)
	if h.Key != "train/loss" || len(h.Points) != 30 {
		t.Fatalf("a key with a slash: %+v", h)
	}
	var list struct {
		RunID   string             `json:"run_id"`
		Metrics []tracking.History `json:"metrics"`
	}
	s.ok(t, "GET", "/api/v1/runs/"+run+"/metric-history?keys=train/loss,acc,none&points=10", nil, &list)
	if len(list.Metrics) != 3 || list.RunID != run {
		t.Fatalf("metrics = %+v", list)
	}
	if m := list.Metrics[0]; m.Key != "train/loss" || !m.Downsampled || m.TotalPoints != 30 {
		t.Errorf("train/loss = %+v", m)
	}
	if m := list.Metrics[1]; m.Key != "acc" || m.Downsampled || len(m.Points) != 5 {
		t.Errorf("acc = %+v", m)
	}
	if m := list.Metrics[2]; m.Key != "none" || m.TotalPoints != 0 || m.Points != nil {
		t.Errorf("a key never logged = %+v", m)
	}
}

func TestMetricHistoryBadInput(t *testing.T) {
	s := newServer(t)
	run := newRun(t, s)
	base := "/api/v1/runs/" + run + "/metrics/loss/history"
	many := strings.Repeat("k,", 20) + "z"
	for i := range 21 {
		many = strings.Replace(many, "k,", fmt.Sprintf("k%d,", i), 1)
	}
	for _, tc := range []struct {
		target string
		status int
		code   string
	}{
		{base + "?points=0", 400, "INVALID_PARAMETER_VALUE"},
		{base + "?points=10001", 400, "INVALID_PARAMETER_VALUE"},
		{base + "?points=ten", 400, "INVALID_PARAMETER_VALUE"},
		{base + "?x=epoch", 400, "INVALID_PARAMETER_VALUE"},
		{base + "?from=9&to=1", 400, "INVALID_PARAMETER_VALUE"},
		{base + "?from=1.5", 400, "INVALID_PARAMETER_VALUE"},
		{"/api/v1/runs/" + strings.Repeat("0", 32) + "/metrics/loss/history", 404, "RESOURCE_DOES_NOT_EXIST"},
		{"/api/v1/runs/" + run + "/metric-history", 400, "INVALID_PARAMETER_VALUE"},
		{"/api/v1/runs/" + run + "/metric-history?keys=" + many, 400, "INVALID_PARAMETER_VALUE"},
		{"/api/v1/runs/" + strings.Repeat("0", 32) + "/metric-history?keys=a", 404, "RESOURCE_DOES_NOT_EXIST"},
	} {
		status, body := s.do(t, "GET", tc.target, nil, nil)
		if status != tc.status || !strings.Contains(string(body), tc.code) {
			t.Errorf("GET %s = %d %s, want %d %s", tc.target, status, body, tc.status, tc.code)
		}
	}
}
