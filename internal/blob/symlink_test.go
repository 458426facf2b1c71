package blob_test

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/blob"
)

// TestLocalSymlinkEscape plants symlinks inside the root that point outside it. Nothing may
// be read, written or deleted through them.
func TestLocalSymlinkEscape(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	secret := filepath.Join(outside, "secret")
	writeHostFile(t, secret, "outside secret")
	plantSymlink(t, outside, filepath.Join(root, "evildir"))
	plantSymlink(t, secret, filepath.Join(root, "evilfile"))
	plantSymlink(t, "../"+filepath.Base(outside), filepath.Join(root, "reldir"))
	l := newLocal(t, root)
	ctx := t.Context()

	for _, key := range []string{"evildir/secret", "evilfile", "reldir/secret"} {
		if obj, err := l.Open(ctx, key); err == nil {
			b, _ := io.ReadAll(obj)
			obj.Close()
			t.Errorf("Open(%q) read %q through a symlink", key, b)
		}
		if info, err := l.Stat(ctx, key); err == nil {
			t.Errorf("Stat(%q) = %+v through a symlink", key, info)
		}
	}
	for _, key := range []string{"evildir/new", "reldir/new", "evildir/sub/new"} {
		if _, err := l.Put(ctx, key, strings.NewReader("planted")); err == nil {
			t.Errorf("Put(%q) succeeded through a symlink", key)
		}
		checkMultipartRefused(t, l, key)
	}
	// Put over the link itself replaces the link, never the file it points to.
	if _, err := l.Put(ctx, "evilfile", strings.NewReader("replaced")); err != nil {
		t.Errorf("Put over a symlink: %v", err)
	}
	l.Delete(ctx, "evildir/secret")
	l.DeletePrefix(ctx, "evildir")
	l.DeletePrefix(ctx, "reldir")

	if got := readHostFile(t, secret); got != "outside secret" {
		t.Errorf("the file outside the root now holds %q", got)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 1 {
		t.Errorf("files were created outside the root: %v", entries)
	}
	checkLinksHidden(t, l)
}

func checkMultipartRefused(t *testing.T, l *blob.Local, key string) {
	t.Helper()
	ctx := t.Context()
	id, err := l.CreateMultipart(ctx, key)
	if err != nil {
		return // refusing early is fine too
	}
	etag, err := l.UploadPart(ctx, key, id, 1, strings.NewReader("planted"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.CompleteMultipart(ctx, key, id, []blob.Part{{Number: 1, ETag: etag}}); err == nil {
		t.Errorf("CompleteMultipart(%q) succeeded through a symlink", key)
	}
}

// checkLinksHidden: List and Walk show objects and directories, never symlinks.
func checkLinksHidden(t *testing.T, l *blob.Local) {
	t.Helper()
	infos, err := l.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range infos {
		if info.Key != "evilfile" { // now a regular file, put over the link
			t.Errorf("List shows %q", info.Key)
		}
	}
	var walked []string
	for _, prefix := range []string{"", "evildir", "reldir"} {
		l.Walk(t.Context(), prefix, func(info blob.Info) error {
			walked = append(walked, info.Key)
			return nil
		})
	}
	if !slices.Equal(walked, []string{"evilfile"}) {
		t.Errorf("Walk visited %q", walked)
	}
}

func plantSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("cannot create symlinks here: %v", err)
	}
}

func writeHostFile(t *testing.T, name, body string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readHostFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
