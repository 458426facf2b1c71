package cas_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/cas"
	"github.com/mlship/mlship/internal/fault"
)

const casPrefix = "cas"

// fixture is a CAS on a local blob store, with sources written to the same store.
type fixture struct {
	blob *blob.Local
	cas  *cas.Store
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	l, err := blob.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return fixture{blob: l, cas: cas.New(l, casPrefix)}
}

// writeDir stores files (path -> content) under prefix in b.
func writeDir(t *testing.T, b blob.Store, prefix string, files map[string]string) {
	t.Helper()
	for p, body := range files {
		if _, err := b.Put(t.Context(), prefix+"/"+p, strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
}

// importDir writes files under prefix and imports them.
func (f fixture) importDir(t *testing.T, prefix string, files map[string]string) (cas.Manifest, string) {
	t.Helper()
	writeDir(t, f.blob, prefix, files)
	m, d, err := f.cas.ImportDir(t.Context(), f.blob, prefix, nil)
	if err != nil {
		t.Fatalf("ImportDir(%q): %v", prefix, err)
	}
	return m, d
}

func digestOf(body string) string {
	s := sha256.Sum256([]byte(body))
	return "sha256:" + hex.EncodeToString(s[:])
}

func hexOf(digest string) string { return strings.TrimPrefix(digest, "sha256:") }

// objectKey and manifestKey spell out the documented layout.
func objectKey(digest string) string {
	hx := hexOf(digest)
	return casPrefix + "/objects/sha256/" + hx[:2] + "/" + hx
}

func manifestKey(digest string) string { return casPrefix + "/manifests/sha256/" + hexOf(digest) }

// hostPath is where the local store keeps key.
func (f fixture) hostPath(key string) string {
	return filepath.Join(f.blob.Dir(), filepath.FromSlash(key))
}

// keys returns every key under dir.
func (f fixture) keys(t *testing.T, dir string) []string {
	t.Helper()
	var keys []string
	err := f.blob.Walk(t.Context(), dir, func(info blob.Info) error {
		keys = append(keys, info.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// backdate sets the ModTime of every file under the CAS prefix to age ago.
func (f fixture) backdate(t *testing.T, age time.Duration) {
	t.Helper()
	old := time.Now().Add(-age)
	err := filepath.WalkDir(f.hostPath(casPrefix), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		return os.Chtimes(p, old, old)
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
}

func (f fixture) touch(t *testing.T, key string) {
	t.Helper()
	now := time.Now()
	if err := os.Chtimes(f.hostPath(key), now, now); err != nil {
		t.Fatal(err)
	}
}

// Ways to damage a stored file on disk.
func flipFirst(b []byte) []byte { b[0] ^= 0x01; return b }
func flipLast(b []byte) []byte  { b[len(b)-1] ^= 0x80; return b }
func truncate(b []byte) []byte  { return b[:len(b)-1] }
func extend(b []byte) []byte    { return append(b, 'x') }

func (f fixture) damage(t *testing.T, key string, how func([]byte) []byte) {
	t.Helper()
	p := f.hostPath(key)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, how(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f fixture) remove(t *testing.T, key string) {
	t.Helper()
	if err := os.Remove(f.hostPath(key)); err != nil {
		t.Fatal(err)
	}
}

func readAll(t *testing.T, s *cas.Store, digest string) (string, error) {
	t.Helper()
	r, err := s.Open(t.Context(), digest)
	if err != nil {
		return "", err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	return string(b), err
}

// wantErr checks that err matches sentinel and has kind.
func wantErr(t *testing.T, what string, err, sentinel error, kind fault.Kind) {
	t.Helper()
	if !errors.Is(err, sentinel) || fault.KindOf(err) != kind {
		t.Errorf("%s: got error %v (kind %v), want %v of kind %v", what, err, fault.KindOf(err), sentinel, kind)
	}
}

// spyStore counts the calls that reach the blob store and lets a test intercept Open.
type spyStore struct {
	blob.Store
	calls  atomic.Int64
	onOpen func(key string, obj blob.Object) blob.Object
}

func (s *spyStore) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	s.calls.Add(1)
	return s.Store.Put(ctx, key, r)
}

func (s *spyStore) Open(ctx context.Context, key string) (blob.Object, error) {
	s.calls.Add(1)
	obj, err := s.Store.Open(ctx, key)
	if err == nil && s.onOpen != nil {
		obj = s.onOpen(key, obj)
	}
	return obj, err
}

func (s *spyStore) Stat(ctx context.Context, key string) (blob.Info, error) {
	s.calls.Add(1)
	return s.Store.Stat(ctx, key)
}

func (s *spyStore) Walk(ctx context.Context, prefix string, fn func(blob.Info) error) error {
	s.calls.Add(1)
	return s.Store.Walk(ctx, prefix, fn)
}

func (s *spyStore) Delete(ctx context.Context, key string) error {
	s.calls.Add(1)
	return s.Store.Delete(ctx, key)
}

// changingObject is a source object whose bytes change once it is read again from the start.
type changingObject struct {
	blob.Object
	r *bytes.Reader
}

func (o *changingObject) Read(p []byte) (int, error) { return o.r.Read(p) }

func (o *changingObject) Seek(off int64, whence int) (int64, error) {
	o.r = bytes.NewReader([]byte("changed!"))
	return o.r.Seek(off, whence)
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// stringReader returns a reader that cannot seek, so that PutFile streams it.
func stringReader(s string) io.Reader { return struct{ io.Reader }{strings.NewReader(s)} }
