// Command image builds mlship's container image without a container daemon: FROM
// scratch, the static mlship binary, the build machine's CA certificates, a passwd and
// group naming the user nonroot (65532), and /data and /tmp writable by it. It writes a
// tarball that `docker load`, `podman load` and `kind load image-archive` read, an OCI
// image layout, or pushes to a registry with the credentials of ~/.docker/config.json.
//
//	go run . --binary linux/amd64=../../bin/mlship --tar ../../dist/mlship-image.tar
//	go run . --binary linux/amd64=mlship-amd64 --binary linux/arm64=mlship-arm64 --push registry.example.com/mlship:0.1.0
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The user the server runs as, as in distroless images.
const (
	uid      = 65532
	userName = "nonroot"
)

// Options say what goes into the image.
type Options struct {
	// Binaries maps a platform ("linux/amd64") to the static mlship built for it.
	Binaries map[string]string
	// CACerts is the CA bundle copied to /etc/ssl/certs/ca-certificates.crt.
	CACerts string
	Version string
	// Revision is the source's commit; Source its repository's URL.
	Revision, Source string
	// Created is the time recorded in the image and on its files: fixed, so that the
	// same binary makes the same image.
	Created time.Time
}

func main() {
	var (
		o       = Options{Binaries: map[string]string{}}
		tarPath string
		ociDir  string
		push    string
		tag     string
		created int64
	)
	flag.Func("binary", "PLATFORM=PATH: the static mlship for a platform, e.g. linux/amd64=bin/mlship (repeat for more platforms)", func(s string) error {
		p, path, ok := strings.Cut(s, "=")
		if !ok || !strings.HasPrefix(p, "linux/") {
			return fmt.Errorf("want linux/ARCH=PATH, got %q", s)
		}
		o.Binaries[p] = path
		return nil
	})
	flag.StringVar(&o.CACerts, "ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "CA bundle copied into the image")
	flag.StringVar(&o.Version, "version", "dev", "mlship's version (the image's version label)")
	flag.StringVar(&o.Revision, "revision", "", "the source's commit (label org.opencontainers.image.revision)")
	flag.StringVar(&o.Source, "source", "https://github.com/mlship/mlship", "the source's URL (label org.opencontainers.image.source)")
	flag.Int64Var(&created, "created", envInt("SOURCE_DATE_EPOCH", 0), "creation time, in seconds since 1970, recorded in the image and on its files (default $SOURCE_DATE_EPOCH, else 0)")
	flag.StringVar(&tarPath, "tar", "", "write a tarball of the image (one platform) that docker load and podman load read")
	flag.StringVar(&tag, "tag", "mlship:dev", "the name the tarball's image is loaded as")
	flag.StringVar(&ociDir, "oci-layout", "", "write an OCI image layout of every platform to this directory")
	flag.StringVar(&push, "push", "", "push the image (an index of every platform) to this reference, with the credentials of the Docker config (docker login)")
	flag.Parse()
	o.Created = time.Unix(created, 0).UTC()
	if err := run(o, tarPath, tag, ociDir, push); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func envInt(name string, def int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv(name), 10, 64); err == nil {
		return v
	}
	return def
}

func run(o Options, tarPath, tag, ociDir, push string) error {
	if len(o.Binaries) == 0 {
		return errors.New("no --binary given")
	}
	if tarPath == "" && ociDir == "" && push == "" {
		return errors.New("nothing to do: give --tar, --oci-layout or --push")
	}
	idx, images, err := Build(o)
	if err != nil {
		return err
	}
	if tarPath != "" {
		if len(images) != 1 {
			return errors.New("--tar holds one platform: give one --binary (or use --oci-layout or --push for several)")
		}
		ref, err := name.NewTag(tag)
		if err != nil {
			return fmt.Errorf("--tag: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(tarPath), 0o755); err != nil {
			return err
		}
		if err := tarball.WriteToFile(tarPath, ref, images[0]); err != nil {
			return err
		}
		fmt.Printf("wrote %s (%s)\n", tarPath, tag)
	}
	if ociDir != "" {
		if err := os.RemoveAll(ociDir); err != nil {
			return err
		}
		if _, err := layout.Write(ociDir, idx); err != nil {
			return err
		}
		fmt.Printf("wrote the OCI layout %s\n", ociDir)
	}
	if push != "" {
		ref, err := name.ParseReference(push)
		if err != nil {
			return fmt.Errorf("--push: %w", err)
		}
		if err := remote.WriteIndex(ref, idx, remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
			return err
		}
		fmt.Printf("pushed %s\n", ref)
	}
	return nil
}

// Build makes one image per platform and the index of them all.
func Build(o Options) (v1.ImageIndex, []v1.Image, error) {
	if o.Source == "" {
		o.Source = "https://github.com/mlship/mlship"
	}
	certs, err := os.ReadFile(o.CACerts)
	if err != nil {
		return nil, nil, fmt.Errorf("CA certificates: %w", err)
	}
	base, err := layer(baseFiles(certs, o.Created))
	if err != nil {
		return nil, nil, err
	}
	platforms := make([]string, 0, len(o.Binaries))
	for p := range o.Binaries {
		platforms = append(platforms, p)
	}
	sort.Strings(platforms)
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var images []v1.Image
	for _, p := range platforms {
		bin, err := os.ReadFile(o.Binaries[p])
		if err != nil {
			return nil, nil, err
		}
		if len(bin) < 4 || string(bin[:4]) != "\x7fELF" {
			return nil, nil, fmt.Errorf("%s is not an ELF binary", o.Binaries[p])
		}
		app, err := layer([]file{{name: "mlship", mode: 0o755, data: bin, mtime: o.Created}})
		if err != nil {
			return nil, nil, err
		}
		img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), base, app)
		if err != nil {
			return nil, nil, err
		}
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		arch := strings.TrimPrefix(p, "linux/")
		cfg, err := img.ConfigFile()
		if err != nil {
			return nil, nil, err
		}
		cfg = cfg.DeepCopy()
		cfg.OS, cfg.Architecture = "linux", arch
		cfg.Created = v1.Time{Time: o.Created}
		cfg.Config = v1.Config{
			User:         fmt.Sprintf("%d:%d", uid, uid),
			Entrypoint:   []string{"/mlship"},
			Cmd:          []string{"server", "--host", "0.0.0.0", "--auth"},
			WorkingDir:   "/data",
			Env:          []string{"MLSHIP_DATA_DIR=/data", "HOME=/home/" + userName, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
			ExposedPorts: map[string]struct{}{"5000/tcp": {}},
			Volumes:      map[string]struct{}{"/data": {}},
			Labels: map[string]string{
				"org.opencontainers.image.title":       "mlship",
				"org.opencontainers.image.description": "MLflow-compatible tracking server, model registry and model serving in one binary",
				"org.opencontainers.image.version":     o.Version,
				"org.opencontainers.image.revision":    o.Revision,
				"org.opencontainers.image.source":      o.Source,
				"org.opencontainers.image.created":     o.Created.Format(time.RFC3339),
			},
		}
		if img, err = mutate.ConfigFile(img, cfg); err != nil {
			return nil, nil, err
		}
		images = append(images, img)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	return idx, images, nil
}

type file struct {
	name  string
	dir   bool
	mode  int64
	uid   int
	data  []byte
	mtime time.Time
}

// baseFiles is everything in the image but the binary.
func baseFiles(certs []byte, mtime time.Time) []file {
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:/home/%s:/sbin/nologin\n", userName, uid, uid, userName, userName)
	group := fmt.Sprintf("root:x:0:\n%s:x:%d:\n", userName, uid)
	files := []file{
		{name: "etc", dir: true, mode: 0o755},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/ssl", dir: true, mode: 0o755},
		{name: "etc/ssl/certs", dir: true, mode: 0o755},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: certs},
		{name: "home", dir: true, mode: 0o755},
		{name: "home/" + userName, dir: true, mode: 0o700, uid: uid},
		{name: "data", dir: true, mode: 0o750, uid: uid},
		{name: "tmp", dir: true, mode: 0o1777},
	}
	for i := range files {
		files[i].mtime = mtime
	}
	return files
}

// layer is a gzipped OCI layer of files, owned by root unless they say otherwise.
func layer(files []file) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, Uid: f.uid, Gid: f.uid, ModTime: f.mtime, Format: tar.FormatPAX}
		if f.dir {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.data))
		}
		if f.uid != 0 {
			h.Uname, h.Gname = userName, userName
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayer))
}
