package api

import (
	"net/http"

	"github.com/mlship/mlship/internal/serving"
)

// deploymentStats answers what each role of a deployment answered over the last
// ?window (default 5m): up to an hour from this process's live serving metrics, longer
// windows (whole hours) from the traffic history, with its hourly buckets.
func (a *API) deploymentStats(w http.ResponseWriter, r *http.Request) (any, error) {
	m, err := a.manager()
	if err != nil {
		return nil, err
	}
	window, err := serving.ParseStatsWindow(r.URL.Query().Get("window"))
	if err != nil {
		return nil, err
	}
	return m.HistoryStats(r.Context(), r.PathValue("name"), window)
}
