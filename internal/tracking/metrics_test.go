package tracking_test

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/tracking"
)

var (
	nan    = math.NaN()
	posInf = math.Inf(1)
	negInf = math.Inf(-1)
)

// point is a metric point of key "m".
type point struct {
	value    float64
	ts, step int64
}

func (p point) metric() tracking.Metric { return metric("m", p.value, p.ts, p.step) }

func TestLatestMetric(t *testing.T) {
	cases := []struct {
		name   string
		points []point
		want   point
	}{
		{"higher step beats later timestamp", []point{{1, 100, 2}, {2, 200, 1}}, point{1, 100, 2}},
		{"same step, later timestamp wins", []point{{2, 200, 0}, {1, 100, 0}}, point{2, 200, 0}},
		{"same step, later timestamp wins in order", []point{{1, 100, 0}, {2, 200, 0}}, point{2, 200, 0}},
		{"same step and timestamp, larger value wins", []point{{1, 100, 0}, {3, 100, 0}, {2, 100, 0}}, point{3, 100, 0}},
		{"older point does not replace", []point{{5, 500, 5}, {9, 100, 1}}, point{5, 500, 5}},
		{"NaN at a later step", []point{{1, 100, 0}, {nan, 100, 1}}, point{nan, 100, 1}},
		{"value after NaN", []point{{nan, 100, 1}, {7, 100, 2}}, point{7, 100, 2}},
		// Infinities are stored, as MLflow stores them, as the largest finite doubles.
		{"+Inf", []point{{1, 100, 0}, {posInf, 100, 5}}, point{math.MaxFloat64, 100, 5}},
		{"-Inf", []point{{negInf, 100, 5}, {1, 100, 4}}, point{-math.MaxFloat64, 100, 5}},
		{"+Inf beats a finite value at the same step and time", []point{{1e308, 100, 0}, {posInf, 100, 0}}, point{math.MaxFloat64, 100, 0}},
		{"-Inf loses to a finite value at the same step and time", []point{{-1e308, 100, 0}, {negInf, 100, 0}}, point{-1e308, 100, 0}},
		{"negative steps", []point{{1, 100, -5}, {2, 50, -1}}, point{2, 50, -1}},
	}
	conform(t, func(t *testing.T, s *tracking.Service) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				one := mustRun(t, s, tracking.CreateRunInput{RunName: "one-by-one"}).Info.RunID
				batch := mustRun(t, s, tracking.CreateRunInput{RunName: "batch"}).Info.RunID
				var b tracking.Batch
				for _, p := range tc.points {
					wantKind(t, s.LogMetric(t.Context(), one, p.metric()), ok)
					b.Metrics = append(b.Metrics, p.metric())
				}
				mustLog(t, s, batch, b)
				for _, id := range []string{one, batch} {
					got, found := latest(mustGetRun(t, s, id), "m")
					if !found || !sameFloat(float64(got.Value), tc.want.value) || got.Timestamp != tc.want.ts || got.Step != tc.want.step {
						t.Errorf("latest = %+v (found %v), want %+v", got, found, tc.want)
					}
				}
			})
		}
	})
}

// TestSpecialValuesRoundTrip checks that values read back as logged, except infinities,
// which read back as the largest finite doubles (MLflow's SQL stores clamp them so).
func TestSpecialValuesRoundTrip(t *testing.T) {
	values := []float64{nan, posInf, negInf, 0, 0.1 + 0.2, math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, 1e-300, 123456789.123456789}
	stored := func(v float64) float64 {
		if math.IsInf(v, 0) {
			return math.Copysign(math.MaxFloat64, v)
		}
		return v
	}
	conform(t, func(t *testing.T, s *tracking.Service) {
		id := mustRun(t, s, tracking.CreateRunInput{RunName: "special"}).Info.RunID
		var b tracking.Batch
		for i, v := range values {
			key := "v" + strconv.Itoa(i)
			b.Metrics = append(b.Metrics, metric(key, v, 10, 0), metric("series", v, int64(i), int64(i)))
		}
		mustLog(t, s, id, b)
		run := mustGetRun(t, s, id)
		for i, v := range values {
			got, found := latest(run, "v"+strconv.Itoa(i))
			if !found || !sameFloat(float64(got.Value), stored(v)) {
				t.Errorf("GetRun: latest of %v = %v (found %v)", v, got.Value, found)
			}
		}
		hist, _, err := s.GetMetricHistory(t.Context(), id, "series", 0, "")
		wantKind(t, err, ok)
		if len(hist) != len(values) {
			t.Fatalf("history has %d points, want %d", len(hist), len(values))
		}
		for i, v := range values {
			if !sameFloat(float64(hist[i].Value), stored(v)) {
				t.Errorf("GetMetricHistory[%d] = %v, want %v", i, hist[i].Value, v)
			}
		}
	})
}

