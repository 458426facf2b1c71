package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// target is one server serving one model, and the protocols measured on it.
type target struct {
	server    string   // serverMLflow, serverMLServer or serverMlship
	runtime   string   // mlship's --runtime; empty for the Python servers
	variant   string   // what sets this mlship target apart from the defaults, for its label
	args      []string // mlship serve arguments of the variant, after --mlship-args
	modelDir  string
	endpoints []endpoint
	command   string // the command line it was started with, for the report
}

func (t *target) label() string { return rowLabel(t.server, t.runtime, t.variant) }

// rowLabel names a server, its runtime and variant: "mlship (python, 1 worker, batch 1)".
func rowLabel(server, runtime, variant string) string {
	switch {
	case runtime == "":
		return server
	case variant == "":
		return server + " (" + runtime + ")"
	}
	return server + " (" + runtime + ", " + variant + ")"
}

// likeForLike is the mlship python target set as the Python servers are by default:
// as many workers as they have (1 unless --workers), each prediction on its own.
func likeForLike(cfg config, m *model, endpoints []endpoint) *target {
	w := max(cfg.workers, 1)
	variant := fmt.Sprintf("%d worker, batch 1", w)
	if w > 1 {
		variant = fmt.Sprintf("%d workers, batch 1", w)
	}
	return &target{server: serverMlship, runtime: "python", variant: variant, modelDir: m.SklearnDir,
		endpoints: endpoints, args: []string{"--workers", strconv.Itoa(w), "--max-batch-size", "1"}}
}

// oipInput is how the sklearn model's input is named over OIP v2: MLServer's name for
// the one unnamed tensor of an MLflow tensor signature ("input-0", float64).
var oipInput = tensorInput{Name: "input-0", Datatype: "FP64"}

// targets lists what the run measures, in order. Every server gets the same request
// bodies; the ONNX model differs only in the OIP tensor's name and type, which are those
// of the ONNX graph's input (float32).
func targets(cfg config, m *model) []*target {
	inv := invocationsEndpoint(m.Rows, m.SklearnLabels)
	oip := oipEndpoint(m.Name, oipInput, m.Rows, m.SklearnLabels)
	var ts []*target
	if cfg.wants(serverMLflow) {
		ts = append(ts, &target{server: serverMLflow, modelDir: m.SklearnDir, endpoints: []endpoint{inv}})
	}
	if cfg.wants(serverMLServer) {
		ts = append(ts, &target{server: serverMLServer, modelDir: m.SklearnDir, endpoints: []endpoint{oip, inv}})
	}
	if cfg.wants(serverMlship) {
		ts = append(ts, &target{server: serverMlship, runtime: "python", modelDir: m.SklearnDir, endpoints: []endpoint{inv, oip}})
		if cfg.likeForLike {
			ts = append(ts, likeForLike(cfg, m, []endpoint{inv, oip}))
		}
	}
	if cfg.onnx {
		want := m.OnnxLabels
		if want == nil {
			want = m.SklearnLabels
		}
		in := tensorInput{Name: m.OnnxInput, Datatype: "FP32"}
		ts = append(ts, &target{server: serverMlship, runtime: "onnx", modelDir: m.OnnxDir, endpoints: []endpoint{
			oipEndpoint(m.Name, in, m.Rows, want), invocationsEndpoint(m.Rows, want),
		}})
	}
	return ts
}

