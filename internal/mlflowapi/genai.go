package mlflowapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/genaidata"
	"github.com/mlship/mlship/internal/httpx"
	mjson "github.com/mlship/mlship/internal/protojson"
)

// genaiRoutes are MLflow 3's evaluation datasets and registered scorers.
func (a *API) genaiRoutes() []route {
	return []route{
		{"POST", "datasets/create", a.createDataset, writeAccess},
		{"POST", "datasets/search", a.searchDatasets, readAccess},
		{"GET", "datasets/{dataset_id}", a.getDataset, readAccess},
		{"DELETE", "datasets/{dataset_id}", a.deleteDataset, writeAccess},
		{"PATCH", "datasets/{dataset_id}/tags", a.setDatasetTags, writeAccess},
		{"DELETE", "datasets/{dataset_id}/tags/{key}", a.deleteDatasetTag, writeAccess},
		{"POST", "datasets/{dataset_id}/records", a.upsertDatasetRecords, writeAccess},
		{"GET", "datasets/{dataset_id}/records", a.getDatasetRecords, readAccess},
		{"DELETE", "datasets/{dataset_id}/records", a.deleteDatasetRecords, writeAccess},
		{"GET", "datasets/{dataset_id}/experiment-ids", a.getDatasetExperimentIDs, readAccess},
		{"POST", "datasets/{dataset_id}/add-experiments", a.addDatasetToExperiments, writeAccess},
		{"POST", "datasets/{dataset_id}/remove-experiments", a.removeDatasetFromExperiments, writeAccess},

		{"POST", "scorers/register", a.registerScorer, writeAccess},
		{"GET", "scorers/list", a.listScorers, readAccess},
		{"GET", "scorers/versions", a.listScorerVersions, readAccess},
		{"GET", "scorers/get", a.getScorer, readAccess},
		{"DELETE", "scorers/delete", a.deleteScorer, writeAccess},
		{"GET", "scorers/online-configs", a.onlineScoringConfigs, readAccess},
		{"PUT", "scorers/online-config", a.setOnlineScoringConfig, writeAccess},
	}
}

func (a *API) genai() (*genaidata.Service, error) {
	if a.opts.GenAI == nil {
		return nil, fault.New(fault.NotImplemented, "evaluation datasets and scorers are not served here")
	}
	return a.opts.GenAI, nil
}

// datasetWire is MLflow's Dataset message: its tags, schema and profile are JSON text.
type datasetWire struct {
	DatasetID      string   `json:"dataset_id"`
	Name           string   `json:"name"`
	Tags           string   `json:"tags"`
	Schema         string   `json:"schema,omitempty"`
	Profile        string   `json:"profile,omitempty"`
	Digest         string   `json:"digest"`
	CreatedTime    int64    `json:"created_time"`
	LastUpdateTime int64    `json:"last_update_time"`
	CreatedBy      string   `json:"created_by,omitempty"`
	LastUpdatedBy  string   `json:"last_updated_by,omitempty"`
	ExperimentIDs  []string `json:"experiment_ids"`
}

func datasetToWire(d *genaidata.Dataset) datasetWire {
	tags, _ := json.Marshal(d.Tags)
	return datasetWire{DatasetID: d.ID, Name: d.Name, Tags: string(tags), Schema: d.Schema, Profile: d.Profile,
		Digest: d.Digest, CreatedTime: d.CreatedTime, LastUpdateTime: d.LastUpdateTime, CreatedBy: d.CreatedBy,
		LastUpdatedBy: d.LastUpdatedBy, ExperimentIDs: d.ExperimentIDs}
}

func datasetResponse(d *genaidata.Dataset, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return map[string]any{"dataset": datasetToWire(d)}, nil
}

func (a *API) createDataset(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		Name          string `json:"name"`
		ExperimentIDs idList `json:"experiment_ids"`
		Tags          string `json:"tags"`
	}
	g, err := a.genai()
	if err != nil {
		return nil, err
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	tags, err := genaidata.ParseTags(req.Tags)
	if err != nil {
		return nil, err
	}
	return datasetResponse(g.CreateDataset(r.Context(), req.Name, tags, req.ExperimentIDs.strings()))
}

func (a *API) getDataset(w http.ResponseWriter, r *http.Request) (any, error) {
	g, err := a.genai()
	if err != nil {
		return nil, err
	}
	return datasetResponse(g.GetDataset(r.Context(), r.PathValue("dataset_id")))
}

