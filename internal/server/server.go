// Package server assembles `mlship server`: it opens the stores named by the
// configuration, builds the domain services and APIs over them, and serves HTTP until
// its context ends.
package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mlship/mlship/internal/api"
	"github.com/mlship/mlship/internal/audit"
	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/cas"
	"github.com/mlship/mlship/internal/config"
	"github.com/mlship/mlship/internal/datasets"
	"github.com/mlship/mlship/internal/gates"
	"github.com/mlship/mlship/internal/genaidata"
	"github.com/mlship/mlship/internal/httpx"
	"github.com/mlship/mlship/internal/jobs"
	"github.com/mlship/mlship/internal/mlflowapi"
	"github.com/mlship/mlship/internal/mlflowauth"
	"github.com/mlship/mlship/internal/monitor"
	"github.com/mlship/mlship/internal/netguard"
	"github.com/mlship/mlship/internal/registry"
	"github.com/mlship/mlship/internal/runtime/ort"
	"github.com/mlship/mlship/internal/serving"
	"github.com/mlship/mlship/internal/sso"
	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/traces"
	"github.com/mlship/mlship/internal/tracking"
	"github.com/mlship/mlship/internal/ui"
	"github.com/mlship/mlship/internal/version"
	"github.com/mlship/mlship/internal/webhooks"
)

// runCacheSize is how many runs the tracking service keeps in memory (a few KiB each),
// so that repeated searches, such as a dashboard's, skip the database.
const runCacheSize = 10000

// Server is a running mlship server's parts.
type Server struct {
	cfg     config.Server
	logger  *slog.Logger
	db      *store.DB
	blobs   blob.Store
	content blob.Store // the content-addressed copies of model versions
	handler http.Handler
	faces   faces

	deployments *serving.Manager
	monitor     *monitor.Monitor
	gates       *gates.Service
	jobs        *jobs.Queue
	webhooks    *webhooks.Service
	payloads    *serving.PayloadStore
	metrics     *prometheus.Registry
	auth        *auth.Service
	audit       *audit.Log

	sso *sso.Service // single sign-on; nil when no OpenID provider is configured

	scrapeToken *[sha256.Size]byte // --metrics-token-file's, hashed; nil: none
}

