package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/httpx"
	"github.com/mlship/mlship/internal/serving"
)

// accessRoutes are the routes of permissions on objects and of teams.
func (a *API) accessRoutes() []route {
	return []route{
		{"GET", "/api/v1/permissions", a.listGrants, false, none, httpx.Read},
		{"POST", "/api/v1/permissions", a.grant, false, jsonBody, httpx.Write},
		{"DELETE", "/api/v1/permissions", a.revoke, false, jsonBody, httpx.Write},
		{"GET", "/api/v1/permissions/effective", a.effectivePermissions, false, none, httpx.Signed},
		{"GET", "/api/v1/teams", a.listTeams, false, none, httpx.Admin},
		{"POST", "/api/v1/teams", a.createTeam, false, jsonBody, httpx.Admin},
		{"GET", "/api/v1/teams/{name}", a.getTeam, false, none, httpx.Admin},
		{"DELETE", "/api/v1/teams/{name}", a.deleteTeam, false, jsonBody, httpx.Admin},
		{"PUT", "/api/v1/teams/{name}/members/{user}", a.addMember, false, jsonBody, httpx.Admin},
		{"DELETE", "/api/v1/teams/{name}/members/{user}", a.removeMember, false, jsonBody, httpx.Admin},
	}
}

// grantRequest is a grant or a revocation: an object, and a user or a team.
type grantRequest struct {
	Kind   string `json:"kind"`
	Object string `json:"object"`
	auth.Principal
	Level string `json:"level,omitempty"`
}

type grantList struct {
	Grants []auth.GrantInfo `json:"grants"`
}

func (a *API) listGrants(w http.ResponseWriter, r *http.Request) (any, error) {
	q := r.URL.Query()
	if p := (auth.Principal{User: q.Get("user"), Team: q.Get("team")}); p != (auth.Principal{}) {
		gs, err := a.auth.GrantsOf(r.Context(), auth.From(r.Context()), p)
		return grantList{gs}, err
	}
	kind, err := auth.ParseKind(q.Get("kind"))
	if err != nil {
		return nil, err
	}
	gs, err := a.auth.ListGrants(r.Context(), auth.From(r.Context()), kind, q.Get("object"))
	return grantList{gs}, err
}

func (a *API) grant(w http.ResponseWriter, r *http.Request) (any, error) {
	var req grantRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	kind, err := auth.ParseKind(req.Kind)
	if err != nil {
		return nil, err
	}
	level, err := auth.ParseLevel(req.Level)
	if err != nil {
		return nil, err
	}
	if err := a.objectExists(r, kind, req.Object); err != nil {
		return nil, err
	}
	caller := auth.From(r.Context())
	if err := a.auth.Grant(r.Context(), caller, kind, req.Object, req.Principal, level); err != nil {
		return nil, err
	}
	return map[string]any{}, nil
}

func (a *API) revoke(w http.ResponseWriter, r *http.Request) (any, error) {
	var req grantRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	kind, err := auth.ParseKind(req.Kind)
	if err != nil {
		return nil, err
	}
	return map[string]any{}, a.auth.Revoke(r.Context(), auth.From(r.Context()), kind, req.Object, req.Principal)
}

// objectExists refuses a grant on an object that is not there: a typo would otherwise
// grant nothing, silently.
func (a *API) objectExists(r *http.Request, kind auth.ObjectKind, object string) error {
	ctx := r.Context()
	if object == "" {
		return fault.Invalidf("name the object the grant is on")
	}
	if object == auth.Wildcard { // every object of the kind, for an administrator
		return nil
	}
	switch kind {
	case auth.Experiment:
		_, err := a.tracking.GetExperiment(ctx, object)
		return err
	case auth.RegisteredModel:
		_, err := a.registry.GetRegisteredModel(ctx, object)
		return err
	case auth.Dataset:
		vs, err := a.datasets.Versions(ctx, object)
		if err == nil && len(vs) == 0 {
			return fault.NotFoundf("no dataset named %q", object)
		}
		return err
	case auth.Deployment:
		m, err := a.manager()
		if err != nil {
			return err
		}
		_, err = m.Lookup(object)
		return err
	}
	return nil
}

type teamRequest struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

type teamList struct {
	Teams []auth.Team `json:"teams"`
}

