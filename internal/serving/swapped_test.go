package serving

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlship/mlship/internal/runtime"
)

// Options.Swapped hears each swap from one version to another, not a first load.
func TestSwappedIsCalledOnEachSwap(t *testing.T) {
	src := newScaleSource(t)
	src.set("models:/m@prod", "1")
	rt := &scaleRuntime{}
	var mu sync.Mutex
	var swaps []string
	m := NewManager(Options{
		Source:       src,
		Runtimes:     func(name string, spec Spec) (runtime.Runtime, error) { return rt, nil },
		Metrics:      NewMetrics(prometheus.NewRegistry()),
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		PollInterval: 20 * time.Millisecond,
		Swapped: func(_ context.Context, deployment, role string, from, to Version) {
			mu.Lock()
			defer mu.Unlock()
			swaps = append(swaps, deployment+" "+role+" "+from.Version+"->"+to.Version)
		},
	})
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	d, err := m.Create(context.Background(), Spec{Name: "fraud", Model: "models:/m@prod"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ready", d.Ready)
	for _, v := range []string{"2", "1"} {
		src.set("models:/m@prod", v)
		waitFor(t, "version "+v+" serving", func() bool { _, got, _ := d.Metadata(); return got.Version == v })
	}
	waitFor(t, "two swaps heard", func() bool { mu.Lock(); defer mu.Unlock(); return len(swaps) >= 2 })
	mu.Lock()
	defer mu.Unlock()
	if len(swaps) != 2 || swaps[0] != "fraud primary 1->2" || swaps[1] != "fraud primary 2->1" {
		t.Fatalf("swaps %q", swaps)
	}
}