// benchTarget starts the target's server, checks every endpoint's answers, measures each
// endpoint in turn and stops the server whatever happens.
func benchTarget(ctx context.Context, cfg config, t *target, work string, logger *log.Logger) ([]rowResult, error) {
	dir := filepath.Join(work, strings.NewReplacer(" ", "-", "(", "", ")", "").Replace(t.label()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	client := newHTTPClient(cfg.concurrency, cfg.timeout)
	defer client.CloseIdleConnections()
	srv, err := startServer(ctx, cfg, t, dir, client, logger)
	if err != nil {
		return nil, err
	}
	defer srv.stop(logger)
	for _, ep := range t.endpoints {
		if err := verify(ctx, client, srv.baseURL, ep); err != nil {
			return nil, fmt.Errorf("%s %s: %w; not timing a server that answers wrongly", t.label(), ep.Path, err)
		}
	}
	logger.Printf("%s: answers equal the expected labels on %s", t.label(), endpointPaths(t.endpoints))
	var rows []rowResult
	for _, ep := range t.endpoints {
		runs := make([]rowResult, 0, cfg.runs)
		for i := range cfg.runs {
			c := cfg
			if i > 0 {
				c.warmup = 0 // the previous window warmed it up
			}
			logger.Printf("%s %s: run %d of %d, %d clients, %s warm-up + %s", t.label(), ep.Path, i+1, cfg.runs, cfg.concurrency, c.warmup, cfg.duration)
			r := measure(ctx, ep, srv.baseURL, c, srv.cmd.Process.Pid)
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if err := srv.exitedEarly(); err != nil {
				return nil, err
			}
			logger.Printf("%s %s: %.1f req/s, p50 %.2f ms, p99 %.2f ms, %d non-2xx, %d transport errors",
				t.label(), ep.Path, r.ReqPerSec, r.LatencyMs.P50, r.LatencyMs.P99, r.Non2xx, r.TransportErrors)
			runs = append(runs, r)
		}
		r := medianRun(runs)
		r.Server, r.Runtime, r.Variant, r.Protocol, r.Path = t.server, t.runtime, t.variant, ep.Protocol, ep.Path
		rows = append(rows, r)
	}
	return rows, nil
}

func endpointPaths(eps []endpoint) string {
	var s []string
	for _, ep := range eps {
		s = append(s, ep.Path)
	}
	return strings.Join(s, " and ")
}

// server is one server under test, started as the leader of its own process group so
// that stopping it also stops uvicorn's and MLServer's worker processes.
type server struct {
	label   string
	baseURL string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the leader has exited
	waitErr error
}

func startServer(ctx context.Context, cfg config, t *target, dir string, client *http.Client, logger *log.Logger) (*server, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	cmd, readyPath, err := serverCommand(cfg, t, dir, ports)
	if err != nil {
		return nil, err
	}
	t.command = strings.Join(cmd.Args, " ")
	s := &server{label: t.label(), baseURL: "http://127.0.0.1:" + strconv.Itoa(ports[0]),
		logPath: filepath.Join(dir, "server.log"), cmd: cmd, exited: make(chan struct{})}
	logger.Printf("%s: starting %s", s.label, t.command)
	if err := s.launch(); err != nil {
		return nil, err
	}
	start := time.Now()
	if err := s.waitReady(ctx, client, readyPath, cfg.startupTimeout); err != nil {
		s.stop(logger)
		return nil, fmt.Errorf("%w\n--- tail of %s ---\n%s", err, s.logPath, tailFile(s.logPath, 3000))
	}
	logger.Printf("%s: ready after %.1fs", s.label, time.Since(start).Seconds())
	return s, nil
}

// serverCommand returns the command that serves t on ports[0] (MLServer also takes
// ports[1] for gRPC and ports[2] for metrics) and the path that answers 200 once the
// model is loaded.
func serverCommand(cfg config, t *target, dir string, ports []int) (*exec.Cmd, string, error) {
	port := strconv.Itoa(ports[0])
	switch t.server {
	case serverMLflow:
		args := []string{"-m", "mlflow", "models", "serve", "-m", t.modelDir, "--env-manager", "local",
			"-h", "127.0.0.1", "-p", port}
		if cfg.workers > 0 {
			args = append(args, "--workers", strconv.Itoa(cfg.workers))
		}
		cmd := exec.Command(cfg.benchPython, args...)
		cmd.Env = venvEnv(cfg.benchPython) // it starts `uvicorn` from PATH
		return cmd, "/ping", nil
	case serverMLServer:
		repo, err := writeMLServerRepo(cfg, t, dir, ports)
		if err != nil {
			return nil, "", err
		}
		cmd := exec.Command(filepath.Join(filepath.Dir(cfg.mlserverPython), "mlserver"), "start", repo)
		cmd.Env = venvEnv(cfg.mlserverPython)
		return cmd, "/v2/models/" + oipModelName(t) + "/ready", nil
	default:
		args := []string{"serve", t.modelDir, "--host", "127.0.0.1", "--port", port, "--runtime", t.runtime}
		if name := oipModelName(t); name != filepath.Base(t.modelDir) {
			args = append(args, "--name", name)
		}
		cmd := exec.Command(cfg.mlshipBin, slices.Concat(args, cfg.mlshipArgs, t.args)...)
		// The Python runtime's workers need mlflow and scikit-learn: those of .venv-bench.
		cmd.Env = append(venvEnv(cfg.benchPython), "MLSHIP_PYTHON="+cfg.benchPython)
		return cmd, "/v2/health/ready", nil
	}
}

// modelName is the model's name in an OIP path, or "" for /invocations.
func (ep endpoint) modelName() string {
	name, _ := strings.CutPrefix(ep.Path, "/v2/models/")
	name, _ = strings.CutSuffix(name, "/infer")
	if name == ep.Path {
		return ""
	}
	return name
}

// oipModelName is the name the target's OIP endpoint addresses the model by.
func oipModelName(t *target) string {
	for _, ep := range t.endpoints {
		if n := ep.modelName(); n != "" {
			return n
		}
	}
	return filepath.Base(t.modelDir)
}

// writeMLServerRepo writes MLServer's settings.json (loopback only, our ports, workers)
// and the model-settings.json that serves the model directory with mlserver-mlflow.
func writeMLServerRepo(cfg config, t *target, dir string, ports []int) (string, error) {
	repo := filepath.Join(dir, "mlserver-repo")
	if err := os.MkdirAll(repo, 0o755); err != nil {
		return "", err
	}
	settings := map[string]any{"host": "127.0.0.1", "http_port": ports[0], "grpc_port": ports[1],
		"metrics_port": ports[2], "metrics_dir": filepath.Join(dir, "metrics")}
	if cfg.workers > 0 {
		settings["parallel_workers"] = cfg.workers
	}
	modelSettings := map[string]any{"name": oipModelName(t), "implementation": "mlserver_mlflow.MLflowRuntime",
		"parameters": map[string]any{"uri": t.modelDir}}
	for name, v := range map[string]any{"settings.json": settings, "model-settings.json": modelSettings} {
		b, _ := json.MarshalIndent(v, "", "  ")
		if err := os.WriteFile(filepath.Join(repo, name), b, 0o644); err != nil {
			return "", err
		}
	}
	return repo, nil
}

// venvEnv is the environment with python's venv activated: its bin directory first on PATH.
func venvEnv(python string) []string {
	bin := filepath.Dir(python)
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "PATH=") || strings.HasPrefix(kv, "VIRTUAL_ENV=")
	})
	return append(env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "VIRTUAL_ENV="+filepath.Dir(bin))
}

