package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/auth"
)

// BenchmarkSearchRunsAccess measures runs/search for a page of 1000 runs (MLflow's
// benchmark payload on each) through the whole server, with identities off and on: on,
// as bench/tracking does it, an ordinary user's token with the read and write scopes,
// searching an experiment the user created. Both servers are searched in turn, so that
// the machine's other load falls on both alike; on/off is the ratio of their medians.
func BenchmarkSearchRunsAccess(b *testing.B) {
	type target struct {
		call  func(target, body string) []byte
		body  string
		times []time.Duration
	}
	var targets []*target
	for _, on := range []bool{false, true} {
		srv, authz := benchServer(b, on)
		t := &target{call: func(target, body string) []byte {
			r := httptest.NewRequest("POST", target, strings.NewReader(body))
			r.Host, r.RemoteAddr = testHost, "127.0.0.1:40000"
			r.Header.Set("Content-Type", "application/json")
			if authz != "" {
				r.Header.Set("Authorization", authz)
			}
			w := httptest.NewRecorder()
			srv.Handler().ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("%s: %d %s", target, w.Code, w.Body)
			}
			return w.Body.Bytes()
		}}
		t.body = `{"experiment_ids":["` + seedSearch(b, t.call, 2000) + `"],"max_results":1000}`
		targets = append(targets, t)
	}
	for b.Loop() {
		for _, t := range targets {
			start := time.Now()
			t.call("/api/2.0/mlflow/runs/search", t.body)
			t.times = append(t.times, time.Since(start))
		}
	}
	median := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[len(ds)/2])
	}
	off, on := median(targets[0].times), median(targets[1].times)
	b.ReportMetric(off/1e6, "ms-off")
	b.ReportMetric(on/1e6, "ms-on")
	b.ReportMetric(on/off, "on/off")
}

// benchServer starts a server, with identities on or off; on, it returns the
// Authorization header of an ordinary user's token with the read and write scopes.
func benchServer(b *testing.B, withAuth bool) (*Server, string) {
	ctx := context.Background()
	srv := auditServer(b, withAuth)
	if !withAuth {
		return srv, ""
	}
	if _, err := srv.auth.CreateUser(ctx, auth.NewUser{Name: "bench", Password: "bench-password-1"}); err != nil {
		b.Fatal(err)
	}
	user, err := srv.auth.SignIn(ctx, "bench", "bench-password-1", "bench")
	if err != nil {
		b.Fatal(err)
	}
	token, _, err := srv.auth.CreateToken(ctx, user, auth.NewToken{Name: "bench", Scopes: "read,write"})
	if err != nil {
		b.Fatal(err)
	}
	return srv, "Bearer " + token
}

// seedSearch creates an experiment of n runs, each with 10 metrics, 3 params and 5 tags.
func seedSearch(b *testing.B, call func(target, body string) []byte, n int) string {
	var exp struct {
		ID string `json:"experiment_id"`
	}
	json.Unmarshal(call("/api/2.0/mlflow/experiments/create", `{"name": "search"}`), &exp)
	var batch []string
	for k := range 10 {
		batch = append(batch, fmt.Sprintf(`{"key": "m%d", "value": %d, "timestamp": 1}`, k, k))
	}
	payload := `"metrics": [` + strings.Join(batch, ",") + `], "params": [{"key": "p0", "value": "v"}, {"key": "p1", "value": "v"}, {"key": "p2", "value": "v"}],` +
		` "tags": [{"key": "t0", "value": "v"}, {"key": "t1", "value": "v"}, {"key": "t2", "value": "v"}, {"key": "t3", "value": "v"}, {"key": "t4", "value": "v"}]`
	for i := range n {
		var run struct {
			Run struct {
				Info struct {
					RunID string `json:"run_id"`
				} `json:"info"`
			} `json:"run"`
		}
		json.Unmarshal(call("/api/2.0/mlflow/runs/create", fmt.Sprintf(`{"experiment_id": %q, "start_time": %d}`, exp.ID, i)), &run)
		call("/api/2.0/mlflow/runs/log-batch", `{"run_id": "`+run.Run.Info.RunID+`", `+payload+`}`)
	}
	return exp.ID
}