func (a *API) deleteDataset(w http.ResponseWriter, r *http.Request) (any, error) {
	g, err := a.genai()
	if err != nil {
		return nil, err
	}
	return httpx.Empty, g.DeleteDataset(r.Context(), r.PathValue("dataset_id"))
}

func (a *API) searchDatasets(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		ExperimentIDs idList       `json:"experiment_ids"`
		Filter        string       `json:"filter_string"`
		MaxResults    *mjson.Int64 `json:"max_results"`
		OrderBy       []string     `json:"order_by"`
		PageToken     string       `json:"page_token"`
	}
	g, err := a.genai()
	if err != nil {
		return nil, err
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	q := genaidata.SearchQuery{ExperimentIDs: req.ExperimentIDs.strings(), Filter: req.Filter, OrderBy: req.OrderBy,
		MaxResults: orDefault(req.MaxResults, 0), PageToken: req.PageToken}
	if q.Visible, err = a.visible(r.Context(), auth.Experiment); err != nil {
		return nil, err
	}
	ds, next, err := g.Search(r.Context(), q)
	if err != nil {
		return nil, err
	}
	out := make([]datasetWire, len(ds))
	for i, d := range ds {
		out[i] = datasetToWire(d)
	}
	resp := map[string]any{"datasets": out}
	if next != "" {
		resp["next_page_token"] = next
	}
	return resp, nil
}

func (a *API) setDatasetTags(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		Tags *string `json:"tags"`
	}
	g, err := a.genai()
	if err != nil {
		return nil, err
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.Tags == nil {
		return nil, fault.Missing("tags")
	}
	tags, err := genaidata.ParseTags(*req.Tags)
	if err != nil {
		return nil, err
	}
	return httpx.Empty, g.SetTags(r.Context(), r.PathValue("dataset_id"), tags)
}

func (a *API) deleteDatasetTag(w http.ResponseWriter, r *http.Request) (any, error) {
	g, err := a.genai()
	if err != nil {
		return nil, err
	}
	return httpx.Empty, g.DeleteTag(r.Context(), r.PathValue("dataset_id"), r.PathValue("key"))
}

func (a *API) upsertDatasetRecords(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		Records *string `json:"records"`
	}
	g, err := a.genai()
	if err != nil {
		return nil, err
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.Records == nil {
		return nil, fault.Missing("records")
	}
	recs, err := genaidata.ParseRecords(*req.Records)
	if err != nil {
		return nil, err
	}
	ins, upd, err := g.UpsertRecords(r.Context(), r.PathValue("dataset_id"), recs)
	if err != nil {
		return nil, err
	}
	return map[string]int{"inserted_count": ins, "updated_count": upd}, nil
}

// recordWire is a record as MLflow's DatasetRecord.to_dict gives it: its documents as
// JSON values, not text.
type recordWire struct {
	DatasetRecordID string          `json:"dataset_record_id"`
	DatasetID       string          `json:"dataset_id"`
	Inputs          json.RawMessage `json:"inputs"`
	Outputs         json.RawMessage `json:"outputs,omitempty"`
	Expectations    json.RawMessage `json:"expectations,omitempty"`
	Tags            json.RawMessage `json:"tags"`
	Source          json.RawMessage `json:"source,omitempty"`
	SourceID        string          `json:"source_id,omitempty"`
	SourceType      string          `json:"source_type,omitempty"`
	CreatedTime     int64           `json:"created_time"`
	LastUpdateTime  int64           `json:"last_update_time"`
	CreatedBy       string          `json:"created_by,omitempty"`
	LastUpdatedBy   string          `json:"last_updated_by,omitempty"`
}