func (a *API) listTeams(w http.ResponseWriter, r *http.Request) (any, error) {
	ts, err := a.auth.ListTeams(r.Context())
	return teamList{ts}, err
}

func (a *API) createTeam(w http.ResponseWriter, r *http.Request) (any, error) {
	var req teamRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	t, err := a.auth.CreateTeam(r.Context(), req.Name, req.Description)
	if err != nil {
		return nil, err
	}
	w.WriteHeader(http.StatusCreated)
	return t, nil
}

func (a *API) getTeam(w http.ResponseWriter, r *http.Request) (any, error) {
	return a.auth.GetTeam(r.Context(), r.PathValue("name"))
}

func (a *API) deleteTeam(w http.ResponseWriter, r *http.Request) (any, error) {
	return map[string]any{}, a.auth.DeleteTeam(r.Context(), r.PathValue("name"))
}

func (a *API) addMember(w http.ResponseWriter, r *http.Request) (any, error) {
	if err := a.auth.AddMember(r.Context(), r.PathValue("name"), r.PathValue("user")); err != nil {
		return nil, err
	}
	return a.auth.GetTeam(r.Context(), r.PathValue("name"))
}

func (a *API) removeMember(w http.ResponseWriter, r *http.Request) (any, error) {
	if err := a.auth.RemoveMember(r.Context(), r.PathValue("name"), r.PathValue("user")); err != nil {
		return nil, err
	}
	return a.auth.GetTeam(r.Context(), r.PathValue("name"))
}

// objectRule is what a route of the native API needs on the object its path names
// (the path parameter param, of kind). A route with no rule, and no object, is listed
// in objectFree; any other route is open to administrators only.
type objectRule struct {
	kind  auth.ObjectKind
	param string
	level auth.Level
}

// objectFinders find the object of the routes whose path does not name it: a run's
// routes are checked on the run's experiment.
var objectFinders = map[string]func(ctx context.Context, a *API, r *http.Request) (string, error){
	"GET /api/v1/runs/{run_id}/metrics/{key}/history": runExperiment,
	"GET /api/v1/runs/{run_id}/metric-history":        runExperiment,
}

var objectRules = map[string]objectRule{
	"GET /api/v1/models/{name}/versions/{version}/lineage":         {auth.RegisteredModel, "name", auth.LevelRead},
	"POST /api/v1/models/{name}/versions/{version}/verify":         {auth.RegisteredModel, "name", auth.LevelEdit},
	"GET /api/v1/models/{name}/versions/{version}/files/{path...}": {auth.RegisteredModel, "name", auth.LevelRead},
	"GET /api/v1/deployments/{name}":                               {auth.Deployment, "name", auth.LevelRead},
	"PUT /api/v1/deployments/{name}":                               {auth.Deployment, "name", auth.LevelEdit},
	"DELETE /api/v1/deployments/{name}":                            {auth.Deployment, "name", auth.LevelManage},
	"GET /api/v1/deployments/{name}/payloads":                      {auth.Deployment, "name", auth.LevelRead},
	"GET /api/v1/deployments/{name}/drift":                         {auth.Deployment, "name", auth.LevelRead},
	"GET /api/v1/datasets/{name}/versions":                         {auth.Dataset, "name", auth.LevelRead},
	"GET /api/v1/datasets/{name}/versions/{version}":               {auth.Dataset, "name", auth.LevelRead},
	"GET /api/v1/datasets/{name}/versions/{version}/profile":       {auth.Dataset, "name", auth.LevelRead},
	"GET /api/v1/models/{name}/benchmark":                          {auth.RegisteredModel, "name", auth.LevelRead},
	"PUT /api/v1/models/{name}/benchmark":                          {auth.RegisteredModel, "name", auth.LevelManage},
	"DELETE /api/v1/models/{name}/benchmark":                       {auth.RegisteredModel, "name", auth.LevelManage},
	"POST /api/v1/models/{name}/versions/{version}/evaluations":    {auth.RegisteredModel, "name", auth.LevelEdit},
	"GET /api/v1/models/{name}/evaluations":                        {auth.RegisteredModel, "name", auth.LevelRead},
	"PUT /api/v1/models/{name}/aliases/{alias}":                    {auth.RegisteredModel, "name", auth.LevelEdit},
	"GET /api/v1/models/{name}/alias-audit":                        {auth.RegisteredModel, "name", auth.LevelRead},
	"GET /api/v1/runs/{run_id}/metrics/{key}/history":              {auth.Experiment, "run_id", auth.LevelRead},
	"GET /api/v1/runs/{run_id}/metric-history":                     {auth.Experiment, "run_id", auth.LevelRead},
	"GET /api/v1/experiments/{id}/keys":                            {auth.Experiment, "id", auth.LevelRead},
	"GET /api/v1/experiments/{id}/metric-summary":                  {auth.Experiment, "id", auth.LevelRead},
	"GET /api/v1/experiments/{id}/groups":                          {auth.Experiment, "id", auth.LevelRead},
	"GET /api/v1/deployments/{name}/stats":                         {auth.Deployment, "name", auth.LevelRead},
}

