package mlflowapi

import (
	"net/http"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/httpx"
	"github.com/mlship/mlship/internal/protojson"
	"github.com/mlship/mlship/internal/registry"
)

// registryRoutes are the model registry's endpoints (model_registry.proto). Deletes
// carry a JSON body, as MLflow's clients send it.
func (a *API) registryRoutes() []route {
	return []route{
		{"POST", "registered-models/create", a.createRegisteredModel, writeAccess},
		{"GET", "registered-models/get", a.getRegisteredModel, readAccess},
		{"POST", "registered-models/rename", a.renameRegisteredModel, writeAccess},
		{"PATCH", "registered-models/update", a.updateRegisteredModel, writeAccess},
		{"DELETE", "registered-models/delete", a.deleteRegisteredModel, writeAccess},
		{"GET", "registered-models/search", a.searchRegisteredModels, readAccess},
		{"POST", "registered-models/get-latest-versions", a.getLatestVersions, readAccess},
		{"GET", "registered-models/get-latest-versions", a.getLatestVersions, readAccess},
		{"POST", "registered-models/set-tag", a.setRegisteredModelTag, writeAccess},
		{"DELETE", "registered-models/delete-tag", a.deleteRegisteredModelTag, writeAccess},
		{"POST", "registered-models/alias", a.setRegisteredModelAlias, writeAccess},
		{"DELETE", "registered-models/alias", a.deleteRegisteredModelAlias, writeAccess},
		{"GET", "registered-models/alias", a.getModelVersionByAlias, readAccess},

		{"POST", "model-versions/create", a.createModelVersion, writeAccess},
		{"GET", "model-versions/get", a.getModelVersion, readAccess},
		{"PATCH", "model-versions/update", a.updateModelVersion, writeAccess},
		{"DELETE", "model-versions/delete", a.deleteModelVersion, writeAccess},
		{"GET", "model-versions/search", a.searchModelVersions, readAccess},
		{"POST", "model-versions/transition-stage", a.transitionModelVersionStage, writeAccess},
		{"GET", "model-versions/get-download-uri", a.getModelVersionDownloadURI, readAccess},
		{"POST", "model-versions/set-tag", a.setModelVersionTag, writeAccess},
		{"DELETE", "model-versions/delete-tag", a.deleteModelVersionTag, writeAccess},
	}
}

type registeredModelResponse struct {
	RegisteredModel *registry.RegisteredModel `json:"registered_model"`
}

type modelVersionResponse struct {
	ModelVersion *registry.ModelVersion `json:"model_version"`
}

type modelVersionsResponse struct {
	ModelVersions []*registry.ModelVersion `json:"model_versions,omitempty"`
}

// modelRef names a registered model.
type modelRef struct {
	Name string `json:"name"`
}

// versionRef names a model version; clients send the version as a string, old ones as
// a number.
type versionRef struct {
	Name    string   `json:"name"`
	Version idString `json:"version"`
}

// searchRequest is what both registry searches take.
type searchRequest struct {
	Filter     string           `json:"filter"`
	MaxResults *protojson.Int64 `json:"max_results"`
	OrderBy    []string         `json:"order_by"`
	PageToken  string           `json:"page_token"`
}

func (s searchRequest) query(defaultMax int) registry.SearchQuery {
	return registry.SearchQuery{Filter: s.Filter, MaxResults: orDefault(s.MaxResults, defaultMax),
		OrderBy: s.OrderBy, PageToken: s.PageToken}
}

func (a *API) createRegisteredModel(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		Name        string         `json:"name"`
		Tags        []registry.Tag `json:"tags"`
		Description string         `json:"description"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	m, err := a.registry.CreateRegisteredModel(r.Context(), registry.CreateModelInput{
		Name: req.Name, Description: req.Description, Tags: req.Tags})
	if err == nil {
		err = a.created(r.Context(), auth.RegisteredModel, m.Name)
	}
	return modelResult(m, err)
}

func modelResult(m *registry.RegisteredModel, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return registeredModelResponse{m}, nil
}

func (a *API) getRegisteredModel(w http.ResponseWriter, r *http.Request) (any, error) {
	var req modelRef
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return modelResult(a.registry.GetRegisteredModel(r.Context(), req.Name))
}

func (a *API) renameRegisteredModel(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		Name    string `json:"name"`
		NewName string `json:"new_name"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	m, err := a.registry.RenameRegisteredModel(r.Context(), req.Name, req.NewName)
	if err == nil && a.opts.Permissions != nil {
		err = a.opts.Permissions.RenameObject(r.Context(), auth.RegisteredModel, req.Name, m.Name)
	}
	return modelResult(m, err)
}

func (a *API) updateRegisteredModel(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return modelResult(a.registry.UpdateRegisteredModel(r.Context(), req.Name, req.Description))
}

func (a *API) deleteRegisteredModel(w http.ResponseWriter, r *http.Request) (any, error) {
	var req modelRef
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := a.registry.DeleteRegisteredModel(r.Context(), req.Name); err != nil {
		return nil, err
	}
	if a.opts.Permissions != nil {
		return httpx.Empty, a.opts.Permissions.ForgetObject(r.Context(), auth.RegisteredModel, req.Name)
	}
	return httpx.Empty, nil
}

