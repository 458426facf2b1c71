package process

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
	"github.com/mlship/mlship/internal/runtime/sandbox"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == sandbox.HelperCommand {
		os.Exit(sandbox.Main(os.Args[2:])) // the test binary is the sandbox's helper, as mlship is
	}
	if mode := os.Getenv(fakeWorkerEnv); mode != "" {
		os.Exit(fakeWorker(mode))
	}
	code := m.Run()
	if scratchDir != "" {
		os.RemoveAll(scratchDir)
	}
	os.Exit(code)
}

// scratchDir holds what tests share across one run of the test binary: the scripts
// the embedded workers write and the models the integration tests save.
var (
	scratchOnce sync.Once
	scratchDir  string
)

func scratch() string {
	scratchOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mlship-process-test-")
		if err != nil {
			panic(err)
		}
		scratchDir = dir
	})
	return scratchDir
}

// onceFor runs f once, with the argument of the first call, and remembers its result.
func onceFor[A, R any](f func(A) (R, error)) func(A) (R, error) {
	var (
		once sync.Once
		r    R
		err  error
	)
	return func(a A) (R, error) {
		once.Do(func() { r, err = f(a) })
		return r, err
	}
}

// logBuffer collects log output for assertions; it is safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fakeOptions are Options that run the test binary as a worker in the given mode.
func fakeOptions(mode string, opts Options) Options {
	opts.Command = []string{os.Args[0]}
	// GORACE: a worker built with -race would otherwise sleep a second before exiting.
	opts.Env = append(opts.Env, fakeWorkerEnv+"="+mode, "GORACE=atexit_sleep_ms=0")
	if opts.Workers == 0 {
		opts.Workers = 2
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 10 * time.Second
	}
	if opts.StopGrace == 0 {
		opts.StopGrace = 500 * time.Millisecond
	}
	return opts
}

