package registry_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/cas"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/registry"
	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/store/storetest"
)

// localContent is the server's content store, rebuilt over real local blob stores: runs
// keep their artifacts under mlflow-artifacts:/0/<run id>/artifacts.
type localContent struct {
	cas       *cas.Store
	artifacts blob.Store
}

func (c localContent) Snapshot(ctx context.Context, uri string) (string, error) {
	key, ok := strings.CutPrefix(uri, "mlflow-artifacts:/")
	if !ok {
		return "", nil
	}
	_, digest, err := c.cas.ImportDir(ctx, c.artifacts, key, nil)
	if errors.Is(err, cas.ErrNotFound) {
		return "", nil
	}
	return digest, err
}

func (c localContent) RunArtifactURI(ctx context.Context, runID string) (string, error) {
	return "mlflow-artifacts:/0/" + runID + "/artifacts", nil
}

func (c localContent) Verify(ctx context.Context, digest string) ([]cas.Problem, error) {
	return c.cas.Verify(ctx, digest)
}

func TestVersionsKeepContentAddressedCopies(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		artifacts, err := blob.NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		contentDir := t.TempDir()
		contentBlobs, err := blob.NewLocal(contentDir)
		if err != nil {
			t.Fatal(err)
		}
		put := func(key, body string) {
			if _, err := artifacts.Put(ctx, key, strings.NewReader(body)); err != nil {
				t.Fatal(err)
			}
		}
		put("0/run1/artifacts/model/MLmodel", "flavors: {}\n")
		put("0/run1/artifacts/model/model.pkl", "weights-1")
		put("0/run2/artifacts/model/MLmodel", "flavors: {}\n")
		put("0/run2/artifacts/model/model.pkl", "weights-2")
		s := registry.New(db, registry.Options{Content: localContent{cas.New(contentBlobs, "cas"), artifacts}})
		mustModel(t, s, "fraud")
		create := func(source string) *registry.ModelVersion {
			t.Helper()
			v, err := s.CreateModelVersion(ctx, registry.CreateVersionInput{Name: "fraud", Source: source})
			if err != nil {
				t.Fatalf("CreateModelVersion(%s): %v", source, err)
			}
			return v
		}
		v1 := create("mlflow-artifacts:/0/run1/artifacts/model")
		v2 := create("runs:/run2/model")
		v3 := create("models:/fraud/1")
		empty := create("mlflow-artifacts:/0/nothing/here")
		if !strings.HasPrefix(v1.ManifestDigest, "sha256:") || v1.ManifestDigest == v2.ManifestDigest {
			t.Fatalf("digests %q and %q: want two distinct sha256 digests", v1.ManifestDigest, v2.ManifestDigest)
		}
		if v3.ManifestDigest != v1.ManifestDigest {
			t.Fatalf("a copy of version 1 has digest %q, want %q", v3.ManifestDigest, v1.ManifestDigest)
		}
		if empty.ManifestDigest != "" {
			t.Fatalf("a source with no files got digest %q", empty.ManifestDigest)
		}
		if got := mustGetVersion(t, s, "fraud", "2").ManifestDigest; got != v2.ManifestDigest {
			t.Fatalf("stored digest %q, created %q", got, v2.ManifestDigest)
		}
		// The MLmodel file both runs share is stored once: 3 distinct files.
		if n := countFiles(t, filepath.Join(contentDir, "cas", "objects")); n != 3 {
			t.Fatalf("content store holds %d files, want 3", n)
		}

		if _, problems, err := s.VerifyModelVersion(ctx, "fraud", "1"); err != nil || len(problems) != 0 {
			t.Fatalf("intact version: problems %v, err %v", problems, err)
		}
		corruptObject(t, filepath.Join(contentDir, "cas", "objects"), "weights-1")
		_, problems, err := s.VerifyModelVersion(ctx, "fraud", "1")
		if err != nil || len(problems) != 1 || problems[0].Path != "model.pkl" {
			t.Fatalf("corrupt model.pkl: problems %+v, err %v", problems, err)
		}
		_, _, err = s.VerifyModelVersion(ctx, "fraud", "4")
		wantKind(t, err, fault.Invalid)
	})
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// corruptObject flips the first byte of the stored object whose content is body.
func corruptObject(t *testing.T, dir, body string) {
	t.Helper()
	found := false
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if b, _ := os.ReadFile(p); string(b) == body {
			b[0] ^= 0xff
			found = os.WriteFile(p, b, 0o644) == nil
		}
		return nil
	})
	if !found {
		t.Fatalf("no stored object holds %q", body)
	}
}
