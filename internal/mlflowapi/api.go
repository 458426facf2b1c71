// Package mlflowapi serves MLflow's REST API over mlship's domains: the tracking service
// and the model registry under /api/2.0/mlflow and /ajax-api/2.0/mlflow, and the artifact proxy under
// /api/2.0/mlflow-artifacts. It owns the wire rules (how requests are decoded, which
// fields are required, MLflow's enum and id quirks) and nothing else: every rule about
// the data lives in the domain packages.
package mlflowapi

import (
	"log/slog"
	"net/http"
	"slices"
	"strings"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/genaidata"
	"github.com/mlship/mlship/internal/httpx"
	"github.com/mlship/mlship/internal/registry"
	"github.com/mlship/mlship/internal/traces"
	"github.com/mlship/mlship/internal/tracking"
	"github.com/mlship/mlship/internal/webhooks"
)

// Options configure the API.
type Options struct {
	// MaxBodyBytes caps JSON request bodies.
	MaxBodyBytes int64
	// ServeArtifacts enables the artifact proxy; without it its routes answer 503.
	ServeArtifacts bool
	// VersionFiles holds the registered copies of model versions, which clients
	// download them from; nil sends them to the versions' sources.
	VersionFiles VersionFiles
	// Permissions, when identities are on, decides what each identity may do with each
	// experiment and registered model; nil allows everything.
	Permissions *auth.Service
	// Traces keeps MLflow 3's traces: their routes need it.
	Traces *traces.Service
	// Webhooks keeps webhooks: their routes need it.
	Webhooks *webhooks.Service
	// GenAI keeps evaluation datasets and scorers: their routes need it.
	GenAI *genaidata.Service
}

// API is MLflow's REST API.
type API struct {
	tracking *tracking.Service
	registry *registry.Service
	blobs    blob.Store
	logger   *slog.Logger
	opts     Options

	runOwners *lru.Cache[string, string] // run id -> experiment id
}

// New returns the API over the tracking service, the model registry and the artifact
// blob store.
func New(t *tracking.Service, reg *registry.Service, blobs blob.Store, logger *slog.Logger, opts Options) *API {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 32 << 20
	}
	return &API{tracking: t, registry: reg, blobs: blobs, logger: logger, opts: opts, runOwners: newRunOwners()}
}

// prefixes are where MLflow serves every endpoint: the REST path and the UI's path.
var prefixes = []string{"/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"}

// v3Prefixes are where MLflow 3 serves the endpoints it added (traces among them).
var v3Prefixes = []string{"/api/3.0/mlflow/", "/ajax-api/3.0/mlflow/"}

type route struct {
	method, path string
	fn           httpx.HandlerFunc
	access       httpx.Access
}

// What MLflow's routes need of their caller: reading (searches too, though some are
// POSTs) or writing.
const (
	readAccess  = httpx.Read
	writeAccess = httpx.Write
)

func (a *API) routes() []route {
	return slices.Concat(a.trackingRoutes(), a.loggedModelRoutes(), a.registryRoutes(), a.traceRoutes(), a.webhookRoutes(), a.genaiRoutes())
}

func (a *API) trackingRoutes() []route {
	return []route{
		{"POST", "experiments/create", a.createExperiment, writeAccess},
		{"GET", "experiments/get", a.getExperiment, readAccess},
		{"GET", "experiments/get-by-name", a.getExperimentByName, readAccess},
		{"POST", "experiments/search", a.searchExperiments, readAccess},
		{"GET", "experiments/search", a.searchExperiments, readAccess},
		{"POST", "experiments/delete", a.deleteExperiment, writeAccess},
		{"POST", "experiments/restore", a.restoreExperiment, writeAccess},
		{"POST", "experiments/update", a.updateExperiment, writeAccess},
		{"POST", "experiments/set-experiment-tag", a.setExperimentTag, writeAccess},
		{"POST", "experiments/delete-experiment-tag", a.deleteExperimentTag, writeAccess},

		{"POST", "runs/create", a.createRun, writeAccess},
		{"GET", "runs/get", a.getRun, readAccess},
		{"POST", "runs/update", a.updateRun, writeAccess},
		{"POST", "runs/delete", a.deleteRun, writeAccess},
		{"POST", "runs/restore", a.restoreRun, writeAccess},
		{"POST", "runs/search", a.searchRuns, readAccess},
		{"POST", "runs/log-metric", a.logMetric, writeAccess},
		{"POST", "runs/log-parameter", a.logParam, writeAccess},
		{"POST", "runs/set-tag", a.setTag, writeAccess},
		{"POST", "runs/delete-tag", a.deleteTag, writeAccess},
		{"POST", "runs/log-batch", a.logBatch, writeAccess},
		{"POST", "runs/log-inputs", a.logInputs, writeAccess},

		{"GET", "metrics/get-history", a.getMetricHistory, readAccess},
		{"GET", "metrics/get-history-bulk-interval", a.getMetricHistoryBulkInterval, readAccess},

		{"GET", "artifacts/list", a.listRunArtifacts, readAccess},
		{"POST", "artifacts/presigned-upload-url", a.presignedUploadURL, writeAccess},
		{"POST", "artifacts/presigned-download-url", a.presignedDownloadURL, readAccess},
		{"GET", "server-features", a.serverFeatures, readAccess},
	}
}

