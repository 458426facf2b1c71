// Package api is mlship's native REST API under /api/v1: what MLflow's API has no room
// for, such as a model version's lineage and the verification of its stored files. The
// routes are listed in one table (routeTable) and described by the checked-in OpenAPI
// document openapi.json, which a test holds to the table.
package api

import (
	"context"
	_ "embed"
	"log/slog"
	"net/http"

	"github.com/mlship/mlship/internal/audit"
	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/cas"
	"github.com/mlship/mlship/internal/datasets"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/gates"
	"github.com/mlship/mlship/internal/httpx"
	"github.com/mlship/mlship/internal/monitor"
	"github.com/mlship/mlship/internal/registry"
	"github.com/mlship/mlship/internal/serving"
	"github.com/mlship/mlship/internal/tracking"
)

// Prefix is where the native API is served.
const Prefix = "/api/v1/"

// maxBodyBytes caps request bodies: deployment specs are small.
const maxBodyBytes = 1 << 20

//go:embed openapi.json
var openAPIDocument []byte

// API is the native REST API.
type API struct {
	registry    *registry.Service
	tracking    *tracking.Service
	content     *cas.Store
	deployments *serving.Manager // nil: this process hosts no deployments
	datasets    *datasets.Service
	monitor     *monitor.Monitor
	gates       *gates.Service
	auth        *auth.Service
	audit       *audit.Log
	info        ServerInfo
	once        func(ctx context.Context, name string, fn func(ctx context.Context) error) error
	logger      *slog.Logger
}

// Services are the domains the API serves.
type Services struct {
	Registry *registry.Service
	Tracking *tracking.Service
	// Content holds the registry's copies of model versions and the datasets' files.
	Content     *cas.Store
	Deployments *serving.Manager // nil: this process hosts no deployments
	Datasets    *datasets.Service
	Monitor     *monitor.Monitor
	Gates       *gates.Service // nil: no benchmark gates
	// Auth holds users and tokens.
	Auth *auth.Service
	// Audit is the audit trail; nil: none.
	Audit *audit.Log
	// Info is what GET /api/v1/server-info says of the server besides its version.
	Info ServerInfo
	// Once runs fn while no other server sharing the database runs the work of that
	// name (jobs.Queue.Once); nil runs fn at once.
	Once func(ctx context.Context, name string, fn func(ctx context.Context) error) error
}

// New returns the API over the registry, tracking and the content store that holds the
// registry's copies of model versions.
func New(s Services, logger *slog.Logger) *API {
	return &API{registry: s.Registry, tracking: s.Tracking, content: s.Content, deployments: s.Deployments,
		datasets: s.Datasets, monitor: s.Monitor, gates: s.Gates, auth: s.Auth, audit: s.Audit, info: s.Info, once: s.Once, logger: logger}
}

// route is one endpoint; path uses http.ServeMux's wildcard syntax, which is also
// OpenAPI's path template syntax. body is what a state-changing route reads (JSON
// unless it says otherwise). A streaming route reads a body of any size itself.
type route struct {
	method, path string
	fn           httpx.HandlerFunc
	streaming    bool
	body         httpx.Body
	access       httpx.Access
}

// The bodies routes take: none (GET), JSON, or a dataset's file.
var (
	none     httpx.Body
	jsonBody = httpx.JSON
)

// datasetBody is what a dataset registration reads: the file's bytes, under a file
// type or as application/octet-stream, as the CLI sends them.
var datasetBody = httpx.Accepts("application/octet-stream", "text/csv", "application/csv",
	"application/x-ndjson", "application/jsonl", "application/vnd.apache.parquet", "application/x-parquet")

