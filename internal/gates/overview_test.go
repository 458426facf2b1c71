package gates

import (
	"context"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/store/storetest"
)

// Every alias records when it last moved and when it was first set, whatever the
// alias: pointing it where it points keeps the time, moving it takes a new one.
func TestModelRecordsAliasTimes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, loader{"1": 0.5, "2": 0.5}, holdout())
		record := func() *ModelRecord {
			t.Helper()
			rs, err := f.s.ModelRecords(ctx, "staging")
			if err != nil || len(rs) != 1 {
				t.Fatalf("records = %v, %v", rs, err)
			}
			return rs[0]
		}
		if r := record(); r.AliasSetAt != 0 || r.AliasFirstSetAt != 0 || r.Version != "" {
			t.Fatalf("before the alias: %+v", r)
		}
		before := time.Now().UnixMilli()
		if err := f.reg.SetAlias(ctx, "m", "staging", "1"); err != nil {
			t.Fatal(err)
		}
		first := record()
		if first.Version != "1" || first.AliasSetAt < before || first.AliasFirstSetAt != first.AliasSetAt || first.Since != 0 {
			t.Fatalf("set: %+v", first)
		}
		time.Sleep(5 * time.Millisecond)
		if err := f.reg.SetAlias(ctx, "m", "staging", "1"); err != nil {
			t.Fatal(err)
		}
		if r := record(); r.AliasSetAt != first.AliasSetAt {
			t.Errorf("pointed where it points: set at %d, was %d", r.AliasSetAt, first.AliasSetAt)
		}
		if err := f.reg.SetAlias(ctx, "m", "staging", "2"); err != nil {
			t.Fatal(err)
		}
		if r := record(); r.Version != "2" || r.AliasSetAt <= first.AliasSetAt || r.AliasFirstSetAt != first.AliasFirstSetAt {
			t.Errorf("moved: %+v, first %+v", r, first)
		}
	})
}