func TestIdenticalMetricStoredOnce(t *testing.T) {
	conform(t, func(t *testing.T, s *tracking.Service) {
		ctx := t.Context()
		id := mustRun(t, s, tracking.CreateRunInput{RunName: "dedupe"}).Info.RunID
		same := metric("m", 1.5, 10, 1)
		wantKind(t, s.LogMetric(ctx, id, same), ok)
		wantKind(t, s.LogMetric(ctx, id, same), ok)
		mustLog(t, s, id, tracking.Batch{Metrics: []tracking.Metric{same, same}})
		nanPoint := metric("m", nan, 10, 1)
		mustLog(t, s, id, tracking.Batch{Metrics: []tracking.Metric{nanPoint, nanPoint}})
		wantKind(t, s.LogMetric(ctx, id, nanPoint), ok)
		// A different value, or a NaN, at the same time and step is another point.
		wantKind(t, s.LogMetric(ctx, id, metric("m", 2.5, 10, 1)), ok)
		hist, _, err := s.GetMetricHistory(ctx, id, "m", 0, "")
		wantKind(t, err, ok)
		if len(hist) != 3 {
			t.Errorf("history = %v, want 3 points (1.5, NaN and 2.5 once each)", hist)
		}
	})
}

func TestMetricHistoryOrderAndPaging(t *testing.T) {
	conform(t, func(t *testing.T, s *tracking.Service) {
		ctx := t.Context()
		id := mustRun(t, s, tracking.CreateRunInput{RunName: "history"}).Info.RunID
		var want []point
		for ts := range int64(5) {
			for step := range int64(5) {
				want = append(want, point{float64((ts*7 + step*3) % 5), 1000 + ts, 4 - step})
			}
		}
		want = append(want, point{-1, 1002, 2}) // same time and step as another point, smaller value
		slices.SortFunc(want, func(a, b point) int {
			return cmp.Or(cmp.Compare(a.ts, b.ts), cmp.Compare(a.step, b.step), cmp.Compare(a.value, b.value))
		})
		shuffled := slices.Clone(want)
		rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		var b tracking.Batch
		for _, p := range shuffled {
			b.Metrics = append(b.Metrics, p.metric())
		}
		mustLog(t, s, id, b)
		mustLog(t, s, id, tracking.Batch{Metrics: []tracking.Metric{metric("other", 1, 1, 1)}})

		all, next, err := s.GetMetricHistory(ctx, id, "m", 0, "")
		wantKind(t, err, ok)
		if next != "" || !samePoints(all, want) {
			t.Fatalf("full history = %v (next %q), want %v", all, next, want)
		}
		for _, size := range []int{1, 7, 10, 26, 27, math.MaxInt} {
			t.Run("page size "+strconv.Itoa(size), func(t *testing.T) {
				var got []tracking.Metric
				token, pages := "", 0
				for {
					page, next, err := s.GetMetricHistory(ctx, id, "m", size, token)
					wantKind(t, err, ok)
					if len(page) > size || (next != "" && len(page) != size) {
						t.Fatalf("page of %d points with next %q for size %d", len(page), next, size)
					}
					got, pages = append(got, page...), pages+1
					if token = next; token == "" || pages > len(want) {
						break
					}
				}
				if !samePoints(got, want) {
					t.Errorf("paged history = %v, want %v", got, want)
				}
			})
		}
		for _, tc := range []struct {
			name, run, key, token string
			want                  fault.Kind
			wantLen               int
		}{
			{"unknown key", id, "never", "", ok, 0},
			{"missing run", "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0", "m", "", ok, 0},
			{"malformed run id", "../x", "m", "", fault.Invalid, 0},
			{"no key", id, "", "", fault.Invalid, 0},
			{"bad token", id, "m", "!!not-base64", fault.Invalid, 0},
			{"token not JSON", id, "m", "bm9wZQ==", fault.Invalid, 0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, _, err := s.GetMetricHistory(ctx, tc.run, tc.key, 10, tc.token)
				wantKind(t, err, tc.want)
				if len(got) != tc.wantLen {
					t.Errorf("got %d points, want %d", len(got), tc.wantLen)
				}
			})
		}
	})
}

func samePoints(got []tracking.Metric, want []point) bool {
	return slices.EqualFunc(got, want, func(m tracking.Metric, p point) bool {
		return m.Key == "m" && sameFloat(float64(m.Value), p.value) && m.Timestamp == p.ts && m.Step == p.step
	})
}

