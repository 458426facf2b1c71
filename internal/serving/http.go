package serving

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/httpx"
	"github.com/mlship/mlship/internal/runtime"
	"github.com/mlship/mlship/internal/serving/oip"
	"github.com/mlship/mlship/internal/serving/scoring"
	"github.com/mlship/mlship/internal/version"
)

// DefaultMaxBody caps inference request bodies.
const DefaultMaxBody = 64 << 20

// HTTPOptions configure the inference endpoints.
type HTTPOptions struct {
	// Single, if set, is the deployment that answers MLflow's root endpoints
	// (/invocations, /ping, /health, /version), as `mlship serve` does.
	Single string
	// MaxBody caps request bodies; 0 means DefaultMaxBody.
	MaxBody int64
	// Gatherer serves /metrics; nil serves no /metrics.
	Gatherer prometheus.Gatherer
	Logger   *slog.Logger
	// MayRead, if set, is asked before a request reaches a deployment, and which
	// deployments a listing shows (with identities on: READ on the deployment).
	MayRead func(ctx context.Context, deployment string) error
}

// Handler answers the inference protocols for a Manager's deployments: the Open
// Inference Protocol v2 under /v2, KServe v1 under /v1, and MLflow's scoring protocol
// at /deployments/{name}/invocations (and at /invocations for a single deployment).
type Handler struct {
	m    *Manager
	opts HTTPOptions
}

// NewHandler returns the inference endpoints of m.
func NewHandler(m *Manager, opts HTTPOptions) *Handler {
	if opts.MaxBody == 0 {
		opts.MaxBody = DefaultMaxBody
	}
	return &Handler{m: m, opts: opts}
}

// The bodies the protocols take. tritonclient sends its requests, JSON or binary
// tensors, with no Content-Type; MLflow's scoring protocol checks its content types
// itself and answers others with its own 415.
var (
	inferBody       = httpx.Accepts("application/json", "application/octet-stream", "")
	jsonOrNone      = httpx.Accepts("application/json", "")
	invocationsBody = httpx.AnyType
)

// endpoint is one route of the protocols: "METHOD /path" and the body it takes.
type endpoint struct {
	pattern string
	fn      http.HandlerFunc
	body    httpx.Body
	access  httpx.Access
}

// Register adds the endpoints to rt.
func (h *Handler) Register(rt *httpx.Router) {
	routes := []endpoint{
		{"GET /v2", h.serverMetadata, httpx.Body{}, httpx.Public},
		{"GET /v2/health/live", h.live, httpx.Body{}, httpx.Public},
		{"GET /v2/health/ready", h.ready, httpx.Body{}, httpx.Public},
		{"GET /v2/models/{name}", h.modelMetadata, httpx.Body{}, httpx.Inference},
		{"GET /v2/models/{name}/versions/{version}", h.modelMetadata, httpx.Body{}, httpx.Inference},
		{"GET /v2/models/{name}/ready", h.modelReady, httpx.Body{}, httpx.Inference},
		{"GET /v2/models/{name}/versions/{version}/ready", h.modelReady, httpx.Body{}, httpx.Inference},
		{"GET /v2/models/{name}/config", h.modelConfig, httpx.Body{}, httpx.Inference},
		{"GET /v2/models/{name}/versions/{version}/config", h.modelConfig, httpx.Body{}, httpx.Inference},
		{"POST /v2/models/{name}/infer", h.infer, inferBody, httpx.Inference},
		{"POST /v2/models/{name}/versions/{version}/infer", h.infer, inferBody, httpx.Inference},
		{"POST /v2/repository/index", h.repositoryIndex, jsonOrNone, httpx.Read},
		{"GET /v1/models", h.v1List, httpx.Body{}, httpx.Read},
		{"GET /v1/models/{target}", h.v1Ready, httpx.Body{}, httpx.Inference},
		{"POST /v1/models/{target}", h.v1Predict, jsonOrNone, httpx.Inference},
		{"POST /deployments/{name}/invocations", h.invocations, invocationsBody, httpx.Inference},
		{"GET /deployments/{name}/ping", h.ping, httpx.Body{}, httpx.Public},
		{"GET /deployments/{name}/health", h.ping, httpx.Body{}, httpx.Public},
	}
	if h.opts.Single != "" {
		routes = append(routes, []endpoint{
			{"POST /invocations", h.invocations, invocationsBody, httpx.Inference},
			{"GET /ping", h.ping, httpx.Body{}, httpx.Public},
			{"GET /health", h.ping, httpx.Body{}, httpx.Public},
			{"GET /version", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				io.WriteString(w, version.Version)
			}, httpx.Body{}, httpx.Public},
		}...)
	}
	allowed := map[string][]string{}
	var paths []string
	for _, r := range routes {
		method, path, _ := strings.Cut(r.pattern, " ")
		route := httpx.Route{Method: method, Path: path, Body: r.body, Access: r.access, Handler: http.MaxBytesHandler(r.fn, h.opts.MaxBody)}
		if r.access == httpx.Inference {
			route.PublicIf = h.Public
		}
		rt.Handle(route)
		if allowed[path] == nil {
			paths = append(paths, path)
		}
		allowed[path] = append(allowed[path], method)
	}
	for _, path := range paths {
		rt.Fallback(path, h.methodNotAllowed(path, allowed[path]))
	}
	if h.opts.Gatherer != nil {
		rt.Handle(httpx.Route{Method: "GET", Path: "/metrics", Access: httpx.Read, Handler: promhttp.HandlerFor(h.opts.Gatherer, promhttp.HandlerOpts{})})
	}
}

