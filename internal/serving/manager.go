// Package serving runs deployments: each follows a model reference (a registry alias,
// a version, a run's model or a local directory), loads the version it names through
// a runtime, hot-swaps it when the reference moves, batches and queues requests,
// splits traffic between a primary, a canary and a shadow, samples payloads, and
// answers the inference protocols (Open Inference Protocol v2 with Triton's binary
// extension, MLflow's /invocations and KServe v1).
package serving

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
)

// Source resolves model references and brings their files to local disk.
type Source interface {
	// Resolve returns the exact version a reference names now.
	Resolve(ctx context.Context, ref string) (Version, error)
	// Fetch returns a local directory holding the version's files.
	Fetch(ctx context.Context, v Version) (dir string, err error)
}

// RuntimeFactory returns the runtime named name, set up for spec (its workers, its
// command).
type RuntimeFactory func(name string, spec Spec) (runtime.Runtime, error)

// Store keeps deployment specs across restarts.
type Store interface {
	ListDeployments(ctx context.Context) ([]Spec, error)
	PutDeployment(ctx context.Context, spec Spec, create bool) error
	DeleteDeployment(ctx context.Context, name string) error
}

// PayloadRecord is one sampled request and its answer.
type PayloadRecord struct {
	Deployment, Model, Version, Role string
	RequestID                        string
	Time                             time.Time
	Latency                          time.Duration
	Request                          *runtime.Request
	Response                         *runtime.Response
	Error                            string
}

// PayloadSink takes sampled payloads. Record must not block: it returns false when it
// dropped the record.
type PayloadSink interface {
	Record(PayloadRecord) bool
}

// Options configure a Manager.
type Options struct {
	Source   Source
	Runtimes RuntimeFactory
	Metrics  *Metrics
	Store    Store       // nil: deployments live in memory only (mlship serve)
	Payloads PayloadSink // nil: no payload log
	// Traffic keeps the hourly traffic history; nil: live stats only (mlship serve).
	// TrafficFlush is how often it is written (default DefaultTrafficFlush).
	Traffic      TrafficStore
	TrafficFlush time.Duration
	Logger       *slog.Logger
	// PollInterval is how often references are resolved again to follow aliases.
	PollInterval time.Duration
	// CheckRuntime, if set, refuses a runtime name that no runtime answers to (see
	// RuntimeConfig.Check).
	CheckRuntime func(name string) error
	// Changed, if set, is called after a deployment is created, updated or deleted
	// in Store: servers sharing the store then Sync.
	Changed func(ctx context.Context)
	// Swapped, if set, is called after a role of a deployment swaps from one model
	// version to another (not when a version first loads); every server serving the
	// deployment calls it.
	Swapped func(ctx context.Context, deployment, role string, from, to Version)
}

// Manager owns the deployments of one process.
type Manager struct {
	opts        Options
	logger      *slog.Logger
	ctx         context.Context
	shadowSlots chan struct{}

	mu          sync.RWMutex
	deployments map[string]*Deployment
	// specMu orders the changes of specs (create, replace, update, delete), so that
	// two creations over one failed deployment cannot both replace it.
	specMu sync.Mutex
}

// maxShadowInFlight caps mirrored requests in flight across deployments.
const maxShadowInFlight = 256

// NewManager returns a manager; Start loads the stored deployments.
func NewManager(opts Options) *Manager {
	if opts.PollInterval == 0 {
		opts.PollInterval = time.Second
	}
	if opts.TrafficFlush <= 0 {
		opts.TrafficFlush = DefaultTrafficFlush
	}
	opts.Metrics.hourly = opts.Traffic != nil
	return &Manager{opts: opts, logger: opts.Logger, ctx: context.Background(), deployments: map[string]*Deployment{},
		shadowSlots: make(chan struct{}, maxShadowInFlight)}
}

// Start loads the stored deployments and starts serving them. Models load in the
// background; a deployment is ready when its model has warmed up.
func (m *Manager) Start(ctx context.Context) error {
	m.ctx = ctx
	if m.opts.Traffic != nil {
		go m.flushTraffic(ctx)
	}
	if m.opts.Store == nil {
		return nil
	}
	specs, err := m.opts.Store.ListDeployments(ctx)
	if err != nil {
		return err
	}
	for _, s := range specs {
		if err := m.admit(s); err != nil {
			m.logger.Error("stored deployment refused; it serves nothing until it is updated", "deployment", s.Name, "err", storedRefusal(s, err))
		}
		m.run(s)
	}
	return nil
}

