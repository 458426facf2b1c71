package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/mlship/mlship/internal/api"
	"github.com/mlship/mlship/internal/client"
	"github.com/mlship/mlship/internal/config"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/httpx"
	"github.com/mlship/mlship/internal/runtime/ort"
	"github.com/mlship/mlship/internal/serving"
	"github.com/mlship/mlship/internal/version"
)

const onnxRuntimeLibHelp = "ONNX Runtime shared library (1.24 or later) for ONNX models with operators the native engine lacks; needs a build from make build-onnxruntime"

// The help of the HTTP edge's flags, shared by mlship server and mlship serve.
const (
	allowedHostsHelp = "Host headers to answer, comma-separated: NAME (any port), NAME:PORT, *.DOMAIN, or * for any (default: localhost, 127.0.0.1, [::1] and the --host address; with --host 0.0.0.0 also any IP address). Other hosts get 403, which stops DNS rebinding"
	corsHelp         = "origins (scheme://host[:port]) whose web pages may call this server: they get CORS headers and may send state-changing requests (default none)"
	minBodyRateHelp  = "slowest average rate, in bytes per second, at which a request body may arrive after the grace period; slower bodies are cut with 408 (0 turns the check off)"
)

type serveFlags struct {
	host, name, cacheDir string
	port                 int
	python, rscript      string
	envManager, uv       string
	onnxruntimeLib       string
	poll                 time.Duration
	maxBody              int64
	logLevel, logFormat  string
	server               string
	allowedHosts         []string
	corsOrigins          []string
	minBodyRate          int64
	minBodyRateGrace     time.Duration
	spec                 specFlags
	worker               config.Worker
	commandReadOnly      []string
	tokenFile            string
	tokens               *serving.Tokens
}

