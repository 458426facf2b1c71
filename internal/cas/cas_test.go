package cas_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/mlship/mlship/internal/cas"
	"github.com/mlship/mlship/internal/fault"
)

func TestPutFileDedup(t *testing.T) {
	tests := []struct {
		name string
		r    func(string) io.Reader
	}{
		{"seekable", func(s string) io.Reader { return strings.NewReader(s) }},
		{"stream", stringReader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			for range 3 {
				d, n, err := f.cas.PutFile(t.Context(), tt.r("same bytes"))
				if err != nil || d != digestOf("same bytes") || n != 10 {
					t.Fatalf("PutFile = %s, %d, %v", d, n, err)
				}
			}
			want := []string{objectKey(digestOf("same bytes"))}
			if keys := f.keys(t, casPrefix); !slices.Equal(keys, want) {
				t.Errorf("keys after 3 PutFiles = %q, want %q (no temp left)", keys, want)
			}
			if got, err := readAll(t, f.cas, digestOf("same bytes")); got != "same bytes" || err != nil {
				t.Errorf("read back %q, %v", got, err)
			}
		})
	}
}

func TestPutFileFromOffset(t *testing.T) {
	f := newFixture(t)
	r := strings.NewReader("header|payload")
	r.Seek(7, io.SeekStart)
	if d, n, err := f.cas.PutFile(t.Context(), r); d != digestOf("payload") || n != 7 || err != nil {
		t.Errorf("PutFile from offset 7 = %s, %d, %v; want the digest of %q", d, n, err, "payload")
	}
}

func TestSharedFileStoredOnce(t *testing.T) {
	f := newFixture(t)
	weights := strings.Repeat("w", 4096)
	_, d1 := f.importDir(t, "runs/1/model", map[string]string{"model.onnx": weights, "MLmodel": "v1"})
	_, d2 := f.importDir(t, "runs/2/model", map[string]string{"model.onnx": weights, "MLmodel": "v2", "extra/notes.txt": "n"})
	if d1 == d2 {
		t.Fatal("different versions got the same digest")
	}
	objects := f.keys(t, casPrefix+"/objects")
	var want []string
	for _, body := range []string{weights, "v1", "v2", "n"} {
		want = append(want, objectKey(digestOf(body)))
	}
	slices.Sort(want)
	if !slices.Equal(objects, want) {
		t.Errorf("objects = %q, want %q: the shared file once", objects, want)
	}
	if manifests := f.keys(t, casPrefix+"/manifests"); len(manifests) != 2 {
		t.Errorf("manifests = %q, want 2", manifests)
	}
}

func TestOpenDetectsCorruption(t *testing.T) {
	const body = "the weights of a model"
	tests := []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"first byte flipped", flipFirst},
		{"last byte flipped", flipLast},
		{"truncated", truncate},
		{"extended", extend},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			d, _, err := f.cas.PutFile(t.Context(), strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			f.damage(t, objectKey(d), tt.damage)
			_, err = readAll(t, f.cas, d)
			wantErr(t, "reading to the end", err, cas.ErrCorrupt, fault.Internal)
		})
	}
	t.Run("intact", func(t *testing.T) {
		f := newFixture(t)
		d, _, _ := f.cas.PutFile(t.Context(), strings.NewReader(body))
		if got, err := readAll(t, f.cas, d); got != body || err != nil {
			t.Errorf("read %q, %v", got, err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		f := newFixture(t)
		_, err := f.cas.Open(t.Context(), digestOf(body))
		wantErr(t, "Open", err, cas.ErrNotFound, fault.NotFound)
	})
}

func TestInvalidDigestsRejectedBeforeIO(t *testing.T) {
	hx := hexOf(digestOf("x"))
	digests := []string{
		"",
		"sha256:",
		hx,
		"sha256:" + strings.ToUpper(hx),
		"SHA256:" + hx,
		"md5:" + hx[:32],
		"sha256:" + hx[:63],
		"sha256:" + hx + "0",
		"sha256:" + hx[:60] + "/../",
		"sha256:../../../../etc/passwd",
		"sha256:" + hx[:63] + "g",
		"sha256: " + hx[:63],
		"sha256:" + hx + "\n",
		strings.Repeat("sha256:", 1000),
	}
	ops := []struct {
		name string
		call func(*cas.Store, string) error
	}{
		{"Open", func(s *cas.Store, d string) error { _, err := s.Open(t.Context(), d); return err }},
		{"Manifest", func(s *cas.Store, d string) error { _, err := s.Manifest(t.Context(), d); return err }},
		{"Verify", func(s *cas.Store, d string) error { _, err := s.Verify(t.Context(), d); return err }},
		{"GC", func(s *cas.Store, d string) error {
			_, _, err := s.GC(t.Context(), slices.Values([]string{d}))
			return err
		}},
		{"CheckDigest", func(_ *cas.Store, d string) error { return cas.CheckDigest(d) }},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			spy := &spyStore{Store: newFixture(t).blob}
			s := cas.New(spy, casPrefix)
			for _, d := range digests {
				wantErr(t, op.name+"("+d+")", op.call(s, d), cas.ErrInvalidDigest, fault.Invalid)
			}
			if n := spy.calls.Load(); n != 0 {
				t.Errorf("%d blob calls for invalid digests", n)
			}
		})
	}
	if err := cas.CheckDigest(digestOf("x")); err != nil {
		t.Errorf("CheckDigest of a valid digest: %v", err)
	}
}

