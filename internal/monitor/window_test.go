package monitor

import (
	"context"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/store/storetest"
)

// Servers sharing PostgreSQL commit payload records out of id order: a window never
// takes a record while one before it may still commit, so none is skipped or read twice.
func TestWindowsTakeRecordsInCommitSafeOrder(t *testing.T) {
	uri := storetest.PostgresURI(t)
	ctx := t.Context()
	db, err := store.Open(ctx, uri, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m := &Monitor{opts: Options{DB: db, Logger: slog.New(slog.DiscardHandler)}}
	at, err := m.start(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	conn := func() *pgx.Conn {
		c, err := pgx.Connect(ctx, uri)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		return c
	}
	insert := func(tx pgx.Tx, req string) int64 {
		var id int64
		err := tx.QueryRow(ctx, `INSERT INTO payload_log (deployment, model, version, role, request_id, time_ms, latency_us, request)
			VALUES ('d', 'm', '1', 'primary', 'r', 0, 0, $1) RETURNING id`, req).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	take := func() []string {
		page, err := m.page(ctx, "d", at)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range page {
			got = append(got, string(r.Request))
			at = r.at
		}
		return got
	}
	slow, err := conn().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first := insert(slow, `"slow"`)
	fast, err := conn().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if second := insert(fast, `"fast"`); second <= first {
		t.Fatalf("ids %d then %d", first, second)
	}
	if err := fast.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := take(); len(got) != 0 {
		t.Fatalf("took %v while an earlier record's transaction ran", got)
	}
	if err := slow.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := take(); len(got) != 2 || got[0] != `"slow"` || got[1] != `"fast"` {
		t.Fatalf("took %v, want slow then fast", got)
	}
	tx, err := conn().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	insert(tx, `"later"`)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := take(); len(got) != 1 || got[0] != `"later"` {
		t.Fatalf("took %v, want only the later record", got)
	}
	if got := take(); len(got) != 0 {
		t.Fatalf("took %v again", got)
	}
}
