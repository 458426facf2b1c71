package serving

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlship/mlship/internal/runtime"
	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/store/storetest"
)

// The traffic history's table adds each flush to the hour's row, reads a range of
// hours, and prunes by hour.
func TestTrafficStoreConformance(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := NewSQLStore(db)
		h := TrafficHour{Deployment: "d", Role: "primary", Hour: 7200, Requests: 10, Failures: 2, ClientErrors: 1, LatencySum: 0.5}
		h.Buckets[3], h.Buckets[18] = 9, 1
		canary := TrafficHour{Deployment: "d", Role: "canary", Hour: 7200, Requests: 1}
		other := TrafficHour{Deployment: "e", Role: "primary", Hour: 7200, Requests: 5}
		later := TrafficHour{Deployment: "d", Role: "primary", Hour: 10800, Requests: 3}
		if err := s.AddTraffic(ctx, []TrafficHour{h, canary, other}); err != nil {
			t.Fatal(err)
		}
		if err := s.AddTraffic(ctx, []TrafficHour{h, later}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Traffic(ctx, "d", 0, 7200)
		if err != nil {
			t.Fatal(err)
		}
		want := h
		want.add(h)
		if len(got) != 2 || got[0] != want || got[1].Role != "canary" || got[1].Requests != 1 {
			t.Fatalf("hour 7200 of d = %+v, want %+v and the canary's", got, want)
		}
		if got, _ := s.Traffic(ctx, "d", 7201, 1<<40); len(got) != 1 || got[0].Requests != 3 {
			t.Errorf("from 7201 = %+v, want the later hour", got)
		}
		if n, err := s.PruneTraffic(ctx, 10800); err != nil || n != 3 {
			t.Errorf("prune before 10800 = %d, %v; want 3 rows", n, err)
		}
		if got, _ := s.Traffic(ctx, "d", 0, 1<<40); len(got) != 1 || got[0].Hour != 10800 {
			t.Errorf("after pruning = %+v", got)
		}
	})
}

func newTrafficManager(t *testing.T, src *fakeSource, db *store.DB) *Manager {
	t.Helper()
	st := NewSQLStore(db)
	m := NewManager(Options{Source: src, Store: st, Traffic: st, TrafficFlush: time.Hour,
		Runtimes: func(name string, spec Spec) (runtime.Runtime, error) { return &scaleRuntime{}, nil },
		Metrics:  NewMetrics(prometheus.NewRegistry()), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		PollInterval: 20 * time.Millisecond})
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m
}

// What a deployment answers reaches the store on each flush, added to the hour's row,
// and a restarted manager reads it back, unflushed counts included.
func TestTrafficHistoryFlushAndRestart(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, "sqlite")
	src := newScaleSource(t)
	src.set("models:/m/1", "1")
	m := newTrafficManager(t, src, db)
	d, err := m.Create(ctx, Spec{Name: "hist", Model: "models:/m/1"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the model loaded", func() bool { return d.Ready() })
	serve := func(n int) {
		for range n {
			if _, _, err := predictValue(t, d, 1); err != nil {
				t.Fatal(err)
			}
		}
		bad := &runtime.Request{Inputs: []runtime.Tensor{runtime.NewFloat64("x", []int64{1, 2}, []float64{1})}}
		d.Predict(ctx, bad, "") // the client's error
	}
	serve(20)
	if err := m.opts.Metrics.FlushTraffic(ctx, m.opts.Traffic); err != nil {
		t.Fatal(err)
	}
	serve(9)
	total := func(m *Manager) RoleStats {
		s, err := m.HistoryStats(ctx, "hist", 48*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Roles) != 1 {
			t.Fatalf("roles = %+v", s.Roles)
		}
		return s.Roles[0]
	}
	// Flushed and unflushed add up, counted once.
	if p := total(m); p.Requests != 31 || p.Failures != 2 || p.ClientErrors != 2 || p.Latency == nil {
		t.Fatalf("before the second flush: %+v", p)
	}
	if err := m.opts.Metrics.FlushTraffic(ctx, m.opts.Traffic); err != nil {
		t.Fatal(err)
	}
	hour := time.Now().Unix() / 3600 * 3600
	stored, err := NewSQLStore(db).Traffic(ctx, "hist", hour-3600, hour)
	if err != nil {
		t.Fatal(err)
	}
	var sum uint64
	for _, h := range stored {
		sum += h.Requests
	}
	if sum != 31 {
		t.Errorf("stored requests = %d (%+v), want 31", sum, stored)
	}
	serve(4) // left for Close to flush
	m.Close()
	m2 := newTrafficManager(t, src, db)
	defer m2.Close()
	if p := total(m2); p.Requests != 36 || p.Failures != 3 {
		t.Errorf("after a restart: %+v, want 36 requests and 3 failures", p)
	}
}

// BenchmarkRecordTraffic is the cost of recording one answered request in the live
// record, with and without the hourly history.
func BenchmarkRecordTraffic(b *testing.B) {
	for _, hourly := range []bool{false, true} {
		name := "live"
		if hourly {
			name = "live+hourly"
		}
		b.Run(name, func(b *testing.B) {
			l := newLiveRole()
			l.hourly = hourly
			now := time.Now()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					l.observe(now, 0.002)
				}
			})
		})
	}
}