// TestLargeFileStreams puts and reads back 64 MiB and checks that the heap never held it.
func TestLargeFileStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 64 MiB")
	}
	const size = 64 << 20
	want := digestOf2(newPattern(), size)
	tests := []struct {
		name string
		r    func(t *testing.T) io.Reader
	}{
		{"stream", func(*testing.T) io.Reader { return io.LimitReader(newPattern(), size) }},
		{"file", func(t *testing.T) io.Reader { return patternFile(t, size) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			r := tt.r(t)
			allocated := allocatedBy(func() {
				d, n, err := f.cas.PutFile(t.Context(), r)
				if err != nil || d != want || n != size {
					t.Fatalf("PutFile = %s, %d, %v; want %s", d, n, err, want)
				}
				rc, err := f.cas.Open(t.Context(), want)
				if err != nil {
					t.Fatal(err)
				}
				defer rc.Close()
				if n, err := io.Copy(io.Discard, rc); n != size || err != nil {
					t.Fatalf("read back %d bytes, %v", n, err)
				}
			})
			if allocated > size/4 {
				t.Errorf("put and read of %d MiB allocated %d MiB", size>>20, allocated>>20)
			}
		})
	}
}

func newPattern() io.Reader { return rand.NewChaCha8([32]byte{'m', 'l', 's', 'h', 'i', 'p'}) }

func digestOf2(r io.Reader, size int64) string {
	h := sha256.New()
	io.CopyN(h, r, size)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func patternFile(t *testing.T, size int64) *os.File {
	f, err := os.Create(filepath.Join(t.TempDir(), "big"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := io.CopyN(f, newPattern(), size); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	return f
}

// allocatedBy returns the bytes that fn allocated on the heap.
func allocatedBy(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestPutFileStreamRenamesIntoPlace: on a local store a streamed upload is renamed to its
// key once hashed; it replaces an object that aged past Grace/2 or lost bytes, and an
// upload that fails leaves neither an object nor a temp file.
func TestPutFileStreamRenamesIntoPlace(t *testing.T) {
	body := "renamed bytes"
	key := objectKey(digestOf(body))
	tests := []struct {
		name   string
		before func(t *testing.T, f fixture)
	}{
		{"new", func(*testing.T, fixture) {}},
		{"stale", func(t *testing.T, f fixture) { f.backdate(t, cas.Grace) }},
		{"truncated", func(t *testing.T, f fixture) { f.damage(t, key, truncate) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.name != "new" {
				if _, _, err := f.cas.PutFile(t.Context(), stringReader(body)); err != nil {
					t.Fatal(err)
				}
			}
			tt.before(t, f)
			start := time.Now().Add(-time.Second)
			if d, n, err := f.cas.PutFile(t.Context(), stringReader(body)); err != nil || d != digestOf(body) || n != int64(len(body)) {
				t.Fatalf("PutFile = %s, %d, %v", d, n, err)
			}
			fi, err := os.Stat(f.hostPath(key))
			if err != nil || fi.ModTime().Before(start) {
				t.Fatalf("object %v, %v: want one written now", fi, err)
			}
			if keys := f.keys(t, casPrefix); !slices.Equal(keys, []string{key}) {
				t.Errorf("keys = %q, want only the object", keys)
			}
			if got, err := readAll(t, f.cas, digestOf(body)); got != body || err != nil {
				t.Errorf("read back %q, %v", got, err)
			}
		})
	}
	t.Run("failed read", func(t *testing.T) {
		f := newFixture(t)
		r := io.MultiReader(strings.NewReader(body), iotest.ErrReader(io.ErrUnexpectedEOF))
		if _, _, err := f.cas.PutFile(t.Context(), r); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("PutFile of a failing reader: %v", err)
		}
		if keys := f.keys(t, casPrefix); len(keys) != 0 {
			t.Errorf("keys = %q, want none", keys)
		}
	})
}
