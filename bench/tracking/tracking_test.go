package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlship/mlship/bench/internal/benchkit"
)

func TestParseList(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "mlship,mlflow", want: []string{"mlflow", "mlship"}},
		{in: " mlship ", want: []string{"mlship"}},
		{in: "mlflow,,", want: []string{"mlflow"}},
		{in: "", wantErr: true},
		{in: "postgres", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := benchkit.ParseList("targets", tt.in, allTargets)
			if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
				t.Fatalf("benchkit.ParseList(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestTargetGroups(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{"mlflow", "mlship"}, "[[mlflow] [mlship]]"},
		{[]string{"mlflow", "mlship", "mlship+auth"}, "[[mlflow] [mlship mlship+auth]]"},
		{[]string{"mlship", "mlship+auth"}, "[[mlship mlship+auth]]"},
		{[]string{"mlflow", "mlship", "mlship-x3"}, "[[mlflow] [mlship mlship-x3]]"},
		{[]string{"mlship", "mlflow", "mlship+auth", "mlship-x3"}, "[[mlship mlship+auth mlship-x3] [mlflow]]"},
	} {
		if got := fmt.Sprint(targetGroups(tc.in)); got != tc.want {
			t.Errorf("targetGroups(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	d := make([]time.Duration, 100)
	for i := range d {
		d[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tt := range []struct{ p, wantMs int }{{50, 50}, {95, 95}, {99, 99}, {100, 100}, {0, 1}} {
		if got := benchkit.Percentile(d, tt.p); got != time.Duration(tt.wantMs)*time.Millisecond {
			t.Errorf("percentile(1..100ms, %d) = %v, want %dms", tt.p, got, tt.wantMs)
		}
	}
	if got := benchkit.Percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("percentile of one value = %v, want 7", got)
	}
}

func TestMeasureCountsOnlySuccesses(t *testing.T) {
	var n atomic.Int64
	s := func(context.Context) error {
		time.Sleep(time.Millisecond)
		if n.Add(1)%4 == 0 {
			return &statusError{code: 500, body: "boom"}
		}
		return nil
	}
	r := measure(context.Background(), []step{s, s}, 100*time.Millisecond)
	if r.Successes == 0 || r.Errors == 0 || r.Requests != r.Successes+r.Errors {
		t.Fatalf("got %+v, want both successes and errors that add up", r)
	}
	if want := []string{"HTTP 500: boom"}; !slices.Equal(r.ErrorSamples, want) {
		t.Errorf("error samples %q, want %q", r.ErrorSamples, want)
	}
	if r.Seconds < 0.1 || r.ReqPerSec != float64(r.Successes)/r.Seconds {
		t.Errorf("rate %v over %vs does not match %d successes", r.ReqPerSec, r.Seconds, r.Successes)
	}
}

// TestLogBatchClientNeverRepeatsParamKeys checks that a client logs fresh param keys to
// each run and moves to a new run after batchesPerRun requests.
func TestLogBatchClientNeverRepeatsParamKeys(t *testing.T) {
	var mu sync.Mutex         // the handlers run on the server's goroutines
	seen := map[string]bool{} // run_id + "/" + param key
	runs := 0
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/2.0/mlflow/runs/create", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		runs++
		_ = json.NewEncoder(w).Encode(map[string]any{"run": map[string]any{"info": map[string]any{"run_id": fmt.Sprint("run", runs)}}})
	})
	mux.HandleFunc("POST /api/2.0/mlflow/runs/log-batch", func(w http.ResponseWriter, r *http.Request) {
		var b logBatchRequest
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil || len(b.Metrics) != 10 || len(b.Params) != 3 || len(b.Tags) != 5 {
			http.Error(w, "bad batch", http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, p := range b.Params {
			k := b.RunID + "/" + p.Key
			if seen[k] {
				http.Error(w, "param logged twice: "+k, http.StatusBadRequest)
				return
			}
			seen[k] = true
		}
		_, _ = w.Write([]byte("{}"))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c := &logBatchClient{api: &api{base: srv.URL, client: srv.Client()}, exp: "1", perRun: 4, pool: []string{"pooled"}}
	for range 10 {
		if err := c.step(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 30 || runs != 2 || c.inline != 2 {
		t.Errorf("logged %d params to %d created runs (%d inline), want 30 params, 2 created, 2 inline", len(seen), runs, c.inline)
	}
}

func TestRetryGivesUpAfterFiveTries(t *testing.T) {
	defer func(d time.Duration) { retryBackoff = d }(retryBackoff)
	retryBackoff = time.Microsecond
	var retries atomic.Int64
	calls := 0
	err := retry(context.Background(), &retries, func() error { calls++; return &statusError{code: 400} })
	var se *statusError
	if !errors.As(err, &se) || calls != 5 || retries.Load() != 4 {
		t.Errorf("got %v after %d calls and %d retries, want the 400 after 5 calls and 4 retries", err, calls, retries.Load())
	}
	calls = 0
	err = retry(context.Background(), &retries, func() error {
		if calls++; calls < 3 {
			return errors.New("refused")
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("got %v after %d calls, want success on the third", err, calls)
	}
}

func TestParseCounts(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{in: "20,8", want: []int{20, 8}},
		{in: " 8 ", want: []int{8}},
		{in: "8,8,20,", want: []int{8, 20}},
		{in: "", wantErr: true},
		{in: "0", wantErr: true},
		{in: "8,x", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseCounts(tt.in)
			if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
				t.Fatalf("parseCounts(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil || !slices.Equal(cfg.clientCounts, []int{20, 8}) || cfg.repeats != 5 || cfg.searchRuns != 25000 {
		t.Errorf("defaults: clients %v, runs %d, search runs %d, %v", cfg.clientCounts, cfg.repeats, cfg.searchRuns, err)
	}
}

// One deadlocked window among five must not make the figure: the median is the
// ordinary windows', and its failed requests are still counted beside it.
func TestMedianWindowAndReport(t *testing.T) {
	win := func(rate float64, ok, errs int, p99 float64) workloadResult {
		return workloadResult{Name: "log_batch", ReqPerSec: rate, Successes: ok, Errors: errs, Requests: ok + errs,
			LatencyMs: benchkit.Latency{P99: p99}}
	}
	mlflow := []workloadResult{win(60, 600, 0, 90), win(11, 110, 12, 30300), win(58, 580, 0, 95), win(70, 700, 0, 80), win(40, 400, 0, 120)}
	m := medianWindow(mlflow, 20)
	if m.ReqPerSec != 58 || m.LatencyMs.P99 != 95 || m.Clients != 20 {
		t.Errorf("median window: %v req/s, p99 %v, %d clients; want 58, 95, 20", m.ReqPerSec, m.LatencyMs.P99, m.Clients)
	}
	if m.Errors != 12 || m.Requests != 2402 || len(m.Runs) != 5 || m.Runs[1].Errors != 12 {
		t.Errorf("all windows: %d errors of %d requests, runs %+v", m.Errors, m.Requests, m.Runs)
	}
	ours := medianWindow([]workloadResult{win(4000, 40000, 0, 10), win(3000, 30000, 0, 12), win(3500, 35000, 0, 11)}, 20)
	rep := &report{Settings: settings{Clients: []int{20}, Runs: 5, Workloads: []string{"log_batch"}},
		Targets: []targetResult{{Name: targetMLflow, Workloads: []workloadResult{m}}, {Name: targetMlship, Workloads: []workloadResult{ours}}}}
	rep.computeRatios()
	if got := rep.Ratios["log_batch/20"]; math.Abs(got-3500.0/58) > 1e-9 {
		t.Errorf("ratio = %v, want %v", got, 3500.0/58)
	}
	var out strings.Builder
	if err := rep.writeTable(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"60.3x", "12 (0.5%)", "11.0 (12 failed, p99 30300 ms)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestReplicasFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"--backend", "postgres", "--replicas", "3"}, io.Discard)
	if err != nil || !slices.Equal(cfg.targets, []string{"mlflow", "mlship", "mlship-x3"}) {
		t.Errorf("targets %v, %v; want mlflow, mlship, mlship-x3", cfg.targets, err)
	}
	for _, args := range [][]string{
		{"--replicas", "3"}, // SQLite
		{"--backend", "postgres", "--replicas", "3", "--targets", "mlflow"},
		{"--backend", "postgres", "--replicas", "0"},
		{"--backend", "mysql"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
	if got := sqlalchemyURI("postgresql://postgres@127.0.0.1:5432/bench_mlflow_1_0?sslmode=disable"); got != "postgresql+psycopg2://postgres@127.0.0.1:5432/bench_mlflow_1_0?sslmode=disable" {
		t.Errorf("sqlalchemyURI = %s", got)
	}
}

// With replicas every request goes to the next one in turn.
func TestAPIRoundRobin(t *testing.T) {
	var hits [3]atomic.Int64
	var urls []string
	for i := range hits {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			_, _ = w.Write([]byte("{}"))
		}))
		defer srv.Close()
		urls = append(urls, srv.URL)
	}
	a := &api{base: urls[0], replicas: urls, client: http.DefaultClient}
	for range 9 {
		if err := a.searchRuns(context.Background(), "1"); err != nil {
			t.Fatal(err)
		}
	}
	for i := range hits {
		if n := hits[i].Load(); n != 3 {
			t.Errorf("replica %d got %d requests, want 3", i, n)
		}
	}
}

func TestReplicaReport(t *testing.T) {
	win := func(rate float64) workloadResult {
		return medianWindow([]workloadResult{{Name: "runs_create", ReqPerSec: rate, Successes: int(rate) * 10, Requests: int(rate) * 10, Seconds: 10,
			ServerCPUSeconds: 10, DatabaseCPUSeconds: 5, ClientCPUSeconds: 2}}, 8)
	}
	rep := &report{Machine: benchkit.Machine{CPUs: 2}, Settings: settings{Clients: []int{8}, Runs: 1, DurationS: 10, Workloads: []string{"runs_create"}, Backend: backendPostgres, Replicas: 3},
		Targets: []targetResult{{Name: targetMlship, Workloads: []workloadResult{win(1000)}}, {Name: "mlship-x3", Workloads: []workloadResult{win(1500)}}}}
	rep.computeRatios()
	var out strings.Builder
	if err := rep.writeTable(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mlship on 3 replicas", "1.50x", "1.00 + 0.50 + 0.20", "PostgreSQL"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

// A child's CPU time still counts once it has exited and been reaped, as PostgreSQL's
// backends do when their connection closes.
func TestTreeCPUKeepsReapedChildren(t *testing.T) {
	before := benchkit.TreeCPU(os.Getpid())
	if err := exec.Command("sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done").Run(); err != nil {
		t.Skip("no sh:", err)
	}
	own := benchkit.ProcessCPU(os.Getpid())
	after := benchkit.TreeCPU(os.Getpid())
	if after-before < 0.1 || after < own {
		t.Errorf("treeCPU: %.2fs before, %.2fs after a child that burnt CPU and exited (own %.2fs)", before, after, own)
	}
}
