package blob

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"syscall"
)

// Local is a Store on a local directory. Every access goes through an os.Root opened on
// that directory, so no key, and no symlink planted inside, can reach outside it. Keys map
// to files and "directories" to directories; the store's own temp files and multipart
// staging carry the ".mlship-" prefix, which List and Walk hide and CheckKey refuses.
//
// One process owns a directory: opening it sweeps the temp files a crash left behind, which
// would break another process writing there at the same time.
type Local struct {
	root *os.Root
	dir  string

	// failpoint, when set by a test, is called at each step of a durable write; an error
	// it returns aborts the write there.
	failpoint func(step string) error
}

var _ Store = (*Local)(nil)

func init() { Register("file", openLocalURI) }

// openLocalURI is the "file" driver: file:///abs/dir or file://localhost/abs/dir.
func openLocalURI(_ context.Context, u *url.URL) (Store, error) {
	plain := u.Opaque == "" && u.User == nil && u.RawQuery == "" && u.Fragment == ""
	if !plain || (u.Host != "" && u.Host != "localhost") || !path.IsAbs(u.Path) {
		return nil, errorf(ErrInvalidURI,
			"A file URI needs an absolute path and nothing else, as in file:///var/lib/mlship (got %q)", u.Redacted())
	}
	return NewLocal(filepath.FromSlash(u.Path))
}

// NewLocal opens the directory dir as a Store, creating it if needed, and sweeps what a
// crash left behind: temp files, and multipart uploads idle for longer than StaleUploadAge.
func NewLocal(dir string) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("blob: local store %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, dirPerm); err != nil {
		return nil, fmt.Errorf("blob: local store: %w", err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("blob: local store: %w", err)
	}
	l := &Local{root: root, dir: abs}
	if err := l.sweep(); err != nil {
		root.Close()
		return nil, err
	}
	return l, nil
}

// Dir returns the store's directory.
func (l *Local) Dir() string { return l.dir }

// Close closes the store's root.
func (l *Local) Close() error { return l.root.Close() }

// Put implements Store.
func (l *Local) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	if err := begin(ctx, key); err != nil {
		return 0, err
	}
	return l.writeAtomic(key, func(w io.Writer) (int64, error) {
		return io.Copy(w, ctxReader{ctx, r})
	})
}

var _ Mover = (*Local)(nil)

// Move implements Mover: a rename within the directory, then a sync of the directories
// it changed.
func (l *Local) Move(ctx context.Context, from, to string) error {
	if err := begin(ctx, from); err != nil {
		return err
	}
	if err := begin(ctx, to); err != nil {
		return err
	}
	if fi, err := l.root.Stat(from); err != nil {
		return readErr(from, err)
	} else if fi.IsDir() {
		return errorf(ErrIsDir, "%q is a directory", from)
	}
	dir := path.Dir(to)
	for attempt := 1; ; attempt++ {
		err := l.ensureDir(dir)
		if err == nil {
			err = l.root.Rename(from, to)
		}
		// A concurrent Delete may prune dir, still empty, before the object is in it.
		if err == nil || !errors.Is(err, fs.ErrNotExist) || attempt == maxMkdirRace {
			if err != nil {
				return l.noSpace(writeErr(to, err))
			}
			break
		}
	}
	if err := l.syncDir(dir); err != nil {
		return l.noSpace(err)
	}
	if from := path.Dir(from); from != dir {
		return l.noSpace(l.syncDir(from))
	}
	return nil
}

// localObject is an open file that knows its key.
type localObject struct {
	*os.File
	info Info
}

func (o *localObject) Info() Info { return o.info }

