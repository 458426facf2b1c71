package cas_test

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mlship/mlship/internal/cas"
	"github.com/mlship/mlship/internal/fault"
)

const old = 2 * cas.Grace

func TestGC(t *testing.T) {
	f := newFixture(t)
	shared := strings.Repeat("weights", 100)
	_, liveM := f.importDir(t, "runs/1", map[string]string{"model.onnx": shared, "a.txt": "only in live"})
	_, deadM := f.importDir(t, "runs/2", map[string]string{"model.onnx": shared, "b.txt": "only in dead"})
	_, touchedM := f.importDir(t, "runs/3", map[string]string{"c.txt": "only in touched"})
	orphan, _, _ := f.cas.PutFile(t.Context(), strings.NewReader("orphan"))
	if _, err := f.blob.Put(t.Context(), casPrefix+"/tmp/LEFTOVER", strings.NewReader("crashed upload")); err != nil {
		t.Fatal(err)
	}
	f.backdate(t, old)
	f.touch(t, manifestKey(touchedM)) // a new manifest whose files are old
	fresh, _, _ := f.cas.PutFile(t.Context(), strings.NewReader("written after the backdating"))
	_, freshM := f.importDir(t, "runs/4", map[string]string{"model.onnx": shared, "d.txt": "new"})
	deadSize := f.size(t, manifestKey(deadM))

	removed, freed, err := f.cas.GC(t.Context(), slices.Values([]string{liveM}))
	if err != nil {
		t.Fatal(err)
	}
	if want := deadSize + int64(len("only in dead")+len("orphan")+len("crashed upload")); removed != 4 || freed != want {
		t.Errorf("GC = %d removed, %d bytes; want 4, %d", removed, freed, want)
	}
	tests := []struct {
		name string
		key  string
		kept bool
	}{
		{"live manifest", manifestKey(liveM), true},
		{"file shared by live and dead", objectKey(digestOf(shared)), true},
		{"file of live only", objectKey(digestOf("only in live")), true},
		{"new manifest", manifestKey(touchedM), true},
		{"old file of a new manifest", objectKey(digestOf("only in touched")), true},
		{"fresh orphan", objectKey(fresh), true},
		{"manifest imported after", manifestKey(freshM), true},
		{"file imported after", objectKey(digestOf("new")), true},
		{"dead manifest", manifestKey(deadM), false},
		{"file of dead only", objectKey(digestOf("only in dead")), false},
		{"old orphan", objectKey(orphan), false},
		{"old temp", casPrefix + "/tmp/LEFTOVER", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if kept := f.exists(t, tt.key); kept != tt.kept {
				t.Errorf("%s: kept = %v, want %v", tt.key, kept, tt.kept)
			}
		})
	}
	if removed, _, err := f.cas.GC(t.Context(), slices.Values([]string{liveM})); removed != 0 || err != nil {
		t.Errorf("second GC removed %d, %v", removed, err)
	}
}

// TestGCFailsClosed checks that GC removes nothing when a manifest it must keep is unreadable.
func TestGCFailsClosed(t *testing.T) {
	tests := []struct {
		name   string
		damage func(f fixture, t *testing.T, live, fresh string)
		want   error
	}{
		{"live manifest missing", func(f fixture, t *testing.T, live, _ string) { f.remove(t, manifestKey(live)) }, cas.ErrNotFound},
		{"live manifest corrupt", func(f fixture, t *testing.T, live, _ string) { f.damage(t, manifestKey(live), flipLast) }, cas.ErrCorrupt},
		{"fresh manifest corrupt", func(f fixture, t *testing.T, _, fresh string) { f.damage(t, manifestKey(fresh), truncate) }, cas.ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			_, live := f.importDir(t, "runs/1", map[string]string{"a": "a"})
			f.importDir(t, "runs/2", map[string]string{"b": "b"})
			f.backdate(t, old)
			_, fresh := f.importDir(t, "runs/3", map[string]string{"c": "c"})
			tt.damage(f, t, live, fresh)
			before := f.keys(t, casPrefix)
			removed, _, err := f.cas.GC(t.Context(), slices.Values([]string{live}))
			wantErr(t, "GC", err, tt.want, fault.KindOf(tt.want))
			if after := f.keys(t, casPrefix); removed != 0 || !slices.Equal(after, before) {
				t.Errorf("GC removed %d: keys %q became %q", removed, before, after)
			}
		})
	}
	t.Run("nil live", func(t *testing.T) {
		f := newFixture(t)
		if _, _, err := f.cas.GC(t.Context(), nil); err == nil {
			t.Error("GC(nil) succeeded")
		}
	})
}

// TestGCRacesImports runs GC with nothing live against imports of files that GC would
// remove: every import must end with its manifest and files intact.
func TestGCRacesImports(t *testing.T) {
	f := newFixture(t)
	files := map[string]string{"a": "aaa", "b": "bbb", "dir/c": "ccc", "dir/d": "ddd"}
	writeDir(t, f.blob, "src", files)
	for i := range 30 {
		f.backdate(t, old) // every stored byte is garbage unless an import claims it
		var wg sync.WaitGroup
		var d string
		wg.Go(func() {
			var err error
			if _, d, err = f.cas.ImportDir(t.Context(), f.blob, "src", nil); err != nil {
				t.Errorf("ImportDir: %v", err)
			}
		})
		for range 2 {
			wg.Go(func() {
				if _, _, err := f.cas.GC(t.Context(), slices.Values([]string(nil))); err != nil {
					t.Errorf("GC: %v", err)
				}
			})
		}
		wg.Wait()
		if problems, err := f.cas.Verify(t.Context(), d); problems != nil || err != nil {
			t.Fatalf("round %d: Verify = %+v, %v", i, problems, err)
		}
	}
}

func (f fixture) exists(t *testing.T, key string) bool {
	t.Helper()
	_, err := f.blob.Stat(t.Context(), key)
	return err == nil
}

func (f fixture) size(t *testing.T, key string) int64 {
	t.Helper()
	info, err := f.blob.Stat(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	return info.Size
}
