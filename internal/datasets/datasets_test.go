package datasets

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/cas"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/store/storetest"
)

func newService(t *testing.T, db *store.DB) *Service {
	t.Helper()
	b, err := blob.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return New(db, cas.New(b, "cas"), slog.New(slog.NewTextHandler(io.Discard, nil)))
}

const good = "x,y,label\n1.5,a,0\n2.5,b,1\n3.5,a,0\n"

func TestRegisterIsContentAddressed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newService(t, db)
		v, created, err := s.Register(ctx, "d", "data.csv", "", false, strings.NewReader(good))
		if err != nil || !created || v.Version != 1 || v.Rows != 3 {
			t.Fatalf("first registration = %+v, %v, %v", v, created, err)
		}
		again, created, err := s.Register(ctx, "d", "other-name.csv", "", false, strings.NewReader(good))
		if err != nil || created || again.Version != 1 || again.Digest != v.Digest {
			t.Fatalf("same bytes again = %+v, %v, %v; want version 1, not created", again, created, err)
		}
		v2, created, err := s.Register(ctx, "d", "data.csv", "", false, strings.NewReader(good+"4.5,c,1\n"))
		if err != nil || !created || v2.Version != 2 {
			t.Fatalf("new bytes = %+v, %v, %v; want version 2", v2, created, err)
		}
		for _, d := range []string{v.Digest, v.MLflowDigest, v.MLflowDigest[:8]} {
			got, err := s.ByDigest(ctx, d)
			if err != nil || len(got) != 1 || got[0].Version != 1 {
				t.Errorf("ByDigest(%q) = %v, %v", d, got, err)
			}
		}
		p, err := s.Profile(ctx, v2)
		if err != nil || p.Rows != 4 || p.Column("x").Max() != 4.5 {
			t.Fatalf("profile = %+v, %v", p, err)
		}
		live, err := s.LiveManifests(ctx)
		if err != nil || len(live) != 4 {
			t.Errorf("live manifests = %v, %v; want the file and profile of each version", live, err)
		}
	})
}

func TestBadFilesRegisterNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newService(t, db)
		for name, body := range map[string]string{
			"ragged": "a,b\n1,2\n3\n",
			"empty":  "",
			"mixed":  "a\n1\n2\nthree\n",
		} {
			_, _, err := s.Register(ctx, "bad", "f.csv", "", false, strings.NewReader(body))
			if fault.KindOf(err) != fault.Invalid {
				t.Errorf("%s: err = %v, want an invalid-input error", name, err)
			}
		}
		if vs, err := s.Versions(ctx, "bad"); err != nil || len(vs) != 0 {
			t.Errorf("versions after refused files = %v, %v", vs, err)
		}
		if _, _, err := s.Register(ctx, "../x", "f.csv", "", false, strings.NewReader(good)); fault.KindOf(err) != fault.Invalid {
			t.Errorf("a path as a dataset name: %v", err)
		}
	})
}

// Profiles are kept decoded once made or read; a comparison from memory equals one
// from the content store, and profiles shared by concurrent comparisons are only read.
func TestProfilesComparedFromMemoryAndStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newService(t, db)
		csv := func(shift float64) string {
			var b strings.Builder
			b.WriteString("x,c\n")
			for i := range 110_000 {
				fmt.Fprintf(&b, "%g,k%d\n", float64(i%997)/10+shift, i%7)
			}
			return b.String()
		}
		ref, _, err := s.Register(ctx, "d", "a.csv", "", false, strings.NewReader(csv(0)))
		if err != nil {
			t.Fatal(err)
		}
		cur, _, err := s.Register(ctx, "d", "b.csv", "", false, strings.NewReader(csv(5)))
		if err != nil {
			t.Fatal(err)
		}
		p1, err := s.Profile(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		if p2, _ := s.Profile(ctx, ref); p2 != p1 {
			t.Error("a registered version's profile was decoded again")
		}
		var wg sync.WaitGroup
		reports := make([][]byte, 4)
		for i := range reports {
			wg.Go(func() {
				r, err := s.Compare(ctx, ref, cur, false, nil)
				if err != nil {
					t.Error(err)
					return
				}
				reports[i], _ = json.Marshal(r)
			})
		}
		wg.Wait()
		cold := New(db, s.content, s.logger) // nothing in memory
		r, err := cold.Compare(ctx, ref, cur, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(r)
		for i, got := range reports {
			if string(got) != string(want) {
				t.Fatalf("report %d from memory differs from the one from the store", i)
			}
		}
	})
}
