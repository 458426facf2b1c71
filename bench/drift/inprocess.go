package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/mlship/mlship/bench/internal/benchkit"
	"github.com/mlship/mlship/internal/dataset"
	"github.com/mlship/mlship/internal/drift"
)

// The in-process figure: the packages the server runs, called directly on the two
// files in a process of their own (the harness re-runs its own binary with
// inprocessArg), so that the peak memory is theirs alone. It shows where the
// server's time goes: profiling (what registration does besides storing), comparing
// the profiles, loading the tables, and the exact comparison (what `drift compare`
// runs for up to 200,000 rows together, or when asked for).

// inprocessArg as the first argument makes the binary run inprocessMain.
const inprocessArg = "inprocess-child"

// phase is one timed step: wall and CPU time, and the process's peak RSS within it.
type phase struct {
	Name       string  `json:"name"`
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"cpu_seconds"`
	PeakRSS    int64   `json:"peak_rss_bytes"`
	// PeakIsPhaseOnly is true when VmHWM was reset at the start, so the peak is this
	// phase's; otherwise it is the process's peak so far.
	PeakIsPhaseOnly bool `json:"peak_is_phase_only"`
}

// inprocessResult is what the child prints.
type inprocessResult struct {
	Phases     []phase      `json:"phases"`
	PeakRSS    int64        `json:"peak_rss_bytes"`
	GOMAXPROCS int          `json:"gomaxprocs"`
	Rows       [2]int64     `json:"rows"`
	Profiled   [2]int64     `json:"profiled_bytes"`
	Exact      *driftReport `json:"exact"`
	Profiles   *driftReport `json:"profiles"`
	LoadBefore string       `json:"load_before"`
}

// phaseTimer measures phases of the current process and, with a profile directory,
// writes a CPU profile of each phase there.
type phaseTimer struct {
	phases     []phase
	profileDir string
}

func (t *phaseTimer) run(name string, fn func() error) error {
	stop, err := t.startProfile(name)
	if err != nil {
		return err
	}
	reset := benchkit.ResetPeakRSS(os.Getpid())
	cpu0, t0 := selfCPU(), time.Now()
	err = fn()
	stop()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	t.phases = append(t.phases, phase{Name: name, Seconds: time.Since(t0).Seconds(), CPUSeconds: selfCPU() - cpu0,
		PeakRSS: benchkit.PeakRSS(os.Getpid()), PeakIsPhaseOnly: reset})
	return nil
}

// startProfile starts a CPU profile of the phase into profileDir/PHASE.pprof.
func (t *phaseTimer) startProfile(name string) (stop func(), err error) {
	if t.profileDir == "" {
		return func() {}, nil
	}
	f, err := os.Create(filepath.Join(t.profileDir, strings.ReplaceAll(name, " ", "-")+".pprof"))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return tvSeconds(ru.Utime) + tvSeconds(ru.Stime)
}

func tvSeconds(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }

// inprocessMain profiles and compares REF and CUR and prints an inprocessResult as
// JSON on stdout. A third argument names a directory for per-phase CPU profiles.
func inprocessMain(args []string, stdout io.Writer) error {
	if len(args) != 2 && len(args) != 3 {
		return errors.New("usage: " + inprocessArg + " REFERENCE.csv CURRENT.csv [PROFILE_DIR]")
	}
	ctx := context.Background()
	t := &phaseTimer{}
	if len(args) == 3 {
		t.profileDir = args[2]
	}
	files := [2]string{args[0], args[1]}
	res := inprocessResult{GOMAXPROCS: runtime.GOMAXPROCS(0)}
	if err := res.fromProfiles(ctx, t, files); err != nil {
		return err
	}
	runtime.GC()
	debug.FreeOSMemory() // the next phases' peaks should not include the profiles' garbage
	if err := res.exact(ctx, t, files); err != nil {
		return err
	}
	res.Phases = t.phases
	res.PeakRSS = benchkit.PeakRSS(os.Getpid())
	for _, p := range t.phases {
		res.PeakRSS = max(res.PeakRSS, p.PeakRSS)
	}
	return json.NewEncoder(stdout).Encode(res)
}

// fromProfiles profiles both files and compares the profiles.
func (res *inprocessResult) fromProfiles(ctx context.Context, t *phaseTimer, files [2]string) error {
	var profiles [2]*dataset.Profile
	for i, name := range []string{"profile reference", "profile current"} {
		err := t.run(name, func() (err error) {
			profiles[i], res.Profiled[i], err = profileFile(ctx, files[i])
			return err
		})
		if err != nil {
			return err
		}
		res.Rows[i] = profiles[i].Rows
	}
	return t.run("compare profiles", func() error {
		report, err := drift.CompareProfiles(ctx, profiles[0], profiles[1], nil)
		res.Profiles = fromDriftReport(report)
		return err
	})
}

// exact loads both files into tables and compares them exactly.
func (res *inprocessResult) exact(ctx context.Context, t *phaseTimer, files [2]string) error {
	var tables [2]*dataset.Table
	err := t.run("read tables", func() (err error) {
		for i := range tables {
			if tables[i], err = readTable(ctx, files[i], res.Rows[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return t.run("compare exact", func() error {
		report, err := drift.Compare(ctx, tables[0], tables[1], nil)
		res.Exact = fromDriftReport(report)
		return err
	})
}

func profileFile(ctx context.Context, path string) (*dataset.Profile, int64, error) {
	r, err := dataset.OpenFile(path, dataset.FormatCSV, nil)
	if err != nil {
		return nil, 0, err
	}
	defer r.Close()
	p, err := dataset.ProfileReader(ctx, r, nil, nil)
	return p, r.BytesRead(), err
}

// readTable loads a file as the server does for an exact comparison: knowing its row
// count from registration, so that the columns are allocated once.
func readTable(ctx context.Context, path string, rows int64) (*dataset.Table, error) {
	r, err := dataset.OpenFile(path, dataset.FormatCSV, nil)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return dataset.ReadTable(ctx, r, int(rows))
}

// runInprocess runs the child with this very binary and reads its result.
func runInprocess(ctx context.Context, ref, cur, profileDir string) (*inprocessResult, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{inprocessArg, ref, cur}
	if profileDir != "" {
		args = append(args, profileDir)
	}
	load := benchkit.LoadAvg()
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("in-process run: %w", err)
	}
	var res inprocessResult
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("in-process run: %w", err)
	}
	res.LoadBefore = load
	return &res, nil
}
