package blob

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/mlship/mlship/internal/fault"
)

// tempPrefix names the temp files of durable writes; the open-time sweep removes them.
const tempPrefix = internalPrefix + "tmp-"

// Steps of a durable write at which a test's failpoint is called.
const (
	stepWritten = "written" // the temp file holds the bytes, not yet synced
	stepSynced  = "synced"  // the temp file is synced and closed, not yet renamed
	stepRenamed = "renamed" // the object is visible, its directory not yet synced
)

const (
	dirPerm  = os.FileMode(0o755)
	filePerm = os.FileMode(0o644) // the store's root directory is what restricts access

	// maxMkdirRace bounds the retries when a concurrent Delete prunes a directory that a
	// write has just created.
	maxMkdirRace = 3
)

// writeAtomic makes name hold exactly what fill writes, or leaves it as it was (the
// Prometheus fileutil recipe): fill writes a temp file in name's directory, which is synced,
// closed and renamed over name, and the directory is synced so the rename survives power
// loss. fill must stream: objects can be larger than memory. A disk that fills up on the
// way leaves nothing behind and is a fault.InsufficientStorage error.
func (l *Local) writeAtomic(name string, fill func(io.Writer) (int64, error)) (int64, error) {
	n, err := l.replaceFile(name, fill)
	return n, l.noSpace(err)
}

func (l *Local) replaceFile(name string, fill func(io.Writer) (int64, error)) (int64, error) {
	dir := path.Dir(name)
	f, tmp, err := l.createTemp(dir)
	if err != nil {
		return 0, err
	}
	n, err := l.writeTemp(f, fill)
	if err == nil {
		err = l.rename(tmp, name)
	}
	if err != nil {
		_ = l.root.Remove(tmp) // best effort: the open-time sweep removes what this misses
		return 0, err
	}
	if err := l.fail(stepRenamed); err != nil {
		return 0, err
	}
	return n, l.syncDir(dir)
}

// writeTemp fills f, syncs it and closes it.
func (l *Local) writeTemp(f *os.File, fill func(io.Writer) (int64, error)) (int64, error) {
	n, err := fill(newWriteback(f))
	if err == nil {
		err = l.fail(stepWritten)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = l.fail(stepSynced)
	}
	return n, err
}

func (l *Local) rename(tmp, name string) error {
	if err := l.root.Rename(tmp, name); err != nil {
		return writeErr(name, err)
	}
	return nil
}

// createTemp creates an empty temp file in dir, creating dir first if needed.
func (l *Local) createTemp(dir string) (*os.File, string, error) {
	for attempt := 1; ; attempt++ {
		f, tmp, err := l.tryCreateTemp(dir)
		// A concurrent Delete may prune dir, still empty, before the temp file is in it.
		if err == nil || !errors.Is(err, fs.ErrNotExist) || attempt == maxMkdirRace {
			if err != nil && l.gone() {
				return nil, "", fmt.Errorf("blob: the store's directory %s is gone: %w", l.dir, err)
			}
			return f, tmp, writeErr(dir, err)
		}
	}
}

func (l *Local) tryCreateTemp(dir string) (*os.File, string, error) {
	if err := l.ensureDir(dir); err != nil {
		return nil, "", err
	}
	tmp := path.Join(dir, tempPrefix+randomHex(12))
	f, err := l.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	return f, tmp, err
}

// gone reports whether the store's own directory has been removed from under it: the
// server's problem, not a conflict the client caused.
func (l *Local) gone() bool {
	_, err := os.Stat(l.dir)
	return errors.Is(err, fs.ErrNotExist)
}

// ensureDir creates dir and its missing parents, and syncs each new directory into its
// parent, so that the path to an object survives power loss along with the object.
func (l *Local) ensureDir(dir string) error {
	if dir == "." {
		return nil
	}
	if fi, err := l.root.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	var created []string
	for d := range ancestors(dir) {
		switch err := l.root.Mkdir(d, dirPerm); {
		case err == nil:
			created = append(created, d)
		case errors.Is(err, fs.ErrExist):
			if err := l.checkIsDir(d); err != nil {
				return err
			}
		default:
			return err
		}
	}
	for _, d := range created {
		if err := l.syncDir(path.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

// ancestors yields "a", "a/b", "a/b/c" for "a/b/c".
func ancestors(dir string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		for i := 0; i <= len(dir); i++ {
			if (i == len(dir) || dir[i] == '/') && !yield(dir[:i]) {
				return
			}
		}
	}
}

func (l *Local) checkIsDir(name string) error {
	fi, err := l.root.Stat(name)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return errorf(ErrPathConflict, "%q is an object, so it cannot hold other objects", name)
	}
	return nil
}

// syncDir makes the entries of dir durable.
func (l *Local) syncDir(dir string) error {
	f, err := l.root.Open(dir)
	if err != nil {
		return fmt.Errorf("blob: sync directory %q: %w", dir, err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("blob: sync directory %q: %w", dir, err)
	}
	return nil
}

// writeErr classifies a failed write of name: collisions with the tree are the caller's
// conflict, anything else is the server's fault.
func writeErr(name string, err error) error {
	if _, classified := errors.AsType[*fault.Error](err); err == nil || classified {
		return err
	}
	switch {
	case errors.Is(err, syscall.ENOTDIR):
		return errorf(ErrPathConflict, "A parent of %q is an object, so it cannot hold other objects", name)
	case errors.Is(err, syscall.EISDIR), errors.Is(err, fs.ErrExist):
		return errorf(ErrPathConflict, "%q is a directory", name)
	case errors.Is(err, fs.ErrNotExist):
		return errorf(ErrPathConflict, "The directory of %q was deleted during the write", name)
	}
	return fmt.Errorf("blob: write %q: %w", name, err)
}

// noSpace turns a write that failed for want of disk space (or of quota) into a fault
// the client can act on: the server's disk is full, the request is not wrong.
func (l *Local) noSpace(err error) error {
	if err == nil || fault.KindOf(err) != fault.Internal {
		return err
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fault.Wrap(fault.InsufficientStorage, err, "The server's storage at %s is full: writes are refused "+
			"until space is freed there; reads keep working", l.dir)
	}
	return err
}

func (l *Local) fail(step string) error {
	if l.failpoint == nil {
		return nil
	}
	return l.failpoint(step)
}

// sweep removes what a crash left behind: temp files anywhere, and multipart uploads that
// have been idle for longer than StaleUploadAge.
func (l *Local) sweep() error {
	err := fs.WalkDir(l.root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), tempPrefix) {
			return l.root.Remove(name)
		}
		return nil
	})
	if err == nil {
		err = l.sweepUploads(time.Now().Add(-StaleUploadAge))
	}
	if err != nil {
		return fmt.Errorf("blob: sweep %s: %w", l.dir, err)
	}
	return nil
}

// ctxReader stops a long copy once its context is done.
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

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails: crypto/rand crashes the program instead
	return hex.EncodeToString(b)
}
