package blob_test

import (
	"errors"
	"io/fs"
	"strings"
	"syscall"
	"testing"

	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/fault"
)

// TestFullDisk: a write that runs out of disk space (or quota) at any step is a
// fault.InsufficientStorage error naming the store's directory, leaves neither the new
// object nor a temp file, keeps the old object readable, and the store writes again
// once the space is back.
func TestFullDisk(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT} {
		for _, step := range []string{blob.StepWritten, blob.StepSynced} {
			t.Run(errno.Error()+" "+step, func(t *testing.T) {
				dir := t.TempDir()
				l := newLocal(t, dir)
				if _, err := l.Put(t.Context(), "runs/a/model.pkl", strings.NewReader("old")); err != nil {
					t.Fatal(err)
				}
				full := true
				blob.SetFailpoint(l, func(s string) error {
					if full && s == step {
						return &fs.PathError{Op: "write", Path: "x", Err: errno}
					}
					return nil
				})
				for _, key := range []string{"runs/a/model.pkl", "runs/b/new.bin"} {
					_, err := l.Put(t.Context(), key, strings.NewReader("new bytes"))
					if !errors.Is(err, fault.InsufficientStorage) {
						t.Fatalf("Put(%s) = %v, want an insufficient-storage fault", key, err)
					}
					if msg := fault.Message(err); !strings.Contains(msg, dir) {
						t.Errorf("the message %q does not name the directory %s", msg, dir)
					}
				}
				if temps := hostTempFiles(t, dir); len(temps) != 0 {
					t.Errorf("the failed writes left temp files %q", temps)
				}
				if got := readObject(t, l, "runs/a/model.pkl"); got != "old" {
					t.Errorf("the old object holds %q after the failed write", got)
				}
				if _, err := l.Stat(t.Context(), "runs/b/new.bin"); !errors.Is(err, blob.ErrNotFound) {
					t.Errorf("the object of a failed write exists: %v", err)
				}
				full = false
				if _, err := l.Put(t.Context(), "runs/b/new.bin", strings.NewReader("new bytes")); err != nil {
					t.Fatalf("a write after space was freed: %v", err)
				}
			})
		}
	}
}

// TestOtherWriteErrorsStayInternal: an I/O error that is not about space is the
// server's fault, not a full disk.
func TestOtherWriteErrorsStayInternal(t *testing.T) {
	l := newLocal(t, t.TempDir())
	blob.SetFailpoint(l, func(s string) error {
		if s == blob.StepSynced {
			return &fs.PathError{Op: "fsync", Path: "x", Err: syscall.EIO}
		}
		return nil
	})
	_, err := l.Put(t.Context(), "a", strings.NewReader("x"))
	if err == nil || fault.KindOf(err) != fault.Internal {
		t.Fatalf("err = %v (kind %v), want an internal error", err, fault.KindOf(err))
	}
}

// TestFullDiskMultipart: a part that does not fit is refused the same way.
func TestFullDiskMultipart(t *testing.T) {
	dir := t.TempDir()
	l := newLocal(t, dir)
	id, err := l.CreateMultipart(t.Context(), "big.bin")
	if err != nil {
		t.Fatal(err)
	}
	blob.SetFailpoint(l, func(s string) error {
		if s == blob.StepWritten {
			return &fs.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}
		}
		return nil
	})
	if _, err := l.UploadPart(t.Context(), "big.bin", id, 1, strings.NewReader("part")); !errors.Is(err, fault.InsufficientStorage) {
		t.Fatalf("UploadPart = %v, want an insufficient-storage fault", err)
	}
	if temps := hostTempFiles(t, dir); len(temps) != 0 {
		t.Errorf("the failed part left temp files %q", temps)
	}
}
