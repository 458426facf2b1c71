package serving

import (
	"context"
	"errors"
	"time"
)

// A role that follows an alias loads the version the alias names when the load starts.
// A Python version takes seconds to load, and an alias may move several times
// meanwhile: loading each version it passed through would leave the deployment ever
// further behind. So the newest version is loaded next, never the ones in between (each
// reconcile resolves the reference anew), and a load the alias has left is cancelled
// when that is worth it (see mayCancel). After a cancellation the next load waits one
// poll interval, so that a burst of moves costs one load, of the last version.

// errSuperseded is the end of a load cancelled because its reference moved on.
var errSuperseded = errors.New("the reference moved on to another version while this one loaded")

// follow is what a role remembers between its loads.
type follow struct {
	lastLoad  time.Duration // how long the last load that finished took; 0: none yet
	cancelled time.Time     // when the last load was cancelled as stale; zero: it was not
}

// following returns role's memory; d.mu must be held.
func (d *Deployment) following(role string) *follow {
	if d.follows == nil {
		d.follows = map[string]*follow{}
	}
	f := d.follows[role]
	if f == nil {
		f = &follow{}
		d.follows[role] = f
	}
	return f
}

// settled reports whether a load may start now: unless the last load in role was
// cancelled less than a poll interval ago, while the alias may still be moving.
func (d *Deployment) settled(role string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.following(role).cancelled
	return c.IsZero() || time.Since(c) >= d.m.opts.PollInterval
}

// mayCancel reports whether a stale load that has run for elapsed may be cancelled: not
// when the load before it was cancelled (so that the role makes progress however often
// the alias moves), and not past half of the time the last load took (finishing is then
// sooner than starting over).
func (d *Deployment) mayCancel(role string, elapsed time.Duration) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	f := d.following(role)
	return f.cancelled.IsZero() && (f.lastLoad == 0 || elapsed < f.lastLoad/2)
}

// loadEnded records the end of a load in role: cancelled as stale, or finished (loaded
// or failed) after took.
func (d *Deployment) loadEnded(role string, cancelled bool, took time.Duration, loaded bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f := d.following(role)
	f.cancelled = time.Time{}
	if cancelled {
		f.cancelled = time.Now()
	}
	if loaded {
		f.lastLoad = took
	}
}

// stale reports whether the version of config is no longer what role's reference
// names under the deployment's current spec.
func (d *Deployment) stale(ctx context.Context, role, config string) bool {
	spec := d.Spec()
	ref, ok := refs(spec)[role]
	if !ok {
		return true
	}
	v, err := d.m.opts.Source.Resolve(ctx, ref)
	return err == nil && loadConfig(v, spec) != config
}

// loadFollowing loads v as load does, while it checks at every poll whether role's
// reference still names it. A load it may cancel (mayCancel) that became stale is
// cancelled, what it loaded meanwhile unloaded, and errSuperseded returned; the next
// reconcile loads the newest version.
func (d *Deployment) loadFollowing(ctx context.Context, spec Spec, role string, v Version, config string) (*served, error) {
	loadCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		s   *served
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	d.logger.Info("model version loading", "role", role, "model", v.Model, "version", v.Version)
	go func() {
		s, err := d.load(loadCtx, spec, role, v, config)
		done <- result{s, err}
	}()
	t := time.NewTicker(d.m.opts.PollInterval)
	defer t.Stop()
	woken := false
	defer func() {
		if woken {
			d.poke() // the update that woke the loop is reconciled next
		}
	}()
	for {
		select {
		case r := <-done:
			d.loadEnded(role, false, time.Since(start), r.err == nil)
			return r.s, r.err
		case <-d.wake:
			woken = true
		case <-t.C:
		}
		if ctx.Err() != nil || !d.stale(ctx, role, config) || !d.mayCancel(role, time.Since(start)) {
			continue
		}
		cancel()
		if r := <-done; r.s != nil {
			d.retire(r.s)
		}
		d.loadEnded(role, true, 0, false)
		d.logger.Info("model version load cancelled: the reference moved on; the newest version loads next",
			"role", role, "model", v.Model, "version", v.Version, "after", time.Since(start).Round(time.Millisecond))
		return nil, errSuperseded
	}
}
