package jobs

import (
	"context"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Some work runs in one process at a time however many share the database, and runs
// continuously rather than as jobs: watching deployments' traffic for drift, say. Lead
// elects that process. On SQLite the process that holds the data directory is the only
// one, so it always leads. On PostgreSQL the leader of a name is the process whose
// connection holds a session advisory lock on it: the lock goes with the connection, so
// a leader that dies (even by kill -9) or loses the database gives way to another
// within a few LeaseChecks; the new leader waits until the old one must have noticed.

// LeaseCheck is how often a leader checks that it still holds its lock, and a follower
// tries to take it.
var LeaseCheck = 2 * time.Second

// Lead runs run while this process leads name, and again whenever it leads anew, until
// ctx ends. run must return soon after its context ends: that is how it is told that
// leadership was lost.
func (q *Queue) Lead(ctx context.Context, name string, run func(ctx context.Context)) {
	if q.pool == nil {
		run(ctx)
		return
	}
	key := lockKey(q.scope + "lead." + name)
	for ctx.Err() == nil {
		if err := q.leadOnce(ctx, key, run); err != nil && ctx.Err() == nil {
			q.logger().Warn("leadership lost or not taken; trying again", "work", name, "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(LeaseCheck):
		}
	}
}

// leadOnce takes the lock if it is free and runs run while the lock's connection
// answers.
func (q *Queue) leadOnce(ctx context.Context, key int64, run func(ctx context.Context)) error {
	conn, err := q.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	healthy := false
	defer func() {
		if !healthy { // the session may still hold the lock: end it
			conn.Conn().Close(context.Background())
		}
		conn.Release()
	}()
	var held bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&held); err != nil {
		return err
	}
	if !held {
		healthy = true
		return nil
	}
	// A leader that lost its session learns it at its next check, up to 2*LeaseCheck
	// later (a check that hangs times out after LeaseCheck): wait that long before
	// running, so that two leaders never run at once.
	select {
	case <-ctx.Done():
		return nil // the connection is closed, and the lock with it
	case <-time.After(2*LeaseCheck + LeaseCheck/2):
	}
	if err := conn.Ping(ctx); err != nil {
		return err
	}
	q.logger().Info("leading", "lock", key)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		run(runCtx)
	}()
	t := time.NewTicker(LeaseCheck)
	defer t.Stop()
	for err == nil {
		select {
		case <-ctx.Done():
		case <-done:
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, LeaseCheck)
			err = conn.Ping(pctx)
			cancel()
			continue
		}
		break
	}
	stop()
	<-done
	if err == nil {
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", key)
		cancel()
		healthy = err == nil
	}
	return err
}

// Once runs fn in this process while no other process on the database runs the fn of
// that name: work done at start that servers starting together must not do twice.
func (q *Queue) Once(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	if q.pool == nil {
		return fn(ctx)
	}
	return withLock(ctx, q.pool, lockKey(q.scope+"once."+name), func() error { return fn(ctx) })
}

// withLock runs fn holding the session advisory lock key, waiting for it.
func withLock(ctx context.Context, pool *pgxpool.Pool, key int64, fn func() error) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key)
	return fn()
}

// lockKey is name's advisory lock key.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return int64(h.Sum64())
}
