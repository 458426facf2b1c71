package serving

import (
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the serving metrics, labelled by deployment, model, version and role
// (primary, canary or shadow), named after Triton's and MLServer's so that existing
// dashboards translate.
type Metrics struct {
	requests  *prometheus.CounterVec
	failures  *prometheus.CounterVec
	request   *prometheus.HistogramVec
	queue     *prometheus.HistogramVec
	compute   *prometheus.HistogramVec
	batchSize *prometheus.HistogramVec
	inFlight  *prometheus.GaugeVec
	ready     *prometheus.GaugeVec
	payloads  *prometheus.CounterVec

	// users counts the loaded model versions behind each label set: a version
	// reloaded with new settings shares its series with the copy it replaces, and the
	// series go when the last of them is unloaded.
	mu    sync.Mutex
	users map[string]int
	// live is what each role of each deployment answered lately, by deployment and
	// role: for live stats over a window, which cumulative histograms cannot give.
	live map[string]*liveRole
	// hourly says whether live records keep hours for the traffic history (a manager
	// with a TrafficStore sets it); unflushed holds the hours of records dropped, or
	// of a flush that failed, until the next flush.
	hourly    bool
	unflushed []TrafficHour
	// flushMu orders flushes against readers of the history, so that an hour is read
	// either from memory or from the store, never both or neither.
	flushMu sync.RWMutex
}

var modelLabels = []string{"deployment", "model", "version", "role"}

// latencyBuckets run from 100µs to 30s: inference on tabular models is sub-millisecond,
// worker calls a few milliseconds, and a deadline 30 s.
var latencyBuckets = prometheus.ExponentialBucketsRange(0.0001, 30, 18)

// NewMetrics registers the serving metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mlship_inference_requests_total",
			Help: "Inference requests answered, successful or not."}, modelLabels),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mlship_inference_failures_total",
			Help: "Inference requests that failed, by reason (invalid, queue_full, deadline, unavailable, internal)."},
			append(modelLabels, "reason")),
		request: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mlship_inference_request_duration_seconds",
			Help: "Time from a request's arrival at the model to its answer.", Buckets: latencyBuckets}, modelLabels),
		queue: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mlship_inference_queue_duration_seconds",
			Help: "Time requests waited in the model's queue before a batch took them.", Buckets: latencyBuckets}, modelLabels),
		compute: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mlship_inference_compute_duration_seconds",
			Help: "Time the runtime took to predict one batch.", Buckets: latencyBuckets}, modelLabels),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mlship_inference_batch_size",
			Help: "Requests per batch the runtime ran.", Buckets: prometheus.ExponentialBuckets(1, 2, 10)}, modelLabels),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mlship_inference_in_flight",
			Help: "Requests queued or running at the model."}, modelLabels),
		ready: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mlship_deployment_ready",
			Help: "1 when the deployment has a warmed-up model serving, 0 otherwise."}, []string{"deployment"}),
		payloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mlship_payload_log_records_total",
			Help: "Payload log records, by outcome (written, dropped)."}, []string{"deployment", "outcome"}),
		users: map[string]int{}, live: map[string]*liveRole{},
	}
	reg.MustRegister(m.requests, m.failures, m.request, m.queue, m.compute, m.batchSize, m.inFlight, m.ready, m.payloads)
	return m
}

// modelMetrics are the metrics of one served model version, bound to its labels once
// so that the hot path does no label lookups.
type modelMetrics struct {
	parent    *Metrics
	labels    []string
	requests  prometheus.Counter
	request   prometheus.Observer
	queue     prometheus.Observer
	compute   prometheus.Observer
	batchSize prometheus.Observer
	inFlight  prometheus.Gauge
	live      *liveRole
}

func (m *Metrics) forModel(deployment, model, version, role string) *modelMetrics {
	l := []string{deployment, model, version, role}
	m.mu.Lock()
	m.users[strings.Join(l, "\x00")]++
	m.mu.Unlock()
	return &modelMetrics{
		parent: m, labels: l,
		requests: m.requests.WithLabelValues(l...), request: m.request.WithLabelValues(l...),
		queue: m.queue.WithLabelValues(l...), compute: m.compute.WithLabelValues(l...),
		batchSize: m.batchSize.WithLabelValues(l...), inFlight: m.inFlight.WithLabelValues(l...),
		live: m.liveFor(deployment, role),
	}
}

func (mm *modelMetrics) fail(reason string) {
	mm.parent.failures.WithLabelValues(append(mm.labels[:4:4], reason)...).Inc()
	mm.live.failed(time.Now(), reason)
}

func (mm *modelMetrics) done(start time.Time) {
	mm.requests.Inc()
	now := time.Now()
	took := now.Sub(start).Seconds()
	mm.request.Observe(took)
	mm.live.observe(now, took)
}

// forget drops the series of a model version that no longer serves.
func (mm *modelMetrics) forget() {
	p := mm.parent
	p.dropLive(mm.labels[0], mm.labels[3])
	key := strings.Join(mm.labels, "\x00")
	p.mu.Lock()
	p.users[key]--
	last := p.users[key] <= 0
	if last {
		delete(p.users, key)
	}
	p.mu.Unlock()
	if !last {
		return
	}
	for _, v := range []interface{ DeleteLabelValues(...string) bool }{p.requests, p.request, p.queue, p.compute, p.batchSize, p.inFlight} {
		v.DeleteLabelValues(mm.labels...)
	}
}
