package benchkit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// ReportHeader opens a benchmark's report: the machine, when the mlship binary was
// built and when the run started. Embedded first in a report, its fields open the
// JSON too.
type ReportHeader struct {
	Machine     Machine `json:"machine"`
	MlshipBuilt string  `json:"mlship_built,omitempty"`
	Started     string  `json:"started"`
}

// NewReportHeader reads the machine's facts and those of the servers a run will start.
func NewReportHeader(ctx context.Context, cfg ServerConfig, targets []string) ReportHeader {
	h := ReportHeader{Machine: NewMachine(ctx, cfg, targets), Started: time.Now().UTC().Format(time.RFC3339)}
	if fi, err := os.Stat(cfg.MlshipBin); err == nil {
		h.MlshipBuilt = fi.ModTime().Format("2006-01-02 15:04")
	}
	return h
}

// WriteText writes the lines that open a table report: the machine and its load.
func (h *ReportHeader) WriteText(w io.Writer) {
	fmt.Fprintf(w, "\nmachine:  %s, built %s\n", h.Machine.Summary(), h.MlshipBuilt)
	fmt.Fprintf(w, "load:     %s at start, %s at end (1/5/15 min; above %d CPUs means other work competed)\n",
		h.Machine.LoadAvgStart, h.Machine.LoadAvgEnd, h.Machine.CPUs)
}

// WriteJSON writes a report as indented JSON: a benchmark's -o json.
func WriteJSON(w io.Writer, report any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(report)
}

// MiB writes a memory size in MiB, or in GiB from 1 GiB on.
func MiB(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}

// MB writes a file size in decimal megabytes.
func MB(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/1e6) }

// Thousands writes n with commas: 1,000,000.
func Thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + Thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
