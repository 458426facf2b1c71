// Package benchkit is what the side-by-side benchmarks under bench/ share: their main
// loop and flags; starting the servers they measure (mlship and MLflow's own server,
// each as a subprocess on a free loopback port with a fresh data directory); running
// mlship's client commands as measured steps; the CPU time and peak memory of a
// process; the facts of the machine; and the pieces of their reports.
package benchkit

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Server is one tracking server running as a subprocess in its own process group, so
// that stopping it also stops MLflow's uvicorn workers and job runner.
type Server struct {
	Name    string
	BaseURL string
	Dir     string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has exited
	waitErr error
}

// StartServer launches the named target on a free loopback port with a fresh data
// directory and waits for its /health to answer 200. On failure nothing is left
// running, and the directory is removed unless cfg.KeepData.
func StartServer(ctx context.Context, cfg ServerConfig, name string, client *http.Client, logger *log.Logger) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mlship-bench-"+name+"-")
	if err != nil {
		return nil, err
	}
	s := &Server{
		Name:    name,
		BaseURL: "http://127.0.0.1:" + strconv.Itoa(port),
		Dir:     dir,
		logPath: filepath.Join(dir, "server.log"),
		exited:  make(chan struct{}),
		cmd:     serverCommand(cfg, name, dir, port),
	}
	if err := s.launch(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.waitHealthy(ctx, client, cfg.StartupTimeout); err != nil {
		err = fmt.Errorf("%w\n--- tail of %s ---\n%s", err, s.logPath, tail(s.logPath, 3000))
		s.Cleanup(cfg.KeepData, logger)
		return nil, err
	}
	return s, nil
}

func serverCommand(cfg ServerConfig, name, dir string, port int) *exec.Cmd {
	p := strconv.Itoa(port)
	if name == Mlship {
		cmd := exec.Command(cfg.MlshipBin, append([]string{"server", "--host", "127.0.0.1", "--port", p, "--data-dir", dir}, cfg.MlshipArgs...)...)
		if len(cfg.MlshipEnv) > 0 {
			cmd.Env = append(os.Environ(), cfg.MlshipEnv...)
		}
		return cmd
	}
	// MLflow's defaults are kept: uvicorn with its default worker count, security
	// middleware on (its default allowed hosts include 127.0.0.1:*), job runner on.
	store := cfg.MlflowBackendStoreURI
	if store == "" {
		store = "sqlite:///" + filepath.Join(dir, "mlflow.db")
	}
	return exec.Command(cfg.MlflowPython, "-m", "mlflow", "server",
		"--backend-store-uri", store,
		"--artifacts-destination", filepath.Join(dir, "artifacts"),
		"--host", "127.0.0.1", "--port", p)
}

func (s *Server) launch() error {
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return err
	}
	s.cmd.Dir = s.Dir
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
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

func (s *Server) waitHealthy(ctx context.Context, client *http.Client, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.healthy(ctx, client) {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("%s exited before it was healthy: %v", s.Name, s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("%s: no 200 from %s/health within %s", s.Name, s.BaseURL, timeout)
		case <-tick.C:
		}
	}
}

func (s *Server) healthy(ctx context.Context, client *http.Client) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.BaseURL+"/health", nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// stop sends SIGTERM to the server's process group and SIGKILL if it lingers.
func (s *Server) Stop() {
	pgid := -s.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-s.exited
	}
	// Children that ignored SIGTERM (e.g. a job runner) go with the group.
	_ = syscall.Kill(pgid, syscall.SIGKILL)
}

// cleanup stops the server and removes its data directory unless asked to keep it.
func (s *Server) Cleanup(keep bool, logger *log.Logger) {
	s.Stop()
	if keep {
		logger.Printf("%s: kept data and log in %s", s.Name, s.Dir)
		return
	}
	if err := os.RemoveAll(s.Dir); err != nil {
		logger.Printf("%s: remove %s: %v", s.Name, s.Dir, err)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("listener address is not TCP")
	}
	return addr.Port, nil
}

// tail returns the last n bytes of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return LastBytes(b, n)
}

// ServerConfig says how to start the servers.
type ServerConfig struct {
	MlshipBin      string        // the mlship binary
	MlflowPython   string        // a Python with the pinned mlflow installed
	StartupTimeout time.Duration // how long a server may take to answer /health
	KeepData       bool          // keep the data directories afterwards
	MlshipArgs     []string      // more flags of mlship server, e.g. --auth
	MlshipEnv      []string      // more of mlship's environment, as KEY=VALUE
	// MlflowBackendStoreURI is MLflow's --backend-store-uri; empty for a SQLite file in
	// the server's data directory.
	MlflowBackendStoreURI string
}

// PID is the server process's id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// The targets a benchmark can start.
const (
	MLflow = "mlflow"
	Mlship = "mlship"
)
