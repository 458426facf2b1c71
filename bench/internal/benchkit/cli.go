package benchkit

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// MlshipServer is a running `mlship server` and the binary whose client commands talk
// to it.
type MlshipServer struct {
	*Server
	Bin string
}

// StartMlship starts `mlship server` as StartServer does, asking for /health with a
// client of its own that ignores proxy settings.
func StartMlship(ctx context.Context, cfg ServerConfig, logger *log.Logger) (*MlshipServer, error) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
	s, err := StartServer(ctx, cfg, Mlship, client, logger)
	if err != nil {
		return nil, err
	}
	return &MlshipServer{Server: s, Bin: cfg.MlshipBin}, nil
}

// Step is one timed command against the mlship server: its wall time, the CPU time the
// server used meanwhile, and the server's peak RSS during it.
type Step struct {
	Name          string  `json:"name"`
	Command       string  `json:"command"`
	Seconds       float64 `json:"seconds"`
	ServerCPU     float64 `json:"server_cpu_seconds"`
	ServerPeakRSS int64   `json:"server_peak_rss_bytes"`
	// PeakIsStepOnly is true when the server's VmHWM was reset before the step.
	PeakIsStepOnly bool   `json:"peak_is_step_only"`
	LoadBefore     string `json:"load_before"`
}

// Call is what one measured command left: its Step, what it printed and its own peak
// memory, which a benchmark reports or not.
type Call struct {
	Step         Step
	Stdout       []byte
	ClientMaxRSS int64 // the command's peak RSS, from its rusage
}

// Run runs `mlship ARGS --server URL` as one measured step named name. The step is
// measured and the stdout kept even when the command fails (a non-zero exit may be an
// answer, such as a failed gate); the error then carries the end of its stderr.
func (s *MlshipServer) Run(ctx context.Context, name string, timeout time.Duration, args ...string) (Call, error) {
	c := Call{Step: Step{Name: name, Command: "mlship " + strings.Join(args, " "), LoadBefore: LoadAvg()}}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Bin, slices.Concat(args, []string{"--server", s.BaseURL})...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	pid := s.PID()
	c.Step.PeakIsStepOnly = ResetPeakRSS(pid)
	cpu0, t0 := ProcessCPU(pid), time.Now()
	err := cmd.Run()
	c.Step.Seconds = time.Since(t0).Seconds()
	c.Step.ServerCPU = ProcessCPU(pid) - cpu0
	c.Step.ServerPeakRSS = PeakRSS(pid)
	c.ClientMaxRSS = CommandMaxRSS(cmd)
	c.Stdout = stdout.Bytes()
	if err != nil {
		return c, fmt.Errorf("%s: %w\n%s", c.Step.Command, err, LastBytes(stderr.Bytes(), 2000))
	}
	return c, nil
}

// LastBytes is the end of a command's output, at most n bytes, for an error message.
func LastBytes(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(bytes.TrimSpace(b))
}