func TestBulkInterval(t *testing.T) {
	conform(t, func(t *testing.T, s *tracking.Service) {
		ctx := t.Context()
		long := mustRun(t, s, tracking.CreateRunInput{RunName: "long"}).Info.RunID
		short := mustRun(t, s, tracking.CreateRunInput{RunName: "short"}).Info.RunID
		var b tracking.Batch
		for step := range int64(100) {
			b.Metrics = append(b.Metrics, metric("loss", float64(step), 1000+step, step))
		}
		b.Metrics = append(b.Metrics, metric("loss", -1, 5000, 50)) // a second point at step 50
		mustLog(t, s, long, b)
		mustLog(t, s, short, tracking.Batch{Metrics: []tracking.Metric{metric("loss", 1, 1, 3), metric("loss", 2, 2, 7)}})

		for _, tc := range []struct {
			name        string
			q           tracking.BulkIntervalQuery
			first, last int64 // expected first and last step of the long run
			maxSteps    int
		}{
			{"sampled", tracking.BulkIntervalQuery{MaxResults: 10}, 0, 99, 10},
			{"two", tracking.BulkIntervalQuery{MaxResults: 2}, 0, 99, 2},
			{"2500 keeps all", tracking.BulkIntervalQuery{MaxResults: 2500}, 0, 99, 100},
			{"one", tracking.BulkIntervalQuery{MaxResults: 1}, 0, 0, 1},
			{"window", tracking.BulkIntervalQuery{StartStep: ptr(int64(10)), EndStep: ptr(int64(20)), MaxResults: 5}, 10, 20, 5},
			{"window of one step", tracking.BulkIntervalQuery{StartStep: ptr(int64(50)), EndStep: ptr(int64(50)), MaxResults: 5}, 50, 50, 1},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tc.q.RunIDs, tc.q.Key = []string{long, short}, "loss"
				got, err := s.GetMetricHistoryBulkInterval(ctx, tc.q)
				wantKind(t, err, ok)
				var steps []int64
				seenShort := false
				for i, m := range got {
					switch {
					case m.RunID == short && seenShort && got[i-1].Step > m.Step:
						t.Fatalf("short run's steps out of order: %v", got)
					case m.RunID == short:
						seenShort = true
						continue
					case m.RunID != long || seenShort:
						t.Fatalf("point %d = %+v out of run order", i, m)
					}
					if len(steps) > 0 && steps[len(steps)-1] > m.Step {
						t.Fatalf("steps out of order at point %d: %v", i, got)
					}
					if len(steps) == 0 || steps[len(steps)-1] != m.Step {
						steps = append(steps, m.Step)
					}
				}
				if len(steps) == 0 || steps[0] != tc.first || steps[len(steps)-1] != tc.last || len(steps) > tc.maxSteps {
					t.Errorf("long run sampled at steps %v; want first %d, last %d, at most %d", steps, tc.first, tc.last, tc.maxSteps)
				}
				if tc.q.StartStep == nil && len(steps) < min(tc.maxSteps, 100) {
					t.Errorf("only %d steps kept, want %d", len(steps), min(tc.maxSteps, 100))
				}
			})
		}

		many := make([]string, 101)
		for i := range many {
			many[i] = long
		}
		for _, tc := range []struct {
			name string
			q    tracking.BulkIntervalQuery
		}{
			{"no runs", tracking.BulkIntervalQuery{Key: "loss", MaxResults: 10}},
			{"101 runs", tracking.BulkIntervalQuery{RunIDs: many, Key: "loss", MaxResults: 10}},
			{"no key", tracking.BulkIntervalQuery{RunIDs: []string{long}, MaxResults: 10}},
			{"start without end", tracking.BulkIntervalQuery{RunIDs: []string{long}, Key: "loss", StartStep: ptr(int64(1)), MaxResults: 10}},
			{"end without start", tracking.BulkIntervalQuery{RunIDs: []string{long}, Key: "loss", EndStep: ptr(int64(1)), MaxResults: 10}},
			{"start after end", tracking.BulkIntervalQuery{RunIDs: []string{long}, Key: "loss", StartStep: ptr(int64(5)), EndStep: ptr(int64(4)), MaxResults: 10}},
			{"max_results 2501", tracking.BulkIntervalQuery{RunIDs: []string{long}, Key: "loss", MaxResults: 2501}},
			{"max_results -1", tracking.BulkIntervalQuery{RunIDs: []string{long}, Key: "loss", MaxResults: -1}},
			{"max_results 0", tracking.BulkIntervalQuery{RunIDs: []string{long}, Key: "loss"}},
			{"malformed run id", tracking.BulkIntervalQuery{RunIDs: []string{"../x"}, Key: "loss", MaxResults: 10}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.GetMetricHistoryBulkInterval(ctx, tc.q)
				wantKind(t, err, fault.Invalid)
			})
		}
	})
}
