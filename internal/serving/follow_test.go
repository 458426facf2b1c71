package serving

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/runtime"
)

// slowRuntime loads scale models after a delay, as a Python version takes seconds to
// load; a load whose context ends stops at once. It records the loads it started and
// those it finished, by version.
type slowRuntime struct {
	delay time.Duration

	mu       sync.Mutex
	started  []string
	finished []string
}

func (r *slowRuntime) Name() string { return "scale" }

func (r *slowRuntime) Load(ctx context.Context, spec runtime.Spec) (runtime.Model, error) {
	r.mu.Lock()
	r.started = append(r.started, spec.Version)
	r.mu.Unlock()
	select {
	case <-time.After(r.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	r.mu.Lock()
	r.finished = append(r.finished, spec.Version)
	r.mu.Unlock()
	k, err := strconv.ParseFloat(spec.Version, 64)
	if err != nil {
		return nil, err
	}
	return &scaleModel{k: k, rt: &scaleRuntime{}}, nil
}

func (r *slowRuntime) loads() (started, finished []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.started), slices.Clone(r.finished)
}

func newSlowManager(t *testing.T, src *fakeSource, rt *slowRuntime, poll time.Duration) *Manager {
	t.Helper()
	m := newTestManager(t, src, &scaleRuntime{})
	m.opts.Runtimes = func(string, Spec) (runtime.Runtime, error) { return rt, nil }
	m.opts.PollInterval = poll
	return m
}

func servingVersion(d *Deployment) string {
	if p := d.routes.Load().primary; p != nil {
		return p.version.Version
	}
	return ""
}

// TestAliasMovesDuringALoadLoadTheNewest: when an alias moves several times while a
// version loads, the deployment loads the newest version next, never the ones in
// between; a load the alias left early is cancelled, one near its end finishes.
func TestAliasMovesDuringALoadLoadTheNewest(t *testing.T) {
	const load, poll = 600 * time.Millisecond, 40 * time.Millisecond
	cases := []struct {
		name string
		// serving: a version serves already, and the version whose load the moves
		// interrupt (at moveAt into it) is "2"; else "1" is the first load.
		serving bool
		moveAt  time.Duration
		// wantStarted and wantFinished are the loads after the one that serves before.
		wantStarted, wantFinished []string
	}{
		{"first load, moved early: cancelled", false, 60 * time.Millisecond, []string{"1", "4"}, []string{"4"}},
		{"serving, moved early: cancelled", true, 60 * time.Millisecond, []string{"2", "4"}, []string{"4"}},
		{"serving, moved late: finished, then the newest", true, 450 * time.Millisecond, []string{"2", "4"}, []string{"2", "4"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := newScaleSource(t)
			rt := &slowRuntime{delay: load}
			m := newSlowManager(t, src, rt, poll)
			first := "1"
			if tc.serving {
				first = "2"
			}
			src.set("models:/m@prod", "1")
			d, err := m.Create(context.Background(), Spec{Name: "follow", Model: "models:/m@prod"})
			if err != nil {
				t.Fatal(err)
			}
			skip := 0
			if tc.serving {
				waitFor(t, "version 1 serving", func() bool { return servingVersion(d) == "1" })
				skip = 1
				src.set("models:/m@prod", first)
			}
			waitFor(t, "the load of version "+first, func() bool { s, _ := rt.loads(); return len(s) == skip+1 })
			time.Sleep(tc.moveAt)
			for _, v := range []string{"3", "4"} {
				if v == "3" && !tc.serving {
					src.set("models:/m@prod", "2")
				}
				src.set("models:/m@prod", v)
			}
			deadline := time.Now().Add(5 * time.Second)
			for servingVersion(d) != "4" {
				if time.Now().After(deadline) {
					s, f := rt.loads()
					t.Fatalf("serving %q, want 4; loads started %v, finished %v", servingVersion(d), s, f)
				}
				time.Sleep(5 * time.Millisecond)
			}
			started, finished := rt.loads()
			if !slices.Equal(started[skip:], tc.wantStarted) || !slices.Equal(finished[skip:], tc.wantFinished) {
				t.Errorf("loads started %v, finished %v; want %v, %v after the first", started, finished, tc.wantStarted, tc.wantFinished)
			}
		})
	}
}

// TestAliasMovingWithoutPauseStillServes: an alias that moves more often than a
// version loads never leaves the deployment without progress: a load that follows a
// cancelled one runs to its end.
func TestAliasMovingWithoutPauseStillServes(t *testing.T) {
	src := newScaleSource(t)
	rt := &slowRuntime{delay: 300 * time.Millisecond}
	m := newSlowManager(t, src, rt, 20*time.Millisecond)
	src.set("models:/m@prod", "1")
	d, err := m.Create(context.Background(), Spec{Name: "churn", Model: "models:/m@prod"})
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for v := 2; v <= 40; v++ {
		time.Sleep(40 * time.Millisecond)
		src.set("models:/m@prod", strconv.Itoa(v))
		served[servingVersion(d)] = true
	}
	waitFor(t, "version 40 serving", func() bool { return servingVersion(d) == "40" })
	delete(served, "")
	if len(served) < 2 {
		t.Errorf("over 1.6s of moves every 40ms with 300ms loads, served only %v", served)
	}
}
