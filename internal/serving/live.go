package serving

import (
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mlship/mlship/internal/fault"
)

// A deployment's live stats reach back over each second of the last five minutes and
// each minute of the last hour: the Prometheus histograms are cumulative since the
// process started, and a window needs what happened within it. Memory is fixed per
// deployment and role, whatever the traffic.
const (
	liveSeconds = 300
	liveMinutes = 60
	// MaxStatsWindow is the longest window live stats answer for.
	MaxStatsWindow = liveMinutes * time.Minute
)

// liveSlot is what one role of a deployment answered during one slot of time.
type liveSlot struct {
	at                 int64 // the slot's start, in units of its ring's resolution
	requests, failures uint64
	invalid            uint64 // failures that were the client's (bad input)
	buckets            [len(liveBounds) + 1]uint64
	latency            float64 // seconds summed over requests; kept in hourly slots only
}

// liveBounds are the latency buckets' upper bounds, in seconds: the serving
// histograms' own.
var liveBounds = [18]float64(latencyBuckets)

// liveRing is a ring of slots of res seconds each.
type liveRing struct {
	res   int64
	slots []liveSlot
}

func newLiveRing(res int64, n int) liveRing { return liveRing{res: res, slots: make([]liveSlot, n)} }

// slot returns the slot of second t, cleared when it last held an older slot.
func (r *liveRing) slot(t int64) *liveSlot {
	at := t / r.res
	s := &r.slots[at%int64(len(r.slots))]
	if s.at != at {
		*s = liveSlot{at: at}
	}
	return s
}

// sum adds up the slots that hold a second of (from, to].
func (r *liveRing) sum(from, to int64) liveSlot {
	var out liveSlot
	for i := range r.slots {
		s := &r.slots[i]
		if start := s.at * r.res; start+r.res-1 <= from || start > to || s.requests == 0 && s.failures == 0 {
			continue
		}
		out.requests += s.requests
		out.failures += s.failures
		out.invalid += s.invalid
		for b, n := range s.buckets {
			out.buckets[b] += n
		}
	}
	return out
}

// liveRole is the live record of one role of a deployment.
type liveRole struct {
	mu               sync.Mutex
	users            int // model versions loaded in this role
	seconds, minutes liveRing
	// hourly says whether to keep hours for the traffic history; hours are its slots
	// not yet flushed to the store (at: the hour since the epoch), oldest first.
	hourly bool
	hours  []liveSlot
}

// hour returns the unflushed slot of second t's hour.
func (l *liveRole) hour(t int64) *liveSlot {
	at := t / 3600
	if n := len(l.hours); n > 0 && l.hours[n-1].at == at {
		return &l.hours[n-1]
	}
	l.hours = append(l.hours, liveSlot{at: at})
	return &l.hours[len(l.hours)-1]
}

func newLiveRole() *liveRole {
	return &liveRole{seconds: newLiveRing(1, liveSeconds), minutes: newLiveRing(60, liveMinutes)}
}

// observe records an answered request and how long it took.
func (l *liveRole) observe(now time.Time, seconds float64) {
	b := sort.SearchFloat64s(liveBounds[:], seconds)
	t := now.Unix()
	l.mu.Lock()
	for _, r := range []*liveRing{&l.seconds, &l.minutes} {
		s := r.slot(t)
		s.requests++
		s.buckets[b]++
	}
	if l.hourly {
		h := l.hour(t)
		h.requests++
		h.buckets[b]++
		h.latency += seconds
	}
	l.mu.Unlock()
}

// failed records that the request observe recorded failed.
func (l *liveRole) failed(now time.Time, reason string) {
	t := now.Unix()
	l.mu.Lock()
	for _, r := range []*liveRing{&l.seconds, &l.minutes} {
		s := r.slot(t)
		s.failures++
		if reason == "invalid" {
			s.invalid++
		}
	}
	if l.hourly {
		h := l.hour(t)
		h.failures++
		if reason == "invalid" {
			h.invalid++
		}
	}
	l.mu.Unlock()
}

// window sums the slots of the last w, from the finest ring that reaches that far.
func (l *liveRole) window(now time.Time, w time.Duration) liveSlot {
	t := now.Unix()
	l.mu.Lock()
	defer l.mu.Unlock()
	if w <= liveSeconds*time.Second {
		return l.seconds.sum(t-int64(w/time.Second), t)
	}
	return l.minutes.sum(t-int64(w/time.Second), t)
}

// liveFor returns the live record of a deployment's role, counting one more user.
func (m *Metrics) liveFor(deployment, role string) *liveRole {
	key := deployment + "\x00" + role
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.live[key]
	if l == nil {
		l = newLiveRole()
		l.hourly = m.hourly
		m.live[key] = l
	}
	l.users++
	return l
}

func splitLiveKey(key string) (deployment, role string) {
	deployment, role, _ = strings.Cut(key, "\x00")
	return deployment, role
}

