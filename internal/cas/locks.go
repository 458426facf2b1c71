package cas

import "sync"

// keyMutex is a set of mutexes, one per key in use: writers hold a key from their check
// until their object is stored, and GC holds it from its last check until its delete.
type keyMutex struct {
	mu    sync.Mutex
	locks map[string]*refMutex
}

type refMutex struct {
	sync.Mutex
	refs int // holders and waiters; the entry goes when it drops to zero
}

// lock locks key and returns the function that unlocks it.
func (k *keyMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = make(map[string]*refMutex)
	}
	m := k.locks[key]
	if m == nil {
		m = new(refMutex)
		k.locks[key] = m
	}
	m.refs++
	k.mu.Unlock()

	m.Lock()
	return func() {
		m.Unlock()
		k.mu.Lock()
		if m.refs--; m.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
