package cas

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/mlship/mlship/internal/blob"
)

// GC removes the manifests and objects that no live manifest reaches, and the temp uploads
// that crashes left behind, and returns how many it removed and how many bytes they held.
// live yields the digests of the manifests in use (in the registry, every model version);
// GC reads them all, and refuses an invalid one, before any I/O.
//
// The rule: a GC that starts at time T removes a manifest, object or temp upload only if
//
//  1. its ModTime is before T-Grace, checked again just before the delete, and
//  2. it is not reached from a live manifest, nor from a manifest whose ModTime is at or
//     after T-Grace.
//
// So nothing written after T, or within Grace before it, is removed, and a new manifest
// keeps its files while the caller records it as live, which it must do within Grace.
// Writers hold up their side: every file of a new manifest is stored, or stored again if its
// object is older than Grace/2 (blob.Store cannot touch an object, so this is git's
// "freshen" by rewriting), at most Grace/2 before the manifest is written. A GC that missed
// the manifest, having started before it, therefore finds those files newer than its T-Grace.
//
// In one process a lock per key orders GC's final check and delete against a writer's check
// and store of the same key, so the rule holds exactly. Across processes sharing a bucket it
// holds but for one window: blob.Store has no conditional delete, so an old object that
// another process stores again between GC's last Stat and its Delete is lost; Verify finds
// it and importing the source again repairs it.
//
// Calls to GC on one Store run one at a time. GC fails, having removed nothing, if a
// manifest it must keep is missing or corrupt: the files that manifest names may be all that
// is left to repair it with.
func (s *Store) GC(ctx context.Context, live iter.Seq[string]) (removed int, freed int64, err error) {
	if live == nil {
		return 0, 0, errors.New("cas: GC needs the live manifests; pass an empty sequence for none")
	}
	roots, err := liveSums(live)
	if err != nil {
		return 0, 0, err
	}
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	cutoff := s.now().Add(-Grace)
	doomed, err := s.collect(ctx, cutoff, roots)
	if err != nil {
		return 0, 0, fmt.Errorf("cas: gc: %w", err)
	}
	return s.sweep(ctx, doomed, cutoff)
}

func liveSums(live iter.Seq[string]) (map[sum]bool, error) {
	roots := make(map[sum]bool)
	for digest := range live {
		d, err := parseDigest(digest)
		if err != nil {
			return nil, err
		}
		roots[d] = true
	}
	return roots, nil
}

// collect returns the keys GC may remove: unreachable manifests first, so that no manifest
// outlives its files should GC stop halfway, then unreachable objects, then stale temps.
func (s *Store) collect(ctx context.Context, cutoff time.Time, roots map[sum]bool) ([]blob.Info, error) {
	doomed, err := s.scanManifests(ctx, cutoff, roots)
	if err != nil {
		return nil, err
	}
	reached, err := s.mark(ctx, roots)
	if err != nil {
		return nil, err
	}
	doomed, err = s.scanObjects(ctx, cutoff, reached, doomed)
	if err != nil {
		return nil, err
	}
	return s.scanTemps(ctx, cutoff, doomed)
}

// scanManifests adds the fresh manifests to roots and returns the old ones that are not.
func (s *Store) scanManifests(ctx context.Context, cutoff time.Time, roots map[sum]bool) ([]blob.Info, error) {
	var old []blob.Info
	err := s.b.Walk(ctx, s.manifestsDir(), func(info blob.Info) error {
		d, ok := digestFromKey(info.Key)
		switch {
		case !ok || info.Key != s.manifestKey(d): // not written by this package: leave it
		case !info.ModTime.Before(cutoff):
			roots[d] = true
		case !roots[d]:
			old = append(old, info)
		}
		return nil
	})
	return old, err
}

// mark returns the objects that the root manifests reach.
func (s *Store) mark(ctx context.Context, roots map[sum]bool) (map[sum]bool, error) {
	reached := make(map[sum]bool)
	for d := range roots {
		m, err := s.readManifest(ctx, d)
		if err != nil {
			return nil, err
		}
		for _, e := range m.Entries {
			od, _ := parseDigest(e.Digest) // validated with the manifest
			reached[od] = true
		}
	}
	return reached, nil
}

// scanObjects appends to doomed the old objects that nothing reached.
func (s *Store) scanObjects(ctx context.Context, cutoff time.Time, reached map[sum]bool,
	doomed []blob.Info) ([]blob.Info, error) {
	err := s.b.Walk(ctx, s.objectsDir(), func(info blob.Info) error {
		d, ok := digestFromKey(info.Key)
		if ok && info.Key == s.objectKey(d) && info.ModTime.Before(cutoff) && !reached[d] {
			doomed = append(doomed, info)
		}
		return nil
	})
	return doomed, err
}

// scanTemps appends to doomed the temp uploads older than cutoff.
func (s *Store) scanTemps(ctx context.Context, cutoff time.Time, doomed []blob.Info) ([]blob.Info, error) {
	err := s.b.Walk(ctx, s.tempDir(), func(info blob.Info) error {
		if info.ModTime.Before(cutoff) {
			doomed = append(doomed, info)
		}
		return nil
	})
	return doomed, err
}

// sweep removes each doomed key that is still older than cutoff.
func (s *Store) sweep(ctx context.Context, doomed []blob.Info, cutoff time.Time) (removed int, freed int64, err error) {
	for _, info := range doomed {
		size, ok, err := s.removeIfOld(ctx, info.Key, cutoff)
		if err != nil {
			return removed, freed, fmt.Errorf("cas: gc: %w", err)
		}
		if ok {
			removed++
			freed += size
		}
	}
	return removed, freed, nil
}

// removeIfOld deletes key if its ModTime is still before cutoff: a writer may have stored
// it again since GC listed it.
func (s *Store) removeIfOld(ctx context.Context, key string, cutoff time.Time) (int64, bool, error) {
	unlock := s.locks.lock(key)
	defer unlock()
	info, err := s.b.Stat(ctx, key)
	switch {
	case errors.Is(err, blob.ErrNotFound):
		return 0, false, nil
	case err != nil:
		return 0, false, err
	case !info.ModTime.Before(cutoff):
		return 0, false, nil
	}
	return info.Size, true, s.b.Delete(ctx, key)
}