// methodNotAllowed answers a method that path does not take in the protocol's own
// error body, where the mux would answer in plain text.
func (h *Handler) methodNotAllowed(path string, methods []string) http.HandlerFunc {
	allow := strings.Join(methods, ", ")
	fail := h.oipError
	if !strings.HasPrefix(path, "/v1/") && !strings.HasPrefix(path, "/v2") {
		fail = h.mlflowError
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		fail(w, r, &httpx.CodedError{Code: "ENDPOINT_NOT_FOUND", Status: http.StatusMethodNotAllowed,
			Err: fault.Invalidf("%s %s is not allowed: use %s", r.Method, r.URL.Path, allow)})
	}
}

// deployment finds the deployment a request names ({name}, or the single one).
func (h *Handler) deployment(r *http.Request) (*Deployment, error) {
	return h.lookup(r, h.named(r))
}

// named is the deployment a request's path names: {name}, {target} before its
// ":predict", or the single one.
func (h *Handler) named(r *http.Request) string {
	if name := r.PathValue("name"); name != "" {
		return name
	}
	if target := r.PathValue("target"); target != "" {
		name, _, _ := strings.Cut(target, ":")
		return name
	}
	return h.opts.Single
}

// Public reports whether the deployment r names is public: its inference routes
// answer anyone. It is the PublicIf of the Inference routes.
func (h *Handler) Public(r *http.Request) bool {
	d, ok := h.m.Get(h.named(r))
	return ok && d.Public()
}

// lookup finds the named deployment, if the caller may read it (or it is public):
// refused before it is looked up, so that a refusal says nothing of whether it exists.
func (h *Handler) lookup(r *http.Request, name string) (*Deployment, error) {
	if d, ok := h.m.Get(name); ok && d.Public() {
		return d, nil
	}
	if err := h.mayRead(r, name); err != nil {
		return nil, err
	}
	return h.m.Lookup(name)
}

func (h *Handler) mayRead(r *http.Request, name string) error {
	if h.opts.MayRead == nil {
		return nil
	}
	return h.opts.MayRead(r.Context(), name)
}

// requestContext bounds a request by the deployment's timeout.
func requestContext(r *http.Request, d *Deployment, limit time.Duration) (context.Context, context.CancelFunc) {
	t := time.Duration(d.Spec().Timeout)
	if limit > 0 && limit < t {
		t = limit
	}
	return context.WithTimeout(r.Context(), t)
}

// ---- Open Inference Protocol v2 ----

// oipError writes the protocol's error body, {"error": "..."}.
func (h *Handler) oipError(w http.ResponseWriter, r *http.Request, err error) {
	p := httpx.Describe(w, r, h.opts.Logger, err)
	httpx.WriteJSON(w, p.Status, oip.ErrorBody{Error: p.Message})
}

func (h *Handler) serverMetadata(w http.ResponseWriter, r *http.Request) {
	httpx.WriteJSON(w, http.StatusOK, oip.ServerMetadata{Name: "mlship", Version: version.Version,
		Extensions: []string{"binary_tensor_data", "model_repository"}})
}

