package cas_test

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/cas"
	"github.com/mlship/mlship/internal/fault"
)

func TestConcurrentImports(t *testing.T) {
	f := newFixture(t)
	files := make(map[string]string)
	for i := range 20 {
		files[fmt.Sprintf("part-%02d/data.bin", i)] = string(bytes.Repeat([]byte{byte('a' + i%7)}, 1000+i%7))
	}
	writeDir(t, f.blob, "runs/1/model", files)

	const n = 8
	digests := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, d, err := f.cas.ImportDir(t.Context(), f.blob, "runs/1/model/", nil)
			if err != nil {
				t.Errorf("ImportDir: %v", err)
			}
			digests[i] = d
		})
	}
	wg.Wait()
	if distinct := slices.Compact(slices.Clone(digests)); len(distinct) != 1 || distinct[0] == "" {
		t.Fatalf("digests = %q, want one", digests)
	}
	if objects := f.keys(t, casPrefix+"/objects"); len(objects) != 7 {
		t.Errorf("%d objects, want 7 distinct contents", len(objects))
	}
	if problems, err := f.cas.Verify(t.Context(), digests[0]); problems != nil || err != nil {
		t.Errorf("Verify = %+v, %v", problems, err)
	}
}

func TestImportProgress(t *testing.T) {
	f := newFixture(t)
	writeDir(t, f.blob, "src", map[string]string{"a": "1", "b": "22", "c/d": "333"})
	var calls [][2]int64
	_, _, err := f.cas.ImportDir(t.Context(), f.blob, "src", func(done, total int64) {
		calls = append(calls, [2]int64{done, total})
	})
	if want := [][2]int64{{1, 6}, {3, 6}, {6, 6}}; err != nil || !slices.Equal(calls, want) {
		t.Errorf("progress calls = %v, %v; want %v", calls, err, want)
	}
}

func TestImportSourceChanged(t *testing.T) {
	f := newFixture(t)
	writeDir(t, f.blob, "src", map[string]string{"model.bin": "original"})
	spy := &spyStore{Store: f.blob, onOpen: func(_ string, obj blob.Object) blob.Object {
		return &changingObject{Object: obj, r: bytes.NewReader([]byte("original"))}
	}}
	_, _, err := f.cas.ImportDir(t.Context(), spy, "src", nil)
	wantErr(t, "ImportDir", err, cas.ErrSourceChanged, fault.Conflict)
	if keys := f.keys(t, casPrefix); keys != nil {
		t.Errorf("a failed import left %q", keys)
	}
}

// TestSlowImportRefreshesAgedFiles runs an import that takes longer than Grace/2 on a fake
// clock: the files stored early must be stored again before the manifest, so that a GC
// that started before the manifest appeared still finds them fresh.
func TestSlowImportRefreshesAgedFiles(t *testing.T) {
	f := newFixture(t)
	writeDir(t, f.blob, "src", map[string]string{"a": "1", "b": "2", "c": "3"})
	var mu sync.Mutex
	now := time.Now()
	opens := make(map[string]int)
	spy := &spyStore{Store: f.blob, onOpen: func(key string, obj blob.Object) blob.Object {
		mu.Lock()
		defer mu.Unlock()
		if opens[key]++; opens[key] == 1 {
			now = now.Add(cas.Grace / 3) // the first read of each file is slow
		}
		return obj
	}}
	cas.SetClock(f.cas, func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	if _, _, err := f.cas.ImportDir(t.Context(), spy, "src", nil); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"src/a": 2, "src/b": 1, "src/c": 1} // a aged past Grace/2
	if !maps.Equal(opens, want) {
		t.Errorf("source opens = %v, want %v", opens, want)
	}
}