func (a *API) getDatasetRecords(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		MaxResults *mjson.Int64 `json:"max_results"`
		PageToken  string       `json:"page_token"`
	}
	g, err := a.genai()
	if err != nil {
		return nil, err
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	recs, next, err := g.Records(r.Context(), r.PathValue("dataset_id"), orDefault(req.MaxResults, 0), req.PageToken)
	if err != nil {
		return nil, err
	}
	out := make([]recordWire, len(recs))
	for i, rec := range recs {
		tags := rec.Tags
		if tags == nil {
			tags = json.RawMessage("{}")
		}
		out[i] = recordWire{DatasetRecordID: rec.ID, DatasetID: rec.DatasetID, Inputs: rec.Inputs, Outputs: rec.Outputs,
			Expectations: rec.Expectations, Tags: tags, Source: rec.Source, SourceID: rec.SourceID, SourceType: rec.SourceType,
			CreatedTime: rec.CreatedTime, LastUpdateTime: rec.LastUpdateTime, CreatedBy: rec.CreatedBy, LastUpdatedBy: rec.LastUpdatedBy}
	}
	text, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	resp := map[string]any{"records": string(text)}
	if next != "" {
		resp["next_page_token"] = next
	}
	return resp, nil
}

func (a *API) deleteDatasetRecords(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		IDs []string `json:"dataset_record_ids"`
	}
	g, err := a.genai()
	if err != nil {
		return nil, err
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	n, err := g.DeleteRecords(r.Context(), r.PathValue("dataset_id"), req.IDs)
	if err != nil {
		return nil, err
	}
	return map[string]int{"deleted_count": n}, nil
}

