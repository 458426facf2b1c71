package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/tracking"
)

// maxHistoryKeys caps the metrics one request charts together.
const maxHistoryKeys = 20

// historyList is the answer of GET /api/v1/runs/{run_id}/metric-history.
type historyList struct {
	RunID   string              `json:"run_id"`
	Metrics []*tracking.History `json:"metrics"`
}

// metricHistory answers one metric's history, downsampled past ?points.
func (a *API) metricHistory(w http.ResponseWriter, r *http.Request) (any, error) {
	q, err := historyQuery(r.URL.Query())
	if err != nil {
		return nil, err
	}
	q.RunID, q.Key = r.PathValue("run_id"), r.PathValue("key")
	if _, err := a.tracking.ExperimentOfRun(r.Context(), q.RunID); err != nil {
		return nil, err
	}
	return a.tracking.MetricHistory(r.Context(), q)
}

// metricHistories answers the histories of several metrics (?keys=a,b) of one run.
func (a *API) metricHistories(w http.ResponseWriter, r *http.Request) (any, error) {
	q, err := historyQuery(r.URL.Query())
	if err != nil {
		return nil, err
	}
	keys, err := listParam(r.URL.Query(), "keys", maxHistoryKeys)
	if err != nil {
		return nil, err
	}
	q.RunID = r.PathValue("run_id")
	if _, err := a.tracking.ExperimentOfRun(r.Context(), q.RunID); err != nil {
		return nil, err
	}
	out := historyList{RunID: q.RunID, Metrics: make([]*tracking.History, 0, len(keys))}
	for _, k := range keys {
		q.Key = k
		h, err := a.tracking.MetricHistory(r.Context(), q)
		if err != nil {
			return nil, err
		}
		out.Metrics = append(out.Metrics, h)
	}
	return out, nil
}

func historyQuery(v url.Values) (tracking.HistoryQuery, error) {
	q := tracking.HistoryQuery{X: v.Get("x"), Points: tracking.DefaultHistoryPoints}
	if s := v.Get("points"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return q, fault.Invalidf("points must be an integer between 1 and %d, got %q", tracking.MaxHistoryPoints, s)
		}
		q.Points = n
	}
	var err error
	if q.From, err = optionalInt(v, "from"); err != nil {
		return q, err
	}
	q.To, err = optionalInt(v, "to")
	return q, err
}

// optionalInt reads an integer query parameter that may be absent (nil).
func optionalInt(v url.Values, name string) (*int64, error) {
	s := v.Get(name)
	if s == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, fault.Invalidf("%s must be an integer, got %q", name, s)
	}
	return &n, nil
}

// listParam reads a required comma-separated list of at most limit distinct items.
func listParam(v url.Values, name string, limit int) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, raw := range v[name] {
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" && !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	switch {
	case len(out) == 0:
		return nil, fault.Invalidf("name at least one item in %s (comma-separated)", name)
	case len(out) > limit:
		return nil, fault.Invalidf("%s names %d items; at most %d", name, len(out), limit)
	}
	return out, nil
}

// runExperiment is the object a run's routes are checked on: its experiment.
func runExperiment(ctx context.Context, a *API, r *http.Request) (string, error) {
	return a.tracking.ExperimentOfRun(ctx, r.PathValue("run_id"))
}