func (s *server) launch() error {
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return err
	}
	s.cmd.Dir = filepath.Dir(s.logPath)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	// Its own process group, so that stop reaches its workers; and the leader is killed
	// by the kernel should the harness die without a chance to stop it.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", s.cmd.Path, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		logFile.Close()
		close(s.exited)
	}()
	return nil
}

func (s *server) waitReady(ctx context.Context, client *http.Client, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.answers200(ctx, client, path) {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("%s exited before it was ready: %v", s.label, s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("%s: no 200 from %s%s within %s (%w)", s.label, s.baseURL, path, timeout, ctx.Err())
		case <-tick.C:
		}
	}
}

func (s *server) answers200(ctx context.Context, client *http.Client, path string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.baseURL+path, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// exitedEarly reports a server that died while it was being measured.
func (s *server) exitedEarly() error {
	select {
	case <-s.exited:
		return fmt.Errorf("%s exited during the measurement: %v\n--- tail of %s ---\n%s",
			s.label, s.waitErr, s.logPath, tailFile(s.logPath, 3000))
	default:
		return nil
	}
}

// stop sends SIGTERM to the server's process group, SIGKILL if the leader lingers, and
// SIGKILL in any case to the group and to the groups of the server's other processes,
// for workers that outlived their leader.
func (s *server) stop(logger *log.Logger) {
	procs := serverProcs(s.cmd.Process.Pid)
	defer killProcs(procs)
	pgid := -s.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		logger.Printf("%s: no exit 15s after SIGTERM; killing its process group", s.label)
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-s.exited
	}
	_ = syscall.Kill(pgid, syscall.SIGKILL)
}

// freePorts returns n distinct free loopback ports: the listeners are all open at once.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		addr, ok := l.Addr().(*net.TCPAddr)
		if !ok {
			return nil, errors.New("listener address is not TCP")
		}
		ports = append(ports, addr.Port)
	}
	return ports, nil
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return tailBytes(b, n)
}

// checkTools fails early, before any model is built, when a selected server cannot start.
func checkTools(ctx context.Context, cfg config) error {
	var errs []error
	if cfg.modelDir == "" || cfg.wants(serverMLflow) || cfg.wants(serverMlship) {
		errs = append(errs, runs(ctx, "bench python (bash bench/setup.sh)", cfg.benchPython, "-c", "import mlflow, sklearn"))
	}
	if cfg.wants(serverMLServer) {
		errs = append(errs, runs(ctx, "MLServer's python (bash bench/setup.sh)", cfg.mlserverPython, "-c", "import mlserver, mlserver_mlflow"))
	}
	if cfg.wants(serverMlship) {
		errs = append(errs, runs(ctx, "mlship with a serve command (go build -o bin/mlship ./cmd/mlship), or leave mlship out of --only",
			cfg.mlshipBin, "serve", "--help"))
	}
	return errors.Join(errs...)
}

func runs(ctx context.Context, what, bin string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("need %s: %s %s: %w\n%s", what, bin, strings.Join(args, " "), err, tailBytes(out, 500))
	}
	return nil
}
