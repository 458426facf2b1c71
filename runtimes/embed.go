// Package runtimes carries the worker programs that mlship embeds: the Python worker
// for MLflow pyfunc models and the R worker for models saved with saveRDS. Both speak
// the worker protocol of docs/worker-protocol.md. Interpreters run files, not embedded
// bytes, so Script writes a worker to disk once and returns its path.
package runtimes

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sync"
)

//go:embed python/*.py r/*.R
var scripts embed.FS

// installed holds the path of each script this process has written or checked,
// keyed by directory and name.
var installed sync.Map

// Script returns the path of the embedded script name (such as
// "python/mlship_worker.py") on disk, writing it under dir first if it is missing or
// differs. Scripts go in a subdirectory named by a hash of all the scripts, so that
// binaries of different versions never share one. An empty dir means a directory
// under the user's cache directory, or a new private temporary directory when there
// is none.
func Script(dir, name string) (string, error) {
	key := dir + "\x00" + name
	if p, ok := installed.Load(key); ok {
		if _, err := os.Stat(p.(string)); err == nil {
			return p.(string), nil
		} // removed since, by a cleaner of cache or temporary files: write it again
	}
	data, err := scripts.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("no embedded worker script %q", name)
	}
	root, err := scriptRoot(dir)
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, filepath.FromSlash(name))
	if err := install(p, data); err != nil {
		return "", err
	}
	installed.Store(key, p)
	return p, nil
}

// scriptRoot is the directory the scripts of this binary go in.
func scriptRoot(dir string) (string, error) {
	if dir == "" {
		var err error
		if dir, err = defaultDir(); err != nil {
			return "", err
		}
	}
	return filepath.Join(dir, version()), nil
}

var (
	tempDirOnce sync.Once
	tempDir     string
	tempDirErr  error
)

// defaultDir is mlship's directory in the user's cache directory, or a private
// temporary directory, made once per process, when the user has none.
func defaultDir() (string, error) {
	if cache, err := os.UserCacheDir(); err == nil {
		return filepath.Join(cache, "mlship", "workers"), nil
	}
	tempDirOnce.Do(func() {
		tempDir, tempDirErr = os.MkdirTemp("", "mlship-workers-")
	})
	return tempDir, tempDirErr
}

// version is a hash of every embedded script.
var version = sync.OnceValue(func() string {
	h := sha256.New()
	fs.WalkDir(scripts, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := scripts.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(data))
		h.Write(data)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:16]
})

// install writes data to p unless p already holds it. The file is replaced
// atomically, so an interpreter never runs a half-written script. Only its owner may
// write it; anyone may read it and its directory, since a sandboxed worker runs as
// another user, and a worker script is no secret.
func install(p string, data []byte) error {
	dir := filepath.Dir(p)
	if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, data) {
		return errors.Join(os.Chmod(dir, scriptDirPerm), os.Chmod(p, scriptPerm))
	}
	if err := os.MkdirAll(dir, scriptDirPerm); err != nil {
		return fmt.Errorf("create worker script directory: %w", err)
	}
	if err := os.Chmod(dir, scriptDirPerm); err != nil {
		return fmt.Errorf("create worker script directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+path.Base(filepath.ToSlash(p))+".*")
	if err != nil {
		return fmt.Errorf("write worker script: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(scriptPerm); err != nil {
		tmp.Close()
		return fmt.Errorf("write worker script: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write worker script: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write worker script: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write worker script: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("install worker script: %w", err)
	}
	return syncDir(dir)
}

const (
	scriptPerm    = 0o644
	scriptDirPerm = 0o755
)

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	d.Sync() // not every platform can sync a directory; the file itself is synced
	return nil
}