// The bodies of MLflow's JSON routes. MLflow answers a body of another content type
// with 400 INVALID_PARAMETER_VALUE, and clients and tests written against it expect
// that. It reads PATCH and DELETE bodies sent with no Content-Type (browsers preflight
// both methods across origins, so they are no way in for a web page).
var (
	jsonBody       = httpx.JSON.RefusedWith(http.StatusBadRequest, "INVALID_PARAMETER_VALUE")
	jsonOrNoneBody = httpx.Accepts("application/json", "").RefusedWith(http.StatusBadRequest, "INVALID_PARAMETER_VALUE")
)

// bodyOf is what a route with method takes.
func bodyOf(method string) httpx.Body {
	if method == http.MethodPatch || method == http.MethodDelete {
		return jsonOrNoneBody
	}
	return jsonBody
}

// Register adds MLflow's routes to rt, the artifact proxy among them, mounted so that
// the mux's path cleaning and redirects never touch a client's artifact path before it
// is validated.
func (a *API) Register(rt *httpx.Router) {
	for _, p := range prefixes {
		for _, r := range a.routes() {
			a.handle(rt, p, r)
		}
		rt.Fallback(p, httpx.Handle(a.logger, a.endpointNotFound))
	}
	for _, p := range v3Prefixes {
		for _, r := range slices.Concat(a.traceRoutes(), a.genaiRoutes()) {
			a.handle(rt, p, r)
		}
	}
	a.registerOTLP(rt)
	for _, p := range []string{"/api/3.0/mlflow/server-info", "/ajax-api/3.0/mlflow/server-info"} {
		rt.Handle(httpx.Route{Method: "GET", Path: p, Access: httpx.Public, Handler: httpx.Handle(a.logger, a.serverInfo)})
	}
	rt.Handle(httpx.Route{Method: "GET", Path: "/model-versions/get-artifact", Access: httpx.Read,
		Handler: a.checkObjects("GET", "/model-versions/get-artifact", httpx.Handle(a.logger, a.getModelVersionArtifact))})
	rt.Mount(ArtifactsPrefix, a.artifactRoutes(), httpx.Handle(a.logger, a.artifactNotFound))
}

func (a *API) handle(rt *httpx.Router, prefix string, r route) {
	h := a.checkObjects(r.method, r.path, httpx.LimitBody(a.opts.MaxBodyBytes, httpx.Handle(a.logger, r.fn)))
	rt.Handle(httpx.Route{Method: r.method, Path: prefix + r.path, Body: bodyOf(r.method), Access: r.access, Handler: h})
}

// endpointNotFound answers a path no route matched: 405 when the path exists with
// other methods, 404 ENDPOINT_NOT_FOUND otherwise.
func (a *API) endpointNotFound(w http.ResponseWriter, r *http.Request) (any, error) {
	var allowed []string
	for _, p := range prefixes {
		for _, rt := range a.routes() {
			if p+rt.path == r.URL.Path {
				allowed = append(allowed, rt.method)
			}
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		return nil, &httpx.CodedError{Code: "BAD_REQUEST", Status: http.StatusMethodNotAllowed,
			Err: fault.Invalidf("Method %s is not allowed on %s; use %s", r.Method, r.URL.Path, strings.Join(allowed, " or "))}
	}
	return nil, &httpx.CodedError{Code: "ENDPOINT_NOT_FOUND",
		Err: fault.NotFoundf("No API endpoint %s %s", r.Method, r.URL.Path)}
}

// workspacesEnabled tells MLflow 3's client that the X-MLFLOW-WORKSPACE header is read:
// without it, a client with an active workspace refuses to call at all. The header may
// name only the default workspace, mlship's one (internal/mlflowauth refuses others).
const workspacesEnabled = true

func (a *API) serverFeatures(w http.ResponseWriter, r *http.Request) (any, error) {
	return map[string]bool{"workspaces_enabled": workspacesEnabled}, nil
}

// serverInfo tells clients what this server supports. Clients read it before moving a
// large file: with multipart uploads on, they upload its parts in parallel.
func (a *API) serverInfo(w http.ResponseWriter, r *http.Request) (any, error) {
	return map[string]any{
		"store_type":                          "SqlStore",
		"workspaces_enabled":                  workspacesEnabled,
		"trace_archival_enabled":              false,
		"multipart_uploads_enabled":           a.opts.ServeArtifacts,
		"multipart_downloads_enabled":         a.opts.ServeArtifacts && a.presignsDownloads(),
		"presigned_upload_run_id_supported":   a.presignsPuts(),
		"presigned_upload_model_id_supported": a.presignsPuts(),
		"features_enabled":                    map[string]bool{"gateway": false},
	}, nil
}

// runStatus is the RunStatus enum, by name or number.
type runStatus string

func (s *runStatus) UnmarshalJSON(b []byte) error {
	v, err := decodeEnum(b, tracking.RunStatuses, "run status")
	*s = runStatus(v)
	return err
}

// viewType is the ViewType enum, by name or number.
type viewType string

func (v *viewType) UnmarshalJSON(b []byte) error {
	s, err := decodeEnum(b, tracking.ViewTypes, "view type")
	*v = viewType(s)
	return err
}
