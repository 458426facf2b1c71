package tracking

import (
	"container/list"
	"sync"
)

// runCache keeps recently loaded runs so that repeated searches and gets skip the
// database. It is only used when this process is the database's only writer (SQLite),
// so every change passes through invalidate.
//
// A load races with writes: a reader may fetch a run, a write may then change and
// invalidate it, and the reader may only then try to cache what it fetched. Every
// invalidation therefore gets a version number and leaves a tombstone; a reader notes
// the version before it loads and may cache a run only if no invalidation of that run
// came after; an entry keeps the version of its last invalidation even once a fresher
// load has filled it again. Entries are bounded: when one that was ever invalidated is
// dropped, floor rises to its version, and readers that started before floor cache
// nothing.
type runCache struct {
	mu      sync.Mutex
	max     int
	version uint64
	floor   uint64
	order   *list.List               // front = most recently used; values are *cacheItem
	items   map[string]*list.Element // run id -> element
}

type cacheItem struct {
	id          string
	run         *Run   // nil after an invalidation, until a load fills it again
	invalidated uint64 // version of the last invalidation, 0 if none
}

func newRunCache(max int) *runCache {
	return &runCache{max: max, order: list.New(), items: map[string]*list.Element{}}
}

// snapshot returns the version a reader must pass to put.
func (c *runCache) snapshot() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version
}

// get returns a cached run. Runs in the cache are shared: callers must not change them.
func (c *runCache) get(id string) *Run {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[id]
	if !ok {
		return nil
	}
	it := e.Value.(*cacheItem)
	if it.run == nil {
		return nil
	}
	c.order.MoveToFront(e)
	return it.run
}

// put caches a run loaded by a reader that took its snapshot at version since.
func (c *runCache) put(r *Run, since uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if since < c.floor {
		return
	}
	id := r.Info.RunID
	if e, ok := c.items[id]; ok {
		it := e.Value.(*cacheItem)
		if it.invalidated > since {
			return
		}
		it.run = r
		c.order.MoveToFront(e)
		return
	}
	c.items[id] = c.order.PushFront(&cacheItem{id: id, run: r})
	c.evict()
}

// invalidate drops runs after a write changed them.
func (c *runCache) invalidate(ids ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.version++
	for _, id := range ids {
		if e, ok := c.items[id]; ok {
			it := e.Value.(*cacheItem)
			it.run, it.invalidated = nil, c.version
			c.order.MoveToFront(e)
			continue
		}
		c.items[id] = c.order.PushFront(&cacheItem{id: id, invalidated: c.version})
	}
	c.evict()
}

// invalidateAll drops every run, after a write that changed runs it did not name.
func (c *runCache) invalidateAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.version++
	c.floor = c.version
	c.order.Init()
	clear(c.items)
}

func (c *runCache) evict() {
	for c.order.Len() > c.max {
		e := c.order.Back()
		it := e.Value.(*cacheItem)
		if it.invalidated > c.floor {
			c.floor = it.invalidated
		}
		c.order.Remove(e)
		delete(c.items, it.id)
	}
}