// dropLive counts one user less of a live record, and forgets it after the last.
func (m *Metrics) dropLive(deployment, role string) {
	key := deployment + "\x00" + role
	m.mu.Lock()
	defer m.mu.Unlock()
	if l := m.live[key]; l != nil {
		if l.users--; l.users <= 0 {
			delete(m.live, key)
			m.keepUnflushed(deployment, role, l)
		}
	}
}

// RoleStats is what one role of a deployment answered over a window.
type RoleStats struct {
	Role     string `json:"role"`
	Requests uint64 `json:"requests"`
	Failures uint64 `json:"failures"`
	// ClientErrors are the failures due to bad input.
	ClientErrors uint64 `json:"client_errors"`
	// RequestRate is requests per second over the window.
	RequestRate float64 `json:"request_rate"`
	// ErrorRate is failures per request: 0 without requests.
	ErrorRate float64 `json:"error_rate"`
	// Latency is estimated from the latency histogram's buckets, in seconds; absent
	// without requests.
	Latency *Latency `json:"latency_seconds,omitempty"`
}

// Latency are latency quantiles, in seconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
}

// DeploymentStats is a deployment's live stats.
type DeploymentStats struct {
	Deployment string      `json:"deployment"`
	Window     string      `json:"window"`
	Seconds    int64       `json:"window_seconds"`
	Roles      []RoleStats `json:"roles"`
	// Since and Hourly are given for windows longer than MaxStatsWindow, read from
	// the traffic history: the first hour's start (ms since the epoch), and each
	// role's hours that saw traffic, oldest first.
	Since  int64       `json:"since,omitempty"`
	Hourly []HourStats `json:"hourly,omitempty"`
}

// roleOrder is the order roles are listed in.
var roleOrder = map[string]int{"primary": 0, "canary": 1, "shadow": 2}

// Stats returns what each role of a deployment answered over the last window, from
// this process's own serving metrics.
func (m *Manager) Stats(name string, window time.Duration) (*DeploymentStats, error) {
	if window < time.Second || window > MaxStatsWindow || window%time.Second != 0 {
		return nil, fault.Invalidf("window must be whole seconds from 1s to %s (or whole hours up to %s, from the traffic history), got %s",
			MaxStatsWindow, TrafficRetention, window)
	}
	if _, err := m.Lookup(name); err != nil {
		return nil, err
	}
	return m.opts.Metrics.stats(name, window, time.Now()), nil
}

func (mt *Metrics) stats(name string, window time.Duration, now time.Time) *DeploymentStats {
	out := &DeploymentStats{Deployment: name, Window: window.String(), Seconds: int64(window / time.Second), Roles: []RoleStats{}}
	mt.mu.Lock()
	roles := map[string]*liveRole{}
	for key, l := range mt.live {
		if d, role := splitLiveKey(key); d == name {
			roles[role] = l
		}
	}
	mt.mu.Unlock()
	for role, l := range roles {
		out.Roles = append(out.Roles, roleStats(role, l.window(now, window), window))
	}
	sort.Slice(out.Roles, func(i, j int) bool { return roleOrder[out.Roles[i].Role] < roleOrder[out.Roles[j].Role] })
	return out
}

func roleStats(role string, s liveSlot, window time.Duration) RoleStats {
	rs := RoleStats{Role: role, Requests: s.requests, Failures: s.failures, ClientErrors: s.invalid,
		RequestRate: float64(s.requests) / window.Seconds()}
	if s.requests > 0 {
		rs.ErrorRate = float64(s.failures) / float64(s.requests)
		rs.Latency = latencyOf(s)
	}
	return rs
}

func latencyOf(s liveSlot) *Latency {
	return &Latency{P50: quantile(s, 0.5), P90: quantile(s, 0.9), P95: quantile(s, 0.95), P99: quantile(s, 0.99)}
}

// quantile estimates a latency quantile as Prometheus's histogram_quantile does: by
// linear interpolation within the bucket that holds it; in the last, unbounded bucket,
// the largest bound.
func quantile(s liveSlot, q float64) float64 {
	rank := q * float64(s.requests)
	var seen float64
	for i, n := range s.buckets {
		if n == 0 || seen+float64(n) < rank {
			seen += float64(n)
			continue
		}
		if i == len(liveBounds) {
			return liveBounds[len(liveBounds)-1]
		}
		lo := 0.0
		if i > 0 {
			lo = liveBounds[i-1]
		}
		return lo + (liveBounds[i]-lo)*(rank-seen)/float64(n)
	}
	return liveBounds[len(liveBounds)-1]
}

// ParseStatsWindow reads a window such as 30s, 5m or 1h.
func ParseStatsWindow(s string) (time.Duration, error) {
	if s == "" {
		return 5 * time.Minute, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fault.Invalidf("window %q is not a duration such as 30s, 5m or 1h", s)
	}
	return d, nil
}
