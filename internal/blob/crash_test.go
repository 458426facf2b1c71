package blob_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/blob"
)

const (
	crashDirEnv = "MLSHIP_BLOB_CRASH_DIR"
	crashSize   = 1 << 20
)

// TestCrashMidPut kills -9 a process in the middle of a Put. The object keeps its old
// bytes, the torn temp file stays invisible, and reopening the store sweeps it.
func TestCrashMidPut(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	dir := t.TempDir()
	before := newLocal(t, dir)
	if _, err := before.Put(t.Context(), "model/weights.bin", strings.NewReader("old version")); err != nil {
		t.Fatal(err)
	}
	killMidPut(t, dir)

	if temps := hostTempFiles(t, dir); len(temps) != 1 {
		t.Fatalf("want the torn temp file on disk after the crash, found %q", temps)
	}
	if got := readObject(t, before, "model/weights.bin"); got != "old version" {
		t.Errorf("after the crash the object holds %d bytes, want the old version", len(got))
	}
	if keys := walkKeys(t, before); !slices.Equal(keys, []string{"model/weights.bin"}) {
		t.Errorf("Walk after the crash = %q", keys)
	}
	if infos, _ := before.List(t.Context(), "model"); len(infos) != 1 {
		t.Errorf("List after the crash = %+v", infos)
	}
	newLocal(t, dir)
	if temps := hostTempFiles(t, dir); len(temps) != 0 {
		t.Errorf("reopening left temp files %q", temps)
	}
}

// killMidPut runs TestCrashHelper in a subprocess, waits until its Put has written
// crashSize bytes into a temp file, and kills it.
func killMidPut(t *testing.T, dir string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, name := range hostTempFiles(t, dir) {
			if fi, err := os.Stat(name); err == nil && fi.Size() == crashSize {
				return
			}
		}
	}
	t.Fatal("the helper never wrote its temp file")
}

// TestCrashHelper is the process TestCrashMidPut kills: its Put writes crashSize bytes and
// then blocks for ever.
func TestCrashHelper(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("only run by TestCrashMidPut")
	}
	l, err := blob.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := io.MultiReader(bytes.NewReader(make([]byte, crashSize)), blockingReader{})
	l.Put(t.Context(), "model/weights.bin", r)
}

type blockingReader struct{}

func (blockingReader) Read([]byte) (int, error) { select {} }

var errInjected = errors.New("injected failure")

// TestFailedWriteSteps fails a Put at each step of the durable write. The object is the
// old one or the whole new one, never torn, and no temp file remains.
func TestFailedWriteSteps(t *testing.T) {
	tests := []struct {
		step, want string
	}{
		{blob.StepWritten, "old"},
		{blob.StepSynced, "old"},
		{blob.StepRenamed, "new"}, // visible, but Put reports that it may not be durable
	}
	for _, tt := range tests {
		t.Run(tt.step, func(t *testing.T) {
			dir := t.TempDir()
			l := newLocal(t, dir)
			if _, err := l.Put(t.Context(), "a/k", strings.NewReader("old")); err != nil {
				t.Fatal(err)
			}
			blob.SetFailpoint(l, failAt(tt.step))
			if _, err := l.Put(t.Context(), "a/k", strings.NewReader("new")); !errors.Is(err, errInjected) {
				t.Fatalf("Put = %v, want the injected failure", err)
			}
			if got := readObject(t, l, "a/k"); got != tt.want {
				t.Errorf("object = %q, want %q", got, tt.want)
			}
			if temps := hostTempFiles(t, dir); len(temps) != 0 {
				t.Errorf("temp files left: %q", temps)
			}
		})
	}
}

// TestFailedCompleteKeepsUpload fails CompleteMultipart before its rename: no object
// appears and the upload can be completed again.
func TestFailedCompleteKeepsUpload(t *testing.T) {
	l := newLocal(t, t.TempDir())
	ctx := t.Context()
	id, _ := l.CreateMultipart(ctx, "k")
	etag, err := l.UploadPart(ctx, "k", id, 1, strings.NewReader("body"))
	if err != nil {
		t.Fatal(err)
	}
	parts := []blob.Part{{Number: 1, ETag: etag}}
	blob.SetFailpoint(l, failAt(blob.StepSynced))
	if _, err := l.CompleteMultipart(ctx, "k", id, parts); !errors.Is(err, errInjected) {
		t.Fatalf("Complete = %v, want the injected failure", err)
	}
	if _, err := l.Stat(ctx, "k"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat after a failed Complete = %v, want ErrNotFound", err)
	}
	blob.SetFailpoint(l, nil)
	if _, err := l.CompleteMultipart(ctx, "k", id, parts); err != nil {
		t.Errorf("Complete again: %v", err)
	}
}

// TestReopenSweepsStaleUploads: uploads idle for longer than StaleUploadAge go when the
// store is opened; fresh ones stay.
func TestReopenSweepsStaleUploads(t *testing.T) {
	dir := t.TempDir()
	l := newLocal(t, dir)
	ctx := t.Context()
	stale, _ := l.CreateMultipart(ctx, "stale")
	fresh, _ := l.CreateMultipart(ctx, "fresh")
	old := time.Now().Add(-blob.StaleUploadAge - time.Hour)
	if err := os.Chtimes(filepath.Join(dir, ".mlship-uploads", stale), old, old); err != nil {
		t.Fatal(err)
	}
	l = newLocal(t, dir)
	if _, err := l.UploadPart(ctx, "stale", stale, 1, strings.NewReader("x")); !errors.Is(err, blob.ErrUploadNotFound) {
		t.Errorf("UploadPart to a swept upload = %v, want ErrUploadNotFound", err)
	}
	if _, err := l.UploadPart(ctx, "fresh", fresh, 1, strings.NewReader("x")); err != nil {
		t.Errorf("UploadPart to a fresh upload: %v", err)
	}
}

func failAt(step string) func(string) error {
	return func(s string) error {
		if s == step {
			return errInjected
		}
		return nil
	}
}

// hostTempFiles lists the store's temp files by walking the host directory directly.
func hostTempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var temps []string
	filepath.WalkDir(dir, func(name string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".mlship-tmp-") {
			temps = append(temps, name)
		}
		return nil
	})
	return temps
}

func readObject(t *testing.T, s blob.Store, key string) string {
	t.Helper()
	obj, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func walkKeys(t *testing.T, s blob.Store) []string {
	t.Helper()
	var keys []string
	if err := s.Walk(t.Context(), "", func(info blob.Info) error {
		keys = append(keys, info.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return keys
}
