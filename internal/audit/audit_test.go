package audit_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/audit"
	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/store/storetest"
)

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func setup(t *testing.T, db *store.DB) (*audit.Log, *clock) {
	t.Helper()
	ctx := context.Background()
	if err := db.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE things (name TEXT PRIMARY KEY)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	return audit.New(db, audit.Options{Retention: 24 * time.Hour, Now: c.now}), c
}

func insertThing(name string) func(tx *store.Tx) error {
	return func(tx *store.Tx) error {
		_, err := tx.ExecContext(context.Background(), `INSERT INTO things (name) VALUES (?)`, name)
		return err
	}
}

func countRows(t *testing.T, db *store.DB, table string) int {
	t.Helper()
	var n int
	if err := db.Reader().QueryRowContext(context.Background(), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func query(t *testing.T, l *audit.Log, f audit.Filter) []audit.Entry {
	t.Helper()
	if f.Limit == 0 {
		f.Limit = audit.MaxLimit
	}
	p, err := l.Query(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return p.Entries
}

func TestChangeAndRecordCommitTogether(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		l, _ := setup(t, db)
		trail := l.Trail(audit.Entry{Actor: "alice", Address: "10.0.0.1", Route: "POST /things", Action: "POST things",
			ObjectKind: audit.Experiment, Object: "a"})
		ctx := store.WithTrail(context.Background(), trail)

		// A failed write takes its record with it: no "succeeded" row for a change
		// that never happened.
		boom := errors.New("refused")
		err := db.Write(ctx, func(tx *store.Tx) error {
			if err := insertThing("a")(tx); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("write: %v", err)
		}
		if trail.Committed() || countRows(t, db, "audit_log") != 0 || countRows(t, db, "things") != 0 {
			t.Fatalf("after a failed write: committed=%v, %d records, %d things", trail.Committed(),
				countRows(t, db, "audit_log"), countRows(t, db, "things"))
		}

		// The first write that commits carries the record; later ones in the same
		// request do not repeat it.
		for _, name := range []string{"a", "b", "c"} {
			if err := db.Write(ctx, insertThing(name)); err != nil {
				t.Fatal(err)
			}
		}
		es := query(t, l, audit.Filter{})
		if len(es) != 1 || !trail.Committed() {
			t.Fatalf("records = %+v, committed = %v; want one", es, trail.Committed())
		}
		if e := es[0]; e.Actor != "alice" || e.Outcome != audit.Succeeded || e.Object != "a" || e.Address != "10.0.0.1" {
			t.Fatalf("record = %+v", e)
		}
	})
}

func TestRecordInGroupCommitIsPerWrite(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		l, _ := setup(t, db)
		// Writes committed together, some failing: each failing write's record is
		// rolled back to its savepoint with its change, the others commit.
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := string(rune('A' + i))
				ctx := store.WithTrail(context.Background(), l.Trail(audit.Entry{Route: "r", Action: "a", Object: name}))
				db.Write(ctx, func(tx *store.Tx) error {
					if err := insertThing(name)(tx); err != nil {
						return err
					}
					if i%2 == 1 {
						return errors.New("odd")
					}
					return nil
				})
			}()
		}
		wg.Wait()
		if things, records := countRows(t, db, "things"), countRows(t, db, "audit_log"); things != 20 || records != 20 {
			t.Fatalf("%d things and %d records; want 20 of each", things, records)
		}
		for _, e := range query(t, l, audit.Filter{}) {
			if (e.Object[0]-'A')%2 == 1 {
				t.Errorf("record of a failed write: %+v", e)
			}
		}
	})
}

func TestRefusalsAreRecordedOnceAMinute(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		l, c := setup(t, db)
		ctx := context.Background()
		denied := audit.Entry{Actor: "mallory", Address: "10.0.0.9", Route: "POST /x", Action: "POST x", Outcome: audit.Denied, Status: 401}
		for range 50 {
			if err := l.Record(ctx, denied); err != nil {
				t.Fatal(err)
			}
		}
		other := denied
		other.Address = "10.0.0.10"
		l.Record(ctx, other)
		failed := denied
		failed.Outcome, failed.Status = audit.Failed, 400
		l.Record(ctx, failed)
		l.Record(ctx, failed)
		if n := countRows(t, db, "audit_log"); n != 4 {
			t.Fatalf("%d records; want 4 (one refusal per actor, address and route, every failure)", n)
		}
		c.add(time.Minute)
		l.Record(ctx, denied)
		if n := len(query(t, l, audit.Filter{Outcome: audit.Denied})); n != 3 {
			t.Fatalf("%d refusals after a minute; want 3", n)
		}
	})
}

func TestQueryFiltersPagesAndPrunes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		l, c := setup(t, db)
		ctx := context.Background()
		for i, actor := range []string{"alice", "bob", "alice", "bob", "alice"} {
			e := audit.Entry{Actor: actor, Route: "r", Action: "a", ObjectKind: audit.Run, Object: string(rune('a' + i)), Outcome: audit.Failed}
			if err := l.Record(ctx, e); err != nil {
				t.Fatal(err)
			}
			c.add(time.Hour)
		}
		if es := query(t, l, audit.Filter{Actor: "alice"}); len(es) != 3 || es[0].Object != "e" {
			t.Fatalf("alice's records = %+v", es)
		}
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		if es := query(t, l, audit.Filter{Since: start.Add(time.Hour).UnixMilli(), Until: start.Add(3 * time.Hour).UnixMilli()}); len(es) != 2 {
			t.Fatalf("records in [1h, 3h) = %+v", es)
		}
		var seen []string
		f := audit.Filter{Limit: 2}
		for {
			p, err := l.Query(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range p.Entries {
				seen = append(seen, e.Object)
			}
			if p.NextPageToken == "" {
				break
			}
			var before int64
			for _, ch := range p.NextPageToken {
				before = before*10 + int64(ch-'0')
			}
			f.Before = before
		}
		if got := len(seen); got != 5 || seen[0] != "e" || seen[4] != "a" {
			t.Fatalf("paged = %v", seen)
		}
		if _, err := l.Query(ctx, audit.Filter{Limit: audit.MaxLimit + 1}); err == nil {
			t.Fatal("a page over the cap was accepted")
		}
		// Records at 0h..4h; now is 5h, the retention 24h: at 27h the first three go.
		c.add(22 * time.Hour)
		n, err := l.Prune(ctx)
		if err != nil || n != 3 {
			t.Fatalf("pruned %d (%v); want 3", n, err)
		}
		if es := query(t, l, audit.Filter{}); len(es) != 2 {
			t.Fatalf("after pruning: %+v", es)
		}
	})
}