func serveCommand() *cobra.Command {
	f := serveFlags{worker: config.DefaultWorker()}
	c := &cobra.Command{
		Use:   "serve MODEL_URI",
		Short: "Serve one model over the standard inference protocols",
		Long: `Serve one model, standalone and stateless, over the Open Inference Protocol v2
(/v2/models/NAME/infer, with Triton's binary tensor extension), MLflow's scoring
protocol (/invocations, /ping, /health, /version) and KServe v1
(/v1/models/NAME:predict), with Prometheus metrics at /metrics.

MODEL_URI is a local model directory (an MLflow model, an .onnx or an .rds file), or
models:/NAME@ALIAS, models:/NAME/VERSION on an mlship server (--server, default
$MLSHIP_SERVER or $MLFLOW_TRACKING_URI). An alias is followed: when it moves, the new
version loads beside the old one and traffic switches once it is ready.

A local model that fails to load ends the command with exit status 1; a models:/
reference goes on answering 503 until a version loads.

On loopback (the default --host) anyone on this machine may call it. Listening
beyond it needs --token-file FILE (callers send Authorization: Bearer with one of
its tokens) or --public (anyone may call the model); with both, the model is public
and the listings and /metrics need a token.

Every flag can also be set with an MLSHIP_* environment variable: --port is
MLSHIP_PORT.`,
		Example: `  mlship serve ./model
  mlship serve models:/fraud@production --server http://mlship:5000 --port 8080
  mlship serve ./model --host 0.0.0.0 --token-file /run/secrets/inference-tokens
  mlship serve ./model --workers 4 --max-batch-size 64 --max-batch-delay 2ms`,
		Args: cobra.ExactArgs(1),
		PreRunE: func(c *cobra.Command, _ []string) error {
			if err := config.ApplyEnv(c.Flags(), "MLSHIP"); err != nil {
				return usageError{err}
			}
			if err := f.worker.Resolve(); err != nil {
				return usageError{err}
			}
			return f.validateEdge()
		},
		RunE: func(c *cobra.Command, args []string) error { return f.run(c.Context(), args[0]) },
	}
	fl := c.Flags()
	fl.StringVar(&f.host, "host", "127.0.0.1", "address to listen on (0.0.0.0 for every interface)")
	fl.IntVarP(&f.port, "port", "p", 8080, "port to listen on")
	fl.StringVar(&f.name, "name", "", "the model's name in the protocols' paths (default: the registered model's name, or the file's)")
	fl.StringVar(&f.server, "server", "", "mlship server that models:/ URIs name (default $MLSHIP_SERVER, else $MLFLOW_TRACKING_URI)")
	fl.StringVar(&f.cacheDir, "cache-dir", "", "where downloaded model versions are kept (default: the user's cache directory)")
	fl.StringVar(&f.python, "python", "", "Python interpreter of the python runtime (default $MLSHIP_PYTHON, else python3); with --env-manager uv, the one environments are made from when the model's Python version is not found")
	fl.StringVar(&f.envManager, "env-manager", "", "how a Python model gets its packages: uv (an environment built from its python_env.yaml and requirements.txt, cached under --cache-dir) or local (the --python interpreter as it is) (default: local if --python is given, else uv if uv is found, else local)")
	fl.StringVar(&f.uv, "uv", "", "the uv program of --env-manager uv (default: uv on the PATH)")
	fl.StringVar(&f.rscript, "rscript", "", "Rscript of the r runtime (default $MLSHIP_RSCRIPT, else Rscript)")
	fl.StringVar(&f.onnxruntimeLib, "onnxruntime-lib", "", onnxRuntimeLibHelp)
	fl.DurationVar(&f.poll, "poll-interval", 2*time.Second, "how often an alias is checked for a new version")
	fl.Int64Var(&f.maxBody, "max-request-body", serving.DefaultMaxBody, "largest request body accepted, in bytes")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fl.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fl.StringSliceVar(&f.allowedHosts, "allowed-hosts", nil, allowedHostsHelp)
	fl.StringSliceVar(&f.corsOrigins, "cors-allowed-origins", nil, corsHelp)
	fl.Int64Var(&f.minBodyRate, "min-body-rate", 1024, minBodyRateHelp)
	fl.DurationVar(&f.minBodyRateGrace, "min-body-rate-grace", 10*time.Second, "how long a request body may take before --min-body-rate applies")
	fl.StringVar(&f.tokenFile, "token-file", "", "file of bearer tokens, one a line: requests need Authorization: Bearer with one of them (but for the probes, and the model with --public)")
	f.spec.addServe(c)
	fl.StringArrayVar(&f.commandReadOnly, "command-read-only", nil, "a path the --command worker may read in the sandbox besides the model (its installation); repeat for more. Absolute paths among its arguments are readable already")
	f.worker.AddFlags(fl)
	return c
}

// validateEdge checks the flags of the HTTP edge before anything loads.
func (f *serveFlags) validateEdge() error {
	if _, err := httpx.ParseHosts(f.allowedHosts); err != nil {
		return usageError{err}
	}
	if _, err := httpx.ParseOrigins(f.corsOrigins); err != nil {
		return usageError{err}
	}
	if f.minBodyRate < 0 || f.minBodyRateGrace < time.Second {
		return usageError{fmt.Errorf("--min-body-rate must be 0 (off) or more bytes per second and --min-body-rate-grace at least 1s, got %d and %s", f.minBodyRate, f.minBodyRateGrace)}
	}
	return f.checkIdentity()
}

// checkIdentity reads --token-file, and refuses to listen beyond loopback with
// neither it nor --public: anyone who reached the port could call the model.
func (f *serveFlags) checkIdentity() error {
	if f.tokenFile != "" {
		tokens, err := serving.ReadTokenFile(f.tokenFile)
		if err != nil {
			return usageError{fmt.Errorf("--token-file: %w", err)}
		}
		f.tokens = tokens
	}
	if f.tokens == nil && !f.spec.public && !config.IsLoopback(f.host) {
		return usageError{fmt.Errorf("--host %s listens beyond this machine and nothing says who may call the model: "+
			"add --token-file FILE (callers send Authorization: Bearer with one of its tokens), or --public if anyone may call it", f.host)}
	}
	return nil
}

