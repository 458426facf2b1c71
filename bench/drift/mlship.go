package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"strconv"
	"time"

	"github.com/mlship/mlship/bench/internal/benchkit"
)

// step is one timed command against the mlship server, with the client's own peak
// memory and, for a registration, the size of the file.
type step struct {
	benchkit.Step
	ClientMaxRSS int64 `json:"client_max_rss_bytes"`
	Bytes        int64 `json:"bytes,omitempty"`
}

// cli runs `mlship ARGS --server URL` as one measured step and returns its stdout.
func cli(ctx context.Context, s *benchkit.MlshipServer, name string, timeout time.Duration, args ...string) (step, []byte, error) {
	c, err := s.Run(ctx, name, timeout, args...)
	return step{Step: c.Step, ClientMaxRSS: c.ClientMaxRSS}, c.Stdout, err
}

// register runs `mlship data add NAME PATH` and returns the step and the version.
func register(ctx context.Context, s *benchkit.MlshipServer, stepName, dataset, path string, size int64, timeout time.Duration) (step, int64, error) {
	st, out, err := cli(ctx, s, stepName, timeout, "data", "add", dataset, path, "--quiet", "-o", "json")
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
	s, err := benchkit.StartMlship(ctx, cfg.server(), logger)
	if err != nil {
		return nil, err
	}
	defer s.Cleanup(cfg.keep, logger)
	res := &mlshipDrift{}
	var versions [2]int64
	for i, f := range []struct{ name, path string }{{"register reference", d.Reference}, {"register current", d.Current}} {
		logger.Printf("mlship: %s", f.name)
		st, v, err := register(ctx, s, f.name, "drift-bench", f.path, d.Sizes[i], cfg.stepTimeout)
		if err != nil {
			return nil, err
		}
		versions[i] = v
		res.add(st)
	}
	logger.Printf("mlship: drift compare")
	st, out, err := cli(ctx, s, "drift compare", cfg.stepTimeout, "drift", "compare",
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
