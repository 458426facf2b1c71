package serving

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
)

// The roles a model version plays in a deployment.
const (
	RolePrimary = "primary"
	RoleCanary  = "canary"
	RoleShadow  = "shadow"
)

// routes is what a deployment serves now. It is replaced whole, atomically, so a
// request sees either the old set or the new one.
type routes struct {
	primary, canary, shadow *served
	spec                    Spec
}

func (r *routes) get(role string) *served {
	switch role {
	case RoleCanary:
		return r.canary
	case RoleShadow:
		return r.shadow
	}
	return r.primary
}

func (r routes) with(role string, s *served) *routes {
	switch role {
	case RoleCanary:
		r.canary = s
	case RoleShadow:
		r.shadow = s
	default:
		r.primary = s
	}
	return &r
}

// The states of a deployment.
const (
	StateLoading = "loading" // nothing serves yet
	StateReady   = "ready"   // a model serves the primary role
	StateFailed  = "failed"  // nothing serves and the last load failed
)

// Status is what a deployment reports about itself.
type Status struct {
	// State is loading (nothing serves yet), ready, or failed (nothing serves and the
	// last load failed).
	State  string        `json:"state"`
	Error  string        `json:"error,omitempty"`
	Models []ModelStatus `json:"models"`
}

// ModelStatus is one model version serving in a role, or failing to load in it.
type ModelStatus struct {
	Role     string    `json:"role"`
	Ref      string    `json:"ref"`
	Model    string    `json:"model,omitempty"`
	Version  string    `json:"version,omitempty"`
	Runtime  string    `json:"runtime,omitempty"`
	Platform string    `json:"platform,omitempty"`
	LoadedAt time.Time `json:"loaded_at,omitzero"`
	// Error is the last failure to resolve or load this role's model. The version
	// that was serving before goes on serving.
	Error string `json:"error,omitempty"`
	// Loading is the stage a load of this role's model is at ("building
	// environment", "starting workers"), while one runs.
	Loading string `json:"loading,omitempty"`
	// Environment describes the Python environment built for the serving version
	// from its requirements: its key, whether it was reused, any warning.
	Environment string `json:"environment,omitempty"`
}

// Deployment serves one spec: it loads the model versions its references name, swaps
// them as the references move, and routes requests among them.
type Deployment struct {
	m      *Manager
	logger *slog.Logger
	spec   atomic.Pointer[Spec]
	routes atomic.Pointer[routes]
	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	errors  map[string]loadError // by role: the last failure
	follows map[string]*follow   // by role: what its loads remember (see follow.go)
	stages  map[string]string    // by role: the stage of the load that runs
}

type loadError struct {
	config string // what failed to load; not retried until it changes or retryAfter passes
	err    error
	at     time.Time
}

// retryFailedLoad is how long a version that failed to load waits before another try.
const retryFailedLoad = 30 * time.Second

func newDeployment(m *Manager, spec Spec) *Deployment {
	d := &Deployment{m: m, logger: m.logger.With("deployment", spec.Name), wake: make(chan struct{}, 1),
		done: make(chan struct{}), errors: map[string]loadError{}, stages: map[string]string{}}
	d.spec.Store(&spec)
	d.routes.Store(&routes{spec: spec})
	return d
}

// Name is the deployment's name.
func (d *Deployment) Name() string { return d.spec.Load().Name }

// Public reports whether the deployment's inference routes answer anyone.
func (d *Deployment) Public() bool { return d.spec.Load().Public() }

// Spec is the deployment's spec with defaults applied.
func (d *Deployment) Spec() Spec { return *d.spec.Load() }

func (d *Deployment) start(ctx context.Context) {
	ctx, d.cancel = context.WithCancel(ctx)
	go d.loop(ctx)
}

func (d *Deployment) loop(ctx context.Context) {
	defer close(d.done)
	t := time.NewTicker(d.m.opts.PollInterval)
	defer t.Stop()
	for {
		d.reconcile(ctx)
		select {
		case <-t.C:
		case <-d.wake:
		case <-ctx.Done():
			return
		}
	}
}

// update replaces the spec; the loop loads what changed beside what serves.
func (d *Deployment) update(spec Spec) {
	d.spec.Store(&spec)
	d.poke()
}

