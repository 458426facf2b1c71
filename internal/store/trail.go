package store

import (
	"cmp"
	"context"
	"sync"
)

// A Trail is a record that belongs with the first change a request makes: the audit
// trail's row. Carried in a request's context (WithTrail), it is appended by the first
// successful DB.Write made under that context, inside the same transaction as the
// change, so that a change is never committed without its record nor a record without
// its change. Later writes under the same context do not append it again.
type Trail struct {
	appendTo func(ctx context.Context, tx *Tx) error

	mu        sync.Mutex
	busy      bool // a write carrying it is in flight
	committed bool
	object    string // what Describe said, "" for nothing
	action    string
}

// NewTrail returns a trail whose record appendTo writes in a transaction.
func NewTrail(appendTo func(ctx context.Context, tx *Tx) error) *Trail {
	return &Trail{appendTo: appendTo}
}

type trailKey struct{}

// WithTrail returns ctx carrying t.
func WithTrail(ctx context.Context, t *Trail) context.Context {
	return context.WithValue(ctx, trailKey{}, t)
}

// Describe tells the trail ctx carries, if any, what its record could not know before
// the write: the id of the object the request creates, known only once a domain has
// made it (a run's id, a version's number), or what the request turned out to do. An
// empty argument leaves that part as it is. Called inside the write, or before it.
func Describe(ctx context.Context, object, action string) {
	t, _ := ctx.Value(trailKey{}).(*Trail)
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.committed {
		return
	}
	if object != "" {
		t.object = object
	}
	if action != "" {
		t.action = action
	}
}

// Described returns the object and action Describe gave, or object and action when
// it gave none.
func (t *Trail) Described(object, action string) (string, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return cmp.Or(t.object, object), cmp.Or(t.action, action)
}

// Committed reports whether t's record was committed with a change.
func (t *Trail) Committed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.committed
}

// take claims t for one write; false when it is committed or carried by another.
func (t *Trail) take() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.busy || t.committed {
		return false
	}
	t.busy = true
	return true
}

// settle releases t after a write: committed with it, or free for the next write.
func (t *Trail) settle(committed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.busy, t.committed = false, committed
}

// withTrail returns fn followed, when ctx carries a trail not yet committed, by the
// trail's record; done settles the trail with the write's outcome.
func withTrail(ctx context.Context, fn func(tx *Tx) error) (_ func(tx *Tx) error, done func(error)) {
	t, _ := ctx.Value(trailKey{}).(*Trail)
	if t == nil || !t.take() {
		return fn, func(error) {}
	}
	return func(tx *Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return t.appendTo(ctx, tx)
	}, func(err error) { t.settle(err == nil) }
}
