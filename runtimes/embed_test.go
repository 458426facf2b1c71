package runtimes

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestScript(t *testing.T) {
	for _, name := range []string{"python/mlship_worker.py", "r/worker.R"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			p, err := Script(dir, name)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := scripts.ReadFile(name)
			got, err := os.ReadFile(p)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("script at %s differs from the embedded one (%v)", p, err)
			}
			// Only the owner may change a script; the sandboxed worker's user must
			// be able to read it.
			if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
				t.Errorf("script mode %v, want -rw-r--r--", fi.Mode())
			}
			if fi, _ := os.Stat(filepath.Dir(p)); fi.Mode().Perm() != 0o755 {
				t.Errorf("script directory mode %v, want drwxr-xr-x", fi.Mode())
			}
			if again, err := Script(dir, name); err != nil || again != p {
				t.Fatalf("second call: %s, %v", again, err)
			}
		})
	}
}

func TestScriptRepairsChangedFile(t *testing.T) {
	dir := t.TempDir()
	p, err := Script(dir, "r/worker.R")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("tampered"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := install(p, mustRead(t, "r/worker.R")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, mustRead(t, "r/worker.R")) {
		t.Fatal("a changed script was not rewritten")
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Fatalf("%d files beside the script, want none: temporary files must not be left", len(entries)-1)
	}
}

func TestScriptUnknown(t *testing.T) {
	if _, err := Script(t.TempDir(), "python/nope.py"); err == nil {
		t.Fatal("an unknown script was found")
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	data, err := scripts.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestScriptRewritesRemovedFile(t *testing.T) {
	dir := t.TempDir()
	p, err := Script(dir, "python/mlship_worker.py")
	if err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(dir)
	if again, err := Script(dir, "python/mlship_worker.py"); err != nil || again != p {
		t.Fatalf("after removal: %s, %v", again, err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
}
