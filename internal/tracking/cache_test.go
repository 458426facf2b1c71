package tracking

import (
	"fmt"
	"testing"
)

func cachedRun(id string) *Run { return &Run{Info: RunInfo{RunID: id}} }

func TestRunCacheGetPut(t *testing.T) {
	c := newRunCache(3)
	v := c.snapshot()
	c.put(cachedRun("a"), v)
	if c.get("a") == nil || c.get("b") != nil {
		t.Fatal("get after put")
	}
}

// A reader that loaded a run before a write must not cache what it loaded.
func TestRunCacheRefusesStaleLoads(t *testing.T) {
	tests := []struct {
		name  string
		steps func(c *runCache) uint64 // returns the reader's snapshot
		want  bool
	}{
		{"no write", func(c *runCache) uint64 { return c.snapshot() }, true},
		{"write before snapshot", func(c *runCache) uint64 { c.invalidate("a"); return c.snapshot() }, true},
		{"write after snapshot", func(c *runCache) uint64 { v := c.snapshot(); c.invalidate("a"); return v }, false},
		{"other run written", func(c *runCache) uint64 { v := c.snapshot(); c.invalidate("b"); return v }, true},
		{"fresher load cached in between", func(c *runCache) uint64 {
			v := c.snapshot()
			c.invalidate("a")
			fresh := cachedRun("a")
			c.put(fresh, c.snapshot())
			return v
		}, true}, // the fresher run stays; checked below that it was not replaced
		{"all invalidated after snapshot", func(c *runCache) uint64 { v := c.snapshot(); c.invalidateAll(); return v }, false},
		{"tombstone evicted after snapshot", func(c *runCache) uint64 {
			v := c.snapshot()
			c.invalidate("a")
			for i := range 10 {
				c.invalidate(fmt.Sprint("x", i)) // pushes a's tombstone out
			}
			return v
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newRunCache(4)
			since := tc.steps(c)
			before := c.get("a")
			stale := cachedRun("a")
			c.put(stale, since)
			got := c.get("a")
			if (got != nil) != tc.want {
				t.Fatalf("cached = %v, want %v", got != nil, tc.want)
			}
			if before != nil && got != before && since < c.snapshot() {
				t.Fatal("a load older than the cached run replaced it")
			}
		})
	}
}

func TestRunCacheInvalidateDropsAndEvicts(t *testing.T) {
	c := newRunCache(2)
	for _, id := range []string{"a", "b", "c"} {
		c.put(cachedRun(id), c.snapshot())
	}
	if c.get("a") != nil {
		t.Fatal("least recently used run not evicted")
	}
	c.invalidate("c")
	if c.get("c") != nil {
		t.Fatal("invalidated run still cached")
	}
	if len(c.items) > 2 {
		t.Fatalf("cache holds %d items, max 2", len(c.items))
	}
}