// admit checks a spec as a user gave it, and the runtime it names.
func (m *Manager) admit(spec Spec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	if m.opts.CheckRuntime != nil {
		return m.opts.CheckRuntime(spec.Runtime)
	}
	return nil
}

// storedRefusal says why a stored spec, which was valid when it was stored, no longer
// runs, and how to fix it.
func storedRefusal(spec Spec, err error) error {
	if errors.Is(err, ErrCommandInSpec) {
		return fault.New(fault.Invalid, "deployment %q was stored with a command line, which mlship no longer runs: "+
			"the operator declares the worker as a runtime in `mlship server --runtimes-config FILE`, "+
			"then `mlship deploy update %s %s --runtime NAME` names it", spec.Name, spec.Name, spec.Model)
	}
	return fault.Wrap(fault.Invalid, err, "deployment %q as stored is refused: %s; fix it with `mlship deploy update`", spec.Name, fault.Message(err))
}

// run starts a deployment of spec, in place of the one of that name if there is one.
func (m *Manager) run(spec Spec) *Deployment {
	d := newDeployment(m, spec.withDefaults())
	m.mu.Lock()
	old := m.deployments[spec.Name]
	m.deployments[spec.Name] = d
	m.mu.Unlock()
	if old != nil {
		old.stop()
	}
	d.start(m.ctx)
	return d
}

// Create validates, stores and starts a deployment. A deployment of that name that
// serves or is loading is left alone (already exists); one whose model failed to load
// and serves nothing is replaced, so that creating it again after a failure works.
func (m *Manager) Create(ctx context.Context, spec Spec) (*Deployment, error) {
	if err := m.admit(spec); err != nil {
		return nil, err
	}
	m.specMu.Lock()
	defer m.specMu.Unlock()
	replace := false
	if d, ok := m.Get(spec.Name); ok {
		if d.Status().State != StateFailed {
			return nil, fault.New(fault.AlreadyExists, "deployment %q already exists; update it or choose another name", spec.Name)
		}
		replace = true
		m.logger.Info("deployment failed to load; a new creation replaces it", "deployment", spec.Name, "err", d.Status().Error)
	}
	if m.opts.Store != nil {
		if err := m.opts.Store.PutDeployment(ctx, spec, !replace); err != nil {
			return nil, err
		}
		defer m.changed(ctx)
	}
	return m.run(spec), nil
}

// Update replaces a deployment's spec. What changed loads beside what serves, and
// traffic moves once it is ready.
func (m *Manager) Update(ctx context.Context, spec Spec) (*Deployment, error) {
	if err := m.admit(spec); err != nil {
		return nil, err
	}
	m.specMu.Lock()
	defer m.specMu.Unlock()
	d, ok := m.Get(spec.Name)
	if !ok {
		return nil, fault.NotFoundf("deployment %q does not exist", spec.Name)
	}
	if m.opts.Store != nil {
		if err := m.opts.Store.PutDeployment(ctx, spec, false); err != nil {
			return nil, err
		}
		defer m.changed(ctx)
	}
	d.update(spec.withDefaults())
	return d, nil
}

// Delete stops a deployment, unloads its models and forgets it.
func (m *Manager) Delete(ctx context.Context, name string) error {
	m.specMu.Lock()
	defer m.specMu.Unlock()
	d, ok := m.Get(name)
	if !ok {
		return fault.NotFoundf("deployment %q does not exist", name)
	}
	if m.opts.Store != nil {
		if err := m.opts.Store.DeleteDeployment(ctx, name); err != nil {
			return err
		}
		defer m.changed(ctx)
	}
	m.forget(name, d)
	return nil
}

func (m *Manager) forget(name string, d *Deployment) {
	m.mu.Lock()
	delete(m.deployments, name)
	m.mu.Unlock()
	d.stop()
}

// changed says that the stored deployments changed; m.specMu is held, and is released
// before the servers sharing the store Sync.
func (m *Manager) changed(ctx context.Context) {
	if m.opts.Changed != nil {
		go m.opts.Changed(context.WithoutCancel(ctx))
	}
}

