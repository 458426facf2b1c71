package api

import (
	"net/http"
	"strconv"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/tracking"
)

// experimentKeys answers the param, metric and tag keys of an experiment's runs.
func (a *API) experimentKeys(w http.ResponseWriter, r *http.Request) (any, error) {
	limit := tracking.DefaultColumnKeys
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fault.Invalidf("limit must be an integer between 1 and %d, got %q", tracking.MaxColumnKeys, s)
		}
		limit = n
	}
	return a.tracking.ExperimentKeys(r.Context(), r.PathValue("id"), limit)
}

// metricSummary answers the range of each metric over some runs of an experiment
// (?run_ids=a,b: a page of the runs table), or over its newest runs.
func (a *API) metricSummary(w http.ResponseWriter, r *http.Request) (any, error) {
	var ids []string
	if r.URL.Query().Has("run_ids") {
		var err error
		if ids, err = listParam(r.URL.Query(), "run_ids", tracking.MaxSummaryRuns); err != nil {
			return nil, err
		}
	}
	return a.tracking.MetricSummary(r.Context(), r.PathValue("id"), ids)
}
