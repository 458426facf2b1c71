package cas

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"time"

	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/fault"
)

// PutFile stores the bytes of r and returns their digest and size. Content already in the
// store is not written again. When r is an io.ReadSeeker (a file, a blob.Object) it is read
// twice, once to hash it and once to store it, and nothing is written when the content
// exists; any other reader is streamed to a temp object while it is hashed, then moved to
// its key (or copied, when the store cannot move objects). Memory use does not depend on
// the size of r.
//
// The object is durable when PutFile returns. Nothing references it yet: a manifest that
// names it must be stored with PutManifest within Grace, or GC may remove it.
func (s *Store) PutFile(ctx context.Context, r io.Reader) (digest string, size int64, err error) {
	var d sum
	if rs, ok := r.(io.ReadSeeker); ok {
		d, size, err = s.putSeekable(ctx, rs)
	} else {
		d, size, err = s.putStream(ctx, r)
	}
	if err != nil {
		return "", 0, err
	}
	return d.String(), size, nil
}

// putSeekable hashes rs from its current offset, then stores it unless the store has it.
func (s *Store) putSeekable(ctx context.Context, rs io.ReadSeeker) (sum, int64, error) {
	start, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return sum{}, 0, err
	}
	d, size, err := hashReader(ctx, rs)
	if err != nil {
		return sum{}, 0, err
	}
	c := content{sum: d, size: size, open: rewinder(rs, start), mismatch: errSourceChanged}
	_, err = s.ensure(ctx, s.objectKey(d), c)
	return d, size, err
}

// rewinder reads rs again from offset.
func rewinder(rs io.ReadSeeker, offset int64) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		_, err := rs.Seek(offset, io.SeekStart)
		return io.NopCloser(rs), err
	}
}

// putStream stores r under a temp key while hashing it, then moves it to its final key
// when the store can (a local directory renames it: the bytes are written and hashed
// once), else copies it, re-verifying the bytes it reads back.
func (s *Store) putStream(ctx context.Context, r io.Reader) (sum, int64, error) {
	tmp := s.tempKey()
	unlock := s.locks.lock(tmp) // GC leaves it alone, however long the copy takes
	defer unlock()
	h := sha256.New()
	size, err := s.b.Put(ctx, tmp, io.TeeReader(r, h))
	defer s.b.Delete(context.WithoutCancel(ctx), tmp) // best effort: GC removes stale temps
	if err != nil {
		return sum{}, 0, err
	}
	d := sum(h.Sum(nil))
	c := content{sum: d, size: size, mismatch: errCorrupt,
		open: func() (io.ReadCloser, error) { return s.b.Open(ctx, tmp) }}
	if m, ok := s.b.(blob.Mover); ok {
		c.place = func(key string) error { return m.Move(ctx, tmp, key) }
	}
	_, err = s.ensure(ctx, s.objectKey(d), c)
	return d, size, err
}

// PutManifest stores m after checking it and that the store holds every file it names, with
// the size it names, and returns its digest. The caller may list m.Entries in any order.
// The manifest is durable when PutManifest returns; until something records its digest as
// live, GC keeps it for Grace.
func (s *Store) PutManifest(ctx context.Context, m Manifest) (string, error) {
	m = Manifest{Entries: sortedEntries(m.Entries)}
	if err := m.validate(); err != nil {
		return "", err
	}
	files, err := s.storedFiles(ctx, m)
	if err != nil {
		return "", err
	}
	return s.commitManifest(ctx, m, files)
}

// storedFiles returns the files of m as pending objects, freshened against GC.
func (s *Store) storedFiles(ctx context.Context, m Manifest) ([]pending, error) {
	files := make([]pending, 0, len(m.Entries))
	for _, e := range m.Entries {
		d, _ := parseDigest(e.Digest) // validated
		p := pending{path: e.Path, content: content{sum: d, size: e.Size, open: s.selfOpener(ctx, d), mismatch: errWrongSize}}
		p.place = s.selfCopier(ctx, p.content)
		if err := s.ensurePending(ctx, &p); err != nil {
			return nil, err
		}
		files = append(files, p)
	}
	return files, nil
}

// selfCopier freshens an object with a server-side copy onto itself when the store can
// (S3: no bytes move), else as selfOpener does; nil when the store cannot copy.
func (s *Store) selfCopier(ctx context.Context, c content) func(key string) error {
	cp, ok := s.b.(blob.Copier)
	if !ok {
		return nil
	}
	return func(key string) error {
		obj, err := s.b.Open(ctx, key)
		if errors.Is(err, blob.ErrNotFound) {
			return errorf(ErrNotFound, "Object %s not found", c.sum)
		}
		if err != nil {
			return err
		}
		defer obj.Close()
		if obj.Info().Size == c.size { // else the verified copy below fails as it should
			if copied, err := cp.CopyFrom(ctx, s.b, obj, key); copied {
				return err
			}
		}
		c.place = nil
		return s.store(ctx, key, c)
	}
}

