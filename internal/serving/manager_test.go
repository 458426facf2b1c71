package serving

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
)

// fakeSource resolves "models:/m@a" through a mutable alias table; a version's files
// are a directory holding one marker, and version "broken" fails to load.
type fakeSource struct {
	mu      sync.Mutex
	aliases map[string]string
	dir     string
}

func (s *fakeSource) set(ref, version string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.aliases[ref] = version
}

func (s *fakeSource) Resolve(ctx context.Context, ref string) (Version, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.aliases[ref]
	if !ok {
		return Version{}, fault.NotFoundf("no model %s", ref)
	}
	return Version{Model: "m", Version: v, Key: "key-" + v}, nil
}

func (s *fakeSource) Fetch(ctx context.Context, v Version) (string, error) { return s.dir, nil }

// scaleRuntime loads models that multiply their FP64 input by their version number.
type scaleRuntime struct {
	loads     atomic.Int32
	loadDelay time.Duration
	calls     atomic.Int64
	maxRows   atomic.Int64
}

func (r *scaleRuntime) Name() string { return "scale" }

func (r *scaleRuntime) Load(ctx context.Context, spec runtime.Spec) (runtime.Model, error) {
	r.loads.Add(1)
	time.Sleep(r.loadDelay)
	if spec.Version == "broken" {
		return nil, errors.New("ModuleNotFoundError: No module named 'nonexistent'")
	}
	k, err := strconv.ParseFloat(spec.Version, 64)
	if err != nil {
		return nil, err
	}
	return &scaleModel{k: k, rt: r}, nil
}

type scaleModel struct {
	k      float64
	rt     *scaleRuntime
	closed atomic.Bool
}

func (m *scaleModel) Metadata() runtime.Metadata {
	return runtime.Metadata{Platform: "scale", Batchable: true}
}

func (m *scaleModel) Predict(ctx context.Context, req *runtime.Request) (*runtime.Response, error) {
	if m.closed.Load() {
		return nil, errors.New("predict on a closed model")
	}
	m.rt.calls.Add(1)
	in := req.Inputs[0]
	if rows := in.Rows(); rows > m.rt.maxRows.Load() {
		m.rt.maxRows.Store(rows)
	}
	vals, err := in.Float64s()
	if err != nil {
		return nil, fault.Invalidf("%v", err)
	}
	for i := range vals {
		vals[i] *= m.k
	}
	time.Sleep(time.Millisecond)
	return &runtime.Response{Kind: runtime.ResultArray, Outputs: []runtime.Tensor{runtime.NewFloat64("out", in.Shape, vals)}}, nil
}

func (m *scaleModel) Close() error { m.closed.Store(true); return nil }

