package benchkit

import (
	"slices"
	"time"
)

// Latency summarises request latencies, in milliseconds.
type Latency struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
}

// SummarizeLatency sorts d and summarises it; nearest-rank percentiles.
func SummarizeLatency(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	slices.Sort(d)
	var sum time.Duration
	for _, v := range d {
		sum += v
	}
	return Latency{
		Mean: Millis(sum / time.Duration(len(d))),
		P50:  Millis(Percentile(d, 50)),
		P90:  Millis(Percentile(d, 90)),
		P95:  Millis(Percentile(d, 95)),
		P99:  Millis(Percentile(d, 99)),
		Max:  Millis(d[len(d)-1]),
	}
}

// Percentile is the nearest-rank percentile of sorted durations.
func Percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return sorted[max(rank-1, 0)]
}

// Millis is d in milliseconds, to the microsecond.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
