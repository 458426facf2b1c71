package tracking_test

import (
	"errors"
	"math"
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/protojson"
	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/store/storetest"
	"github.com/mlship/mlship/internal/tracking"
)

// ok is the "no error" entry of the tables' wanted fault kinds.
const ok fault.Kind = 0

// testOptions are the options of the services under test: http(s) and s3 are allowed
// artifact schemes, so that the artifact-location table tests the URI checks rather than
// the scheme allow-list.
func testOptions() tracking.Options {
	return tracking.Options{
		ArtifactRoot:       "mlflow-artifacts:/",
		TruncateLongValues: true,
		ArtifactSchemes:    []string{"s3", "http", "https"},
	}
}

func newService(t *testing.T, db *store.DB, opts tracking.Options) *tracking.Service {
	t.Helper()
	s := tracking.New(db, opts)
	if err := s.Init(t.Context()); err != nil {
		t.Fatalf("Init: %v", err)
	}
	return s
}

// conform runs fn against a fresh service on every engine of the conformance suite,
// without and with the run cache. The cache is small, so that tests also evict.
func conform(t *testing.T, fn func(t *testing.T, s *tracking.Service)) {
	for _, size := range []int{0, 16} {
		t.Run(map[int]string{0: "uncached", 16: "cached"}[size], func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				opts := testOptions()
				opts.RunCacheSize = size
				fn(t, newService(t, db, opts))
			})
		})
	}
}

// conformStrict is conform with a second service over the same database that refuses
// over-long values instead of truncating them.
func conformStrict(t *testing.T, fn func(t *testing.T, s, strict *tracking.Service)) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		opts := testOptions()
		opts.TruncateLongValues = false
		fn(t, newService(t, db, testOptions()), newService(t, db, opts))
	})
}

// wantKind fails unless err is of kind want (ok: no error).
func wantKind(t *testing.T, err error, want fault.Kind) {
	t.Helper()
	switch {
	case want == ok && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != ok && !errors.Is(err, want):
		t.Fatalf("err = %v, want a %q error", err, want)
	}
}

func mustExperiment(t *testing.T, s *tracking.Service, name string, tags ...tracking.Tag) string {
	t.Helper()
	id, err := s.CreateExperiment(t.Context(), name, "", tags)
	if err != nil {
		t.Fatalf("CreateExperiment(%q): %v", name, err)
	}
	return id
}

func mustRun(t *testing.T, s *tracking.Service, in tracking.CreateRunInput) *tracking.Run {
	t.Helper()
	r, err := s.CreateRun(t.Context(), in)
	if err != nil {
		t.Fatalf("CreateRun(%+v): %v", in, err)
	}
	return r
}

func mustGetRun(t *testing.T, s *tracking.Service, id string) *tracking.Run {
	t.Helper()
	r, err := s.GetRun(t.Context(), id)
	if err != nil {
		t.Fatalf("GetRun(%s): %v", id, err)
	}
	return r
}

func mustLog(t *testing.T, s *tracking.Service, runID string, b tracking.Batch) {
	t.Helper()
	if err := s.LogBatch(t.Context(), runID, b); err != nil {
		t.Fatalf("LogBatch: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

// sameFloat reports whether a and b are the same value: bit for bit, or both NaN.
func sameFloat(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Float64bits(a) == math.Float64bits(b)
}

func metric(key string, value float64, ts, step int64) tracking.Metric {
	return tracking.Metric{Key: key, Value: protojson.Float(value), Timestamp: ts, Step: step}
}

// tagsOf returns a run's tags as a map.
func tagsOf(r *tracking.Run) map[string]string {
	m := map[string]string{}
	for _, t := range r.Data.Tags {
		m[t.Key] = t.Value
	}
	return m
}

func paramsOf(r *tracking.Run) map[string]string {
	m := map[string]string{}
	for _, p := range r.Data.Params {
		m[p.Key] = p.Value
	}
	return m
}

// latest returns a run's latest value of a metric.
func latest(r *tracking.Run, key string) (tracking.Metric, bool) {
	for _, m := range r.Data.Metrics {
		if m.Key == key {
			return m, true
		}
	}
	return tracking.Metric{}, false
}
