// Package monitor watches deployments' live traffic for drift: it profiles windows of
// each monitored deployment's payload log, compares them with the data the served
// model version learned from (found through its lineage), stores every window's
// result, exports it as Prometheus gauges, and calls a webhook when drift appears.
package monitor

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlship/mlship/internal/dataset"
	"github.com/mlship/mlship/internal/datasets"
	"github.com/mlship/mlship/internal/drift"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/netguard"
	"github.com/mlship/mlship/internal/serving"
	"github.com/mlship/mlship/internal/store"
	events "github.com/mlship/mlship/internal/webhooks"
)

// TrainingData finds the dataset version a model version learned from.
type TrainingData func(ctx context.Context, model, version string) (*datasets.Version, error)

// Options configure a Monitor.
type Options struct {
	Deployments *serving.Manager
	Datasets    *datasets.Service
	Training    TrainingData
	DB          *store.DB
	Registerer  prometheus.Registerer
	Logger      *slog.Logger
	// Interval is how often windows are checked; default 1s.
	Interval time.Duration
	// Outbound says which non-public destinations webhooks may reach; nil allows
	// public addresses only.
	Outbound *netguard.Policy
	// Webhooks sends the webhook calls; default a client with a 10 s timeout whose
	// connections Outbound guards.
	Webhooks *http.Client
	// Events records drift.detected for the server's webhooks, in the write of the
	// window that found it; nil records none.
	Events events.Recorder
}

// Defaults of a deployment's monitoring.
const (
	DefaultWindow  = time.Minute
	DefaultMinRows = 100
	// maxWindowRecords caps the payload records one window reads.
	maxWindowRecords = 100_000
	pageSize         = 1000
)

// Monitor checks the monitored deployments' windows.
type Monitor struct {
	opts    Options
	score   *prometheus.GaugeVec
	drifted *prometheus.GaugeVec
	dataset *prometheus.GaugeVec
	windows *prometheus.CounterVec
	hooks   *prometheus.CounterVec

	mu     sync.Mutex
	states map[string]*state
}

// state is where a deployment's monitoring stands.
type state struct {
	at          cursor // the last payload record taken into a window
	windowStart time.Time
	drifting    bool // the last window found drift: the webhook has fired
}

// New returns a monitor; Run starts it.
func New(opts Options) *Monitor {
	if opts.Interval == 0 {
		opts.Interval = time.Second
	}
	if opts.Webhooks == nil {
		opts.Webhooks = opts.Outbound.Client(10 * time.Second)
	}
	m := &Monitor{opts: opts, states: map[string]*state{},
		score: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mlship_drift_score",
			Help: "The drift score of a column in the deployment's last window: a p-value or a distance, by its test."},
			[]string{"deployment", "column"}),
		drifted: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mlship_drift_detected",
			Help: "1 when the column drifted in the deployment's last window."}, []string{"deployment", "column"}),
		dataset: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mlship_dataset_drift",
			Help: "1 when the deployment's last window drifted as a whole (at least half its columns)."}, []string{"deployment"}),
		windows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mlship_drift_windows_total",
			Help: "Windows of traffic compared, by outcome (compared, failed)."}, []string{"deployment", "outcome"}),
		hooks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mlship_drift_webhooks_total",
			Help: "Drift webhook calls, by outcome (delivered, failed, refused: the destination is not allowed)."}, []string{"deployment", "outcome"}),
	}
	opts.Registerer.MustRegister(m.score, m.drifted, m.dataset, m.windows, m.hooks)
	return m
}

// Run checks windows until ctx ends. Each run starts every deployment's window anew.
func (m *Monitor) Run(ctx context.Context) {
	m.mu.Lock()
	m.states = map[string]*state{}
	m.mu.Unlock()
	t := time.NewTicker(m.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, d := range m.opts.Deployments.List() {
			spec := d.Spec()
			if spec.Monitoring == nil {
				continue
			}
			if err := m.check(ctx, d, spec); err != nil && ctx.Err() == nil {
				m.windows.WithLabelValues(spec.Name, "failed").Inc()
				m.opts.Logger.Warn("drift window failed", "deployment", spec.Name, "err", err)
			}
		}
	}
}

func (m *Monitor) state(ctx context.Context, name string) (*state, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if st, ok := m.states[name]; ok {
		return st, nil
	}
	// A deployment's first window starts now: traffic from before monitoring began
	// is not judged against a model that may not have served it.
	at, err := m.start(ctx, name)
	if err != nil {
		return nil, err
	}
	st := &state{at: at, windowStart: time.Now()}
	m.states[name] = st
	return st, nil
}

