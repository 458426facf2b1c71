package serving

import (
	"context"
	"sort"
	"time"

	"github.com/mlship/mlship/internal/fault"
)

// The traffic history is the live stats kept by the hour: each live record also counts
// the hours not yet flushed, and a flush every DefaultTrafficFlush adds them to the
// hour's row in the store. A process that dies loses at most one flush interval; one
// that stops flushes on its way out.
const (
	// DefaultTrafficFlush is how often the unflushed hours go to the store.
	DefaultTrafficFlush = 15 * time.Second
	// TrafficRetention is how long the hourly history is kept before it is pruned.
	TrafficRetention = 90 * 24 * time.Hour
)

// TrafficHour is what one role of a deployment answered during one hour.
type TrafficHour struct {
	Deployment string
	Role       string
	Hour       int64 // the hour's start, Unix seconds
	Requests   uint64
	Failures   uint64
	// ClientErrors are the failures due to bad input.
	ClientErrors uint64
	LatencySum   float64 // seconds, over the requests
	// Buckets count requests by latency: bucket i up to LatencyBounds[i] seconds, the
	// last one above the last bound.
	Buckets [len(liveBounds) + 1]uint64
}

// LatencyBounds are the latency histogram's upper bounds, in seconds.
func LatencyBounds() []float64 { return liveBounds[:] }

// TrafficStore keeps the hourly traffic history.
type TrafficStore interface {
	// AddTraffic adds each hour's counts to those stored for its deployment, role and
	// hour, in one transaction.
	AddTraffic(ctx context.Context, hours []TrafficHour) error
	// Traffic returns a deployment's hours from fromHour to toHour (Unix seconds, both
	// included), by hour then role.
	Traffic(ctx context.Context, deployment string, fromHour, toHour int64) ([]TrafficHour, error)
}

func (h *TrafficHour) add(o TrafficHour) {
	h.Requests += o.Requests
	h.Failures += o.Failures
	h.ClientErrors += o.ClientErrors
	h.LatencySum += o.LatencySum
	for i, n := range o.Buckets {
		h.Buckets[i] += n
	}
}

func (h TrafficHour) slot() liveSlot {
	return liveSlot{requests: h.Requests, failures: h.Failures, invalid: h.ClientErrors, buckets: h.Buckets, latency: h.LatencySum}
}

func hourOf(deployment, role string, s liveSlot) TrafficHour {
	return TrafficHour{Deployment: deployment, Role: role, Hour: s.at * 3600, Requests: s.requests, Failures: s.failures,
		ClientErrors: s.invalid, LatencySum: s.latency, Buckets: s.buckets}
}

// keepUnflushed keeps the hours of a live record being dropped for the next flush.
// mt.mu is held.
func (mt *Metrics) keepUnflushed(deployment, role string, l *liveRole) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.hours {
		mt.unflushed = append(mt.unflushed, hourOf(deployment, role, s))
	}
	l.hours = nil
}

// takeUnflushed removes and returns every hour not yet flushed.
func (mt *Metrics) takeUnflushed() []TrafficHour {
	mt.mu.Lock()
	defer mt.mu.Unlock()
	out := mt.unflushed
	mt.unflushed = nil
	for key, l := range mt.live {
		d, role := splitLiveKey(key)
		l.mu.Lock()
		for _, s := range l.hours {
			out = append(out, hourOf(d, role, s))
		}
		l.hours = nil
		l.mu.Unlock()
	}
	return mergeHours(out)
}

// unflushedOf returns a copy of a deployment's hours not yet flushed.
func (mt *Metrics) unflushedOf(deployment string) []TrafficHour {
	mt.mu.Lock()
	defer mt.mu.Unlock()
	var out []TrafficHour
	for _, h := range mt.unflushed {
		if h.Deployment == deployment {
			out = append(out, h)
		}
	}
	for key, l := range mt.live {
		d, role := splitLiveKey(key)
		if d != deployment {
			continue
		}
		l.mu.Lock()
		for _, s := range l.hours {
			out = append(out, hourOf(d, role, s))
		}
		l.mu.Unlock()
	}
	return out
}

// FlushTraffic adds the hours not yet flushed to the store. On failure they stay in
// memory for the next flush.
func (mt *Metrics) FlushTraffic(ctx context.Context, st TrafficStore) error {
	mt.flushMu.Lock()
	defer mt.flushMu.Unlock()
	hours := mt.takeUnflushed()
	if len(hours) == 0 {
		return nil
	}
	if err := st.AddTraffic(ctx, hours); err != nil {
		mt.mu.Lock()
		mt.unflushed = append(mt.unflushed, hours...)
		mt.mu.Unlock()
		return err
	}
	return nil
}

// mergeHours adds up the hours of one deployment, role and hour, sorted by
// deployment, hour and role.
func mergeHours(hs []TrafficHour) []TrafficHour {
	type key struct {
		d, role string
		hour    int64
	}
	byKey := make(map[key]int, len(hs))
	var out []TrafficHour
	for _, h := range hs {
		k := key{h.Deployment, h.Role, h.Hour}
		if i, ok := byKey[k]; ok {
			out[i].add(h)
			continue
		}
		byKey[k] = len(out)
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Deployment != b.Deployment {
			return a.Deployment < b.Deployment
		}
		if a.Hour != b.Hour {
			return a.Hour < b.Hour
		}
		return roleOrder[a.Role] < roleOrder[b.Role]
	})
	return out
}