// objectFree are the routes that touch no single object, or check their objects
// themselves: lists (filtered by what the caller may read), creations (the creator gets
// MANAGE), identities, permissions (MANAGE on the object, asked by auth) and teams.
var objectFree = map[string]bool{
	"GET /api/v1/openapi.json": true, "GET /api/v1/server-info": true, "POST /api/v1/content/gc": true,
	"GET /api/v1/deployments": true, "POST /api/v1/deployments": true, "GET /api/v1/datasets": true,
	"POST /api/v1/datasets/{name}/versions": true, "POST /api/v1/drift": true, "GET /api/v1/evaluations/{id}": true,
	"GET /api/v1/overview": true,
}

// ObjectRuleFor reports whether the route declares what it needs on objects, for the
// test that walks every route.
func ObjectRuleFor(method, path string) bool {
	key := method + " " + path
	_, ok := objectRules[key]
	return ok || objectFree[key] || strings.HasPrefix(path, "/api/v1/users") || strings.HasPrefix(path, "/api/v1/tokens") ||
		strings.HasPrefix(path, "/api/v1/teams") || strings.HasPrefix(path, "/api/v1/permissions") ||
		path == "/api/v1/whoami" || path == "/api/v1/audit"
}

// checkObject wraps a route's handler with its object rule.
func (a *API) checkObject(rt route, h http.Handler) http.Handler {
	key := rt.method + " " + rt.path
	rule, ok := objectRules[key]
	if !ok && ObjectRuleFor(rt.method, rt.path) {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := auth.From(r.Context())
		var err error
		switch {
		case id == nil || id.Admin:
		case !ok:
			err = fault.New(fault.PermissionDenied, "permission denied: %s %s is open to administrators only", r.Method, r.URL.Path)
		default:
			err = a.canOn(r, rule, objectFinders[key])
		}
		if err != nil {
			httpx.WriteError(w, r, a.logger, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (a *API) canOn(r *http.Request, rule objectRule, find func(context.Context, *API, *http.Request) (string, error)) error {
	object := r.PathValue(rule.param)
	if find != nil {
		var err error
		if object, err = find(r.Context(), a, r); err != nil {
			return err
		}
	}
	return a.auth.Can(r.Context(), rule.kind, object, rule.level)
}

// mayServe refuses a deployment spec that serves a registered model the caller may not
// read (canary and shadow included), or monitors against a dataset it may not read.
func (a *API) mayServe(r *http.Request, spec serving.Spec) error {
	uris := []string{spec.Model}
	if spec.Canary != nil {
		uris = append(uris, spec.Canary.Model)
	}
	if spec.Shadow != nil {
		uris = append(uris, spec.Shadow.Model)
	}
	for _, u := range uris {
		rest, ok := strings.CutPrefix(u, "models:/")
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(rest, "@")
		name, _, _ = strings.Cut(name, "/")
		if err := a.auth.Can(r.Context(), auth.RegisteredModel, name, auth.LevelRead); err != nil {
			return err
		}
	}
	if spec.Monitoring != nil && spec.Monitoring.Reference != "" { // its rows are compared with the traffic
		dataset, _, _ := strings.Cut(spec.Monitoring.Reference, "/")
		return a.auth.Can(r.Context(), auth.Dataset, dataset, auth.LevelRead)
	}
	return nil
}