// Sync makes this process's deployments the stored ones: after a server sharing the
// store created, updated or deleted one. A deployment whose spec is unchanged is left
// as it is.
func (m *Manager) Sync(ctx context.Context) error {
	if m.opts.Store == nil {
		return nil
	}
	specs, err := m.opts.Store.ListDeployments(ctx)
	if err != nil {
		return err
	}
	m.specMu.Lock()
	defer m.specMu.Unlock()
	stored := map[string]bool{}
	for _, spec := range specs {
		stored[spec.Name] = true
		d, ok := m.Get(spec.Name)
		if ok && sameSpec(d.Spec(), spec.withDefaults()) {
			continue
		}
		if err := m.admit(spec); err != nil {
			m.logger.Error("stored deployment refused; it serves nothing until it is updated", "deployment", spec.Name, "err", storedRefusal(spec, err))
		}
		if ok {
			m.logger.Info("deployment changed on another server", "deployment", spec.Name)
			d.update(spec.withDefaults())
			continue
		}
		m.logger.Info("deployment created on another server", "deployment", spec.Name)
		m.run(spec)
	}
	for _, d := range m.List() {
		if !stored[d.Name()] {
			m.logger.Info("deployment deleted on another server", "deployment", d.Name())
			m.forget(d.Name(), d)
		}
	}
	return nil
}

// sameSpec reports whether two specs say the same, as stored.
func sameSpec(a, b Spec) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// Get returns the deployment named name.
func (m *Manager) Get(name string) (*Deployment, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	d, ok := m.deployments[name]
	return d, ok
}

// Lookup returns the deployment named name, or a not-found error that says so.
func (m *Manager) Lookup(name string) (*Deployment, error) {
	if d, ok := m.Get(name); ok {
		return d, nil
	}
	return nil, fault.NotFoundf("no deployment named %q", name)
}

// List returns the deployments sorted by name.
func (m *Manager) List() []*Deployment {
	m.mu.RLock()
	out := make([]*Deployment, 0, len(m.deployments))
	for _, d := range m.deployments {
		out = append(out, d)
	}
	m.mu.RUnlock()
	slices.SortFunc(out, func(a, b *Deployment) int { return strings.Compare(a.Name(), b.Name()) })
	return out
}

// Ready reports whether every deployment has a model serving.
func (m *Manager) Ready() bool {
	for _, d := range m.List() {
		if !d.Ready() {
			return false
		}
	}
	return true
}

// Poke makes every deployment resolve its references now (after an alias moved).
func (m *Manager) Poke() {
	for _, d := range m.List() {
		d.poke()
	}
}

// Close stops every deployment and unloads its models.
func (m *Manager) Close() {
	for _, d := range m.List() {
		d.stop()
	}
	m.finalFlush()
}

// record samples one answered request into the payload log.
func (m *Manager) record(spec Spec, s *served, requestID string, req *runtime.Request, resp *runtime.Response, err error, start time.Time) {
	if m.opts.Payloads == nil || spec.PayloadLog == nil || spec.PayloadLog.SampleRate <= 0 || rand.Float64() >= spec.PayloadLog.SampleRate {
		return
	}
	rec := PayloadRecord{Deployment: spec.Name, Model: s.version.Model, Version: s.version.Version, Role: s.role,
		RequestID: requestID, Time: start, Latency: time.Since(start), Request: req, Response: resp}
	if err != nil {
		rec.Error = err.Error()
	}
	outcome := "written"
	if !m.opts.Payloads.Record(rec) {
		outcome = "dropped"
	}
	m.opts.Metrics.payloads.WithLabelValues(spec.Name, outcome).Inc()
}

// payloadLister is a payload sink that can list what it kept.
type payloadLister interface {
	List(ctx context.Context, deployment string, sinceMs, afterID int64, limit int) ([]StoredPayload, error)
}

// ListPayloads returns a deployment's payload log from sinceMs on, after the record
// afterID, oldest first.
func (m *Manager) ListPayloads(ctx context.Context, name string, sinceMs, afterID int64, limit int) ([]StoredPayload, error) {
	if _, err := m.Lookup(name); err != nil {
		return nil, err
	}
	l, ok := m.opts.Payloads.(payloadLister)
	if !ok {
		return nil, fault.New(fault.NotImplemented, "this process keeps no payload log")
	}
	return l.List(ctx, name, sinceMs, afterID, limit)
}
