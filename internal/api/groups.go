package api

import (
	"net/http"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/tracking"
)

// runGroups answers an experiment's active runs that match ?filter= grouped by the
// value of ?param=, with the aggregates of the metrics named in ?metrics=a,b: a runs
// table's group headers, true of every matching run and not only of those loaded.
func (a *API) runGroups(w http.ResponseWriter, r *http.Request) (any, error) {
	q := r.URL.Query()
	gq := tracking.RunGroupsQuery{ExperimentID: r.PathValue("id"), Param: q.Get("param"), Filter: q.Get("filter")}
	if gq.Param == "" {
		return nil, fault.Invalidf("name the param to group by: ?param=KEY")
	}
	if q.Has("metrics") {
		var err error
		if gq.Metrics, err = listParam(q, "metrics", tracking.MaxGroupMetrics); err != nil {
			return nil, err
		}
	}
	return a.tracking.GroupRuns(r.Context(), gq)
}