func (a *API) getDatasetExperimentIDs(w http.ResponseWriter, r *http.Request) (any, error) {
	g, err := a.genai()
	if err != nil {
		return nil, err
	}
	ids, err := g.ExperimentsOf(r.Context(), r.PathValue("dataset_id"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"experiment_ids": ids}, nil
}

func (a *API) addDatasetToExperiments(w http.ResponseWriter, r *http.Request) (any, error) {
	return a.changeDatasetExperiments(r, (*genaidata.Service).AddExperiments)
}

func (a *API) removeDatasetFromExperiments(w http.ResponseWriter, r *http.Request) (any, error) {
	return a.changeDatasetExperiments(r, (*genaidata.Service).RemoveExperiments)
}

func (a *API) changeDatasetExperiments(r *http.Request,
	change func(*genaidata.Service, context.Context, string, []string) (*genaidata.Dataset, error)) (any, error) {
	var req struct {
		ExperimentIDs idList `json:"experiment_ids"`
	}
	g, err := a.genai()
	if err != nil {
		return nil, err
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return datasetResponse(change(g, r.Context(), r.PathValue("dataset_id"), req.ExperimentIDs.strings()))
}

// scorerWire is MLflow's Scorer message; its experiment id is a number there.
type scorerWire struct {
	ExperimentID     json.Number `json:"experiment_id"`
	ScorerName       string      `json:"scorer_name"`
	ScorerVersion    int64       `json:"scorer_version"`
	SerializedScorer string      `json:"serialized_scorer"`
	CreationTime     int64       `json:"creation_time"`
	ScorerID         string      `json:"scorer_id"`
}

func scorerToWire(s *genaidata.Scorer) scorerWire {
	return scorerWire{ExperimentID: json.Number(s.ExperimentID), ScorerName: s.Name, ScorerVersion: s.Version,
		SerializedScorer: s.Serialized, CreationTime: s.CreationTime, ScorerID: s.ScorerID}
}

func scorersResponse(list []genaidata.Scorer, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	out := make([]scorerWire, len(list))
	for i := range list {
		out[i] = scorerToWire(&list[i])
	}
	return map[string]any{"scorers": out}, nil
}

type scorerRequest struct {
	ExperimentID     idString     `json:"experiment_id"`
	Name             string       `json:"name"`
	SerializedScorer string       `json:"serialized_scorer"`
	Version          *mjson.Int64 `json:"version"`
}

func (q *scorerRequest) version() *int64 {
	if q.Version == nil {
		return nil
	}
	v := int64(*q.Version)
	return &v
}

func (a *API) decodeScorer(r *http.Request) (*genaidata.Service, *scorerRequest, error) {
	g, err := a.genai()
	if err != nil {
		return nil, nil, err
	}
	var req scorerRequest
	if err := decode(r, &req); err != nil {
		return nil, nil, err
	}
	return g, &req, nil
}

func (a *API) registerScorer(w http.ResponseWriter, r *http.Request) (any, error) {
	g, req, err := a.decodeScorer(r)
	if err != nil {
		return nil, err
	}
	s, err := g.RegisterScorer(r.Context(), string(req.ExperimentID), req.Name, req.SerializedScorer)
	if err != nil {
		return nil, err
	}
	return map[string]any{"version": s.Version, "scorer_id": s.ScorerID, "experiment_id": s.ExperimentID,
		"name": s.Name, "serialized_scorer": s.Serialized, "creation_time": s.CreationTime}, nil
}

func (a *API) listScorers(w http.ResponseWriter, r *http.Request) (any, error) {
	g, req, err := a.decodeScorer(r)
	if err != nil {
		return nil, err
	}
	return scorersResponse(g.ListScorers(r.Context(), string(req.ExperimentID)))
}

func (a *API) listScorerVersions(w http.ResponseWriter, r *http.Request) (any, error) {
	g, req, err := a.decodeScorer(r)
	if err != nil {
		return nil, err
	}
	return scorersResponse(g.ScorerVersions(r.Context(), string(req.ExperimentID), req.Name))
}

func (a *API) getScorer(w http.ResponseWriter, r *http.Request) (any, error) {
	g, req, err := a.decodeScorer(r)
	if err != nil {
		return nil, err
	}
	s, err := g.GetScorer(r.Context(), string(req.ExperimentID), req.Name, req.version())
	if err != nil {
		return nil, err
	}
	return map[string]any{"scorer": scorerToWire(s)}, nil
}

func (a *API) deleteScorer(w http.ResponseWriter, r *http.Request) (any, error) {
	g, req, err := a.decodeScorer(r)
	if err != nil {
		return nil, err
	}
	return httpx.Empty, g.DeleteScorer(r.Context(), string(req.ExperimentID), req.Name, req.version())
}

// setOnlineScoringConfig refuses to run a scorer on live traces (scorer.start()): the
// server runs no scorer.
func (a *API) setOnlineScoringConfig(w http.ResponseWriter, r *http.Request) (any, error) {
	return nil, fault.New(fault.NotImplemented, "Online scoring is not served here: registered scorers are stored, never run by the server. Run them with mlflow.genai.evaluate.")
}

// onlineScoringConfigs answers that no scorer runs on live traces: mlship does not run
// scorers, and MLflow's client asks for these configurations when it lists scorers.
func (a *API) onlineScoringConfigs(w http.ResponseWriter, r *http.Request) (any, error) {
	if _, err := parseQuery(r); err != nil {
		return nil, err
	}
	return map[string]any{"configs": []any{}}, nil
}

// Resolvers of the evaluation data's routes. A dataset is its experiments': using it
// needs the level on every one of them, and one that belongs to no experiment is open to
// administrators only (allowed runs resolvers for other callers alone).
var (
	byDataset resolver = func(a *API, r *http.Request, _ *objectFields) ([]objectRef, error) {
		return a.experimentsOfDataset(r.Context(), r.PathValue("dataset_id"))
	}
	// byNewDataset: a dataset is created in experiments the caller may edit.
	byNewDataset resolver = func(_ *API, _ *http.Request, f *objectFields) ([]objectRef, error) {
		if len(f.ExperimentIDs) == 0 {
			return nil, fault.New(fault.PermissionDenied, "permission denied: a dataset must belong to an experiment you may edit; give experiment_ids")
		}
		return experimentRefs(f.ExperimentIDs.strings()), nil
	}
	// byDatasetAndExperiments: associating a dataset with experiments changes both.
	byDatasetAndExperiments resolver = func(a *API, r *http.Request, f *objectFields) ([]objectRef, error) {
		refs, err := a.experimentsOfDataset(r.Context(), r.PathValue("dataset_id"))
		if err != nil {
			return nil, err
		}
		return append(refs, experimentRefs(f.ExperimentIDs.strings())...), nil
	}
)

func experimentRefs(ids []string) []objectRef {
	out := make([]objectRef, len(ids))
	for i, id := range ids {
		out[i] = objectRef{kind: auth.Experiment, id: id}
	}
	return out
}

func (a *API) experimentsOfDataset(ctx context.Context, id string) ([]objectRef, error) {
	if a.opts.GenAI == nil {
		return nil, nil
	}
	exps, err := a.opts.GenAI.ExperimentsOf(ctx, id)
	if err != nil {
		return nil, err // not found: the handler answers it
	}
	if len(exps) == 0 {
		return nil, fault.New(fault.PermissionDenied, "permission denied: dataset %s belongs to no experiment: only administrators may use it", id)
	}
	return experimentRefs(exps), nil
}
