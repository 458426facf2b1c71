package benchkit

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// Peak memory and CPU time of a process, from /proc and from rusage.

// ResetPeakRSS makes a process's VmHWM its current RSS (writing 5 to clear_refs), so
// that PeakRSS read later is the peak since now. It reports whether the reset worked:
// when it did not, PeakRSS is the process's peak since it started.
func ResetPeakRSS(pid int) bool {
	return os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0) == nil
}

// PeakRSS is a process's VmHWM in bytes: its peak resident memory since it started or
// since the last ResetPeakRSS; 0 when it cannot be read.
func PeakRSS(pid int) int64 { return StatusBytes(pid, "VmHWM") }

// StatusBytes reads a "kB" field of /proc/PID/status (VmHWM, VmRSS), in bytes; 0 when
// it cannot be read.
func StatusBytes(pid int, field string) int64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == field {
			return parseKB(v)
		}
	}
	return 0
}

// parseKB parses "  123456 kB" into bytes; 0 when it is not a number.
func parseKB(v string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
	if err != nil {
		return 0
	}
	return n << 10
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat's CPU times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// ProcessCPU returns the user + system CPU seconds a running process has used, from
// /proc/PID/stat; -1 when it cannot be read.
func ProcessCPU(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a /proc/PID/stat line.
// The command name, field 2, may hold spaces and parentheses, so fields are counted
// from the last ')'.
func parseStatCPU(stat string) float64 {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return float64(utime+stime) / clockTicks
}

// CommandMaxRSS is the peak RSS of a command that has run, from its rusage; 0 when it
// did not start.
func CommandMaxRSS(cmd *exec.Cmd) int64 {
	if cmd.ProcessState == nil {
		return 0
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss << 10 // kilobytes on Linux
	}
	return 0
}

// TreeCPU is the CPU time, in seconds, of the given processes and all their
// descendants: a server's own, MLflow's uvicorn workers and job runner, or PostgreSQL's
// backends under its postmaster. Each process counts its own time and that of the
// children it has reaped (cutime, cstime), so a backend that exits between two readings
// still counts, in its parent's.
func TreeCPU(roots ...int) float64 {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	parent := map[int]int{}
	cpu := map[int]float64{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		stat := string(b)
		i := strings.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(stat[i+1:]) // f[0] is field 3 (state), f[1] the parent
		if len(f) < 15 {
			continue
		}
		parent[pid], _ = strconv.Atoi(f[1])
		var ticks int64
		for _, v := range f[11:15] { // utime, stime, cutime, cstime
			n, _ := strconv.ParseInt(v, 10, 64)
			ticks += n
		}
		cpu[pid] = float64(ticks) / clockTicks
	}
	in := map[int]bool{}
	for _, r := range roots {
		if r > 0 {
			in[r] = true
		}
	}
	var total float64
	for pid, c := range cpu {
		for p, depth := pid, 0; p > 0 && depth < 64; p, depth = parent[p], depth+1 {
			if in[p] {
				total += c
				break
			}
		}
	}
	return total
}
