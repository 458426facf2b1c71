package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// userHZ is the unit of the CPU times in /proc/PID/stat: fixed at 100 in Linux's ABI.
const userHZ = 100

// proc is one line of /proc/PID/stat, the fields used here.
type proc struct {
	pid, ppid, pgid int
	ticks           int64 // utime + stime
}

// serverProcs returns the live processes of a server: those in the process group of its
// leader and every descendant of the leader, which includes workers that moved to
// groups of their own (mlship's Python workers do).
func serverProcs(leader int) []proc {
	all := readProcs()
	children := map[int][]proc{}
	for _, p := range all {
		children[p.ppid] = append(children[p.ppid], p)
	}
	seen := map[int]bool{}
	var out []proc
	var walk func(p proc)
	walk = func(p proc) {
		if seen[p.pid] {
			return
		}
		seen[p.pid] = true
		out = append(out, p)
		for _, c := range children[p.pid] {
			walk(c)
		}
	}
	for _, p := range all {
		if p.pid == leader || p.pgid == leader {
			walk(p)
		}
	}
	return out
}

// serverCPU is the CPU time, user and system, in seconds, that a server's live
// processes have used.
func serverCPU(leader int) float64 {
	var ticks int64
	for _, p := range serverProcs(leader) {
		ticks += p.ticks
	}
	return float64(ticks) / userHZ
}

// killProcs sends SIGKILL to the groups of the given processes that are still there in
// the same group: workers that a server left behind in groups of their own.
func killProcs(procs []proc) {
	live := map[int]proc{}
	for _, p := range readProcs() {
		live[p.pid] = p
	}
	for _, p := range procs {
		if now, ok := live[p.pid]; ok && now.pgid == p.pgid {
			_ = syscall.Kill(-p.pgid, syscall.SIGKILL)
		}
	}
}

func readProcs() []proc {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []proc
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the process has exited since the glob
		}
		if p, ok := parseStat(b); ok {
			out = append(out, p)
		}
	}
	return out
}

// parseStat reads a /proc/PID/stat line. The command name, in parentheses, may itself
// hold spaces and parentheses: the fields are counted from after the last ')'.
func parseStat(b []byte) (proc, bool) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return proc{}, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:open])))
	if err != nil {
		return proc{}, false
	}
	// After ')': state(3) ppid(4) pgrp(5) ... utime(14) stime(15).
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 13 {
		return proc{}, false
	}
	n := make([]int64, 0, 4)
	for _, s := range []string{f[1], f[2], f[11], f[12]} {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return proc{}, false
		}
		n = append(n, v)
	}
	return proc{pid: pid, ppid: int(n[0]), pgid: int(n[1]), ticks: n[2] + n[3]}, true
}