// addServe adds the spec flags that make sense for a single model.
func (s *specFlags) addServe(c *cobra.Command) {
	s.addRuntime(c, "worker processes (default: CPUs, at most 8)")
	c.Flags().StringVar(&s.command, "command", "", "worker program and its arguments for --runtime command: any program that speaks the worker protocol, run in the workers' sandbox")
	c.Flags().BoolVar(&s.public, "public", false, "anyone may call the model, beyond loopback too (its inference routes need no token, even with --token-file)")
}

func (f *serveFlags) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level: %w", err)}
	}
	opts := &slog.HandlerOptions{Level: level}
	if f.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
}

func (f *serveFlags) run(ctx context.Context, uri string) error {
	logger, err := f.logger()
	if err != nil {
		return err
	}
	if f.onnxruntimeLib != "" {
		if _, err := ort.New(f.onnxruntimeLib); err != nil {
			return usageError{fmt.Errorf("--onnxruntime-lib: %w", err)}
		}
	}
	source, name, err := f.source(ctx, uri)
	if err != nil {
		return err
	}
	if f.name != "" {
		name = f.name
	}
	spec := f.spec.spec(name, uri)
	spec.PayloadLog = &serving.PayloadLog{}
	workers, err := f.runtimes(&spec, logger)
	if err != nil {
		return err
	}
	if err := spec.Validate(); err != nil {
		return usageError{err}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := serving.NewManager(serving.Options{Source: source, Metrics: serving.NewMetrics(reg), Logger: logger,
		PollInterval: f.poll, Runtimes: workers.Factory(), CheckRuntime: workers.Check})
	if err := m.Start(ctx); err != nil {
		return err
	}
	defer m.Close()
	d, err := m.Create(ctx, spec)
	if err != nil {
		return err
	}
	ctx, stopServing := context.WithCancelCause(ctx)
	defer stopServing(nil)
	if serving.IsLocalRef(uri) {
		go stopOnFailedFirstLoad(ctx, d, uri, stopServing)
	}
	ropts := httpx.RouterOptions{Logger: logger}
	if f.tokens != nil {
		ropts.Wrap = f.tokens.Guard(logger)
	}
	rt := httpx.NewRouter(ropts)
	serving.NewHandler(m, serving.HTTPOptions{Single: name, MaxBody: f.maxBody, Gatherer: reg, Logger: logger}).Register(rt)
	rt.Handle(httpx.Route{Method: "GET", Path: "/healthz", Access: httpx.Public, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })})
	rt.Handle(httpx.Route{Method: "GET", Path: "/readyz", Access: httpx.Public, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !m.Ready() {
			http.Error(w, "model loading", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	})})
	edge, err := httpx.Edge(httpx.EdgeOptions{AllowedHosts: f.allowedHosts, Bind: f.host, CORSOrigins: f.corsOrigins,
		MinBodyRate: f.minBodyRate, BodyGrace: f.minBodyRateGrace, Logger: logger}, rt)
	if err != nil {
		return usageError{err}
	}
	if len(f.allowedHosts) == 0 && httpx.UnspecifiedBind(f.host) {
		logger.Warn("listening on every interface: requests are answered when their Host is localhost or an IP address, "+
			"not a name; give the names clients use with --allowed-hosts", "host", f.host)
	}
	handler := httpx.WithRequestID(httpx.Recover(logger, httpx.AccessLog(logger, edge)))
	addr := net.JoinHostPort(f.host, strconv.Itoa(f.port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is something else serving there? choose another --port)", addr, err)
	}
	logger.Info("mlship serve listening", "addr", "http://"+ln.Addr().String(), "model", uri, "name", name, "version", version.Version)
	if err := httpx.Serve(ctx, ln, handler, logger); err != nil {
		return err
	}
	var lf loadFailed
	if errors.As(context.Cause(ctx), &lf) {
		return lf
	}
	return nil
}