func (h *Handler) live(w http.ResponseWriter, r *http.Request) {
	httpx.WriteJSON(w, http.StatusOK, map[string]bool{"live": true})
}

func (h *Handler) ready(w http.ResponseWriter, r *http.Request) {
	status := http.StatusOK
	ready := h.m.Ready()
	if !ready {
		status = http.StatusServiceUnavailable
	}
	httpx.WriteJSON(w, status, map[string]bool{"ready": ready})
}

// served picks the model version a v2 path names: the deployment's primary, or, with
// /versions/{v}, the role serving that version.
func (h *Handler) served(r *http.Request) (*Deployment, *served, error) {
	d, err := h.deployment(r)
	if err != nil {
		return nil, nil, err
	}
	rt := d.routes.Load()
	want := r.PathValue("version")
	for _, s := range []*served{rt.primary, rt.canary, rt.shadow} {
		if s != nil && (want == "" || s.version.Version == want) {
			return d, s, nil
		}
	}
	if want != "" {
		return nil, nil, fault.NotFoundf("deployment %q serves no version %q", d.Name(), want)
	}
	return nil, nil, d.notReady()
}

func (h *Handler) modelMetadata(w http.ResponseWriter, r *http.Request) {
	d, s, err := h.served(r)
	if err != nil {
		h.oipError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, oip.NewModelMetadata(d.Name(), h.versions(d), s.meta))
}

func (h *Handler) versions(d *Deployment) []string {
	var out []string
	rt := d.routes.Load()
	for _, s := range []*served{rt.primary, rt.canary, rt.shadow} {
		if s != nil {
			out = append(out, s.version.Version)
		}
	}
	return out
}

func (h *Handler) modelReady(w http.ResponseWriter, r *http.Request) {
	d, _, err := h.served(r)
	if err != nil && fault.KindOf(err) != fault.Unavailable {
		h.oipError(w, r, err)
		return
	}
	status := http.StatusOK
	if err != nil {
		status = http.StatusServiceUnavailable
	}
	name := r.PathValue("name")
	if d != nil {
		name = d.Name()
	}
	httpx.WriteJSON(w, status, map[string]any{"name": name, "ready": err == nil})
}

func (h *Handler) modelConfig(w http.ResponseWriter, r *http.Request) {
	d, s, err := h.served(r)
	if err != nil {
		h.oipError(w, r, err)
		return
	}
	maxBatch := 0
	if s.batcher.batching.Load() {
		maxBatch = d.Spec().Batching.MaxBatchSize
	}
	httpx.WriteJSON(w, http.StatusOK, oip.NewModelConfig(d.Name(), s.meta, maxBatch))
}

