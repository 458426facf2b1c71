package serving

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mlship/mlship/internal/fault"
)

// LocalSource serves model directories (or single model files) from local disk. A
// path is its own version: it is not followed.
type LocalSource struct {
	// TempDir holds the directories made for single model files.
	TempDir string
}

var _ Source = LocalSource{}

// IsLocalRef reports whether ref names a local path rather than a models:/ or runs:/
// reference.
func IsLocalRef(ref string) bool {
	return !strings.HasPrefix(ref, "models:/") && !strings.HasPrefix(ref, "runs:/")
}

func (s LocalSource) Resolve(ctx context.Context, ref string) (Version, error) {
	path, err := filepath.Abs(strings.TrimPrefix(ref, "file://"))
	if err != nil {
		return Version{}, fault.Invalidf("invalid model path %q: %v", ref, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return Version{}, fault.Wrap(fault.NotFound, err, "no model at %s", path)
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		return Version{}, fault.Invalidf("%s is neither a model directory nor a model file", path)
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return Version{Model: name, Version: "1", Key: path}, nil
}

// Fetch returns the directory itself; a single file gets a directory of its own with a
// link to it (or a copy, across file systems), so that runtimes always see a directory.
// Runtimes read model files inside their directory only, so the link is a hard one.
func (s LocalSource) Fetch(ctx context.Context, v Version) (string, error) {
	fi, err := os.Stat(v.Key)
	if err != nil {
		return "", err
	}
	if fi.IsDir() {
		return v.Key, nil
	}
	dir, err := os.MkdirTemp(s.TempDir, "model-")
	if err != nil {
		return "", err
	}
	dst := filepath.Join(dir, filepath.Base(v.Key))
	if err := os.Link(v.Key, dst); err == nil {
		return dir, nil
	}
	return dir, copyFile(v.Key, dst)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