// check compares the deployment's window when it is long and full enough.
func (m *Monitor) check(ctx context.Context, d *serving.Deployment, spec serving.Spec) error {
	mon := *spec.Monitoring
	window := cmp(time.Duration(mon.Window), DefaultWindow)
	minRows := int64(cmp(mon.MinRows, DefaultMinRows))
	st, err := m.state(ctx, spec.Name)
	if err != nil || time.Since(st.windowStart) < window {
		return err
	}
	meta, served, ok := d.Metadata()
	if !ok {
		return nil
	}
	w, err := m.readWindow(ctx, spec.Name, st.at, meta)
	if err != nil || w.rows < minRows {
		return err
	}
	ref, err := m.reference(ctx, mon, served)
	if err != nil {
		return err
	}
	profile := w.profiler.Profile()
	report, err := m.opts.Datasets.CompareProfile(ctx, ref, profile, &drift.Options{Columns: common(ref, profile)})
	if err != nil {
		return err
	}
	res := result{Deployment: spec.Name, Model: served.Model, Version: served.Version,
		Reference: fmt.Sprintf("%s/%d", ref.Name, ref.Version), StartMs: st.windowStart.UnixMilli(),
		EndMs: time.Now().UnixMilli(), Rows: w.rows, DatasetDrift: report.DatasetDrift, Report: report}
	for _, c := range report.Results {
		if c.Drifted {
			res.DriftedColumns = append(res.DriftedColumns, c.Name)
		}
	}
	found := len(res.DriftedColumns) > 0
	if err := m.store(ctx, &res, found && !st.drifting); err != nil {
		return err
	}
	m.export(spec.Name, report)
	st.at, st.windowStart = w.last, time.Now()
	if found && !st.drifting && mon.Webhook != "" {
		m.notify(ctx, mon.Webhook, &res)
	}
	st.drifting = found
	return nil
}

func cmp[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// common are the reference's columns that the window has: the model's inputs, not its
// target.
func common(ref *datasets.Version, p *dataset.Profile) []string {
	var out []string
	for _, f := range ref.Schema.Fields {
		if p.Column(f.Name) != nil {
			out = append(out, f.Name)
		}
	}
	if out == nil {
		return []string{"\x00no common column"} // compared as such, the report says why
	}
	return out
}

// reference is the dataset version the window is compared with.
func (m *Monitor) reference(ctx context.Context, mon serving.Monitoring, served serving.Version) (*datasets.Version, error) {
	if mon.Reference != "" {
		return m.opts.Datasets.ParseRef(ctx, mon.Reference)
	}
	v, err := m.opts.Training(ctx, served.Model, served.Version)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, fault.Invalidf("model %s version %s has no registered training dataset in its lineage: log one with mlflow.log_input, or set monitoring.reference", served.Model, served.Version)
	}
	return v, nil
}