// stopOnFailedFirstLoad stops serving a local model whose first load failed, as
// `mlflow models serve` does: its files will not change, so nothing would ever serve
// and every request would get 503. A models:/ reference is left running, as its
// alias may move to a version that loads.
func stopOnFailedFirstLoad(ctx context.Context, d *serving.Deployment, uri string, stop context.CancelCauseFunc) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		switch st := d.Status(); st.State {
		case serving.StateReady:
			return
		case serving.StateFailed:
			// %s, not %w: the exit status is that of a failed command (1), whatever the
			// load error's kind.
			stop(loadFailed{fmt.Errorf("%s cannot be served: %s", uri, st.Error)})
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// source returns where the model comes from, and the name it is served under.
func (f *serveFlags) source(ctx context.Context, uri string) (serving.Source, string, error) {
	if serving.IsLocalRef(uri) {
		src := serving.LocalSource{}
		v, err := src.Resolve(ctx, uri)
		if err != nil {
			return nil, "", err
		}
		return src, v.Model, nil
	}
	rest, ok := strings.CutPrefix(uri, "models:/")
	if !ok {
		return nil, "", usageError{fmt.Errorf("%s: mlship serve takes a local path or models:/NAME@ALIAS or models:/NAME/VERSION; serve runs:/ URIs through `mlship deploy create` on the server", uri)}
	}
	ref, err := parseVersionRef(rest, false)
	if err != nil {
		return nil, "", err
	}
	server := f.server
	if server == "" {
		server = client.ServerFromEnv()
	}
	cl, err := client.New(server)
	if err != nil {
		return nil, "", usageError{err}
	}
	dir := f.cacheDir
	if dir == "" {
		if base, err := os.UserCacheDir(); err == nil {
			dir = filepath.Join(base, "mlship", "models")
		} else {
			dir = filepath.Join(os.TempDir(), "mlship-models")
		}
	}
	return &remoteSource{client: cl, cacheDir: dir, lineages: map[string]*api.Lineage{}, versions: map[string]serving.Version{}}, ref.name, nil
}

// remoteSource resolves models:/ references on an mlship server and downloads the
// versions' files, checked against their hashes, into a cache keyed by manifest.
type remoteSource struct {
	client   *client.Client
	cacheDir string

	mu       sync.Mutex
	lineages map[string]*api.Lineage    // by manifest digest
	versions map[string]serving.Version // by NAME/VERSION
}

func (s *remoteSource) Resolve(ctx context.Context, uri string) (serving.Version, error) {
	ref, err := parseVersionRef(strings.TrimPrefix(uri, "models:/"), false)
	if err != nil {
		return serving.Version{}, err
	}
	v, err := ref.resolve(ctx, s.client)
	if err != nil {
		return serving.Version{}, err
	}
	// A version's files never change, so only a version not seen before costs a
	// lineage call: following an alias is one request per poll.
	s.mu.Lock()
	known, ok := s.versions[ref.name+"/"+v]
	s.mu.Unlock()
	if ok {
		return known, nil
	}
	var l api.Lineage
	if err := s.client.Get(ctx, versionPath(ref.name, v, "lineage"), nil, &l); err != nil {
		return serving.Version{}, err
	}
	if l.Version.ManifestDigest == "" {
		return serving.Version{}, fault.Invalidf("model version %s/%s has no files stored by the server, so it cannot be served", ref.name, v)
	}
	resolved := serving.Version{Model: ref.name, Version: v, Key: l.Version.ManifestDigest}
	s.mu.Lock()
	s.lineages[l.Version.ManifestDigest] = &l
	s.versions[ref.name+"/"+v] = resolved
	s.mu.Unlock()
	return resolved, nil
}

func (s *remoteSource) Fetch(ctx context.Context, v serving.Version) (string, error) {
	dir := filepath.Join(s.cacheDir, strings.TrimPrefix(v.Key, "sha256:"))
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	s.mu.Lock()
	l := s.lineages[v.Key]
	s.mu.Unlock()
	if err := os.MkdirAll(s.cacheDir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(s.cacheDir, ".download-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := downloadVersion(ctx, s.client, l, tmp, io.Discard); err != nil {
		return "", err
	}
	// The workers, sandboxed as another user, read it.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(dir); statErr == nil {
			return dir, nil
		}
		return "", err
	}
	return dir, nil
}