// New opens the stores and builds the handler. Close releases them.
func New(ctx context.Context, cfg config.Server, logger *slog.Logger) (*Server, error) {
	if cfg.ONNXRuntimeLib != "" {
		if _, err := ort.New(cfg.ONNXRuntimeLib); err != nil {
			return nil, fmt.Errorf("--onnxruntime-lib: %w", err)
		}
	}
	db, err := store.Open(ctx, cfg.BackendStoreURI, logger)
	if err != nil {
		return nil, err
	}
	db.SetReadTimeout(cfg.SQLStatementTimeout)
	blobs, err := blob.Open(ctx, cfg.ArtifactsDestination)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open artifact store %s: %w", cfg.ArtifactsDestination, err)
	}
	contentBlobs, err := blob.Open(ctx, cfg.ContentDestination)
	if err != nil {
		db.Close()
		blobs.Close()
		return nil, fmt.Errorf("open content store %s: %w", cfg.ContentDestination, err)
	}
	s := &Server{cfg: cfg, logger: logger, db: db, blobs: blobs, content: contentBlobs}
	if cfg.MetricsTokenFile != "" {
		token, err := readScrapeToken(cfg.MetricsTokenFile)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.scrapeToken = &token
	}
	s.auth = auth.New(db, logger, auth.Options{DefaultPermission: cfg.DefaultPermission})
	s.audit = audit.New(db, audit.Options{Retention: cfg.AuditRetention})
	if cfg.Auth {
		if err := s.bootstrap(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	opts := tracking.Options{ArtifactRoot: cfg.DefaultArtifactRoot,
		TruncateLongValues: true, ArtifactSchemes: cfg.ArtifactSchemes}
	if db.Exclusive() {
		opts.RunCacheSize = runCacheSize
	}
	tr := tracking.New(db, opts)
	if err := tr.Init(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("initialise tracking: %w", err)
	}
	contentStore := cas.New(contentBlobs, "cas") // shared by the registry and the native API
	reg := registry.New(db, registry.Options{SourceSchemes: cfg.ArtifactSchemes, LoggedModels: loggedModels(tr),
		Content: content{cas: contentStore, blobs: blobs, tracking: tr}})
	mlflowOpts := mlflowapi.Options{MaxBodyBytes: cfg.MaxRequestBody, ServeArtifacts: cfg.ServeArtifacts, VersionFiles: contentStore,
		Traces: traces.New(db, tr), GenAI: genaidata.New(db, tr)}
	if cfg.Auth {
		mlflowOpts.Permissions = s.auth
	}
	mlflow := mlflowapi.New(tr, reg, blobs, logger, mlflowOpts)
	s.metrics = prometheus.NewRegistry()
	s.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.payloads = serving.NewPayloadStore(db, 0, logger)
	source := modelSource{registry: reg, content: content{cas: contentStore, blobs: blobs, tracking: tr}, cacheDir: cfg.ServingDir}
	workers, err := workerRuntimes(cfg, logger)
	if err != nil {
		s.Close()
		return nil, err
	}
	runtimes := workers.Factory()
	servingStore := serving.NewSQLStore(db)
	s.deployments = serving.NewManager(serving.Options{
		Source:       source,
		Runtimes:     runtimes,
		CheckRuntime: workers.Check,
		Metrics:      serving.NewMetrics(s.metrics),
		Store:        servingStore,
		Traffic:      servingStore,
		Payloads:     s.payloads,
		Logger:       logger,
		Changed:      func(ctx context.Context) { db.Broadcast(ctx, topicDeployments) },
		Swapped:      s.announceSwap,
	})
	dsets := datasets.New(db, contentStore, logger)
	outbound, err := netguard.Parse(cfg.AllowedOutbound)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("--allowed-outbound: %w", err)
	}
	if s.webhooks, err = newWebhooks(cfg, db, outbound, logger); err != nil {
		s.Close()
		return nil, err
	}
	reg.SetEvents(s.webhooks)
	mlflow.SetWebhooks(s.webhooks)
	s.monitor = monitor.New(monitor.Options{Deployments: s.deployments, Datasets: dsets, DB: db,
		Training: trainingData(reg, tr, dsets), Registerer: s.metrics, Logger: logger, Outbound: outbound, Events: s.webhooks})
	// The job queue: in a SQLite file of its own beside the embedded database, or in the
	// shared PostgreSQL database, where every server works the same queue.
	queue := jobs.Options{Path: cfg.JobsDB, Logger: logger,
		Periodic: []jobs.Periodic{pruneTraffic(servingStore, logger), s.pruneAudit()}}
	if !db.Exclusive() {
		queue.Path, queue.Postgres = "", cfg.BackendStoreURI
	}
	s.jobs = jobs.New(queue)
	if err := s.webhooks.UseQueue(s.jobs); err != nil {
		s.Close()
		return nil, err
	}
	s.gates, err = gates.New(ctx, gates.Options{DB: db, Registry: reg, Datasets: dsets, Tracking: tr,
		Loader: versionLoader{source: source, runtimes: runtimes, logger: logger}, Queue: s.jobs, Logger: logger,
		Events: s.webhooks,
		MayMoveProtected: func(ctx context.Context, model string) error {
			return s.auth.Can(ctx, auth.RegisteredModel, model, auth.LevelManage)
		}})
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open the job queue: %w", err)
	}
	if err := s.jobs.Open(ctx); err != nil {
		s.jobs = nil
		s.Close()
		return nil, fmt.Errorf("open the job queue: %w", err)
	}
	inference := serving.NewHandler(s.deployments, serving.HTTPOptions{Gatherer: s.metrics, Logger: logger,
		MayRead: func(ctx context.Context, deployment string) error {
			return s.auth.Can(ctx, auth.Deployment, deployment, auth.LevelRead)
		}})
	s.faces = faces{mlflow: mlflow, native: api.New(api.Services{Registry: reg, Tracking: tr, Content: contentStore,
		Deployments: s.deployments, Datasets: dsets, Monitor: s.monitor, Gates: s.gates, Auth: s.auth, Audit: s.audit,
		Once: s.jobs.Once,
		Info: api.ServerInfo{Workers: api.NewWorkersInfo(workers.Sandbox, workers.Unsandboxed, workers.Runtimes(), workers.EnvManager())}}, logger), inference: inference}
	s.faces.mlflowAuth = mlflowauth.New(s.auth, logger, cfg.MaxRequestBody)
	if s.sso, err = s.newSSO(); err != nil {
		s.Close()
		return nil, err
	}
	if s.faces.ui, err = ui.New(ui.Options{SingleSignOn: s.sso != nil}); err != nil {
		s.Close()
		return nil, err
	}
	if !s.faces.ui.Built() {
		logger.Warn("the web UI is not built: run make ui")
	}
	ropts := httpx.RouterOptions{Logger: logger, Wrap: s.wrapRoute, Refused: s.refusedBody}
	if s.handler, _, err = s.routes(ropts); err != nil {
		s.Close()
		return nil, err
	}
	if len(cfg.AllowedHosts) == 0 && httpx.UnspecifiedBind(cfg.Host) {
		logger.Warn("listening on every interface: requests are answered when their Host is localhost or an IP address, "+
			"not a name; give the names clients use with --allowed-hosts", "host", cfg.Host)
	}
	return s, nil
}