// selfOpener opens an object to copy it onto itself: that is how PutManifest freshens an
// old object, since blob.Store cannot touch one.
func (s *Store) selfOpener(ctx context.Context, d sum) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		r, err := s.b.Open(ctx, s.objectKey(d))
		if errors.Is(err, blob.ErrNotFound) {
			return nil, errorf(ErrNotFound, "Object %s not found", d)
		}
		return r, err
	}
}

// content is what a key must hold: the bytes of digest sum and length size, which open
// reads again whenever they must be stored. mismatch is the error when what open reads is
// not those bytes. When place is set, it stores them instead: a temp object already hashed
// is moved to the key.
type content struct {
	sum      sum
	size     int64
	open     func() (io.ReadCloser, error)
	mismatch mismatchFunc
	place    func(key string) error
}

// pending is a file that a manifest is about to reference; once its object is ensured, at
// is no later than the object's ModTime.
type pending struct {
	path string
	content
	at time.Time
}

func (s *Store) ensurePending(ctx context.Context, p *pending) error {
	at, err := s.ensure(ctx, s.objectKey(p.sum), p.content)
	if err != nil {
		return pathError(p.path, err)
	}
	p.at = at
	return nil
}

// commitManifest stores m once its files are all fresh enough that a GC which has not seen
// the manifest keeps them (see GC), re-ensuring the files that have aged meanwhile. Each
// pass re-stores fewer files, unless storing them takes longer than Grace/2: then it gives up.
func (s *Store) commitManifest(ctx context.Context, m Manifest, files []pending) (string, error) {
	const maxPasses = 3
	for range maxPasses {
		aged, err := s.refreshAged(ctx, files)
		if err != nil {
			return "", err
		}
		if aged == 0 {
			return s.putManifestBytes(ctx, m.encode())
		}
	}
	return "", fault.New(fault.Unavailable,
		"Storing the files took longer than half the GC grace period (%v) %d times over", Grace, maxPasses)
}

// refreshAged re-ensures the files ensured more than Grace/2 ago and returns how many.
func (s *Store) refreshAged(ctx context.Context, files []pending) (int, error) {
	stale := s.now().Add(-Grace / 2)
	aged := 0
	for i := range files {
		if !files[i].at.Before(stale) {
			continue
		}
		aged++
		if err := s.ensurePending(ctx, &files[i]); err != nil {
			return aged, err
		}
	}
	return aged, nil
}

func (s *Store) putManifestBytes(ctx context.Context, data []byte) (string, error) {
	if len(data) > maxManifestSize {
		return "", fault.Wrap(fault.TooLarge, ErrInvalidManifest,
			"The manifest is %d bytes, over the limit of %d", len(data), maxManifestSize)
	}
	d := sum(sha256.Sum256(data))
	c := content{sum: d, size: int64(len(data)), open: rewinder(bytes.NewReader(data), 0), mismatch: errCorrupt}
	_, err := s.ensure(ctx, s.manifestKey(d), c)
	return d.String(), err
}

// ensure makes key hold c, stored or stored again no earlier than Grace/2 ago, and returns
// a time no later than its ModTime. An object that is there, of the right size and fresh
// enough is trusted as is: that is the dedup. Otherwise c is stored, verified on the way, so
// that a mismatch aborts the Put and leaves the key as it was.
//
// The key stays locked against GC's last check and delete of the same key, so that in one
// process GC never removes an object between this check and the caller's manifest.
func (s *Store) ensure(ctx context.Context, key string, c content) (time.Time, error) {
	unlock := s.locks.lock(key)
	defer unlock()
	info, err := s.b.Stat(ctx, key)
	switch {
	case err == nil && info.Size == c.size && info.ModTime.After(s.now().Add(-Grace/2)):
		return info.ModTime, nil
	case err != nil && !errors.Is(err, blob.ErrNotFound):
		return time.Time{}, err
	}
	at := s.now()
	return at, s.store(ctx, key, c)
}

func (s *Store) store(ctx context.Context, key string, c content) error {
	if c.place != nil {
		return c.place(key)
	}
	r, err := c.open()
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = s.b.Put(ctx, key, newVerifier(r, c.sum, c.size, c.mismatch))
	return err
}

// hashReader returns the digest and size of what r holds.
func hashReader(ctx context.Context, r io.Reader) (sum, int64, error) {
	h := sha256.New()
	n, err := io.Copy(h, ctxReader{ctx, r})
	if err != nil {
		return sum{}, 0, err
	}
	return sum(h.Sum(nil)), n, nil
}

// ctxReader stops a long read once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