func (a *API) searchRegisteredModels(w http.ResponseWriter, r *http.Request) (any, error) {
	var req searchRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	q := req.query(registry.DefaultSearchModels)
	var err error
	if q.Visible, err = a.visible(r.Context(), auth.RegisteredModel); err != nil {
		return nil, err
	}
	models, next, err := a.registry.SearchRegisteredModels(r.Context(), q)
	if err != nil {
		return nil, err
	}
	return struct {
		RegisteredModels []*registry.RegisteredModel `json:"registered_models,omitempty"`
		NextPageToken    string                      `json:"next_page_token,omitempty"`
	}{models, next}, nil
}

func (a *API) getLatestVersions(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		Name   string   `json:"name"`
		Stages []string `json:"stages"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	versions, err := a.registry.GetLatestVersions(r.Context(), req.Name, req.Stages)
	if err != nil {
		return nil, err
	}
	return modelVersionsResponse{versions}, nil
}

func (a *API) setRegisteredModelTag(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		Name string `json:"name"`
		registry.Tag
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return httpx.Empty, a.registry.SetRegisteredModelTag(r.Context(), req.Name, req.Tag)
}

func (a *API) deleteRegisteredModelTag(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		Name string `json:"name"`
		Key  string `json:"key"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return httpx.Empty, a.registry.DeleteRegisteredModelTag(r.Context(), req.Name, req.Key)
}

type aliasRequest struct {
	Name    string   `json:"name"`
	Alias   string   `json:"alias"`
	Version idString `json:"version"`
}

func (a *API) setRegisteredModelAlias(w http.ResponseWriter, r *http.Request) (any, error) {
	var req aliasRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return httpx.Empty, a.registry.SetAlias(r.Context(), req.Name, req.Alias, string(req.Version))
}

func (a *API) deleteRegisteredModelAlias(w http.ResponseWriter, r *http.Request) (any, error) {
	var req aliasRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return httpx.Empty, a.registry.DeleteAlias(r.Context(), req.Name, req.Alias)
}

func (a *API) getModelVersionByAlias(w http.ResponseWriter, r *http.Request) (any, error) {
	var req aliasRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return versionResult(a.registry.GetVersionByAlias(r.Context(), req.Name, req.Alias))
}

func versionResult(v *registry.ModelVersion, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return modelVersionResponse{v}, nil
}

func (a *API) createModelVersion(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		Name        string         `json:"name"`
		Source      string         `json:"source"`
		RunID       string         `json:"run_id"`
		Tags        []registry.Tag `json:"tags"`
		RunLink     string         `json:"run_link"`
		Description string         `json:"description"`
		ModelID     string         `json:"model_id"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	v, err := a.registry.CreateModelVersion(r.Context(), registry.CreateVersionInput{
		Name: req.Name, Source: req.Source, RunID: req.RunID, Tags: req.Tags, RunLink: req.RunLink,
		Description: req.Description, ModelID: req.ModelID})
	if err == nil && v.ModelID != "" {
		// As MLflow does, the logged model records where it is registered. The version
		// exists either way, so a failure here is logged, not returned.
		if terr := a.tracking.RecordRegistration(r.Context(), v.ModelID, v.Name, v.Version); terr != nil {
			a.logger.Warn("could not tag the logged model with its registration", "model_id", v.ModelID, "err", terr)
		}
	}
	return versionResult(v, err)
}

func (a *API) getModelVersion(w http.ResponseWriter, r *http.Request) (any, error) {
	var req versionRef
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return versionResult(a.registry.GetModelVersion(r.Context(), req.Name, string(req.Version)))
}

func (a *API) updateModelVersion(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		versionRef
		Description string `json:"description"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return versionResult(a.registry.UpdateModelVersion(r.Context(), req.Name, string(req.Version), req.Description))
}

func (a *API) deleteModelVersion(w http.ResponseWriter, r *http.Request) (any, error) {
	var req versionRef
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return httpx.Empty, a.registry.DeleteModelVersion(r.Context(), req.Name, string(req.Version))
}

func (a *API) searchModelVersions(w http.ResponseWriter, r *http.Request) (any, error) {
	var req searchRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	q := req.query(registry.DefaultSearchVersions)
	var err error
	if q.Visible, err = a.visible(r.Context(), auth.RegisteredModel); err != nil {
		return nil, err
	}
	versions, next, err := a.registry.SearchModelVersions(r.Context(), q)
	if err != nil {
		return nil, err
	}
	return struct {
		ModelVersions []*registry.ModelVersion `json:"model_versions,omitempty"`
		NextPageToken string                   `json:"next_page_token,omitempty"`
	}{versions, next}, nil
}

func (a *API) transitionModelVersionStage(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		versionRef
		Stage                   string `json:"stage"`
		ArchiveExistingVersions bool   `json:"archive_existing_versions"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return versionResult(a.registry.TransitionStage(r.Context(), req.Name, string(req.Version), req.Stage, req.ArchiveExistingVersions))
}

func (a *API) getModelVersionDownloadURI(w http.ResponseWriter, r *http.Request) (any, error) {
	var req versionRef
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	v, err := a.registry.GetModelVersion(r.Context(), req.Name, string(req.Version))
	if err != nil {
		return nil, err
	}
	return struct {
		ArtifactURI string `json:"artifact_uri"`
	}{a.downloadURI(v)}, nil
}

func (a *API) setModelVersionTag(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		versionRef
		registry.Tag
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return httpx.Empty, a.registry.SetModelVersionTag(r.Context(), req.Name, string(req.Version), req.Tag)
}

func (a *API) deleteModelVersionTag(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		versionRef
		Key string `json:"key"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return httpx.Empty, a.registry.DeleteModelVersionTag(r.Context(), req.Name, string(req.Version), req.Key)
}
