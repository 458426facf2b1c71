package cas

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Materialize writes the files of a manifest into a directory under parent named after
// the manifest's digest, and returns that directory. Every file is verified as it is
// written; the directory appears whole (built under a temporary name, then renamed),
// so one that exists is complete and is reused as it is.
func (s *Store) Materialize(ctx context.Context, manifestDigest, parent string) (string, error) {
	d, err := parseDigest(manifestDigest)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(parent, strings.TrimPrefix(d.String(), digestAlgo))
	if fi, err := os.Stat(dir); err == nil {
		return dir, openToAll(dir, fi)
	}
	m, err := s.readManifest(ctx, d)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := s.writeFiles(ctx, m, tmp); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, dirPerm); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, fs.ErrExist) {
		if _, statErr := os.Stat(dir); statErr == nil { // another caller won the race
			return dir, nil
		}
		return "", err
	}
	return dir, nil
}

// dirPerm is the mode of a materialized directory: a served model is read by its
// workers, which run sandboxed as another user than the server's.
const dirPerm = 0o755

// openToAll gives a directory materialized before its mode was dirPerm that mode.
func openToAll(dir string, fi fs.FileInfo) error {
	if fi.Mode().Perm() == dirPerm {
		return nil
	}
	return os.Chmod(dir, dirPerm)
}

func (s *Store) writeFiles(ctx context.Context, m Manifest, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, e := range m.Entries {
		if err := s.writeFile(ctx, root, e); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) writeFile(ctx context.Context, root *os.Root, e Entry) error {
	if d := filepath.Dir(filepath.FromSlash(e.Path)); d != "." {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	r, err := s.Open(ctx, e.Digest)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := root.Create(filepath.FromSlash(e.Path))
	if err != nil {
		return err
	}
	_, err = io.Copy(w, r)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}
