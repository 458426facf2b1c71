package blob_test

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/blob/blobtest"
	"github.com/mlship/mlship/internal/fault"
)

func TestLocalConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return newLocal(t, t.TempDir()) })
}

func newLocal(t *testing.T, dir string) *blob.Local {
	t.Helper()
	l, err := blob.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestOpenURI(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		uri     string
		wantDir string // "" means an error of kind fault.Invalid
	}{
		{"file://" + filepath.ToSlash(dir), dir},
		{"FILE://" + filepath.ToSlash(dir) + "/upper", filepath.Join(dir, "upper")},
		{"file://localhost" + filepath.ToSlash(dir) + "/host", filepath.Join(dir, "host")},
		{dir + "/plain", filepath.Join(dir, "plain")},
		{"file://otherhost/x", ""},
		{"file:relative", ""},
		{"file://" + filepath.ToSlash(dir) + "?q=1", ""},
		{"gs://bucket/prefix", ""},
		{"mlflow-artifacts:/x", ""},
	}
	for _, tt := range tests {
		s, err := blob.Open(t.Context(), tt.uri)
		if tt.wantDir == "" {
			if fault.KindOf(err) != fault.Invalid {
				t.Errorf("Open(%q) = %v, want a fault.Invalid error", tt.uri, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Open(%q): %v", tt.uri, err)
			continue
		}
		if l, ok := s.(*blob.Local); !ok || l.Dir() != tt.wantDir {
			t.Errorf("Open(%q) = %#v, want a Local store on %s", tt.uri, s, tt.wantDir)
		}
		s.Close()
	}
	_, err := blob.Open(t.Context(), "gs://bucket")
	if !errors.Is(err, blob.ErrUnsupportedScheme) || !strings.Contains(fault.Message(err), "file, s3") {
		t.Errorf("unknown scheme: %v, want ErrUnsupportedScheme listing the known ones", err)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("registering \"file\" twice did not panic")
		}
	}()
	blob.Register("file", nil)
}

// TestLocalRefusesInvalidKeysBeforeIO uses a closed store: any I/O would fail with "file
// already closed", so a fault.Invalid error shows the key was refused first.
func TestLocalRefusesInvalidKeysBeforeIO(t *testing.T) {
	l := newLocal(t, t.TempDir())
	l.Close()
	ctx := t.Context()
	for _, key := range []string{"../x", "/etc/passwd", `a\b`, ".mlship-uploads/x"} {
		_, err := l.Put(ctx, key, strings.NewReader("x"))
		errs := []error{err}
		_, err = l.Open(ctx, key)
		errs = append(errs, err)
		_, err = l.List(ctx, key)
		errs = append(errs, err, l.DeletePrefix(ctx, key), l.Delete(ctx, key))
		_, err = l.CreateMultipart(ctx, key)
		errs = append(errs, err, l.AbortMultipart(ctx, key, "0123456789abcdef0123456789abcdef"))
		for i, err := range errs {
			if !errors.Is(err, blob.ErrInvalidPath) {
				t.Errorf("call %d with %q on a closed store = %v, want ErrInvalidPath", i, key, err)
			}
		}
	}
}

func TestLocalETagIsMD5(t *testing.T) {
	l := newLocal(t, t.TempDir())
	id, err := l.CreateMultipart(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	etag, err := l.UploadPart(t.Context(), "k", id, 1, strings.NewReader("part body"))
	sum := md5.Sum([]byte("part body"))
	if err != nil || etag != hex.EncodeToString(sum[:]) {
		t.Errorf("ETag = %q, %v; want the hex MD5 of the part", etag, err)
	}
	quoted := `"` + strings.ToUpper(etag) + `"`
	if _, err := l.CompleteMultipart(t.Context(), "k", id, []blob.Part{{Number: 1, ETag: quoted}}); err != nil {
		t.Errorf("Complete with a quoted, upper-case ETag: %v", err)
	}
}

func TestLocalMove(t *testing.T) {
	ctx := t.Context()
	l := newLocal(t, t.TempDir())
	put := func(key, body string) {
		t.Helper()
		if _, err := l.Put(ctx, key, strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	read := func(key string) (string, error) {
		o, err := l.Open(ctx, key)
		if err != nil {
			return "", err
		}
		defer o.Close()
		b, err := io.ReadAll(o)
		return string(b), err
	}
	put("tmp/a", "new bytes")
	put("objects/x", "old bytes")
	if err := l.Move(ctx, "tmp/a", "objects/x"); err != nil {
		t.Fatal(err)
	}
	if got, err := read("objects/x"); got != "new bytes" || err != nil {
		t.Fatalf("moved object = %q, %v", got, err)
	}
	if _, err := read("tmp/a"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("source after the move: %v", err)
	}
	put("tmp/b", "b")
	if err := l.Move(ctx, "tmp/b", "deep/new/dir/b"); err != nil {
		t.Fatal(err)
	}
	if got, _ := read("deep/new/dir/b"); got != "b" {
		t.Fatalf("moved into new directories: %q", got)
	}
	if err := l.Move(ctx, "tmp/missing", "objects/y"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("moving a missing object: %v", err)
	}
	if err := l.Move(ctx, "deep", "objects/z"); !errors.Is(err, blob.ErrIsDir) {
		t.Fatalf("moving a directory: %v", err)
	}
	if err := l.Move(ctx, "objects/x", "../escape"); !errors.Is(err, blob.ErrInvalidPath) {
		t.Fatalf("moving outside the store: %v", err)
	}
}

// A store whose directory was removed from under it fails writes as the server's
// problem (a 500), not as a conflict of the client's making.
func TestLocalDirectoryRemovedIsNotAConflict(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	l := newLocal(t, dir)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	_, err := l.Put(t.Context(), "a/b", strings.NewReader("x"))
	if err == nil || fault.KindOf(err) == fault.Conflict || !strings.Contains(err.Error(), "is gone") {
		t.Fatalf("Put into a removed store: %v (kind %v)", err, fault.KindOf(err))
	}
}
