package api

import (
	"net/http"

	"github.com/mlship/mlship/internal/serving"
)

// deploymentStats answers what each role of a deployment answered over the last
// ?window (default 5m), from this process's serving metrics.
func (a *API) deploymentStats(w http.ResponseWriter, r *http.Request) (any, error) {
	m, err := a.manager()
	if err != nil {
		return nil, err
	}
	window, err := serving.ParseStatsWindow(r.URL.Query().Get("window"))
	if err != nil {
		return nil, err
	}
	return m.Stats(r.PathValue("name"), window)
}
