package jobs

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mlship/mlship/internal/store/storetest"
)

// Servers sharing a PostgreSQL database work one queue: every job runs once, on one of
// them.
func TestSharedQueueRunsEachJobOnce(t *testing.T) {
	uri := storetest.PostgresURI(t)
	w := &echoWorker{done: make(chan string, 100)}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var queues []*Queue
	for range 3 {
		q := openWith(t, Options{Postgres: uri, PollInterval: 20 * time.Millisecond}, w)
		t.Cleanup(func() { q.Close(context.Background()) })
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		queues = append(queues, q)
	}
	const n = 30
	for i := range n {
		if _, err := queues[i%len(queues)].Insert(ctx, echoArgs{Value: string(rune('A' + i))}, nil); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	for range n {
		select {
		case v := <-w.done:
			seen[v]++
		case <-time.After(20 * time.Second):
			t.Fatalf("%d of %d jobs ran", len(seen), n)
		}
	}
	select {
	case v := <-w.done:
		t.Fatalf("job %q ran twice", v)
	case <-time.After(300 * time.Millisecond):
	}
	if len(seen) != n {
		t.Fatalf("ran %v, want %d distinct jobs", seen, n)
	}
}

// One server at a time leads a name; when its connection to the database dies (as it
// does when the process is killed), another takes over.
func TestLeadElectsOneAndFailsOver(t *testing.T) {
	uri := storetest.PostgresURI(t)
	old := LeaseCheck
	LeaseCheck = 100 * time.Millisecond
	t.Cleanup(func() { LeaseCheck = old })
	var leading atomic.Int32
	var mu sync.Mutex
	leaders := []int{}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	var key int64
	for i := range 3 {
		q := openWith(t, Options{Postgres: uri}, &echoWorker{})
		t.Cleanup(func() { q.Close(context.Background()) })
		key = lockKey(q.scope + "lead.watch")
		wg.Add(1)
		go func() {
			defer wg.Done()
			q.Lead(ctx, "watch", func(ctx context.Context) {
				if n := leading.Add(1); n != 1 {
					t.Errorf("%d leaders at once", n)
				}
				mu.Lock()
				leaders = append(leaders, i)
				mu.Unlock()
				<-ctx.Done()
				leading.Add(-1)
			})
		}()
	}
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(leaders) == 1 })
	// End the leader's session from outside, as a killed process's is ended.
	admin, err := pgx.Connect(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var ended int
	if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory'
		AND granted AND classid = $1::bigint::oid AND objid = $2::bigint::oid`, uint64(key)>>32, uint64(key)&0xffffffff).Scan(&ended); err != nil {
		t.Fatal(err)
	}
	if ended != 1 {
		t.Fatalf("%d sessions held the lock, want 1", ended)
	}
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(leaders) >= 2 })
	time.Sleep(500 * time.Millisecond)
	cancel()
	wg.Wait()
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Work done Once runs on one server at a time: a second server's call waits for the
// first to end (content garbage collection asked of two servers at once).
func TestOnceRunsOneAtATime(t *testing.T) {
	uri := storetest.PostgresURI(t)
	var running, most atomic.Int32
	var wg sync.WaitGroup
	for range 3 {
		q := openWith(t, Options{Postgres: uri}, &echoWorker{})
		t.Cleanup(func() { q.Close(context.Background()) })
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := q.Once(t.Context(), "gc", func(ctx context.Context) error {
				n := running.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				time.Sleep(100 * time.Millisecond)
				running.Add(-1)
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Fatalf("%d ran at once", most.Load())
	}
}