// export sets the gauges to the last window's results.
func (m *Monitor) export(name string, r *drift.Report) {
	m.windows.WithLabelValues(name, "compared").Inc()
	m.score.DeletePartialMatch(prometheus.Labels{"deployment": name})
	m.drifted.DeletePartialMatch(prometheus.Labels{"deployment": name})
	for _, c := range r.Results {
		if !c.Score.IsZero() {
			m.score.WithLabelValues(name, c.Name).Set(c.Score.V)
		}
		m.drifted.WithLabelValues(name, c.Name).Set(boolGauge(c.Drifted))
	}
	m.dataset.WithLabelValues(name).Set(boolGauge(r.DatasetDrift))
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// notify posts the window's result to the webhook, retrying twice.
func (m *Monitor) notify(ctx context.Context, url string, res *result) {
	body, err := json.Marshal(webhookBody{Event: "drift_detected", Window: res.summary()})
	if err != nil {
		return
	}
	for attempt := range 3 {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			m.opts.Logger.Warn("drift webhook not sent", "deployment", res.Deployment, "err", err)
			return
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := m.opts.Webhooks.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 300 {
				m.hooks.WithLabelValues(res.Deployment, "delivered").Inc()
				return
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if errors.Is(err, netguard.ErrRefused) {
			m.hooks.WithLabelValues(res.Deployment, "refused").Inc()
			m.opts.Logger.Warn("drift webhook refused", "deployment", res.Deployment, "err", err)
			return
		}
		m.hooks.WithLabelValues(res.Deployment, "failed").Inc()
		m.opts.Logger.Warn("drift webhook failed", "deployment", res.Deployment, "attempt", attempt+1, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(attempt+1) * time.Second):
		}
	}
}

// CheckWebhook refuses a webhook URL whose host is a literal address that the outbound
// policy does not allow, so that a spec naming one is refused when it is written. URLs
// with host names are checked on every connection.
func (m *Monitor) CheckWebhook(url string) error {
	if url == "" {
		return nil
	}
	if err := m.opts.Outbound.CheckURL(url); err != nil {
		return fault.Invalidf("monitoring.webhook %q: the server does not connect to loopback, private or link-local "+
			"addresses unless the operator allows them with --allowed-outbound", url)
	}
	return nil
}

type webhookBody struct {
	Event  string  `json:"event"`
	Window Summary `json:"window"`
}

// result is one compared window.
type result struct {
	ID             int64
	Deployment     string
	Model, Version string
	Reference      string
	StartMs, EndMs int64
	Rows           int64
	DatasetDrift   bool
	DriftedColumns []string
	Report         *drift.Report
}

// Summary is a window as the API lists it.
type Summary struct {
	ID             int64    `json:"id"`
	Deployment     string   `json:"deployment"`
	Model          string   `json:"model"`
	Version        string   `json:"version"`
	Reference      string   `json:"reference"`
	StartMs        int64    `json:"start_ms"`
	EndMs          int64    `json:"end_ms"`
	Rows           int64    `json:"rows"`
	DatasetDrift   bool     `json:"dataset_drift"`
	DriftedColumns []string `json:"drifted_columns"`
	// Report is the whole drift report, when asked for.
	Report json.RawMessage `json:"report,omitempty"`
}

func (r *result) summary() Summary {
	cols := r.DriftedColumns
	if cols == nil {
		cols = []string{}
	}
	return Summary{ID: r.ID, Deployment: r.Deployment, Model: r.Model, Version: r.Version, Reference: r.Reference,
		StartMs: r.StartMs, EndMs: r.EndMs, Rows: r.Rows, DatasetDrift: r.DatasetDrift, DriftedColumns: cols}
}

// store writes a window's result and, when announce is set (drift has appeared), its
// drift.detected event, in one transaction.
func (m *Monitor) store(ctx context.Context, r *result, announce bool) error {
	report, err := json.Marshal(r.Report)
	if err != nil {
		return err
	}
	cols, _ := json.Marshal(r.summary().DriftedColumns)
	announce = announce && m.opts.Events != nil
	err = m.opts.DB.Write(ctx, func(tx *store.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO drift_windows (deployment, model, version, reference, start_ms, end_ms,
			rows, dataset_drift, drifted_columns, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			r.Deployment, r.Model, r.Version, r.Reference, r.StartMs, r.EndMs, r.Rows, r.DatasetDrift, string(cols), string(report)).Scan(&r.ID)
		if err != nil || !announce {
			return err
		}
		return m.opts.Events.Record(ctx, tx, events.DriftDetected, driftEvent(r.summary()))
	})
	if err == nil && announce {
		m.opts.Events.Committed()
	}
	return err
}

// driftEvent is the payload of drift.detected: the window, without its report.
func driftEvent(s Summary) any {
	return struct {
		Deployment     string   `json:"deployment"`
		Model          string   `json:"model"`
		Version        string   `json:"version"`
		Reference      string   `json:"reference"`
		WindowID       int64    `json:"window_id"`
		StartMs        int64    `json:"start_ms"`
		EndMs          int64    `json:"end_ms"`
		Rows           int64    `json:"rows"`
		DatasetDrift   bool     `json:"dataset_drift"`
		DriftedColumns []string `json:"drifted_columns"`
	}{s.Deployment, s.Model, s.Version, s.Reference, s.ID, s.StartMs, s.EndMs, s.Rows, s.DatasetDrift, s.DriftedColumns}
}

// List returns a deployment's windows, newest first, at most limit; with reports,
// each carries its whole drift report.
func (m *Monitor) List(ctx context.Context, deployment string, limit int, reports bool) ([]Summary, error) {
	out := []Summary{}
	err := store.ScanEach(ctx, m.opts.DB.Reader(), `SELECT id, deployment, model, version, reference, start_ms, end_ms, rows,
		dataset_drift, drifted_columns, report FROM drift_windows WHERE deployment = ? ORDER BY id DESC LIMIT ?`,
		[]any{deployment, limit}, func(rows *sql.Rows) error {
			var s Summary
			var cols, report string
			if err := rows.Scan(&s.ID, &s.Deployment, &s.Model, &s.Version, &s.Reference, &s.StartMs, &s.EndMs, &s.Rows,
				&s.DatasetDrift, &cols, &report); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(cols), &s.DriftedColumns); err != nil {
				return err
			}
			if reports {
				s.Report = json.RawMessage(report)
			}
			out = append(out, s)
			return nil
		})
	if err == nil && len(out) == 0 {
		if _, lookupErr := m.opts.Deployments.Lookup(deployment); lookupErr != nil {
			return nil, lookupErr
		}
	}
	return out, err
}