// loggedModels lets the registry resolve models:/<id> sources through tracking.
func loggedModels(tr *tracking.Service) registry.LoggedModels {
	return registry.LoggedModelsFunc(func(ctx context.Context, id string) (registry.LoggedModel, error) {
		m, err := tr.GetLoggedModel(ctx, id)
		if err != nil {
			return registry.LoggedModel{}, err
		}
		return registry.LoggedModel{ArtifactURI: m.Info.ArtifactURI, SourceRunID: m.Info.SourceRunID}, nil
	})
}

// Handler is the server's root handler.
func (s *Server) Handler() http.Handler { return s.handler }

// faces are the APIs the server mounts.
type faces struct {
	mlflow    *mlflowapi.API
	native    *api.API
	inference *serving.Handler

	mlflowAuth *mlflowauth.API // MLflow's basic-auth app's API, over the same identities
	ui         *ui.Handler     // the web UI's page and assets
}

// routes builds the root handler: every face's routes on one Router, behind the edge
// checks. It returns the Router too, whose route list tests walk.
func (s *Server) routes(opts httpx.RouterOptions) (http.Handler, *httpx.Router, error) {
	rt := httpx.NewRouter(opts)
	s.faces.mlflow.Register(rt)
	s.faces.mlflowAuth.Register(rt)
	s.faces.native.Register(rt)
	if s.sso != nil {
		s.sso.Register(rt)
	}
	s.faces.inference.Register(rt)
	s.faces.ui.Register(rt)
	for path, h := range map[string]http.HandlerFunc{"/health": plain("OK"), "/version": plain(version.MLflow),
		"/healthz": plain("ok"), "/readyz": s.ready} {
		rt.Handle(httpx.Route{Method: "GET", Path: path, Access: httpx.Public, Handler: h})
	}
	edge, err := httpx.Edge(httpx.EdgeOptions{AllowedHosts: s.cfg.AllowedHosts, Bind: s.cfg.Host,
		CORSOrigins: s.cfg.CORSAllowedOrigins, MinBodyRate: s.cfg.MinBodyRate, BodyGrace: s.cfg.MinBodyRateGrace,
		Refused: s.refusedAtEdge, Logger: s.logger}, mlflowauth.Workspaces(s.logger, rt))
	if err != nil {
		return nil, nil, err
	}
	return httpx.WithRequestID(httpx.Recover(s.logger, httpx.AccessLog(s.logger, edge))), rt, nil
}

func plain(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, body)
	}
}

// ready answers 200 when the metadata database answers.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		s.logger.Warn("not ready", "err", err)
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		return
	}
	plain("ok")(w, r)
}

// Serve listens on the configured address and serves until ctx ends, then shuts down
// gracefully.
func (s *Server) Serve(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr())
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server running there? choose another --port)", s.cfg.Addr(), err)
	}
	return s.ServeListener(ctx, ln)
}

// ServeListener serves on ln until ctx ends. Deployments start loading their models
// as it starts, and are unloaded when it returns.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) error {
	if err := s.deployments.Start(ctx); err != nil {
		return fmt.Errorf("start deployments: %w", err)
	}
	defer s.deployments.Close()
	s.followDeployments(ctx)
	// Drift windows are judged by one server at a time, however many share the database.
	go s.jobs.Lead(ctx, "drift-monitor", s.monitor.Run)
	go s.webhooks.Run(ctx)
	if err := s.jobs.Once(ctx, "recover-evaluations", s.gates.Start); err != nil {
		return fmt.Errorf("recover interrupted evaluations: %w", err)
	}
	if err := s.jobs.Start(ctx); err != nil {
		return fmt.Errorf("start the job queue: %w", err)
	}
	s.logger.Info("mlship server listening", "addr", "http://"+ln.Addr().String(), "version", version.Version,
		"backend_store_uri", store.Redact(s.cfg.BackendStoreURI), "artifacts_destination", s.cfg.ArtifactsDestination)
	return httpx.Serve(ctx, ln, s.handler, s.logger)
}

// topicDeployments is the change broadcast when a deployment is created, updated or
// deleted.
const topicDeployments = "deployments"

// followDeployments keeps this server's deployments those of the database as servers
// sharing it change them, until ctx ends.
func (s *Server) followDeployments(ctx context.Context) {
	if s.db.Exclusive() {
		return
	}
	changed := make(chan struct{}, 1)
	s.db.Subscribe(topicDeployments, func() {
		select {
		case changed <- struct{}{}:
		default: // a sync is due already
		}
	})
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-changed:
			}
			if err := s.deployments.Sync(ctx); err != nil && ctx.Err() == nil {
				s.logger.Warn("could not load the deployments other servers changed", "err", err)
			}
		}
	}()
}

// Close releases the stores.
func (s *Server) Close() error {
	if s.payloads != nil {
		s.payloads.Close()
	}
	var errs []error
	if s.jobs != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, s.jobs.Close(ctx))
		cancel()
	}
	return errors.Join(append(errs, s.blobs.Close(), s.content.Close(), s.db.Close())...)
}
