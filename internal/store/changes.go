package store

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Caches of the database's contents stay true across processes that share it by
// broadcasting changes: a process that changes what others may have cached calls
// Broadcast with a topic, and every process's subscribers of that topic drop what they
// hold. On SQLite the database has one process, so a broadcast reaches this process's
// subscribers alone. On PostgreSQL it is a NOTIFY on changesChannel, which every
// process LISTENs to on a connection of its own; while that connection is down (or
// as it comes back) every subscriber is called, since changes may have been missed.

// changesChannel is the PostgreSQL channel of broadcasts.
const changesChannel = "mlship_changes"

// changes are a DB's subscribers and, on PostgreSQL, its listener.
type changes struct {
	mu     sync.Mutex
	subs   map[string][]func()
	listen func(ctx context.Context) // nil: no other process to hear from
	cancel context.CancelFunc        // stops the listener; nil until the first subscriber
	done   chan struct{}
	notify func(ctx context.Context, topic string) error // nil: nothing to tell other processes
}

// Subscribe calls fn after every change to topic, whichever process made it, and
// whenever changes may have been missed. fn must be quick and must not block.
func (db *DB) Subscribe(topic string, fn func()) {
	c := &db.changes
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.subs == nil {
		c.subs = map[string][]func(){}
	}
	c.subs[topic] = append(c.subs[topic], fn)
	if c.listen != nil && c.cancel == nil {
		ctx, cancel := context.WithCancel(context.Background())
		c.cancel, c.done = cancel, make(chan struct{})
		go func() {
			defer close(c.done)
			c.listen(ctx)
		}()
	}
}

// Broadcast tells every process on the database that topic changed: this process's
// subscribers are called before it returns; other processes' as the notification
// reaches them, within milliseconds. Call it after the change is committed.
func (db *DB) Broadcast(ctx context.Context, topic string) {
	db.changes.call(topic)
	if db.changes.notify == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := db.changes.notify(ctx, topic); err != nil {
		// The others' caches expire by age; their TTL bounds the harm.
		db.logger.Warn("store: could not tell other servers of a change", "topic", topic, "err", err)
	}
}

// call runs topic's subscribers; "" runs every subscriber.
func (c *changes) call(topic string) {
	c.mu.Lock()
	var fns []func()
	for t, subs := range c.subs {
		if topic == "" || t == topic {
			fns = append(fns, subs...)
		}
	}
	c.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// stop ends the listener.
func (c *changes) stop() {
	c.mu.Lock()
	cancel, done := c.cancel, c.done
	c.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// pgListen returns the loop that LISTENs on its own connection, calling the topic's
// subscribers on each notification, and every subscriber whenever the connection is
// (re)established, since notifications sent while it was down are lost.
func pgListen(cfg *pgx.ConnConfig, c *changes, db *DB) func(ctx context.Context) {
	return func(ctx context.Context) {
		backoff := 100 * time.Millisecond
		for ctx.Err() == nil {
			err := pgListenOnce(ctx, cfg, c, func() { backoff = 100 * time.Millisecond })
			if ctx.Err() != nil {
				return
			}
			db.logger.Warn("store: the connection that hears other servers' changes dropped; reconnecting", "err", err, "in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
		}
	}
}

func pgListenOnce(ctx context.Context, cfg *pgx.ConnConfig, c *changes, connected func()) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+changesChannel); err != nil {
		return err
	}
	connected()
	c.call("") // whatever changed before now is reloaded
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		c.call(n.Payload)
	}
}