// loadFake loads a model served by fake workers; the model is closed when the test ends.
func loadFake(t *testing.T, mode string, opts Options) *model {
	t.Helper()
	m, err := tryLoadFake(t, mode, opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m.(*model)
}

func tryLoadFake(t *testing.T, mode string, opts Options) (runtime.Model, error) {
	t.Helper()
	// Generous: a Python worker imports mlflow and scikit-learn, which takes a while
	// under -race beside the end-to-end tests; tests of timeouts set their own.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return New(fakeOptions(mode, opts)).Load(ctx, runtime.Spec{Dir: t.TempDir(), Name: "fake", Version: "1"})
}

func testContext(t *testing.T) context.Context {
	// Generous: a Python worker imports mlflow and scikit-learn, which takes a while
	// under -race beside the end-to-end tests; tests of timeouts set their own.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// request returns a one-row FP64 request steered by params.
func request(v float64, params map[string]any) *runtime.Request {
	return &runtime.Request{
		Inputs: []runtime.Tensor{runtime.NewFloat64("x", []int64{1, 4}, []float64{v, v + 1, v + 2, v + 3})},
		Params: params,
	}
}

// servedBy is the pid of the worker that echoed resp, or 0.
func servedBy(resp *runtime.Response) int {
	for _, o := range resp.Outputs {
		if o.Name == "pid" && len(o.Data) == 8 {
			return int(binary.LittleEndian.Uint64(o.Data))
		}
	}
	return 0
}

// echoError says how resp fails to echo req's inputs, or returns nil.
func echoError(req *runtime.Request, resp *runtime.Response) error {
	if resp.Kind != runtime.ResultDict || len(resp.Outputs) != len(req.Inputs)+2 {
		return fmt.Errorf("reply %s with %d outputs, want dict with %d", resp.Kind, len(resp.Outputs), len(req.Inputs)+2)
	}
	for i, in := range req.Inputs {
		out := resp.Outputs[i]
		if out.Name != in.Name || out.Datatype != in.Datatype || fmt.Sprint(out.Shape) != fmt.Sprint(in.Shape) ||
			!bytes.Equal(out.Data, in.Data) || fmt.Sprintf("%q", out.Strings) != fmt.Sprintf("%q", in.Strings) {
			return fmt.Errorf("output %d = %+v, want %+v", i, out, in)
		}
	}
	if got, want := string(resp.Outputs[len(resp.Outputs)-1].Strings[0]), req.Layout.String(); got != want {
		return fmt.Errorf("worker saw layout %q, want %q", got, want)
	}
	return nil
}

func TestPredictRoundTrip(t *testing.T) {
	m := loadFake(t, "echo", Options{Workers: 1})
	half := []byte{0x00, 0x3c, 0x00, 0xc0} // 1.0, -2.0
	tests := []struct {
		name string
		req  runtime.Request
	}{
		{"fp64 matrix", runtime.Request{Inputs: []runtime.Tensor{
			runtime.NewFloat64("x", []int64{2, 3}, []float64{1, -2.5, math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(-1), 0})}}},
		{"int64 and strings", runtime.Request{Inputs: []runtime.Tensor{
			runtime.NewInt64("id", []int64{3}, []int64{math.MinInt64, 0, math.MaxInt64}),
			runtime.NewStrings("s", []int64{3}, []string{"", "héllo \"quoted\"\n", strings.Repeat("z", 70000)})}}},
		{"columns layout", runtime.Request{Layout: runtime.LayoutColumns, Inputs: []runtime.Tensor{
			runtime.NewFloat64("a", []int64{2}, []float64{1, 2}),
			{Name: "flag", Datatype: runtime.Bool, Shape: []int64{2}, Data: []byte{1, 0}}}}},
		{"awkward names", runtime.Request{Inputs: []runtime.Tensor{
			{Name: "a\"b\\c\x01\u2028é", Datatype: runtime.FP16, Shape: []int64{2}, Data: half}}}},
		{"scalar and empty", runtime.Request{Inputs: []runtime.Tensor{
			runtime.NewFloat64("scalar", []int64{}, []float64{7}),
			runtime.NewFloat64("none", []int64{0, 4}, nil),
			runtime.NewStrings("nostr", []int64{0}, nil)}}},
		{"params", runtime.Request{Inputs: []runtime.Tensor{runtime.NewFloat64("x", []int64{1}, []float64{1})},
			Params: map[string]any{"unused": []any{1, "two"}}}},
		{"large", runtime.Request{Inputs: []runtime.Tensor{
			runtime.NewFloat64("big", []int64{1000, 100}, make([]float64, 100000))}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := m.Predict(testContext(t), &tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if err := echoError(&tt.req, resp); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRequestChecked(t *testing.T) {
	m := loadFake(t, "echo", Options{Workers: 1})
	tests := []struct {
		name string
		req  runtime.Request
	}{
		{"shape disagrees with data", runtime.Request{Inputs: []runtime.Tensor{
			{Name: "x", Datatype: runtime.FP64, Shape: []int64{2}, Data: make([]byte, 8)}}}},
		{"unknown datatype", runtime.Request{Inputs: []runtime.Tensor{{Name: "x", Datatype: "FP128", Shape: []int64{0}}}}},
		{"params not JSON", runtime.Request{Params: map[string]any{"f": func() {}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.Predict(testContext(t), &tt.req)
			if !errors.Is(err, fault.Invalid) {
				t.Fatalf("err = %v, want fault.Invalid", err)
			}
		})
	}
}

func TestMetadata(t *testing.T) {
	m := loadFake(t, "echo", Options{Workers: 1})
	md := m.Metadata()
	want := runtime.Metadata{Platform: "fake_platform", Batchable: true, InFlight: 2, Outputs: []runtime.TensorSpec{},
		Inputs: []runtime.TensorSpec{{Name: "x", Datatype: runtime.FP64, Shape: []int64{-1, 4}}}}
	if fmt.Sprintf("%+v", md) != fmt.Sprintf("%+v", want) {
		t.Fatalf("metadata = %+v, want %+v", md, want)
	}
}

func TestPing(t *testing.T) {
	m := loadFake(t, "echo", Options{Workers: 1})
	w, err := m.acquire(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.release(w)
	if err := w.conn.writePing(); err != nil {
		t.Fatal(err)
	}
	if resp, err := w.conn.readReply(); err != nil || len(resp.Outputs) != 0 {
		t.Fatalf("ping: %v, %v", resp, err)
	}
}

func TestConcurrentPredictions(t *testing.T) {
	m := loadFake(t, "echo", Options{Workers: 3})
	pids := map[int]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 24 {
		wg.Go(func() {
			for i := range 40 {
				req := request(float64(g*1000+i), nil)
				resp, err := m.Predict(testContext(t), req)
				if err != nil {
					t.Error(err)
					return
				}
				if err := echoError(req, resp); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				pids[servedBy(resp)] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(pids) != 3 {
		t.Errorf("requests were served by %d workers, want 3", len(pids))
	}
}

// TestWorkerKilledUnderTraffic kills workers with SIGKILL while requests flow: every
// request must still succeed, retried on another worker.
func TestWorkerKilledUnderTraffic(t *testing.T) {
	m := loadFake(t, "echo", Options{Workers: 3})
	var (
		mu     sync.Mutex
		seen   = map[int]bool{}
		killed = map[int]bool{}
		done   atomic.Bool
		served atomic.Int64
		wg     sync.WaitGroup
	)
	for g := range 12 {
		wg.Go(func() {
			for i := 0; !done.Load(); i++ {
				req := request(float64(g*100000+i), map[string]any{"sleep_ms": 2})
				resp, err := m.Predict(testContext(t), req)
				if err != nil {
					t.Errorf("request failed while workers were killed: %v", err)
					return
				}
				if err := echoError(req, resp); err != nil {
					t.Error(err)
					return
				}
				served.Add(1)
				mu.Lock()
				seen[servedBy(resp)] = true
				mu.Unlock()
			}
		})
	}
	for range 6 {
		time.Sleep(150 * time.Millisecond)
		mu.Lock()
		for pid := range seen {
			if !killed[pid] {
				killed[pid] = true
				syscall.Kill(pid, syscall.SIGKILL)
				break
			}
		}
		mu.Unlock()
	}
	time.Sleep(200 * time.Millisecond)
	done.Store(true)
	wg.Wait()
	if len(killed) < 4 {
		t.Errorf("killed %d workers, want at least 4", len(killed))
	}
	t.Logf("%d requests served while %d workers were killed", served.Load(), len(killed))
	resp, err := m.Predict(testContext(t), request(1, nil))
	if err != nil || killed[servedBy(resp)] {
		t.Fatalf("after the kills: %v", err)
	}
}

func TestCrashRetriedOnce(t *testing.T) {
	m := loadFake(t, "echo", Options{Workers: 2})
	marker := filepath.Join(t.TempDir(), "crashed")
	req := request(1, map[string]any{"crash_once": marker})
	resp, err := m.Predict(testContext(t), req)
	if err != nil {
		t.Fatalf("a request whose first worker crashed failed: %v", err)
	}
	if err := echoError(req, resp); err != nil {
		t.Fatal(err)
	}

	_, err = m.Predict(testContext(t), request(1, map[string]any{"crash": true}))
	if !errors.Is(err, fault.Unavailable) {
		t.Fatalf("a request that crashes every worker: err = %v, want fault.Unavailable", err)
	}
	if _, err := m.Predict(testContext(t), request(1, nil)); err != nil {
		t.Fatalf("after the crashes: %v", err)
	}
}

func TestMalformedReplyReplacesWorker(t *testing.T) {
	m := loadFake(t, "echo", Options{Workers: 1})
	resp, err := m.Predict(testContext(t), request(1, nil))
	if err != nil {
		t.Fatal(err)
	}
	first := servedBy(resp)
	_, err = m.Predict(testContext(t), request(1, map[string]any{"garbage": true}))
	if !errors.Is(err, fault.Unavailable) {
		t.Fatalf("err = %v, want fault.Unavailable", err)
	}
	resp, err = m.Predict(testContext(t), request(1, nil))
	if err != nil {
		t.Fatal(err)
	}
	if servedBy(resp) == first {
		t.Fatal("the worker that sent a malformed frame is still serving")
	}
}

func TestHungWorkerKilled(t *testing.T) {
	m := loadFake(t, "echo", Options{Workers: 1, RequestTimeout: 300 * time.Millisecond})
	resp, err := m.Predict(testContext(t), request(1, nil))
	if err != nil {
		t.Fatal(err)
	}
	hung := servedBy(resp)
	start := time.Now()
	_, err = m.Predict(testContext(t), request(1, map[string]any{"sleep_ms": 60000}))
	if !errors.Is(err, fault.DeadlineExceeded) {
		t.Fatalf("err = %v, want fault.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the hung request took %s", d)
	}
	resp, err = m.Predict(testContext(t), request(1, nil))
	if err != nil {
		t.Fatal(err)
	}
	if servedBy(resp) == hung {
		t.Fatal("the hung worker is still serving")
	}
	if err := syscall.Kill(hung, 0); err == nil {
		t.Fatal("the hung worker is still running")
	}
}

// TestContextDeadlineKeepsSlowWorker: a caller that gives up does not cost the worker
// its life when it answers within the request timeout.
func TestContextDeadlineKeepsSlowWorker(t *testing.T) {
	m := loadFake(t, "echo", Options{Workers: 1, RequestTimeout: 5 * time.Second})
	resp, err := m.Predict(testContext(t), request(1, nil))
	if err != nil {
		t.Fatal(err)
	}
	pid := servedBy(resp)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = m.Predict(ctx, request(1, map[string]any{"sleep_ms": 400}))
	if !errors.Is(err, fault.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Fatalf("err = %v after %s, want fault.DeadlineExceeded at once", err, time.Since(start))
	}
	resp, err = m.Predict(testContext(t), request(1, nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := servedBy(resp); got != pid {
		t.Fatalf("served by %d, want the slow worker %d", got, pid)
	}
}

func TestWaitForWorkerHonoursContext(t *testing.T) {
	m := loadFake(t, "echo", Options{Workers: 1})
	busy := testContext(t)
	go m.Predict(busy, request(1, map[string]any{"sleep_ms": 1000}))
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := m.Predict(ctx, request(1, nil)); !errors.Is(err, fault.DeadlineExceeded) {
		t.Fatalf("err = %v, want fault.DeadlineExceeded", err)
	}
}

func TestModelErrors(t *testing.T) {
	m := loadFake(t, "echo", Options{Workers: 1})
	tests := []struct {
		params  map[string]any
		kind    fault.Kind
		message string
	}{
		{map[string]any{"error": "column 'age' is missing", "client_error": true}, fault.Invalid, "column 'age' is missing"},
		{map[string]any{"error": "ZeroDivisionError: division by zero"}, fault.Internal, "the model failed to predict"},
	}
	for _, tt := range tests {
		_, err := m.Predict(testContext(t), request(1, tt.params))
		if fault.KindOf(err) != tt.kind || fault.Message(err) != tt.message {
			t.Errorf("err = %v (%v, %q), want %v %q", err, fault.KindOf(err), fault.Message(err), tt.kind, tt.message)
		}
	}
	if _, err := m.Predict(testContext(t), request(1, nil)); err != nil {
		t.Fatalf("a worker that reported errors is no longer serving: %v", err)
	}
}

func TestLoadFailures(t *testing.T) {
	tests := []struct {
		name string
		mode string
		opts Options
		kind fault.Kind
		want string
	}{
		{"worker reports load error", "loadfail", Options{}, fault.Invalid, "No module named 'fancylib'"},
		{"worker exits early", "exitearly", Options{}, fault.Invalid, "ImportError: numpy is broken"},
		{"worker never ready", "silent", Options{StartTimeout: 300 * time.Millisecond}, fault.DeadlineExceeded, "did not load model"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := tryLoadFake(t, tt.mode, tt.opts)
			if fault.KindOf(err) != tt.kind || !strings.Contains(fault.Message(err), tt.want) {
				t.Fatalf("err = %v (%v), want %v containing %q", err, fault.KindOf(err), tt.kind, tt.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("Load took %s to fail", d)
			}
		})
	}
	t.Run("no such command", func(t *testing.T) {
		rt := New(Options{Command: []string{"/nonexistent/worker"}})
		_, err := rt.Load(testContext(t), runtime.Spec{Dir: t.TempDir()})
		if !errors.Is(err, fault.Unavailable) || !strings.Contains(fault.Message(err), "/nonexistent/worker") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no command", func(t *testing.T) {
		if _, err := New(Options{}).Load(testContext(t), runtime.Spec{Dir: t.TempDir()}); !errors.Is(err, fault.Invalid) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no model directory", func(t *testing.T) {
		rt := New(fakeOptions("echo", Options{}))
		_, err := rt.Load(testContext(t), runtime.Spec{Dir: filepath.Join(t.TempDir(), "missing")})
		if !errors.Is(err, fault.Invalid) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestStderrLogged(t *testing.T) {
	var logs logBuffer
	m := loadFake(t, "echo", Options{Workers: 1, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	m.Close()
	out := logs.String()
	for _, want := range []string{"fake worker starting in mode echo", "model=fake", "version=1", "pid="} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestIdleWorkerDeathReplaced(t *testing.T) {
	m := loadFake(t, "echo", Options{Workers: 1})
	resp, err := m.Predict(testContext(t), request(1, nil))
	if err != nil {
		t.Fatal(err)
	}
	dead := servedBy(resp)
	syscall.Kill(dead, syscall.SIGKILL)
	waitFor(t, "a replacement worker", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		for w, ready := range m.workers {
			if ready && w.pid != dead {
				return true
			}
		}
		return false
	})
	resp, err = m.Predict(testContext(t), request(1, nil))
	if err != nil || servedBy(resp) == dead {
		t.Fatalf("after the idle worker died: %v", err)
	}
}

func TestReplacementBackoff(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "broken")
	m := loadFake(t, "failif:"+marker, Options{Workers: 1})
	if err := os.WriteFile(marker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_, err := m.Predict(ctx, request(1, map[string]any{"crash": true}))
	if !errors.Is(err, fault.Unavailable) || !strings.Contains(fault.Message(err), "marker file present") {
		t.Fatalf("err = %v, want fault.Unavailable saying why workers fail to start", err)
	}
	failures := m.failures.Load()
	if failures < 1 || failures > 7 { // 0, 100, 200, 400, 800ms: without backoff, dozens
		t.Errorf("%d failed starts in 1.5s, want a few (backoff)", failures)
	}
	os.Remove(marker)
	if _, err := m.Predict(testContext(t), request(1, nil)); err != nil {
		t.Fatalf("once workers start again: %v", err)
	}
}

// TestWorkerDyingAtStartBacksOff: a worker that dies as soon as it is ready is
// restarted with backoff, not in a tight loop.
func TestWorkerDyingAtStartBacksOff(t *testing.T) {
	m := loadFake(t, "exitafterready", Options{Workers: 1})
	time.Sleep(1500 * time.Millisecond)
	if n := m.failures.Load(); n < 2 || n > 7 {
		t.Errorf("%d early deaths in 1.5s, want a few (backoff)", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := m.Predict(ctx, request(1, nil))
	if !errors.Is(err, fault.Unavailable) || !strings.Contains(fault.Message(err), "ready and leaving") {
		t.Fatalf("err = %v, want fault.Unavailable quoting the worker", err)
	}
}

func TestClose(t *testing.T) {
	m := loadFake(t, "echo", Options{Workers: 2, StopGrace: 200 * time.Millisecond})
	var pids []int
	m.mu.Lock()
	for w := range m.workers {
		pids = append(pids, w.pid)
	}
	m.mu.Unlock()
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := m.Predict(testContext(t), request(1, map[string]any{"sleep_ms": 10000}))
			errs <- err
		}()
	}
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %s", d)
	}
	for range 2 {
		if err := <-errs; !errors.Is(err, fault.Unavailable) {
			t.Errorf("in-flight request: err = %v, want fault.Unavailable", err)
		}
	}
	if _, err := m.Predict(testContext(t), request(1, nil)); !errors.Is(err, fault.Unavailable) {
		t.Errorf("after Close: err = %v, want fault.Unavailable", err)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("worker %d still runs after Close", pid)
		}
	}
	m.Close() // a second Close is harmless
}

func TestNoGoroutinesLeft(t *testing.T) {
	before := goruntime.NumGoroutine()
	m, err := tryLoadFake(t, "echo", Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	for range 20 {
		m.Predict(ctx, request(1, nil))
	}
	cancel()
	m.Predict(ctx, request(1, nil))
	m.Close()
	if _, err := tryLoadFake(t, "loadfail", Options{}); err == nil {
		t.Fatal("loadfail loaded")
	}
	waitFor(t, "goroutines to end", func() bool { return goruntime.NumGoroutine() <= before })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func BenchmarkFakeWorkerBatch1(b *testing.B) {
	rt := New(fakeOptions("echo", Options{Workers: 1}))
	m, err := rt.Load(context.Background(), runtime.Spec{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	req := request(1, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Predict(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// TestNextRequestWaitsInTheWorkersInput: while a worker computes, the next request
// for it is already written to its stdin, so that it goes on without waiting for the
// server to read its answer and write again.
func TestNextRequestWaitsInTheWorkersInput(t *testing.T) {
	m := loadFake(t, "echo", Options{Workers: 1})
	ctx := testContext(t)
	first := make(chan error, 1)
	go func() {
		_, err := m.Predict(ctx, request(1, map[string]any{"sleep_ms": 400, "pending": true}))
		first <- err
	}()
	time.Sleep(100 * time.Millisecond) // the worker is computing the first request
	resp, err := m.Predict(ctx, request(2, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := echoError(request(2, nil), resp); err != nil {
		t.Errorf("second request: %v", err)
	}
	err = <-first
	var pending int
	if _, scanErr := fmt.Sscanf(fault.Message(err), "pending %d", &pending); scanErr != nil || pending == 0 {
		t.Errorf("first request: %v; want the second request waiting in the worker's stdin (pending > 0)", err)
	}
}

// TestPipelinedRequestOutlivesTheWorkerBeforeIt: a request written behind one that
// crashes the worker is answered by another worker.
func TestPipelinedRequestOutlivesTheWorkerBeforeIt(t *testing.T) {
	m := loadFake(t, "echo", Options{Workers: 1, RequestTimeout: 10 * time.Second})
	ctx := testContext(t)
	crashed := make(chan error, 1)
	marker := filepath.Join(t.TempDir(), "crashed")
	go func() {
		_, err := m.Predict(ctx, request(1, map[string]any{"sleep_ms": 300, "crash_once": marker}))
		crashed <- err
	}()
	time.Sleep(100 * time.Millisecond)
	resp, err := m.Predict(ctx, request(2, nil))
	if err != nil {
		t.Fatalf("the request behind the crash: %v", err)
	}
	if err := echoError(request(2, nil), resp); err != nil {
		t.Error(err)
	}
	if err := <-crashed; err != nil {
		t.Errorf("the crashing request, retried once: %v", err)
	}
}