func (d *Deployment) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// stop ends the loop and unloads every model.
func (d *Deployment) stop() {
	d.cancel()
	<-d.done
	r := d.routes.Swap(&routes{spec: d.Spec()})
	for _, s := range []*served{r.primary, r.canary, r.shadow} {
		if s != nil {
			d.retire(s)
		}
	}
	d.m.opts.Metrics.ready.DeleteLabelValues(d.Name())
}

// refs are the model references each role follows under spec.
func refs(spec Spec) map[string]string {
	r := map[string]string{RolePrimary: spec.Model}
	if spec.Canary != nil {
		r[RoleCanary] = spec.Canary.Model
	}
	if spec.Shadow != nil {
		r[RoleShadow] = spec.Shadow.Model
	}
	return r
}

// reconcile brings each role to the version its reference names now.
func (d *Deployment) reconcile(ctx context.Context) {
	spec := d.Spec()
	if err := d.m.admit(spec); err != nil {
		// Only a spec stored before a rule it breaks gets here: nothing of it runs.
		d.setError(RolePrimary, loadError{err: storedRefusal(spec, err), at: time.Now()})
		return
	}
	want := refs(spec)
	for _, role := range []string{RolePrimary, RoleCanary, RoleShadow} {
		ref, ok := want[role]
		cur := d.routes.Load().get(role)
		if !ok {
			if cur != nil {
				d.swap(role, nil, spec)
			}
			d.setError(role, loadError{})
			continue
		}
		d.reconcileRole(ctx, spec, role, ref, cur)
	}
	d.refreshSpec(spec)
	ready := 0.0
	if d.routes.Load().primary != nil {
		ready = 1
	}
	d.m.opts.Metrics.ready.WithLabelValues(spec.Name).Set(ready)
}

func (d *Deployment) reconcileRole(ctx context.Context, spec Spec, role, ref string, cur *served) {
	v, err := d.m.opts.Source.Resolve(ctx, ref)
	if err != nil {
		if ctx.Err() == nil {
			d.setError(role, loadError{err: fmt.Errorf("resolve %s: %w", ref, err), at: time.Now()})
		}
		return
	}
	config := loadConfig(v, spec)
	if cur != nil && cur.config == config {
		d.setError(role, loadError{})
		return
	}
	if last := d.lastError(role); last.config == config && time.Since(last.at) < retryFailedLoad {
		return
	}
	if !d.settled(role) {
		return
	}
	s, err := d.loadFollowing(ctx, spec, role, v, config)
	if errors.Is(err, errSuperseded) {
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			fate := "nothing is served until a version loads"
			if cur != nil {
				fate = "the version before it goes on serving"
			}
			d.logger.Error("model version failed to load; "+fate,
				"role", role, "model", v.Model, "version", v.Version, "err", err)
			d.setError(role, loadError{config: config, err: err, at: time.Now()})
		}
		return
	}
	d.setError(role, loadError{})
	d.swap(role, s, spec)
	d.logger.Info("model version serving", "role", role, "model", v.Model, "version", v.Version, "runtime", s.runtime)
	if cur != nil && d.m.opts.Swapped != nil && (cur.version.Model != v.Model || cur.version.Version != v.Version) {
		d.m.opts.Swapped(ctx, spec.Name, role, cur.version, v)
	}
}

// loadConfig is what a loaded version depends on: its files and the settings that
// shape how it is loaded. A change to any of them loads it anew.
func loadConfig(v Version, spec Spec) string {
	return fmt.Sprintf("%s|%s|%q|%d|%+v|%v", v.Key, spec.Runtime, spec.Command, spec.Workers, spec.Batching, spec.Timeout)
}

// load fetches, loads and warms up a version beside whatever serves now.
func (d *Deployment) load(ctx context.Context, spec Spec, role string, v Version, config string) (*served, error) {
	ctx = runtime.WithProgress(ctx, func(stage string) { d.setStage(role, stage) })
	d.setStage(role, "fetching model")
	defer d.setStage(role, "")
	model, name, err := LoadVersion(ctx, d.m.opts.Source, d.m.opts.Runtimes, v, spec, d.logger.With("role", role))
	if err != nil {
		return nil, err
	}
	mm := d.m.opts.Metrics.forModel(spec.Name, v.Model, v.Version, role)
	return &served{role: role, version: v, runtime: name, config: config, model: model,
		meta: model.Metadata(), metrics: mm, loaded: time.Now(),
		batcher: newBatcher(model, spec.Batching, mm)}, nil
}

