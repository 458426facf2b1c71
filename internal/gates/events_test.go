package gates

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/store/storetest"
	"github.com/mlship/mlship/internal/webhooks"
)

// recorder keeps the events recorded, as the webhooks' outbox would.
type recorder struct {
	mu     sync.Mutex
	events []string
	data   []map[string]any
}

func (r *recorder) Record(_ context.Context, _ *store.Tx, event string, data any) error {
	b, _ := json.Marshal(data)
	var m map[string]any
	json.Unmarshal(b, &m)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events, r.data = append(r.events, event), append(r.data, m)
	return nil
}

func (r *recorder) Committed() {}

// Verdicts and overrides are announced to webhooks, in the writes that record them.
func TestVerdictsAndOverridesAreEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, loader{"1": 0.54, "2": 0.195}, holdout())
		rec := &recorder{}
		f.s.opts.Events = rec
		if _, err := f.s.SetBenchmark(ctx, "m", accuracyGate()); err != nil {
			t.Fatal(err)
		}
		e1 := f.evaluateNow(t, "1")
		if err := f.reg.SetAlias(ctx, "m", "production", "1"); err != nil {
			t.Fatal(err)
		}
		f.evaluateNow(t, "2")
		if err := f.reg.SetAliasOverride(ctx, "m", "production", "2", "incident 7", "ana"); err != nil {
			t.Fatal(err)
		}
		want := []string{webhooks.GateVerdict, webhooks.GateVerdict, webhooks.ProtectedAliasOverridden}
		if len(rec.events) != len(want) {
			t.Fatalf("events %v, want %v", rec.events, want)
		}
		for i, e := range want {
			if rec.events[i] != e {
				t.Fatalf("events %v, want %v", rec.events, want)
			}
		}
		v1, v2, o := rec.data[0], rec.data[1], rec.data[2]
		if v1["name"] != "m" || v1["version"] != "1" || v1["passed"] != true || v1["evaluation_id"] != float64(e1.ID) ||
			v1["alias"] != "production" {
			t.Errorf("v1's verdict: %v", v1)
		}
		if v2["passed"] != false || v2["baseline_version"] != "1" {
			t.Errorf("v2's verdict: %v", v2)
		}
		if o["alias"] != "production" || o["version"] != "2" || o["previous_version"] != "1" || o["reason"] != "incident 7" ||
			o["actor"] != "ana" {
			t.Errorf("override: %v", o)
		}
	})
}