func newTestManager(t *testing.T, src *fakeSource, rt *scaleRuntime) *Manager {
	t.Helper()
	m := NewManager(Options{
		Source:       src,
		Runtimes:     func(name string, spec Spec) (runtime.Runtime, error) { return rt, nil },
		Metrics:      NewMetrics(prometheus.NewRegistry()),
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		PollInterval: 20 * time.Millisecond,
	})
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func newScaleSource(t *testing.T) *fakeSource {
	dir := t.TempDir()
	mlmodel := "flavors:\n  scale: {}\nmetadata:\n  mlship_runtime: scale\n"
	if err := os.WriteFile(filepath.Join(dir, "MLmodel"), []byte(mlmodel), 0o644); err != nil {
		t.Fatal(err)
	}
	return &fakeSource{aliases: map[string]string{}, dir: dir}
}

func oneRow(x float64) *runtime.Request {
	return &runtime.Request{Inputs: []runtime.Tensor{runtime.NewFloat64("x", []int64{1, 1}, []float64{x})}}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func predictValue(t *testing.T, d *Deployment, x float64) (float64, Answer, error) {
	a, err := d.Predict(context.Background(), oneRow(x), "")
	if err != nil {
		return 0, a, err
	}
	v, _ := a.Outputs[0].Float64s()
	return v[0], a, nil
}

// Moving the alias under steady traffic switches versions without failing a request,
// and a version that fails to load leaves the one before it serving.
func TestAliasFollowingHotSwap(t *testing.T) {
	src := newScaleSource(t)
	src.set("models:/m@prod", "2")
	rt := &scaleRuntime{loadDelay: 50 * time.Millisecond}
	m := newTestManager(t, src, rt)
	d, err := m.Create(context.Background(), Spec{Name: "fraud", Model: "models:/m@prod", Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ready", d.Ready)

	var failures, answered atomic.Int64
	seen := sync.Map{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				v, a, err := predictValue(t, d, 10)
				if err != nil || v != 10*mustFloat(a.Version) {
					failures.Add(1)
					t.Errorf("predict: %v (value %v from version %s)", err, v, a.Version)
					continue
				}
				answered.Add(1)
				seen.Store(a.Version, true)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	src.set("models:/m@prod", "3")
	waitFor(t, "version 3 serving", func() bool { _, v, _ := d.Metadata(); return v.Version == "3" })
	src.set("models:/m@prod", "broken")
	waitFor(t, "the broken version's error", func() bool { return d.Status().Models[0].Error != "" })
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()

	if failures.Load() != 0 {
		t.Fatalf("%d requests failed during the swaps", failures.Load())
	}
	if _, ok := seen.Load("2"); !ok {
		t.Error("version 2 never answered")
	}
	if _, ok := seen.Load("3"); !ok {
		t.Error("version 3 never answered")
	}
	st := d.Status()
	if st.State != "ready" || st.Models[0].Version != "3" {
		t.Errorf("status after a failed load = %+v, want version 3 still serving", st)
	}
	if want := "ModuleNotFoundError"; !strings.Contains(st.Models[0].Error, want) {
		t.Errorf("status error = %q, want it to carry the load error %q", st.Models[0].Error, want)
	}
	t.Logf("%d requests answered across the swaps", answered.Load())
}

func mustFloat(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// Concurrent requests are answered in batches, each with its own rows.
func TestBatchingKeepsRowsApart(t *testing.T) {
	src := newScaleSource(t)
	src.set("models:/m/5", "5")
	rt := &scaleRuntime{}
	m := newTestManager(t, src, rt)
	d, err := m.Create(context.Background(), Spec{Name: "b", Model: "models:/m/5", Workers: 1,
		Batching: Batching{MaxBatchSize: 16, MaxDelay: Duration(5 * time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ready", d.Ready)
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, _, err := predictValue(t, d, float64(i))
			if err != nil || v != float64(i)*5 {
				t.Errorf("request %d: got %v, %v; want %v", i, v, err, float64(i)*5)
			}
		}()
	}
	wg.Wait()
	if rt.maxRows.Load() < 2 {
		t.Errorf("largest batch had %d rows; concurrent requests should have been batched", rt.maxRows.Load())
	}
	if rt.calls.Load() >= 64 {
		t.Errorf("%d runtime calls for 64 requests; batching did nothing", rt.calls.Load())
	}
}

// A full queue answers at once with a retryable error instead of queueing forever.
func TestQueueFull(t *testing.T) {
	src := newScaleSource(t)
	src.set("models:/m/1", "1")
	m := newTestManager(t, src, &scaleRuntime{})
	d, err := m.Create(context.Background(), Spec{Name: "q", Model: "models:/m/1", Workers: 1,
		Batching: Batching{MaxBatchSize: 1, MaxQueue: 1}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ready", d.Ready)
	var full atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := predictValue(t, d, 1); fault.KindOf(err) == fault.Exhausted {
				full.Add(1)
			} else if err != nil {
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	wg.Wait()
	if full.Load() == 0 {
		t.Error("50 concurrent requests into a queue of 1 never found it full")
	}
}

// A canary takes its weight of the traffic; a shadow sees its share and answers no one.
func TestCanaryAndShadow(t *testing.T) {
	src := newScaleSource(t)
	src.set("models:/m/1", "1")
	src.set("models:/m/2", "2")
	src.set("models:/m/3", "3")
	m := newTestManager(t, src, &scaleRuntime{})
	d, err := m.Create(context.Background(), Spec{Name: "c", Model: "models:/m/1",
		Canary: &Canary{Model: "models:/m/2", Weight: 0.3}, Shadow: &Shadow{Model: "models:/m/3", Share: 1}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "all three roles loaded", func() bool {
		r := d.routes.Load()
		return r.primary != nil && r.canary != nil && r.shadow != nil
	})
	counts := map[string]int{}
	const n = 2000
	for range n {
		_, a, err := predictValue(t, d, 1)
		if err != nil {
			t.Fatal(err)
		}
		counts[a.Version]++
	}
	if counts["3"] != 0 {
		t.Errorf("the shadow answered %d requests", counts["3"])
	}
	if share := float64(counts["2"]) / n; share < 0.25 || share > 0.35 {
		t.Errorf("canary share = %.3f, want about 0.3 (counts %v)", share, counts)
	}
}

func TestSpecValidation(t *testing.T) {
	for _, s := range []Spec{
		{Name: "../../x", Model: "models:/m/1"},
		{Name: "ok", Model: ""},
		{Name: "ok", Model: "models:/m/1", Runtime: "Java!"},
		{Name: "ok", Model: "models:/m/1", Runtime: "command", Command: []string{"sh", "-c", "id > /tmp/pwned"}},
		{Name: "ok", Model: "models:/m/1", Command: []string{"sh"}},
		{Name: "ok", Model: "models:/m/1", Canary: &Canary{Model: "models:/m/2", Weight: 2}},
		{Name: "ok", Model: "models:/m/1", Workers: -1},
	} {
		if err := s.Validate(); fault.KindOf(err) != fault.Invalid {
			t.Errorf("Validate(%+v) = %v, want an invalid-argument error", s, err)
		}
	}
	if err := (&Spec{Name: "fraud-v2.1", Model: "models:/fraud@production"}).Validate(); err != nil {
		t.Errorf("a good spec was refused: %v", err)
	}
}

func ExampleDuration() {
	var d Duration
	_ = d.UnmarshalJSON([]byte(`"250ms"`))
	fmt.Println(time.Duration(d))
	// Output: 250ms
}

// A deployment cannot carry a command line, and names only a runtime the server has.
func TestCommandsAreTheOperators(t *testing.T) {
	rc := RuntimeConfig{Declared: map[string]DeclaredRuntime{"julia": {Command: []string{"julia", "/opt/worker.jl"}}}}
	m := NewManager(Options{Source: newScaleSource(t), Runtimes: rc.Factory(), CheckRuntime: rc.Check,
		Metrics: NewMetrics(prometheus.NewRegistry()), Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(m.Close)
	cases := []struct {
		spec Spec
		want string // in the error; empty: accepted
	}{
		{Spec{Name: "a", Model: "models:/m/1", Runtime: "command", Command: []string{"sh", "-c", "id"}}, "--runtimes-config"},
		{Spec{Name: "b", Model: "models:/m/1", Runtime: "command"}, `unknown runtime "command"`},
		{Spec{Name: "c", Model: "models:/m/1", Runtime: "cobol"}, "declared here: julia"},
		{Spec{Name: "d", Model: "models:/m/1", Runtime: "julia"}, ""},
	}
	for _, c := range cases {
		_, err := m.Create(context.Background(), c.spec)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v refused: %v", c.spec, err)
		case c.want != "" && (fault.KindOf(err) != fault.Invalid || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: got %v, want an invalid-argument error with %q", c.spec, err, c.want)
		}
	}
}

// memStore keeps specs in memory, as a database would across a restart.
type memStore struct{ specs []Spec }

func (s *memStore) ListDeployments(context.Context) ([]Spec, error) { return s.specs, nil }
func (s *memStore) PutDeployment(_ context.Context, spec Spec, _ bool) error {
	s.specs = append(s.specs, spec)
	return nil
}
func (s *memStore) DeleteDeployment(context.Context, string) error { return nil }

// A deployment stored with a command line before commands became the operator's never
// runs it again: it fails with a status that says how to fix it, and an update fixes it.
func TestStoredCommandDoesNotRun(t *testing.T) {
	src := newScaleSource(t)
	src.set("models:/m/1", "1")
	marker := filepath.Join(t.TempDir(), "pwned")
	rt := &scaleRuntime{}
	var ran atomic.Bool
	store := &memStore{specs: []Spec{{Name: "old", Model: "models:/m/1", Runtime: "command",
		Command: []string{"sh", "-c", "touch " + marker}}}}
	m := NewManager(Options{Source: src, Store: store, Metrics: NewMetrics(prometheus.NewRegistry()),
		Logger: slog.New(slog.DiscardHandler), PollInterval: 20 * time.Millisecond,
		Runtimes: func(name string, spec Spec) (runtime.Runtime, error) { ran.Store(true); return rt, nil }})
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	d, _ := m.Get("old")
	waitFor(t, "the stored deployment to fail", func() bool { return d.Status().State == "failed" })
	if msg := d.Status().Error; !strings.Contains(msg, "--runtimes-config") || !strings.Contains(msg, "mlship deploy update old") {
		t.Errorf("status error %q does not say how to fix it", msg)
	}
	if _, err := os.Stat(marker); err == nil || ran.Load() {
		t.Fatal("the stored command line ran")
	}
	if _, err := m.Update(context.Background(), Spec{Name: "old", Model: "models:/m/1"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the updated deployment to serve", func() bool { return d.Status().State == "ready" })
}

func TestLoadRuntimes(t *testing.T) {
	cases := []struct {
		yaml, want string // want: in the error; empty: loads
	}{
		{"runtimes:\n  julia:\n    command: [julia, /opt/worker.jl]\n    read_only: [/opt/julia]\n    env: {JULIA_DEPOT_PATH: /opt/depot}\n", ""},
		{"runtimes:\n  julia:\n    command: [julia]\n    comand: [x]\n", "comand"},
		{"runtimes:\n  python:\n    command: [python3]\n", "built in"},
		{"runtimes:\n  julia:\n    command: []\n", "no command"},
		{"runtimes:\n  julia:\n    command: [julia]\n    read_only: [opt/julia]\n", "not absolute"},
		{"runtimes:\n  Bad Name:\n    command: [julia]\n", "runtime name"},
	}
	for _, c := range cases {
		path := filepath.Join(t.TempDir(), "runtimes.yaml")
		os.WriteFile(path, []byte(c.yaml), 0o644)
		rts, err := LoadRuntimes(path)
		switch {
		case c.want == "" && (err != nil || rts["julia"].Env["JULIA_DEPOT_PATH"] != "/opt/depot"):
			t.Errorf("%q: %v, %+v", c.yaml, err, rts)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: got %v, want an error with %q", c.yaml, err, c.want)
		}
	}
}

// A creation replaces a deployment of the same name only when that one failed to load
// and serves nothing; one that serves stays and the creation is refused.
func TestCreateOverAnExistingDeployment(t *testing.T) {
	for _, tc := range []struct {
		name, first string
		wantState   string
		replaced    bool
	}{
		{"failed is replaced", "broken", StateFailed, true},
		{"ready is kept", "1", StateReady, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := newScaleSource(t)
			src.set("models:/m/first", tc.first)
			src.set("models:/m/second", "2")
			m := newTestManager(t, src, &scaleRuntime{})
			if _, err := m.Create(context.Background(), Spec{Name: "d", Model: "models:/m/first"}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, tc.wantState, func() bool { d, _ := m.Get("d"); return d.Status().State == tc.wantState })
			_, err := m.Create(context.Background(), Spec{Name: "d", Model: "models:/m/second"})
			if tc.replaced != (err == nil) || (err != nil && !errors.Is(err, fault.AlreadyExists)) {
				t.Fatalf("second create: %v", err)
			}
			want := map[bool]string{true: "2", false: tc.first}[tc.replaced]
			waitFor(t, "version "+want, func() bool { d, _ := m.Get("d"); _, v, ok := d.Metadata(); return ok && v.Version == want })
		})
	}
}

// TestBatchesAcrossRequests: rows of different requests share a batch only when the
// model is row-wise, by its own word or the spec's, and batches hold more than a row.
func TestBatchesAcrossRequests(t *testing.T) {
	yes, no := true, false
	for name, tc := range map[string]struct {
		cfg       Batching
		batchable bool
		want      bool
	}{
		"row-wise model":         {Batching{MaxBatchSize: 32}, true, true},
		"custom model":           {Batching{MaxBatchSize: 32}, false, false},
		"spec says row-wise":     {Batching{MaxBatchSize: 32, RowWise: &yes}, false, true},
		"spec says not row-wise": {Batching{MaxBatchSize: 32, RowWise: &no}, true, false},
		"batches of one row":     {Batching{MaxBatchSize: 1, RowWise: &yes}, true, false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := tc.cfg.batchesAcrossRequests(runtime.Metadata{Batchable: tc.batchable}); got != tc.want {
				t.Fatalf("batchesAcrossRequests = %v, want %v", got, tc.want)
			}
		})
	}
}