// LoadVersion fetches a version's files through source and loads them, warmed up, with
// the runtime that spec names or else the one the files' format calls for: what a
// deployment does with every version it serves, and what anything that must run a
// version as it is served (a benchmark evaluation) calls. It returns the runtime's name.
func LoadVersion(ctx context.Context, source Source, runtimes RuntimeFactory, v Version, spec Spec, logger *slog.Logger) (runtime.Model, string, error) {
	dir, err := source.Fetch(ctx, v)
	if err != nil {
		return nil, "", fmt.Errorf("fetch %s version %s: %w", v.Model, v.Version, err)
	}
	format, err := runtime.Inspect(dir)
	if err != nil {
		return nil, "", err
	}
	name, err := format.Choose(spec.Runtime)
	if err != nil {
		return nil, "", err
	}
	rt, err := runtimes(name, spec)
	if err != nil {
		return nil, "", err
	}
	model, err := rt.Load(ctx, runtime.Spec{Dir: dir, Name: v.Model, Version: v.Version,
		Logger: logger.With("model", v.Model, "version", v.Version)})
	if err != nil {
		return nil, "", fmt.Errorf("load %s version %s with the %s runtime: %w", v.Model, v.Version, name, err)
	}
	return model, name, nil
}

// swap makes s serve in role (nil: nothing) and retires what served there before,
// once its requests in flight are answered.
func (d *Deployment) swap(role string, s *served, spec Spec) {
	var old *served
	for {
		cur := d.routes.Load()
		next := cur.with(role, s)
		next.spec = spec
		if d.routes.CompareAndSwap(cur, next) {
			old = cur.get(role)
			break
		}
	}
	if old != nil && old != s {
		go d.retire(old)
	}
}

// refreshSpec makes routing read spec's weights, shares and sampling: settings that
// need no reload.
func (d *Deployment) refreshSpec(spec Spec) {
	for {
		cur := d.routes.Load()
		if reflect.DeepEqual(cur.spec, spec) {
			return
		}
		next := *cur
		next.spec = spec
		if d.routes.CompareAndSwap(cur, &next) {
			return
		}
	}
}

func (d *Deployment) retire(s *served) {
	if err := s.retire(); err != nil {
		d.logger.Warn("unloading a model version failed", "model", s.version.Model, "version", s.version.Version, "err", err)
	}
}

func (d *Deployment) setError(role string, e loadError) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e.err == nil {
		delete(d.errors, role)
		return
	}
	d.errors[role] = e
}

func (d *Deployment) setStage(role, stage string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if stage == "" {
		delete(d.stages, role)
		return
	}
	d.stages[role] = stage
}

func (d *Deployment) stage(role string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stages[role]
}

func (d *Deployment) lastError(role string) loadError {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.errors[role]
}

// Status reports what serves and what failed.
func (d *Deployment) Status() Status {
	spec := d.Spec()
	r := d.routes.Load()
	st := Status{State: StateLoading, Models: []ModelStatus{}}
	want := refs(spec)
	for _, role := range []string{RolePrimary, RoleCanary, RoleShadow} {
		ref, ok := want[role]
		if !ok {
			continue
		}
		ms := ModelStatus{Role: role, Ref: ref}
		if s := r.get(role); s != nil {
			ms.Model, ms.Version, ms.Runtime, ms.Platform, ms.LoadedAt = s.version.Model, s.version.Version, s.runtime, s.meta.Platform, s.loaded
			ms.Environment = s.meta.Environment
		}
		if e := d.lastError(role); e.err != nil {
			ms.Error = e.err.Error()
		}
		ms.Loading = d.stage(role)
		st.Models = append(st.Models, ms)
	}
	switch p := st.Models[0]; {
	case r.primary != nil:
		st.State = StateReady
	case p.Error != "":
		st.State, st.Error = StateFailed, p.Error
	}
	return st
}

