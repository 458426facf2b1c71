package main

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlship/mlship/bench/internal/benchkit"
)

func TestLabels(t *testing.T) {
	tests := []struct {
		name     string
		protocol string
		body     string
		want     []int64
		wantErr  bool
	}{
		{"pyfunc list", protoInvocations, `{"predictions": [1, 0, 1]}`, []int64{1, 0, 1}, false},
		{"nested list", protoInvocations, `{"predictions": [[1], [0]]}`, []int64{1, 0}, false},
		{"records with label", protoInvocations, `{"predictions": [{"label": 1, "probabilities": [0.1, 0.9]}, {"label": 0, "probabilities": [0.8, 0.2]}]}`, []int64{1, 0}, false},
		{"columns with label", protoInvocations, `{"predictions": {"label": [0, 1], "probabilities": [[0.9, 0.1], [0.2, 0.8]]}}`, []int64{0, 1}, false},
		{"integral floats", protoInvocations, `{"predictions": [1.0, 0.0]}`, []int64{1, 0}, false},
		{"fractional is not a label", protoInvocations, `{"predictions": [0.7]}`, nil, true},
		{"error body", protoInvocations, `{"error_code": "BAD_REQUEST", "message": "x"}`, nil, true},
		{"oip single output", protoOIP, `{"outputs": [{"name": "output-1", "shape": [1, 1], "datatype": "INT64", "data": [1]}]}`, []int64{1}, false},
		{"oip label among outputs", protoOIP, `{"outputs": [{"name": "probabilities", "datatype": "FP32", "data": [0.1, 0.9]}, {"name": "label", "datatype": "INT64", "data": [1]}]}`, []int64{1}, false},
		{"oip integer output among others", protoOIP, `{"outputs": [{"name": "p", "datatype": "FP32", "data": [0.5]}, {"name": "y", "datatype": "INT64", "data": [[0], [1]]}]}`, []int64{0, 1}, false},
		{"oip no outputs", protoOIP, `{"error": "model not found"}`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := labels(tt.protocol, []byte(tt.body))
			if (err != nil) != tt.wantErr {
				t.Fatalf("labels() error = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !slices.Equal(got, tt.want) {
				t.Errorf("labels() = %v, want %v", got, tt.want)
			}
		})
	}
}

