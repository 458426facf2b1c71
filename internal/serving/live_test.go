package serving

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
)

// Live stats count each role's requests and failures over the window asked for.
func TestLiveStats(t *testing.T) {
	src := newScaleSource(t)
	src.set("models:/m/1", "1")
	src.set("models:/m/2", "2")
	src.set("models:/m/3", "3")
	m := newTestManager(t, src, &scaleRuntime{})
	d, err := m.Create(context.Background(), Spec{Name: "live", Model: "models:/m/1",
		Canary: &Canary{Model: "models:/m/2", Weight: 0.5}, Shadow: &Shadow{Model: "models:/m/3", Share: 1}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "all three roles loaded", func() bool {
		r := d.routes.Load()
		return r.primary != nil && r.canary != nil && r.shadow != nil
	})
	const n = 200
	for range n {
		if _, _, err := predictValue(t, d, 1); err != nil {
			t.Fatal(err)
		}
	}
	bad := &runtime.Request{Inputs: []runtime.Tensor{runtime.NewFloat64("x", []int64{1, 2}, []float64{1})}}
	d.Predict(context.Background(), bad, "") // a tensor of the wrong size: the client's error
	waitFor(t, "the shadow's copies answered", func() bool {
		s, _ := m.Stats("live", time.Minute)
		return len(s.Roles) == 3 && s.Roles[2].Requests >= n
	})
	s, err := m.Stats("live", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	p, c := s.Roles[0], s.Roles[1]
	if p.Role != "primary" || c.Role != "canary" || s.Roles[2].Role != "shadow" || p.Requests+c.Requests != n+1 {
		t.Fatalf("stats = %+v", s)
	}
	if p.Failures+c.Failures != 1 || p.ClientErrors+c.ClientErrors != 1 {
		t.Errorf("failures = %d+%d, client errors %d+%d; want the one bad request", p.Failures, c.Failures, p.ClientErrors, c.ClientErrors)
	}
	if p.Latency == nil || p.Latency.P50 <= 0 || p.Latency.P50 > p.Latency.P99 || math.Abs(p.RequestRate-float64(p.Requests)/60) > 1e-9 {
		t.Errorf("primary = %+v %+v", p, p.Latency)
	}
	for _, w := range []time.Duration{0, time.Millisecond * 1500, 2 * time.Hour} {
		if _, err := m.Stats("live", w); !errors.Is(err, fault.Invalid) {
			t.Errorf("window %s: %v, want invalid", w, err)
		}
	}
	for _, w := range []time.Duration{90 * time.Minute, TrafficRetention + time.Hour} { // the history's: whole hours
		if _, err := m.HistoryStats(context.Background(), "live", w); !errors.Is(err, fault.Invalid) {
			t.Errorf("window %s: %v, want invalid", w, err)
		}
	}
	if _, err := m.Stats("nope", time.Minute); !errors.Is(err, fault.NotFound) {
		t.Errorf("unknown deployment: %v", err)
	}
}

// The rings forget what is older than the window and keep what falls within it.
func TestLiveWindows(t *testing.T) {
	l := newLiveRole()
	t0 := time.Unix(1_000_000, 0)
	for i := range 600 { // one request a second for ten minutes, 10 ms each
		l.observe(t0.Add(time.Duration(i)*time.Second), 0.010)
	}
	l.failed(t0.Add(599*time.Second), "internal")
	now := t0.Add(599 * time.Second)
	for _, tc := range []struct {
		w    time.Duration
		want uint64
	}{{time.Second, 1}, {30 * time.Second, 30}, {5 * time.Minute, 300}, {10 * time.Minute, 600}, {time.Hour, 600}} {
		if got := l.window(now, tc.w); got.requests != tc.want {
			t.Errorf("window %s: %d requests, want %d", tc.w, got.requests, tc.want)
		}
	}
	s := l.window(now, time.Minute)
	if q := quantile(s, 0.5); q < 0.005 || q > 0.02 {
		t.Errorf("p50 of 10 ms = %v", q)
	}
	if s.failures != 1 {
		t.Errorf("failures = %d", s.failures)
	}
	if got := l.window(now.Add(time.Hour), 5*time.Minute); got.requests != 0 {
		t.Errorf("an hour later the window holds %d requests", got.requests)
	}
}
