package mlflowapi

import (
	"net/http"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/httpx"
	"github.com/mlship/mlship/internal/protojson"
	"github.com/mlship/mlship/internal/tracking"
)

type experimentIDRequest struct {
	ExperimentID idString `json:"experiment_id"`
}

type experimentResponse struct {
	Experiment *tracking.Experiment `json:"experiment"`
}

func (a *API) createExperiment(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		Name             string         `json:"name"`
		ArtifactLocation string         `json:"artifact_location"`
		Tags             []tracking.Tag `json:"tags"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	id, err := a.tracking.CreateExperiment(r.Context(), req.Name, req.ArtifactLocation, req.Tags)
	if err != nil {
		return nil, err
	}
	if err := a.created(r.Context(), auth.Experiment, id); err != nil {
		return nil, err
	}
	return experimentIDRequest{ExperimentID: idString(id)}, nil
}

func (a *API) getExperiment(w http.ResponseWriter, r *http.Request) (any, error) {
	var req experimentIDRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	e, err := a.tracking.GetExperiment(r.Context(), string(req.ExperimentID))
	if err != nil {
		return nil, err
	}
	return experimentResponse{e}, nil
}

func (a *API) getExperimentByName(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		Name string `json:"experiment_name"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	e, err := a.tracking.GetExperimentByName(r.Context(), req.Name)
	if err != nil {
		return nil, err
	}
	return experimentResponse{e}, nil
}

func (a *API) searchExperiments(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		MaxResults *protojson.Int64 `json:"max_results"`
		PageToken  string           `json:"page_token"`
		Filter     string           `json:"filter"`
		OrderBy    []string         `json:"order_by"`
		ViewType   viewType         `json:"view_type"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	visible, err := a.visible(r.Context(), auth.Experiment)
	if err != nil {
		return nil, err
	}
	exps, next, err := a.tracking.SearchExperiments(r.Context(), tracking.SearchExperimentsQuery{
		Filter: req.Filter, ViewType: string(req.ViewType), MaxResults: orDefault(req.MaxResults, tracking.DefaultSearchExperimentsResults),
		OrderBy: req.OrderBy, PageToken: req.PageToken, Visible: visible,
	})
	if err != nil {
		return nil, err
	}
	return struct {
		Experiments   []*tracking.Experiment `json:"experiments,omitempty"`
		NextPageToken string                 `json:"next_page_token,omitempty"`
	}{exps, next}, nil
}

func (a *API) deleteExperiment(w http.ResponseWriter, r *http.Request) (any, error) {
	var req experimentIDRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return httpx.Empty, a.tracking.DeleteExperiment(r.Context(), string(req.ExperimentID))
}

func (a *API) restoreExperiment(w http.ResponseWriter, r *http.Request) (any, error) {
	var req experimentIDRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return httpx.Empty, a.tracking.RestoreExperiment(r.Context(), string(req.ExperimentID))
}

func (a *API) updateExperiment(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		ExperimentID idString `json:"experiment_id"`
		NewName      string   `json:"new_name"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return httpx.Empty, a.tracking.RenameExperiment(r.Context(), string(req.ExperimentID), req.NewName)
}

func (a *API) setExperimentTag(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		ExperimentID idString `json:"experiment_id"`
		Key          string   `json:"key"`
		Value        string   `json:"value"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return httpx.Empty, a.tracking.SetExperimentTag(r.Context(), string(req.ExperimentID), tracking.Tag{Key: req.Key, Value: req.Value})
}

func (a *API) deleteExperimentTag(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		ExperimentID idString `json:"experiment_id"`
		Key          string   `json:"key"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return httpx.Empty, a.tracking.DeleteExperimentTag(r.Context(), string(req.ExperimentID), req.Key)
}