func (h *Handler) repositoryIndex(w http.ResponseWriter, r *http.Request) {
	type entry struct {
		Name    string `json:"name"`
		Version string `json:"version,omitempty"`
		State   string `json:"state"`
		Reason  string `json:"reason,omitempty"`
	}
	out := []entry{}
	for _, d := range h.m.List() {
		if h.mayRead(r, d.Name()) != nil {
			continue
		}
		st := d.Status()
		e := entry{Name: d.Name(), State: "READY"}
		if _, v, ok := d.Metadata(); ok {
			e.Version = v.Version
		} else {
			e.State, e.Reason = "LOADING", st.Error
			if st.State == "failed" {
				e.State = "UNAVAILABLE"
			}
		}
		out = append(out, e)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (h *Handler) infer(w http.ResponseWriter, r *http.Request) {
	d, s, err := h.served(r)
	if err != nil {
		h.oipError(w, r, err)
		return
	}
	body, err := h.readBody(r)
	if err != nil {
		h.oipError(w, r, err)
		return
	}
	jsonLen := -1
	if v := r.Header.Get("Inference-Header-Content-Length"); v != "" {
		if jsonLen, err = strconv.Atoi(v); err != nil || jsonLen < 0 {
			h.oipError(w, r, fault.Invalidf("Inference-Header-Content-Length must be a non-negative integer, got %q", v))
			return
		}
	}
	req, err := oip.DecodeInferRequest(body, jsonLen)
	if err != nil {
		h.oipError(w, r, err)
		return
	}
	ctx, cancel := requestContext(r, d, req.Timeout())
	defer cancel()
	var a Answer
	if r.PathValue("version") != "" {
		a, err = d.predictOn(ctx, s, &req.Request, httpx.RequestID(r.Context()))
	} else {
		a, err = d.Predict(ctx, &req.Request, httpx.RequestID(r.Context()))
	}
	if err != nil {
		h.oipError(w, r, err)
		return
	}
	out, jsonLength, err := oip.EncodeInferResponse(req, d.Name(), a.Version, a.Response)
	if err != nil {
		h.oipError(w, r, err)
		return
	}
	hd := w.Header()
	if jsonLength < len(out) {
		hd.Set("Content-Type", "application/octet-stream")
		hd.Set("Inference-Header-Content-Length", strconv.Itoa(jsonLength))
	} else {
		hd.Set("Content-Type", "application/json")
	}
	hd.Set("Content-Length", strconv.Itoa(len(out)))
	w.Write(out)
}

// ---- MLflow scoring protocol ----

// mlflowError writes MLflow's error body; the scoring protocol's client mistakes are
// BAD_REQUEST.
func (h *Handler) mlflowError(w http.ResponseWriter, r *http.Request, err error) {
	p := httpx.Describe(w, r, h.opts.Logger, err)
	code := p.Code
	if p.Status == http.StatusBadRequest && code == "INVALID_PARAMETER_VALUE" {
		code = "BAD_REQUEST"
	}
	httpx.WriteJSON(w, p.Status, map[string]string{"error_code": code, "message": p.Message})
}

func (h *Handler) ping(w http.ResponseWriter, r *http.Request) {
	d, err := h.deployment(r)
	if err != nil || !d.Ready() {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, "\n")
}

func (h *Handler) invocations(w http.ResponseWriter, r *http.Request) {
	d, err := h.deployment(r)
	if err != nil {
		h.mlflowError(w, r, err)
		return
	}
	decode := func(body []byte) (*runtime.Request, error) {
		// CSV columns take the types of the primary version's signature: a canary
		// with another signature is rare enough to be served by its own enforcement.
		return scoring.DecodeInvocationAs(r.Header.Get("Content-Type"), body, func() scoring.ColumnTypes {
			meta, _, _ := d.Metadata()
			return scoring.ColumnTypesOf(meta)
		})
	}
	h.predictJSON(w, r, d, decode, scoring.EncodePredictions, h.mlflowError)
}

// predictJSON answers a protocol whose request and answer are each one JSON document:
// decode, predict, encode, with the protocol's own error body.
func (h *Handler) predictJSON(w http.ResponseWriter, r *http.Request, d *Deployment,
	decode func([]byte) (*runtime.Request, error), encode func(*runtime.Response) ([]byte, error),
	fail func(http.ResponseWriter, *http.Request, error)) {
	body, err := h.readBody(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	req, err := decode(body)
	if err != nil {
		fail(w, r, err)
		return
	}
	ctx, cancel := requestContext(r, d, 0)
	defer cancel()
	a, err := d.Predict(ctx, req, httpx.RequestID(r.Context()))
	if err != nil {
		fail(w, r, err)
		return
	}
	out, err := encode(a.Response)
	if err != nil {
		fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
}

// ---- KServe v1 ----

func (h *Handler) v1List(w http.ResponseWriter, r *http.Request) {
	names := []string{}
	for _, d := range h.m.List() {
		if h.mayRead(r, d.Name()) == nil {
			names = append(names, d.Name())
		}
	}
	httpx.WriteJSON(w, http.StatusOK, map[string][]string{"models": names})
}

func (h *Handler) v1Ready(w http.ResponseWriter, r *http.Request) {
	d, err := h.lookup(r, r.PathValue("target"))
	if err != nil {
		h.oipError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"name": d.Name(), "ready": d.Ready()})
}

func (h *Handler) v1Predict(w http.ResponseWriter, r *http.Request) {
	name, verb, ok := strings.Cut(r.PathValue("target"), ":")
	if !ok || verb != "predict" {
		h.oipError(w, r, &httpx.CodedError{Code: "ENDPOINT_NOT_FOUND",
			Err: fault.NotFoundf("no endpoint POST %s: use /v1/models/NAME:predict", r.URL.Path)})
		return
	}
	d, err := h.lookup(r, name)
	if err != nil {
		h.oipError(w, r, err)
		return
	}
	h.predictJSON(w, r, d, scoring.DecodeV1, scoring.EncodeV1, h.oipError)
}
