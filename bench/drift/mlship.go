package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mlship/mlship/bench/internal/benchkit"
)

// step is one timed command against the mlship server: its wall time, the CPU time the
// server used meanwhile, and the server's peak RSS during it.
type step struct {
	Name          string  `json:"name"`
	Command       string  `json:"command"`
	Seconds       float64 `json:"seconds"`
	ServerCPU     float64 `json:"server_cpu_seconds"`
	ServerPeakRSS int64   `json:"server_peak_rss_bytes"`
	// PeakIsStepOnly is true when the server's VmHWM was reset before the step.
	PeakIsStepOnly bool   `json:"peak_is_step_only"`
	ClientMaxRSS   int64  `json:"client_max_rss_bytes"`
	Bytes          int64  `json:"bytes,omitempty"`
	LoadBefore     string `json:"load_before"`
}

// mlshipServer is a running `mlship server` and the binary that talks to it.
type mlshipServer struct {
	*benchkit.Server
	bin string
}

func startMlship(ctx context.Context, cfg config, logger *log.Logger) (*mlshipServer, error) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
	s, err := benchkit.StartServer(ctx, cfg.server(), benchkit.Mlship, client, logger)
	if err != nil {
		return nil, err
	}
	return &mlshipServer{Server: s, bin: cfg.mlshipBin}, nil
}

// cli runs `mlship ARGS --server URL` as one measured step and returns its stdout.
func (s *mlshipServer) cli(ctx context.Context, name string, timeout time.Duration, args ...string) (step, []byte, error) {
	args = append(args, "--server", s.BaseURL)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	st := step{Name: name, Command: "mlship " + strings.Join(args[:len(args)-2], " "), LoadBefore: benchkit.LoadAvg()}
	pid := s.PID()
	st.PeakIsStepOnly = resetPeakRSS(pid)
	cpu0, t0 := procCPU(pid), time.Now()
	err := cmd.Run()
	st.Seconds = time.Since(t0).Seconds()
	st.ServerCPU = procCPU(pid) - cpu0
	st.ServerPeakRSS = statusBytes(pid, "VmHWM")
	st.ClientMaxRSS = childMaxRSS(cmd)
	if err != nil {
		return st, nil, fmt.Errorf("%s: %w\n%s", st.Command, err, lastBytes(stderr.Bytes(), 2000))
	}
	return st, stdout.Bytes(), nil
}

// register runs `mlship data add NAME PATH` and returns the step and the version.
func (s *mlshipServer) register(ctx context.Context, stepName, dataset, path string, size int64, timeout time.Duration) (step, int64, error) {
	st, out, err := s.cli(ctx, stepName, timeout, "data", "add", dataset, path, "--quiet", "-o", "json")
	st.Bytes = size
	if err != nil {
		return st, 0, err
	}
	var v struct {
		Version int64 `json:"version"`
		Rows    int64 `json:"rows"`
		Created bool  `json:"created"`
	}
	if err := json.Unmarshal(out, &v); err != nil || v.Version < 1 {
		return st, 0, fmt.Errorf("%s: unexpected answer %.300s (%v)", st.Command, out, err)
	}
	return st, v.Version, nil
}

// mlshipDrift is the server's side of the drift figure.
type mlshipDrift struct {
	Steps   []step       `json:"steps"`
	Seconds float64      `json:"seconds"` // the steps together
	PeakRSS int64        `json:"server_peak_rss_bytes"`
	Report  *driftReport `json:"report"`
}

// benchMlshipDrift registers both files on a fresh server and compares them.
func benchMlshipDrift(ctx context.Context, cfg config, d *dataFiles, logger *log.Logger) (*mlshipDrift, error) {
	s, err := startMlship(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	defer s.Cleanup(cfg.keep, logger)
	res := &mlshipDrift{}
	var versions [2]int64
	for i, f := range []struct{ name, path string }{{"register reference", d.Reference}, {"register current", d.Current}} {
		logger.Printf("mlship: %s", f.name)
		st, v, err := s.register(ctx, f.name, "drift-bench", f.path, d.Sizes[i], cfg.stepTimeout)
		if err != nil {
			return nil, err
		}
		versions[i] = v
		res.add(st)
	}
	logger.Printf("mlship: drift compare")
	st, out, err := s.cli(ctx, "drift compare", cfg.stepTimeout, "drift", "compare",
		"drift-bench/"+strconv.FormatInt(versions[0], 10), "drift-bench/"+strconv.FormatInt(versions[1], 10), "-o", "json")
	if err != nil {
		return nil, err
	}
	res.add(st)
	if res.Report, err = parseDriftReport(out); err != nil {
		return nil, err
	}
	return res, nil
}

func (m *mlshipDrift) add(st step) {
	m.Steps = append(m.Steps, st)
	m.Seconds += st.Seconds
	m.PeakRSS = max(m.PeakRSS, st.ServerPeakRSS)
}

// childMaxRSS is the peak RSS of a command that has run, from its rusage.
func childMaxRSS(cmd *exec.Cmd) int64 {
	if cmd.ProcessState == nil {
		return 0
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss << 10 // kilobytes on Linux
	}
	return 0
}

func lastBytes(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(bytes.TrimSpace(b))
}
