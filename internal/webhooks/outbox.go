package webhooks

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/mlship/mlship/internal/store"
)

// Recorder records events in the transaction of the change that causes them. The
// domains that announce changes (registry, gates, monitor) take one; a nil Recorder
// records nothing.
type Recorder interface {
	// Record adds event ("entity.action") with its payload to the outbox, in tx.
	Record(ctx context.Context, tx *store.Tx, event string, data any) error
	// Committed says that a transaction which recorded events has committed, so that
	// they are dispatched at once rather than at the next sweep.
	Committed()
}

var _ Recorder = (*Service)(nil)

// Record adds an event to the outbox in tx: it is dispatched once tx commits, and never
// if tx rolls back.
func (s *Service) Record(ctx context.Context, tx *store.Tx, event string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO webhook_outbox (uid, event, data, created_at) VALUES (?, ?, ?, ?)`,
		newID(), event, string(b), s.now().UnixMilli())
	return err
}

// RecordOnce records an event about subject in a write of its own, unless the latest
// event recorded about subject carries the same data: for a change every server sharing
// the database makes on its own (a deployment swapping to the version its alias moved
// to), so that it is announced once, and again when it happens again later.
func (s *Service) RecordOnce(ctx context.Context, event, subject string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	h := sha256.Sum256([]byte(event + "\x00" + subject))
	prefix := hex.EncodeToString(h[:12]) + "/"
	recorded := false
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		recorded = false
		if err := tx.Lock(ctx, "webhooks/"+prefix); err != nil {
			return err
		}
		var last string
		err := tx.QueryRowContext(ctx, `SELECT data FROM webhook_outbox WHERE event = ? AND uid LIKE ? ORDER BY id DESC LIMIT 1`,
			event, prefix+"%").Scan(&last)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if last == string(b) {
			return nil
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO webhook_outbox (uid, event, data, created_at) VALUES (?, ?, ?, ?)`,
			prefix+newID(), event, string(b), s.now().UnixMilli())
		recorded = err == nil
		return err
	})
	if recorded {
		s.Committed()
	}
	return err
}

// Committed wakes the dispatcher.
func (s *Service) Committed() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run dispatches the outbox's events until ctx ends: after each change this server
// commits, and every Sweep for what other servers left.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.opts.Sweep)
	defer t.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	for {
		for {
			n, err := s.Dispatch(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.logger.Warn("webhooks: could not dispatch events", "err", err)
				}
				break
			}
			if n < dispatchBatch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		case <-t.C:
		case <-prune.C:
			if err := s.Prune(ctx, s.now().Add(-keepDispatched)); err != nil && ctx.Err() == nil {
				s.logger.Warn("webhooks: could not prune the outbox", "err", err)
			}
		}
	}
}

// keepDispatched is how long a dispatched event stays in the outbox: long past its last
// retry, for an operator to look at.
const keepDispatched = 7 * 24 * time.Hour

// Prune deletes the events dispatched before t.
func (s *Service) Prune(ctx context.Context, t time.Time) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM webhook_outbox WHERE dispatched_at IS NOT NULL AND dispatched_at < ?`, t.UnixMilli())
		return err
	})
}

// dispatchBatch is how many events one dispatch takes.
const dispatchBatch = 100

// Dispatch turns up to dispatchBatch undispatched events into delivery jobs, one per
// active webhook subscribed to the event, then marks the events dispatched. The jobs are
// queued outside any write of the metadata database, so that no change waits on the
// queue; the queue keeps one job per event and webhook, so an event dispatched twice (by
// servers sharing the database, or by one that stopped before marking it) is delivered
// once. It returns how many events it took.
func (s *Service) Dispatch(ctx context.Context) (int, error) {
	type pending struct {
		id    int64
		event string
	}
	var evs []pending
	err := store.ScanEach(ctx, s.db.Reader(), `SELECT id, event FROM webhook_outbox WHERE dispatched_at IS NULL ORDER BY id LIMIT ?`,
		[]any{dispatchBatch}, func(r *sql.Rows) error {
			var p pending
			err := r.Scan(&p.id, &p.event)
			evs = append(evs, p)
			return err
		})
	if err != nil || len(evs) == 0 {
		return 0, err
	}
	ids := make([]any, 0, len(evs)+1)
	ids = append(ids, s.now().UnixMilli())
	for _, ev := range evs {
		hooks, err := subscribers(ctx, s.db.Reader(), ev.event)
		if err != nil {
			return 0, err
		}
		for _, h := range hooks {
			if err := s.enqueue(ctx, deliverArgs{Event: ev.id, Webhook: h}); err != nil {
				return 0, err
			}
		}
		ids = append(ids, ev.id)
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE webhook_outbox SET dispatched_at = ? WHERE dispatched_at IS NULL AND id IN (`+
			store.Placeholders(len(evs))+`)`, ids...)
		return err
	})
	return len(evs), err
}

// subscribers are the active webhooks that follow event.
func subscribers(ctx context.Context, q store.Querier, event string) ([]string, error) {
	var out []string
	err := store.ScanEach(ctx, q, `SELECT w.id FROM webhook_events e JOIN webhooks w ON w.id = e.webhook_id
		WHERE e.event = ? AND w.status = ? ORDER BY w.id`, []any{event, StatusActive}, func(r *sql.Rows) error {
		var id string
		err := r.Scan(&id)
		out = append(out, id)
		return err
	})
	return out, err
}

// everyState keeps one job per event and webhook whatever became of it, a delivery
// given up on (cancelled, discarded) included, for as long as the queue keeps the job.
var everyState = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStateCancelled,
	rivertype.JobStateCompleted, rivertype.JobStateDiscarded, rivertype.JobStatePending, rivertype.JobStateRetryable,
	rivertype.JobStateRunning, rivertype.JobStateScheduled}

func (s *Service) enqueue(ctx context.Context, args deliverArgs) error {
	if s.opts.Queue == nil {
		return nil
	}
	_, err := s.opts.Queue.Insert(ctx, args, &river.InsertOpts{MaxAttempts: s.opts.MaxAttempts,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: everyState}})
	return err
}
