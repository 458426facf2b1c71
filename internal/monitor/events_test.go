package monitor

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlship/mlship/internal/drift"
	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/store/storetest"
	events "github.com/mlship/mlship/internal/webhooks"
)

type recorder struct {
	events []string
	data   []map[string]any
}

func (r *recorder) Record(_ context.Context, _ *store.Tx, event string, data any) error {
	b, _ := json.Marshal(data)
	var m map[string]any
	json.Unmarshal(b, &m)
	r.events, r.data = append(r.events, event), append(r.data, m)
	return nil
}

func (r *recorder) Committed() {}

// A window that finds drift where the last found none announces drift.detected in the
// write that stores it; the windows after it, drifting still, do not.
func TestDriftIsAnnouncedWithItsWindow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rec := &recorder{}
		m := New(Options{DB: db, Events: rec, Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
		ctx := context.Background()
		res := result{Deployment: "d", Model: "m", Version: "2", Reference: "train/1", Rows: 100,
			DriftedColumns: []string{"x"}, DatasetDrift: true, Report: &drift.Report{}}
		if err := m.store(ctx, &res, true); err != nil {
			t.Fatal(err)
		}
		again := res
		if err := m.store(ctx, &again, false); err != nil {
			t.Fatal(err)
		}
		if len(rec.events) != 1 || rec.events[0] != events.DriftDetected {
			t.Fatalf("events %v, want one drift.detected", rec.events)
		}
		d := rec.data[0]
		if d["deployment"] != "d" || d["window_id"] != float64(res.ID) || d["reference"] != "train/1" || d["dataset_drift"] != true {
			t.Errorf("payload %v", d)
		}
	})
}