// The bodies must carry exactly the float64 values scikit-learn predicted from.
func TestBodiesRoundTripFloats(t *testing.T) {
	rows := [][]float64{{0.1, -3.3824376191386465, 1e-300, math.MaxFloat64}, {2, 0, -0.5, 1.0 / 3}}
	var inv struct{ Inputs [][]float64 }
	if err := json.Unmarshal(invocationsEndpoint(rows, []int64{0, 1}).Check, &inv); err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(inv.Inputs, rows, slices.Equal) {
		t.Errorf("/invocations rows = %v, want %v", inv.Inputs, rows)
	}
	ep := oipEndpoint("gbc", oipInput, rows, []int64{0, 1})
	if ep.Path != "/v2/models/gbc/infer" {
		t.Errorf("path = %s", ep.Path)
	}
	var oip struct {
		Inputs []struct {
			Name, Datatype string
			Shape          []int
			Data           []float64
		}
	}
	if err := json.Unmarshal(ep.Body, &oip); err != nil {
		t.Fatal(err)
	}
	in := oip.Inputs[0]
	if in.Name != "input-0" || in.Datatype != "FP64" || !slices.Equal(in.Shape, []int{1, 4}) || !slices.Equal(in.Data, rows[0]) {
		t.Errorf("OIP body = %s", ep.Body)
	}
}

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.only, allServers) || cfg.concurrency != 32 || cfg.duration != 5*time.Second || cfg.warmup != 3*time.Second || cfg.onnx ||
		!cfg.likeForLike || cfg.runs != 3 {
		t.Errorf("defaults = %+v", cfg)
	}
	cfg, err = parseFlags([]string{"--only=mlship,mlflow", "--mlship-args", "--workers 2  --max-batch-size 8"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.only, []string{serverMLflow, serverMlship}) || !slices.Equal(cfg.mlshipArgs, []string{"--workers", "2", "--max-batch-size", "8"}) {
		t.Errorf("only = %v, mlship args = %q", cfg.only, cfg.mlshipArgs)
	}
	for _, bad := range [][]string{{"--only=triton"}, {"--only=mlflow", "--onnx"}, {"--concurrency=0"}, {"--duration=0s"}, {"--runs=0"}, {"-o", "csv"}, {"extra"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}

func TestSummarize(t *testing.T) {
	start := time.Now()
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	r := summarize([]tally{
		{ok: 100, latencies: lat, lastEnd: start.Add(2 * time.Second), warmup: 7},
		{non2xx: 3, transport: 1, lastEnd: start.Add(time.Second), samples: []string{"status 503"}},
	}, start)
	if r.Requests != 104 || r.OK != 100 || r.Non2xx != 3 || r.TransportErrors != 1 || r.WarmupRequests != 7 {
		t.Errorf("counts = %+v", r)
	}
	if r.Seconds != 2 || r.ReqPerSec != 50 {
		t.Errorf("seconds %v, req/s %v; want 2 and 50", r.Seconds, r.ReqPerSec)
	}
	if l := r.LatencyMs; l.P50 != 50 || l.P90 != 90 || l.P99 != 99 || l.Max != 100 {
		t.Errorf("latency = %+v", l)
	}
}

func TestServerCommands(t *testing.T) {
	cfg, err := parseFlags([]string{"--workers=2", "--mlship-args=--max-batch-size 16"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m := &model{Name: "gbc", Rows: [][]float64{{1, 2}}, SklearnLabels: []int64{1}, SklearnDir: "/m/sklearn/gbc"}
	ts := targets(cfg, m)
	if len(ts) != 4 {
		t.Fatalf("targets = %d, want 4", len(ts))
	}
	dir := t.TempDir()
	ports := []int{8000, 8001, 8002}
	args := func(tg *target) string {
		cmd, _, err := serverCommand(cfg, tg, dir, ports)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(cmd.Args[1:], " ")
	}
	if got := args(ts[0]); !strings.Contains(got, "-h 127.0.0.1 -p 8000 --workers 2") {
		t.Errorf("mlflow args = %s", got)
	}
	if got := args(ts[2]); got != "serve /m/sklearn/gbc --host 127.0.0.1 --port 8000 --runtime python --max-batch-size 16" {
		t.Errorf("mlship args = %s", got)
	}
	// Like for like: as many workers as the Python servers were given, no batching;
	// its own settings come last, so they win over --mlship-args.
	if got, want := args(ts[3]), "serve /m/sklearn/gbc --host 127.0.0.1 --port 8000 --runtime python --max-batch-size 16 --workers 2 --max-batch-size 1"; got != want {
		t.Errorf("like-for-like mlship args = %s, want %s", got, want)
	}
	if got := ts[3].label(); got != "mlship (python, 2 workers, batch 1)" {
		t.Errorf("like-for-like label = %q", got)
	}
	noLike, _ := parseFlags([]string{"--like-for-like=false"}, io.Discard)
	if n := len(targets(noLike, m)); n != 3 {
		t.Errorf("--like-for-like=false: %d targets, want 3", n)
	}
	args(ts[1])
	b, err := os.ReadFile(filepath.Join(dir, "mlserver-repo", "settings.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s["host"] != "127.0.0.1" || s["http_port"] != 8000.0 || s["grpc_port"] != 8001.0 || s["parallel_workers"] != 2.0 {
		t.Errorf("MLServer settings = %s", b)
	}

	// A name other than the directory's is passed to mlship, and used in the OIP path.
	m.Name = "fraud"
	ts = targets(cfg, m)
	if got := args(ts[2]); !strings.Contains(got, "--name fraud") || ts[1].endpoints[0].Path != "/v2/models/fraud/infer" {
		t.Errorf("mlship args = %s, MLServer path %s", got, ts[1].endpoints[0].Path)
	}
}

func TestFreePortsDistinct(t *testing.T) {
	ports, err := freePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range ports {
		seen[strconv.Itoa(p)] = true
	}
	if len(seen) != 3 {
		t.Errorf("ports = %v", ports)
	}
}

func TestParseStat(t *testing.T) {
	line := "4321 (python3 (x) y) S 1 4300 4300 0 -1 4194560 100 0 0 0 250 40 0 0 20 0 3 0 123 456 789\n"
	p, ok := parseStat([]byte(line))
	if want := (proc{pid: 4321, ppid: 1, pgid: 4300, ticks: 290}); !ok || p != want {
		t.Errorf("parseStat = %+v, %v; want %+v", p, ok, want)
	}
	if _, ok := parseStat([]byte("garbage")); ok {
		t.Error("parseStat accepted garbage")
	}
	if procs := serverProcs(os.Getpid()); len(procs) == 0 || procs[0].pid != os.Getpid() {
		t.Errorf("serverProcs(self) = %+v", procs)
	}
}

// A fake scoring server: verify and measure against it, answers right and wrong.
func TestVerifyAndMeasure(t *testing.T) {
	answer := `{"predictions": [1]}`
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad content type", http.StatusUnsupportedMediaType)
			return
		}
		io.WriteString(w, answer)
	}))
	defer srv.Close()
	rows := [][]float64{{1, 2}}
	ep := invocationsEndpoint(rows, []int64{1})
	cfg := config{concurrency: 4, warmup: 50 * time.Millisecond, duration: 200 * time.Millisecond, timeout: time.Second}
	client := newHTTPClient(cfg.concurrency, cfg.timeout)
	ctx := t.Context()
	if err := verify(ctx, client, srv.URL, ep); err != nil {
		t.Fatalf("verify: %v", err)
	}
	r := measure(ctx, ep, srv.URL, cfg, os.Getpid())
	if r.OK == 0 || r.Non2xx+r.TransportErrors+r.WrongAnswers != 0 || r.Checked == 0 || r.WarmupRequests == 0 {
		t.Errorf("right answers: %+v", r)
	}
	mu.Lock()
	answer = `{"predictions": [0]}`
	mu.Unlock()
	if err := verify(ctx, client, srv.URL, ep); err == nil {
		t.Error("verify accepted a wrong prediction")
	}
	r = measure(ctx, ep, srv.URL, cfg, os.Getpid())
	if r.WrongAnswers == 0 || r.WrongAnswers != r.Checked {
		t.Errorf("wrong answers: %d of %d checked", r.WrongAnswers, r.Checked)
	}
	rep := &report{Rows: []rowResult{r}}
	if err := rep.checkErrorRates(0.01); err == nil {
		t.Error("a row with wrong answers passed")
	}
}

// A row is its median run, with every run's requests and errors counted.
func TestMedianRun(t *testing.T) {
	runs := []rowResult{
		{ReqPerSec: 300, OK: 900, Requests: 900, LatencyMs: benchkit.Latency{P99: 3}},
		{ReqPerSec: 100, OK: 290, Non2xx: 10, Requests: 300, LatencyMs: benchkit.Latency{P99: 1}, ErrorSamples: []string{"status 500"}},
		{ReqPerSec: 200, OK: 600, Requests: 600, WrongAnswers: 1, Checked: 40, LatencyMs: benchkit.Latency{P99: 2}},
	}
	r := medianRun(runs)
	if r.ReqPerSec != 200 || r.LatencyMs.P99 != 2 {
		t.Errorf("median run: req/s %v, p99 %v; want 200 and 2", r.ReqPerSec, r.LatencyMs.P99)
	}
	if r.Requests != 1800 || r.OK != 1790 || r.Non2xx != 10 || r.WrongAnswers != 1 || r.Checked != 40 {
		t.Errorf("counts of all runs = %+v", r)
	}
	if want := 10.0 / 1800; math.Abs(r.ErrorRate-want) > 1e-12 || !slices.Equal(r.ErrorSamples, []string{"status 500"}) {
		t.Errorf("error rate %v, samples %q", r.ErrorRate, r.ErrorSamples)
	}
	if !slices.Equal(r.RunsReqPerSec, []float64{300, 100, 200}) {
		t.Errorf("runs = %v", r.RunsReqPerSec)
	}
	if r := medianRun(runs[:2]); r.ReqPerSec != 100 {
		t.Errorf("median of two = %v, want the lower, 100", r.ReqPerSec)
	}
}

// Each mlship row is set against the others' best req/s, p99 and CPU per request.
func TestComparison(t *testing.T) {
	rep := &report{Rows: []rowResult{
		{Server: serverMLServer, Path: "/invocations", OK: 1, ReqPerSec: 400, LatencyMs: benchkit.Latency{P99: 50}, CPUPerRequestMs: 3},
		{Server: serverMLflow, Path: "/invocations", OK: 1, ReqPerSec: 300, LatencyMs: benchkit.Latency{P99: 40}, CPUPerRequestMs: 2},
		{Server: serverMlship, Runtime: "python", Variant: "1 worker, batch 1", Path: "/invocations", OK: 1, ReqPerSec: 1000, LatencyMs: benchkit.Latency{P99: 20}, CPUPerRequestMs: 0.5},
	}}
	rep.finish()
	m := rep.Comparison.Mlship[0]
	if m.Row != "mlship (python, 1 worker, batch 1) /invocations" || m.ThroughputRatio != 2.5 || m.P99Ratio != 0.5 || m.CPURatio != 4 || m.TargetMet {
		t.Errorf("comparison = %+v; want 2.5x req/s, 0.5x p99, 4x CPU, target not met", m)
	}
	var out strings.Builder
	if err := rep.writeComparison(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "4.00x") || !strings.Contains(out.String(), "2.00 ms/req (mlflow /invocations)") {
		t.Errorf("comparison table:\n%s", out.String())
	}
}

// scikit-learn alone is set against the others' best req/s: the most a one-worker row can lead.
func TestCeiling(t *testing.T) {
	rep := &report{
		Rows:    []rowResult{{Server: serverMLServer, Path: "/invocations", OK: 1, ReqPerSec: 1000, LatencyMs: benchkit.Latency{P99: 50}, CPUPerRequestMs: 2}},
		Ceiling: &ceiling{CallsPerSec: 2200, CPUPerCallMs: 0.45, LoadAvgBefore: "0.50 0.40 0.30"},
	}
	rep.finish()
	if rep.Ceiling.OfBestOther != 2.2 {
		t.Errorf("ceiling of the best other = %v, want 2.2", rep.Ceiling.OfBestOther)
	}
	var out strings.Builder
	rep.writeCeiling(&out)
	for _, want := range []string{"2200 calls/s, 0.450 ms of CPU each", "2.20x the best of the others (1000.0 req/s)", "load 0.50 before"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("ceiling lines lack %q:\n%s", want, out.String())
		}
	}
}
