package cas

import (
	"context"
	"io"
	"strings"

	"github.com/mlship/mlship/internal/blob"
)

// ImportDir copies every object under the directory srcPrefix of src ("" is all of src)
// into the store, stores the manifest of those files, with paths relative to srcPrefix, and
// returns it with its digest. This is how a model version is made from a run's artifacts.
//
// Each source object is read twice: once to hash it and, unless the store already holds
// that content, once more to store it, verified against the first hash; a source that
// changes in between fails with ErrSourceChanged. progress, if not nil, is called after each
// file with the bytes imported so far and in all. A prefix with no objects is ErrNotFound.
//
// Imports of the same files may run concurrently, in this process or others: they store
// the same bytes under the same keys and return the same digest. Until the caller records
// the digest as live, GC keeps the manifest and its files for Grace.
func (s *Store) ImportDir(ctx context.Context, src blob.Store, srcPrefix string,
	progress func(done, total int64)) (Manifest, string, error) {
	srcPrefix = strings.TrimSuffix(srcPrefix, "/")
	infos, total, err := listFiles(ctx, src, srcPrefix)
	if err != nil {
		return Manifest{}, "", err
	}
	files := make([]pending, 0, len(infos))
	var done int64
	for _, info := range infos {
		p, err := s.importFile(ctx, src, info.Key, relativePath(srcPrefix, info.Key))
		if err != nil {
			return Manifest{}, "", err
		}
		files = append(files, p)
		done += p.size
		if progress != nil {
			progress(done, total)
		}
	}
	m := manifestOf(files)
	if err := m.validate(); err != nil {
		return Manifest{}, "", err
	}
	d, err := s.commitManifest(ctx, m, files)
	if err != nil {
		return Manifest{}, "", err
	}
	return m, d, nil
}

// listFiles returns the objects under prefix and their total size.
func listFiles(ctx context.Context, src blob.Store, prefix string) ([]blob.Info, int64, error) {
	var infos []blob.Info
	var total int64
	err := src.Walk(ctx, prefix, func(info blob.Info) error {
		infos = append(infos, info)
		total += info.Size
		return nil
	})
	if err == nil && len(infos) == 0 {
		err = errorf(ErrNotFound, "No files to import under %q", prefix)
	}
	return infos, total, err
}

func relativePath(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return key[len(prefix)+1:]
}

// importFile hashes the source object key, then stores it unless the store has it.
func (s *Store) importFile(ctx context.Context, src blob.Store, key, path string) (pending, error) {
	obj, err := src.Open(ctx, key)
	if err != nil {
		return pending{}, pathError(path, err)
	}
	defer obj.Close()
	d, size, err := hashReader(ctx, obj)
	if err != nil {
		return pending{}, pathError(path, err)
	}
	p := pending{path: path, content: content{sum: d, size: size, open: rewinder(obj, 0), mismatch: errSourceChanged}}
	if cp, ok := s.b.(blob.Copier); ok {
		// An S3 store copies within the bucket (or between buckets of one endpoint) without
		// the bytes passing through here; the copy fails if the object changed since hashed.
		read := p.content
		p.place = func(key string) error {
			copied, err := cp.CopyFrom(ctx, src, obj, key)
			if copied {
				return err
			}
			return s.store(ctx, key, read)
		}
	}
	if err := s.ensurePending(ctx, &p); err != nil {
		return pending{}, err
	}
	// obj is closed once this returns: a file that ages before the manifest is read anew.
	p.open = func() (io.ReadCloser, error) { return src.Open(ctx, key) }
	p.place = nil
	return p, nil
}

func manifestOf(files []pending) Manifest {
	entries := make([]Entry, len(files))
	for i, f := range files {
		entries[i] = Entry{Path: f.path, Size: f.size, Digest: f.sum.String()}
	}
	return Manifest{Entries: sortedEntries(entries)}
}