// Ready reports whether a model serves the deployment's traffic.
func (d *Deployment) Ready() bool { return d.routes.Load().primary != nil }

// Metadata is the metadata of the model serving the primary role.
func (d *Deployment) Metadata() (runtime.Metadata, Version, bool) {
	p := d.routes.Load().primary
	if p == nil {
		return runtime.Metadata{}, Version{}, false
	}
	return p.meta, p.version, true
}

// Answer is a prediction and which model version made it.
type Answer struct {
	*runtime.Response
	Model, Version, Role string
}

// Predict routes a request: to the canary by its weight, else to the primary; a
// share of requests is also mirrored to the shadow. A version swapped out while the
// request was being routed is retried on the version that replaced it.
func (d *Deployment) Predict(ctx context.Context, req *runtime.Request, requestID string) (Answer, error) {
	for range 3 {
		r := d.routes.Load()
		target := r.primary
		if r.canary != nil && r.spec.Canary != nil && rand.Float64() < r.spec.Canary.Weight {
			target = r.canary
		}
		if target == nil {
			return Answer{}, d.notReady()
		}
		if r.shadow != nil && r.spec.Shadow != nil && rand.Float64() < r.spec.Shadow.Share {
			d.mirror(r.shadow, req, requestID)
		}
		start := time.Now()
		resp, err := target.predict(ctx, req)
		if errors.Is(err, errRetired) {
			continue
		}
		d.m.record(r.spec, target, requestID, req, resp, err, start)
		return Answer{Response: resp, Model: target.version.Model, Version: target.version.Version, Role: target.role}, err
	}
	return Answer{}, fault.New(fault.Unavailable, "deployment %q is swapping model versions; retry", d.Name())
}

func (d *Deployment) notReady() error {
	st := d.Status()
	if st.Error != "" {
		return fault.New(fault.Unavailable, "deployment %q has no model serving: %s", d.Name(), st.Error)
	}
	return fault.New(fault.Unavailable, "deployment %q is loading its model; retry shortly", d.Name())
}

// mirror sends a copy of req to the shadow in the background. Its answer is recorded
// in the metrics and the payload log, never returned. When too many mirrored requests
// are in flight, the copy is skipped rather than slow the live traffic.
func (d *Deployment) mirror(s *served, req *runtime.Request, requestID string) {
	select {
	case d.m.shadowSlots <- struct{}{}:
	default:
		return
	}
	go func() {
		defer func() { <-d.m.shadowSlots }()
		spec := d.routes.Load().spec
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(spec.Timeout))
		defer cancel()
		start := time.Now()
		resp, err := s.predict(ctx, req)
		if errors.Is(err, errRetired) {
			return
		}
		d.m.record(spec, s, requestID, req, resp, err, start)
	}()
}

// View is a deployment as the API shows it.
type View struct {
	Name   string `json:"name"`
	Spec   Spec   `json:"spec"`
	Status Status `json:"status"`
	// Endpoints are the paths that serve the deployment, by protocol.
	Endpoints map[string]string `json:"endpoints"`
}

// View returns the deployment as the API shows it.
func (d *Deployment) View() View {
	name := d.Name()
	return View{Name: name, Spec: d.Spec(), Status: d.Status(), Endpoints: map[string]string{
		"v2":          "/v2/models/" + name + "/infer",
		"invocations": "/deployments/" + name + "/invocations",
		"v1":          "/v1/models/" + name + ":predict",
	}}
}

// predictOn runs a request on one named version, outside the traffic split (the Open
// Inference Protocol's /versions/{v} paths).
func (d *Deployment) predictOn(ctx context.Context, s *served, req *runtime.Request, requestID string) (Answer, error) {
	start := time.Now()
	resp, err := s.predict(ctx, req)
	if errors.Is(err, errRetired) {
		return Answer{}, fault.New(fault.Unavailable, "version %s of deployment %q was just unloaded; retry", s.version.Version, d.Name())
	}
	d.m.record(d.routes.Load().spec, s, requestID, req, resp, err, start)
	return Answer{Response: resp, Model: s.version.Model, Version: s.version.Version, Role: s.role}, err
}
