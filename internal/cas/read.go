package cas

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/fault"
)

// Open opens the object named by digest. The reader verifies the bytes as they stream: at
// the end, instead of io.EOF, it returns an error matching ErrCorrupt if they do not hash to
// digest. The bytes read before that error must then be thrown away; a reader closed before
// the end verifies nothing.
func (s *Store) Open(ctx context.Context, digest string) (io.ReadCloser, error) {
	obj, d, err := s.openDigest(ctx, digest)
	if err != nil {
		return nil, err
	}
	return verifyingCloser{newVerifier(obj, d, anySize, errCorrupt), obj}, nil
}

// openDigest opens the object named by digest, unverified.
func (s *Store) openDigest(ctx context.Context, digest string) (blob.Object, sum, error) {
	d, err := parseDigest(digest)
	if err != nil {
		return nil, d, err
	}
	obj, err := s.openObject(ctx, s.objectKey(d), d)
	return obj, d, err
}

func (s *Store) openObject(ctx context.Context, key string, d sum) (blob.Object, error) {
	obj, err := s.b.Open(ctx, key)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, errorf(ErrNotFound, "Object %s not found", d)
	}
	return obj, err
}

type verifyingCloser struct {
	io.Reader
	io.Closer
}

// Manifest reads the manifest named by digest and checks its hash and its contents.
func (s *Store) Manifest(ctx context.Context, digest string) (Manifest, error) {
	d, err := parseDigest(digest)
	if err != nil {
		return Manifest{}, err
	}
	return s.readManifest(ctx, d)
}

func (s *Store) readManifest(ctx context.Context, d sum) (Manifest, error) {
	obj, err := s.openObject(ctx, s.manifestKey(d), d)
	if errors.Is(err, ErrNotFound) {
		return Manifest{}, errorf(ErrNotFound, "Manifest %s not found", d)
	}
	if err != nil {
		return Manifest{}, err
	}
	defer obj.Close()
	data, err := io.ReadAll(io.LimitReader(newVerifier(obj, d, anySize, errCorrupt), maxManifestSize+1))
	if err != nil {
		return Manifest{}, err
	}
	if len(data) > maxManifestSize {
		return Manifest{}, errorf(ErrCorrupt, "Manifest %s is over %d bytes", d, maxManifestSize)
	}
	m, err := decodeManifest(data)
	if err != nil {
		return Manifest{}, fault.Wrap(fault.Internal, ErrCorrupt, "Manifest %s does not parse: %v", d, err)
	}
	return m, nil
}

// mismatch is what a verifier read instead of what it expected.
type mismatch struct {
	want, got         sum
	wantSize, gotSize int64
}

// mismatchFunc returns the error for a mismatch.
type mismatchFunc func(mismatch) error

func errCorrupt(m mismatch) error {
	return errorf(ErrCorrupt, "Object %s is corrupt: its bytes hash to %s", m.want, m.got)
}

func errSourceChanged(m mismatch) error {
	return errorf(ErrSourceChanged, "The source changed while it was copied: it hashed to %s, then to %s", m.want, m.got)
}

// errWrongSize is for a manifest entry whose size is not that of the object it names.
func errWrongSize(m mismatch) error {
	if m.got != m.want {
		return errCorrupt(m)
	}
	return errorf(ErrInvalidManifest, "Invalid manifest: the file has %d bytes, not %d", m.gotSize, m.wantSize)
}

// anySize is the size to give a verifier that checks only the hash.
const anySize = -1

// verifier passes r through and, at its end, returns the mismatch error instead of io.EOF
// unless what went through hashes to want and, unless wantSize is anySize, has that size.
type verifier struct {
	r        io.Reader
	h        hash.Hash
	n        int64
	want     mismatch // want and wantSize
	mismatch mismatchFunc
	err      error // sticky: the verdict once reached
}

func newVerifier(r io.Reader, want sum, wantSize int64, f mismatchFunc) *verifier {
	return &verifier{r: r, h: sha256.New(), want: mismatch{want: want, wantSize: wantSize}, mismatch: f}
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if err == io.EOF {
		err = v.verdict()
	}
	if err != nil {
		v.err = err
	}
	return n, err
}

func (v *verifier) verdict() error {
	m := v.want
	m.got, m.gotSize = sum(v.h.Sum(nil)), v.n
	if m.got != m.want || (m.wantSize != anySize && m.gotSize != m.wantSize) {
		return v.mismatch(m)
	}
	return io.EOF
}

// pathError adds the manifest path of a file to err.
func pathError(path string, err error) error {
	if fe, ok := err.(*fault.Error); ok {
		return fault.Wrap(fe.Kind, fe.Err, "File %q: %s", path, fe.Msg)
	}
	return fmt.Errorf("cas: file %q: %w", path, err)
}

// PresignOpen returns a URL from which a client reads the object named by digest without
// the server, the headers to send with it and its size, when the store hands such URLs out
// (blob.GetPresigner); ok is false otherwise. The client gets the object's bytes as stored:
// unlike Open's, they are not verified on the way.
func (s *Store) PresignOpen(ctx context.Context, digest string, ttl time.Duration) (url string, headers map[string]string, size int64, ok bool, err error) {
	p, can := s.b.(blob.GetPresigner)
	if !can || !p.PresignsGets() {
		return "", nil, 0, false, nil
	}
	d, err := parseDigest(digest)
	if err != nil {
		return "", nil, 0, true, err
	}
	url, headers, size, err = p.PresignGet(ctx, s.objectKey(d), ttl)
	if errors.Is(err, blob.ErrNotFound) {
		err = errorf(ErrNotFound, "Object %s not found", d)
	}
	return url, headers, size, true, err
}

// PresignsOpens reports whether PresignOpen hands out URLs.
func (s *Store) PresignsOpens() bool {
	p, can := s.b.(blob.GetPresigner)
	return can && p.PresignsGets()
}
