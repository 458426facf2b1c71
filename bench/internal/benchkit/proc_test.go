package benchkit

import (
	"os"
	"os/exec"
	"testing"
)

func TestParseStatCPU(t *testing.T) {
	stat := "4242 (mlship (x) y) S 1 4242 4242 0 -1 4194304 5 0 0 0 250 130 0 0 20 0 8 0 100 1 2"
	if got := parseStatCPU(stat); got != 3.8 {
		t.Errorf("parseStatCPU() = %v, want 3.8", got)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 10 x y"} {
		if got := parseStatCPU(bad); got != -1 {
			t.Errorf("parseStatCPU(%q) = %v, want -1", bad, got)
		}
	}
}

func TestParseKB(t *testing.T) {
	tests := map[string]int64{"   2048 kB": 2 << 20, "0 kB": 0, "12": 12 << 10, "x kB": 0}
	for in, want := range tests {
		if got := parseKB(in); got != want {
			t.Errorf("parseKB(%q) = %d, want %d", in, got, want)
		}
	}
}

// The readers see this very process: it has a peak RSS and has used some CPU.
func TestProcReadsThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	pid := os.Getpid()
	if got := PeakRSS(pid); got <= 0 {
		t.Errorf("PeakRSS(self) = %d", got)
	}
	if got := ProcessCPU(pid); got < 0 {
		t.Errorf("ProcessCPU(self) = %v", got)
	}
	if got := PeakRSS(-1); got != 0 {
		t.Errorf("PeakRSS(-1) = %d, want 0", got)
	}
	if got := ProcessCPU(-1); got != -1 {
		t.Errorf("ProcessCPU(-1) = %v, want -1", got)
	}
}

func TestCommandMaxRSS(t *testing.T) {
	if got := CommandMaxRSS(exec.Command("true")); got != 0 {
		t.Errorf("before it ran: %d, want 0", got)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true:", err)
	}
	if got := CommandMaxRSS(cmd); got <= 0 {
		t.Errorf("after it ran: %d", got)
	}
}