// Open implements Store. The Object is the *os.File itself, so copies can use sendfile.
func (l *Local) Open(ctx context.Context, key string) (Object, error) {
	if err := begin(ctx, key); err != nil {
		return nil, err
	}
	f, err := l.root.Open(key)
	if err != nil {
		return nil, readErr(key, err)
	}
	info, err := statObject(key, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &localObject{File: f, info: info}, nil
}

func statObject(key string, f *os.File) (Info, error) {
	fi, err := f.Stat()
	if err != nil {
		return Info{}, readErr(key, err)
	}
	return objectInfo(key, fi)
}

// Stat implements Store.
func (l *Local) Stat(ctx context.Context, key string) (Info, error) {
	if err := begin(ctx, key); err != nil {
		return Info{}, err
	}
	fi, err := l.root.Stat(key)
	if err != nil {
		return Info{}, readErr(key, err)
	}
	return objectInfo(key, fi)
}

// objectInfo describes a file opened as an object; anything but a regular file is refused.
func objectInfo(key string, fi fs.FileInfo) (Info, error) {
	switch {
	case fi.IsDir():
		return Info{}, errorf(ErrIsDir, "%q is a directory, not an object", key)
	case !fi.Mode().IsRegular():
		return Info{}, errorf(ErrNotFound, "Object %q not found", key)
	}
	return Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

func readErr(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return errorf(ErrNotFound, "Object %q not found", key)
	}
	return fmt.Errorf("blob: read %q: %w", key, err)
}

// List implements Store.
func (l *Local) List(ctx context.Context, dir string) ([]Info, error) {
	dir, err := checkDir(ctx, dir)
	if err != nil {
		return nil, err
	}
	infos, err := l.readDir(dir)
	slices.SortFunc(infos, func(a, b Info) int { return cmp.Compare(a.Key, b.Key) })
	return infos, err
}

// Walk implements Store. Keys come in byte order, as S3 lists them: a directory's objects
// sort as if its name ended in "/", so "a-b" comes before "a/x".
func (l *Local) Walk(ctx context.Context, prefix string, fn func(Info) error) error {
	prefix, err := checkDir(ctx, prefix)
	if err != nil {
		return err
	}
	return l.walk(ctx, prefix, fn)
}

func (l *Local) walk(ctx context.Context, dir string, fn func(Info) error) error {
	infos, err := l.readDir(dir)
	if err != nil {
		return err
	}
	slices.SortFunc(infos, func(a, b Info) int { return cmp.Compare(walkOrder(a), walkOrder(b)) })
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return err
		}
		if info.IsDir {
			err = l.walk(ctx, info.Key, fn)
		} else {
			err = fn(info)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func walkOrder(info Info) string {
	if info.IsDir {
		return info.Key + "/"
	}
	return info.Key
}

// readDir describes the objects and real directories directly in dir ("" is the root). It
// skips internal files, symlinks and special files; a missing dir, or a file, has none.
func (l *Local) readDir(dir string) ([]Info, error) {
	f, err := l.root.Open(cmp.Or(dir, "."))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("blob: list %q: %w", dir, err)
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		// A concurrent Delete pruned the directory after it was opened: it is empty.
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("blob: list %q: %w", dir, err)
	}
	infos := make([]Info, 0, len(entries))
	for _, e := range entries {
		if info, ok := entryInfo(dir, e); ok {
			infos = append(infos, info)
		}
	}
	return infos, nil
}

func entryInfo(dir string, e fs.DirEntry) (Info, bool) {
	if isInternalName(e.Name()) || !(e.Type().IsRegular() || e.IsDir()) {
		return Info{}, false
	}
	fi, err := e.Info()
	if err != nil { // removed since ReadDir
		return Info{}, false
	}
	info := Info{Key: joinKey(dir, e.Name()), IsDir: e.IsDir(), ModTime: fi.ModTime()}
	if !info.IsDir {
		info.Size = fi.Size()
	}
	return info, true
}

func joinKey(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// Delete implements Store.
func (l *Local) Delete(ctx context.Context, key string) error {
	if err := begin(ctx, key); err != nil {
		return err
	}
	fi, err := l.root.Lstat(key)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || (err == nil && fi.IsDir()) {
		return nil
	}
	if err == nil {
		err = l.root.Remove(key)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob: delete %q: %w", key, err)
	}
	return l.removeEmptyDirs(path.Dir(key))
}

// DeletePrefix implements Store.
func (l *Local) DeletePrefix(ctx context.Context, prefix string) error {
	if prefix == "" {
		return errorf(ErrInvalidPath, "Refusing to delete the whole store")
	}
	prefix, err := checkDir(ctx, prefix)
	if err != nil {
		return err
	}
	fi, err := l.root.Lstat(prefix)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || (err == nil && !fi.IsDir()) {
		return nil
	}
	if err == nil {
		err = l.root.RemoveAll(prefix)
	}
	if err != nil {
		return fmt.Errorf("blob: delete prefix %q: %w", prefix, err)
	}
	return l.removeEmptyDirs(path.Dir(prefix))
}

// removeEmptyDirs removes dir and its parents while they are empty, so that a "directory"
// goes away with its last object as in S3, then syncs the first directory it keeps.
func (l *Local) removeEmptyDirs(dir string) error {
	for dir != "." && l.isRealDir(dir) && l.root.Remove(dir) == nil {
		dir = path.Dir(dir)
	}
	err := l.syncDir(dir)
	if errors.Is(err, fs.ErrNotExist) { // pruned meanwhile by a concurrent delete
		return nil
	}
	return err
}

func (l *Local) isRealDir(name string) bool {
	fi, err := l.root.Lstat(name)
	return err == nil && fi.IsDir()
}

// begin is the gate at the top of every method that takes a key.
func begin(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	return ctx.Err()
}

// checkDir gates a directory argument: "" is the root and one trailing slash is allowed.
func checkDir(ctx context.Context, dir string) (string, error) {
	if dir == "" {
		return "", ctx.Err()
	}
	if dir[len(dir)-1] == '/' {
		dir = dir[:len(dir)-1]
	}
	return dir, begin(ctx, dir)
}
