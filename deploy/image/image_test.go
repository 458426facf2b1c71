package main

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image under test: MLSHIP_IMAGE_TAR names one `make image` wrote (its /mlship is
// then the real binary); otherwise one is built here from a stand-in binary.
func imageUnderTest(t *testing.T) (img v1.Image, binary []byte) {
	t.Helper()
	if path := os.Getenv("MLSHIP_IMAGE_TAR"); path != "" {
		img, err := tarball.ImageFromPath(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		return img, nil
	}
	dir := t.TempDir()
	binary = append([]byte("\x7fELF"), bytes.Repeat([]byte("mlship"), 1000)...)
	bin := filepath.Join(dir, "mlship")
	if err := os.WriteFile(bin, binary, 0o755); err != nil {
		t.Fatal(err)
	}
	certs := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(certs, []byte("-----BEGIN CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out", "image.tar")
	o := Options{Binaries: map[string]string{"linux/amd64": bin}, CACerts: certs, Version: "1.2.3", Revision: "abc", Created: time.Unix(1700000000, 0).UTC()}
	if err := run(o, out, "mlship:test", "", ""); err != nil {
		t.Fatal(err)
	}
	// What was written reads back as an image.
	tag, _ := name.NewTag("mlship:test")
	img, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatal(err)
	}
	return img, binary
}

func TestImageConfig(t *testing.T) {
	img, _ := imageUnderTest(t)
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Config
	if c.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532 (not root)", c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{"/mlship"}) || len(c.Cmd) == 0 || c.Cmd[0] != "server" || !slices.Contains(c.Cmd, "0.0.0.0") {
		t.Errorf("entrypoint %v, cmd %v", c.Entrypoint, c.Cmd)
	}
	if !slices.Contains(c.Cmd, "--auth") {
		t.Errorf("cmd %v listens beyond loopback without --auth: the server refuses to start so", c.Cmd)
	}
	if cfg.OS != "linux" || cfg.Architecture != "amd64" {
		t.Errorf("platform %s/%s", cfg.OS, cfg.Architecture)
	}
	if !slices.Contains(c.Env, "MLSHIP_DATA_DIR=/data") {
		t.Errorf("env %v", c.Env)
	}
	for _, l := range []string{"org.opencontainers.image.title", "org.opencontainers.image.version", "org.opencontainers.image.source", "org.opencontainers.image.revision", "org.opencontainers.image.created"} {
		if c.Labels[l] == "" {
			t.Errorf("label %s missing: %v", l, c.Labels)
		}
	}
	if _, ok := c.ExposedPorts["5000/tcp"]; !ok {
		t.Errorf("exposed ports %v", c.ExposedPorts)
	}
}

func TestImageFiles(t *testing.T) {
	img, binary := imageUnderTest(t)
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 2 {
		t.Errorf("%d layers, want 2 (the base files, then the binary)", len(layers))
	}
	files := map[string]*tar.Header{}
	contents := map[string][]byte{}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n := strings.TrimSuffix(strings.TrimPrefix(h.Name, "/"), "/")
		files[n] = h
		if h.Typeflag == tar.TypeReg && h.Size < 1<<20 || n == "mlship" {
			b, _ := io.ReadAll(tr)
			contents[n] = b
		}
	}
	bin := files["mlship"]
	if bin == nil || bin.Typeflag != tar.TypeReg || bin.FileInfo().Mode().Perm() != 0o755 || bin.Uid != 0 {
		t.Fatalf("/mlship: %+v, want a regular file, mode 0755, owned by root (not writable by the server)", bin)
	}
	if binary != nil && !bytes.Equal(contents["mlship"], binary) {
		t.Errorf("/mlship is not the binary given")
	}
	if !bytes.HasPrefix(contents["mlship"], []byte("\x7fELF")) {
		t.Errorf("/mlship is not an ELF binary")
	}
	if !strings.Contains(string(contents["etc/passwd"]), "nonroot:x:65532:65532:") || !strings.Contains(string(contents["etc/group"]), "nonroot:x:65532:") {
		t.Errorf("passwd %q, group %q", contents["etc/passwd"], contents["etc/group"])
	}
	if !strings.Contains(string(contents["etc/ssl/certs/ca-certificates.crt"]), "BEGIN CERTIFICATE") {
		t.Errorf("no CA certificates")
	}
	if d := files["data"]; d == nil || d.Typeflag != tar.TypeDir || d.Uid != 65532 || d.FileInfo().Mode().Perm()&0o700 != 0o700 {
		t.Errorf("/data: %+v, want a directory the user 65532 owns and writes", d)
	}
	if d := files["tmp"]; d == nil || d.Typeflag != tar.TypeDir || d.FileInfo().Mode()&os.ModeSticky == 0 || d.FileInfo().Mode().Perm() != 0o777 {
		t.Errorf("/tmp: %+v, want 1777", d)
	}
	for n, h := range files {
		if h.Typeflag == tar.TypeReg && h.Uid != 0 {
			t.Errorf("%s is owned by %d: only /data and the home directory belong to the user", n, h.Uid)
		}
	}
}

// Several platforms go into an index, written as an OCI layout; the same inputs give
// the same digest.
func TestImageIndex(t *testing.T) {
	dir := t.TempDir()
	bins := map[string]string{}
	for _, arch := range []string{"amd64", "arm64"} {
		p := filepath.Join(dir, arch)
		os.WriteFile(p, []byte("\x7fELF "+arch), 0o755)
		bins["linux/"+arch] = p
	}
	certs := filepath.Join(dir, "ca.crt")
	os.WriteFile(certs, []byte("certs"), 0o644)
	o := Options{Binaries: bins, CACerts: certs, Version: "1", Created: time.Unix(0, 0)}
	if err := run(o, "", "", filepath.Join(dir, "oci"), ""); err != nil {
		t.Fatal(err)
	}
	lp, err := layout.FromPath(filepath.Join(dir, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var archs []string
	for _, d := range m.Manifests {
		archs = append(archs, d.Platform.Architecture)
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		im, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		if im.MediaType != types.OCIManifestSchema1 || im.Config.MediaType != types.OCIConfigJSON {
			t.Errorf("%s: manifest %s, config %s", d.Platform, im.MediaType, im.Config.MediaType)
		}
		for _, l := range im.Layers {
			if l.MediaType != types.OCILayer {
				t.Errorf("%s: layer media type %s", d.Platform, l.MediaType)
			}
		}
		if cfg, err := img.ConfigFile(); err != nil || cfg.Architecture != d.Platform.Architecture || cfg.Config.User != "65532:65532" {
			t.Errorf("%s: config %+v %v", d.Platform, cfg, err)
		}
	}
	if !slices.Equal(archs, []string{"amd64", "arm64"}) {
		t.Errorf("platforms %v", archs)
	}
	a, _, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Errorf("two builds of the same inputs: %s and %s", da, db)
	}
	if err := run(o, filepath.Join(dir, "x.tar"), "mlship:x", "", ""); err == nil || !strings.Contains(err.Error(), "one platform") {
		t.Errorf("--tar of two platforms: %v", err)
	}
	bad := Options{Binaries: map[string]string{"linux/amd64": certs}, CACerts: certs}
	if _, _, err := Build(bad); err == nil || !strings.Contains(err.Error(), "not an ELF") {
		t.Errorf("a non-binary: %v", err)
	}
}
