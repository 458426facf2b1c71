package mlflowapi

import (
	"net/http"

	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/httpx"
	"github.com/mlship/mlship/internal/protojson"
	"github.com/mlship/mlship/internal/tracking"
)

func (a *API) loggedModelRoutes() []route {
	return []route{
		{"POST", "logged-models", a.createLoggedModel, writeAccess},
		{"GET", "logged-models/{model_id}", a.getLoggedModel, readAccess},
		{"PATCH", "logged-models/{model_id}", a.finalizeLoggedModel, writeAccess},
		{"DELETE", "logged-models/{model_id}", a.deleteLoggedModel, writeAccess},
		{"POST", "logged-models/search", a.searchLoggedModels, readAccess},
		{"PATCH", "logged-models/{model_id}/tags", a.setLoggedModelTags, writeAccess},
		{"DELETE", "logged-models/{model_id}/tags/{tag_key}", a.deleteLoggedModelTag, writeAccess},
		{"POST", "logged-models/{model_id}/params", a.logLoggedModelParams, writeAccess},
		{"GET", "logged-models/{model_id}/artifacts/directories", a.listLoggedModelArtifacts, readAccess},
		{"POST", "runs/outputs", a.logOutputs, writeAccess},
	}
}

type loggedModelResponse struct {
	Model *tracking.LoggedModel `json:"model"`
}

// modelStatus is the LoggedModelStatus enum, by name or number (UNSPECIFIED is 0).
type modelStatus string

func (s *modelStatus) UnmarshalJSON(b []byte) error {
	v, err := decodeEnum(b, tracking.ModelStatuses[1:], "model status")
	if err != nil {
		v, err = decodeEnum(b, tracking.ModelStatuses[:1], "model status")
	}
	*s = modelStatus(v)
	return err
}

func (a *API) createLoggedModel(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		ExperimentID idString         `json:"experiment_id"`
		Name         string           `json:"name"`
		ModelType    string           `json:"model_type"`
		SourceRunID  string           `json:"source_run_id"`
		Params       []tracking.Param `json:"params"`
		Tags         []tracking.Tag   `json:"tags"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	m, err := a.tracking.CreateLoggedModel(r.Context(), tracking.CreateLoggedModelInput{
		ExperimentID: string(req.ExperimentID), Name: req.Name, ModelType: req.ModelType,
		SourceRunID: req.SourceRunID, Params: req.Params, Tags: req.Tags})
	if err != nil {
		return nil, err
	}
	return loggedModelResponse{m}, nil
}

func (a *API) getLoggedModel(w http.ResponseWriter, r *http.Request) (any, error) {
	m, err := a.tracking.GetLoggedModel(r.Context(), r.PathValue("model_id"))
	if err != nil {
		return nil, err
	}
	return loggedModelResponse{m}, nil
}

func (a *API) finalizeLoggedModel(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		Status modelStatus `json:"status"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	m, err := a.tracking.FinalizeLoggedModel(r.Context(), r.PathValue("model_id"), string(req.Status))
	if err != nil {
		return nil, err
	}
	return loggedModelResponse{m}, nil
}

func (a *API) deleteLoggedModel(w http.ResponseWriter, r *http.Request) (any, error) {
	return httpx.Empty, a.tracking.DeleteLoggedModel(r.Context(), r.PathValue("model_id"))
}

func (a *API) setLoggedModelTags(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		Tags []tracking.Tag `json:"tags"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return httpx.Empty, a.tracking.SetLoggedModelTags(r.Context(), r.PathValue("model_id"), req.Tags)
}

func (a *API) deleteLoggedModelTag(w http.ResponseWriter, r *http.Request) (any, error) {
	return httpx.Empty, a.tracking.DeleteLoggedModelTag(r.Context(), r.PathValue("model_id"), r.PathValue("tag_key"))
}

func (a *API) logLoggedModelParams(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		Params []tracking.Param `json:"params"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return httpx.Empty, a.tracking.LogLoggedModelParams(r.Context(), r.PathValue("model_id"), req.Params)
}

func (a *API) searchLoggedModels(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		ExperimentIDs idList           `json:"experiment_ids"`
		Filter        string           `json:"filter"`
		MaxResults    *protojson.Int64 `json:"max_results"`
		PageToken     string           `json:"page_token"`
		OrderBy       []struct {
			FieldName     string `json:"field_name"`
			Ascending     *bool  `json:"ascending"`
			DatasetName   string `json:"dataset_name"`
			DatasetDigest string `json:"dataset_digest"`
		} `json:"order_by"`
		Datasets []struct {
			Name   string `json:"dataset_name"`
			Digest string `json:"dataset_digest"`
		} `json:"datasets"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	q := tracking.SearchLoggedModelsQuery{Filter: req.Filter, PageToken: req.PageToken,
		MaxResults: orDefault(req.MaxResults, tracking.DefaultSearchLoggedModels)}
	for _, d := range req.Datasets {
		q.Datasets = append(q.Datasets, tracking.DatasetFilter{Name: d.Name, Digest: d.Digest})
	}
	if len(req.ExperimentIDs) > 0 {
		q.ExperimentIDs = a.readableExperiments(r.Context(), req.ExperimentIDs.strings())
		if len(q.ExperimentIDs) == 0 {
			return struct{}{}, nil // none the caller may read
		}
	}
	for _, o := range req.OrderBy {
		q.OrderBy = append(q.OrderBy, tracking.LoggedModelOrder{FieldName: o.FieldName, Ascending: o.Ascending == nil || *o.Ascending,
			DatasetName: o.DatasetName, DatasetDigest: o.DatasetDigest})
	}
	models, next, err := a.tracking.SearchLoggedModels(r.Context(), q)
	if err != nil {
		return nil, err
	}
	return struct {
		Models        []*tracking.LoggedModel `json:"models,omitempty"`
		NextPageToken string                  `json:"next_page_token,omitempty"`
	}{models, next}, nil
}

func (a *API) listLoggedModelArtifacts(w http.ResponseWriter, r *http.Request) (any, error) {
	q, err := parseQuery(r)
	if err != nil {
		return nil, err
	}
	rel, err := blob.CleanUserPath(q.Get("artifact_directory_path"))
	if err != nil {
		return nil, err
	}
	m, err := a.tracking.GetLoggedModel(r.Context(), r.PathValue("model_id"))
	if err != nil {
		return nil, err
	}
	return a.listUnder(r, m.Info.ArtifactURI, rel)
}

func (a *API) logOutputs(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		RunID  string `json:"run_id"`
		Models []struct {
			ModelID string          `json:"model_id"`
			Step    protojson.Int64 `json:"step"`
		} `json:"models"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	outs := make([]tracking.ModelOutput, len(req.Models))
	for i, m := range req.Models {
		outs[i] = tracking.ModelOutput{ModelID: m.ModelID, Step: int64(m.Step)}
	}
	return httpx.Empty, a.tracking.LogOutputs(r.Context(), req.RunID, outs)
}