// routeTable is every route of the API, the one list that Register mounts and the OpenAPI
// test compares with the document.
func (a *API) routeTable() []route {
	return append([]route{
		{"GET", "/api/v1/openapi.json", a.openAPI, false, none, httpx.Public},
		{"GET", "/api/v1/server-info", a.serverInfo, false, none, httpx.Public},
		{"GET", "/api/v1/models/{name}/versions/{version}/lineage", a.lineage, false, none, httpx.Read},
		{"POST", "/api/v1/models/{name}/versions/{version}/verify", a.verify, false, jsonBody, httpx.Write},
		{"POST", "/api/v1/content/gc", a.collectGarbage, false, jsonBody, httpx.Admin},
		{"GET", "/api/v1/models/{name}/versions/{version}/files/{path...}", a.versionFile, false, none, httpx.Read},
		{"GET", "/api/v1/deployments", a.listDeployments, false, none, httpx.Read},
		{"POST", "/api/v1/deployments", a.createDeployment, false, jsonBody, httpx.Deploy},
		{"GET", "/api/v1/deployments/{name}", a.getDeployment, false, none, httpx.Read},
		{"PUT", "/api/v1/deployments/{name}", a.updateDeployment, false, jsonBody, httpx.Deploy},
		{"DELETE", "/api/v1/deployments/{name}", a.deleteDeployment, false, jsonBody, httpx.Deploy},
		{"GET", "/api/v1/deployments/{name}/payloads", a.listPayloads, false, none, httpx.Read},
		{"GET", "/api/v1/deployments/{name}/drift", a.listDriftWindows, false, none, httpx.Read},
		{"GET", "/api/v1/datasets", a.listDatasets, false, none, httpx.Read},
		{"GET", "/api/v1/datasets/{name}/versions", a.listDatasetVersions, false, none, httpx.Read},
		{"POST", "/api/v1/datasets/{name}/versions", a.registerDataset, true, datasetBody, httpx.Write},
		{"GET", "/api/v1/datasets/{name}/versions/{version}", a.getDatasetVersion, false, none, httpx.Read},
		{"GET", "/api/v1/datasets/{name}/versions/{version}/profile", a.getDatasetProfile, false, none, httpx.Read},
		{"POST", "/api/v1/drift", a.compareDatasets, false, jsonBody, httpx.Read},
		{"GET", "/api/v1/models/{name}/benchmark", a.getBenchmark, false, none, httpx.Read},
		{"PUT", "/api/v1/models/{name}/benchmark", a.setBenchmark, false, jsonBody, httpx.Write},
		{"DELETE", "/api/v1/models/{name}/benchmark", a.deleteBenchmark, false, jsonBody, httpx.Write},
		{"POST", "/api/v1/models/{name}/versions/{version}/evaluations", a.evaluate, false, jsonBody, httpx.Write},
		{"GET", "/api/v1/models/{name}/evaluations", a.listEvaluations, false, none, httpx.Read},
		{"GET", "/api/v1/evaluations/{id}", a.getEvaluation, false, none, httpx.Read},
		{"PUT", "/api/v1/models/{name}/aliases/{alias}", a.setAlias, false, jsonBody, httpx.Write},
		{"GET", "/api/v1/models/{name}/alias-audit", a.listAliasAudit, false, none, httpx.Read},
		{"GET", "/api/v1/whoami", a.whoAmI, false, none, httpx.Signed},
		{"GET", "/api/v1/users", a.listUsers, false, none, httpx.Admin},
		{"POST", "/api/v1/users", a.createUser, false, jsonBody, httpx.Admin},
		{"GET", "/api/v1/users/{name}", a.getUser, false, none, httpx.Admin},
		{"PATCH", "/api/v1/users/{name}", a.updateUser, false, jsonBody, httpx.Admin},
		{"DELETE", "/api/v1/users/{name}", a.deleteUser, false, jsonBody, httpx.Admin},
		{"GET", "/api/v1/tokens", a.listTokens, false, none, httpx.Signed},
		{"POST", "/api/v1/tokens", a.createToken, false, jsonBody, httpx.Signed},
		{"DELETE", "/api/v1/tokens/{id}", a.revokeToken, false, jsonBody, httpx.Signed},
		{"GET", "/api/v1/audit", a.listAudit, false, none, httpx.Admin},
		{"GET", "/api/v1/runs/{run_id}/metrics/{key}/history", a.metricHistory, false, none, httpx.Read},
		{"GET", "/api/v1/runs/{run_id}/metric-history", a.metricHistories, false, none, httpx.Read},
		{"GET", "/api/v1/experiments/{id}/keys", a.experimentKeys, false, none, httpx.Read},
		{"GET", "/api/v1/experiments/{id}/metric-summary", a.metricSummary, false, none, httpx.Read},
		{"GET", "/api/v1/experiments/{id}/groups", a.runGroups, false, none, httpx.Read},
		{"GET", "/api/v1/deployments/{name}/stats", a.deploymentStats, false, none, httpx.Read},
		{"GET", "/api/v1/overview", a.overview, false, none, httpx.Read},
	}, a.accessRoutes()...)
}

// Register adds the API's routes to rt, and a catch-all that answers unknown paths
// under Prefix with a JSON error.
func (a *API) Register(rt *httpx.Router) {
	for _, r := range a.routeTable() {
		h := httpx.Handle(a.logger, r.fn)
		if !r.streaming {
			h = httpx.LimitBody(maxBodyBytes, h)
		}
		rt.Handle(httpx.Route{Method: r.method, Path: r.path, Body: r.body, Access: r.access, Handler: a.checkObject(r, h)})
	}
	rt.Fallback(Prefix, httpx.Handle(a.logger, a.endpointNotFound))
}

func (a *API) endpointNotFound(w http.ResponseWriter, r *http.Request) (any, error) {
	return nil, &httpx.CodedError{Code: "ENDPOINT_NOT_FOUND",
		Err: fault.NotFoundf("No API endpoint %s %s", r.Method, r.URL.Path)}
}

func (a *API) openAPI(w http.ResponseWriter, r *http.Request) (any, error) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPIDocument)
	return nil, nil
}