// flushTraffic flushes the traffic history every interval until ctx ends.
func (m *Manager) flushTraffic(ctx context.Context) {
	t := time.NewTicker(m.opts.TrafficFlush)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := m.opts.Metrics.FlushTraffic(ctx, m.opts.Traffic); err != nil && ctx.Err() == nil {
				m.logger.Error("serving: flush the traffic history", "err", err)
			}
		}
	}
}

// finalFlush flushes what is left of the traffic history as the manager closes.
func (m *Manager) finalFlush() {
	if m.opts.Traffic == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.opts.Metrics.FlushTraffic(ctx, m.opts.Traffic); err != nil {
		m.logger.Error("serving: flush the traffic history on close; the last seconds of counts are lost", "err", err)
	}
}

// Traffic returns what a deployment's roles answered from fromHour to toHour (Unix
// seconds of hours' starts, both included): the store's hours and those not yet
// flushed, added up.
func (m *Manager) Traffic(ctx context.Context, name string, fromHour, toHour int64) ([]TrafficHour, error) {
	mt := m.opts.Metrics
	mt.flushMu.RLock()
	defer mt.flushMu.RUnlock()
	var hs []TrafficHour
	if m.opts.Traffic != nil {
		stored, err := m.opts.Traffic.Traffic(ctx, name, fromHour, toHour)
		if err != nil {
			return nil, err
		}
		hs = stored
	}
	for _, h := range mt.unflushedOf(name) {
		if h.Hour >= fromHour && h.Hour <= toHour {
			hs = append(hs, h)
		}
	}
	return mergeHours(hs), nil
}

// HourStats is what one role of a deployment answered during one hour.
type HourStats struct {
	Role string `json:"role"`
	// Start is the hour's start, ms since the epoch.
	Start        int64    `json:"start"`
	Requests     uint64   `json:"requests"`
	Failures     uint64   `json:"failures"`
	ClientErrors uint64   `json:"client_errors"`
	ErrorRate    float64  `json:"error_rate"`
	Latency      *Latency `json:"latency_seconds,omitempty"`
	// MeanLatency is the hour's mean latency in seconds; 0 without requests.
	MeanLatency float64 `json:"mean_latency_seconds"`
}

// checkHistoryWindow accepts windows of whole hours up to the retention period.
func checkHistoryWindow(w time.Duration) error {
	if w%time.Hour != 0 || w > TrafficRetention {
		return fault.Invalidf("a window over %s must be whole hours up to %s, got %s", MaxStatsWindow, TrafficRetention, w)
	}
	return nil
}

// HistoryStats returns a deployment's stats over a window longer than the live stats
// keep: whole hours, the current one included, from the traffic history, with each
// role's hours that saw traffic.
func (m *Manager) HistoryStats(ctx context.Context, name string, window time.Duration) (*DeploymentStats, error) {
	if window <= MaxStatsWindow {
		return m.Stats(name, window)
	}
	if err := checkHistoryWindow(window); err != nil {
		return nil, err
	}
	if _, err := m.Lookup(name); err != nil {
		return nil, err
	}
	to := time.Now().Unix() / 3600 * 3600
	from := to - int64(window/time.Second) + 3600
	hs, err := m.Traffic(ctx, name, from, to)
	if err != nil {
		return nil, err
	}
	return historyStats(name, window, from, hs), nil
}

func historyStats(name string, window time.Duration, from int64, hs []TrafficHour) *DeploymentStats {
	out := &DeploymentStats{Deployment: name, Window: window.String(), Seconds: int64(window / time.Second), Roles: []RoleStats{},
		Since: from * 1000, Hourly: make([]HourStats, 0, len(hs))}
	totals := map[string]*TrafficHour{}
	for _, h := range hs {
		out.Hourly = append(out.Hourly, hourStats(h))
		t := totals[h.Role]
		if t == nil {
			t = &TrafficHour{Role: h.Role}
			totals[h.Role] = t
		}
		t.add(h)
	}
	for role, t := range totals {
		out.Roles = append(out.Roles, roleStats(role, t.slot(), window))
	}
	sort.Slice(out.Roles, func(i, j int) bool { return roleOrder[out.Roles[i].Role] < roleOrder[out.Roles[j].Role] })
	return out
}

func hourStats(h TrafficHour) HourStats {
	hs := HourStats{Role: h.Role, Start: h.Hour * 1000, Requests: h.Requests, Failures: h.Failures, ClientErrors: h.ClientErrors}
	if h.Requests > 0 {
		hs.ErrorRate = float64(h.Failures) / float64(h.Requests)
		hs.MeanLatency = h.LatencySum / float64(h.Requests)
		hs.Latency = latencyOf(h.slot())
	}
	return hs
}
