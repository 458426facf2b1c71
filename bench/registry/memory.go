package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mlship/mlship/bench/internal/benchkit"
)

// memSampler follows the resident memory of a server's process group (MLflow's uvicorn
// workers and job runner are children in the server's group; mlship is one process),
// sampling every 100 ms.
type memSampler struct {
	pgid     int
	baseline int64 // bytes, when sampling started
	hwmReset bool  // the leader's VmHWM was reset at the start, so it counts as a sample
	stop     chan struct{}
	done     sync.WaitGroup
	peak     int64
}

func startMemSampler(pgid int) *memSampler {
	m := &memSampler{pgid: pgid, stop: make(chan struct{})}
	// Resetting VmHWM to the current RSS makes VmHWM at the end the peak within the
	// window even between samples (for the leader process).
	m.hwmReset = benchkit.ResetPeakRSS(pgid)
	m.baseline = groupRSS(pgid)
	m.peak = m.baseline
	m.done.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				m.peak = max(m.peak, groupRSS(m.pgid))
			}
		}
	})
	return m
}

// finish stops sampling and returns the baseline and peak in bytes.
func (m *memSampler) finish() (baseline, peak int64) {
	close(m.stop)
	m.done.Wait()
	m.peak = max(m.peak, groupRSS(m.pgid))
	if m.hwmReset && !m.hasChildren() {
		m.peak = max(m.peak, benchkit.PeakRSS(m.pgid))
	}
	return m.baseline, m.peak
}

func (m *memSampler) hasChildren() bool { return len(groupPids(m.pgid)) > 1 }

// groupRSS sums VmRSS over the processes of a process group.
func groupRSS(pgid int) int64 {
	var sum int64
	for _, pid := range groupPids(pgid) {
		sum += benchkit.StatusBytes(pid, "VmRSS")
	}
	return sum
}

func groupPids(pgid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var pids []int
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces, so cut after ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 3 || f[2] != strconv.Itoa(pgid) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}
