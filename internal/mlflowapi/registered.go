package mlflowapi

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/cas"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/httpx"
	"github.com/mlship/mlship/internal/registry"
)

// A registered model version is read through the artifact proxy from the copy of its
// files taken when it was registered, under registeredDir/sha256/<manifest hex>/, never
// from its source: a run's or logged model's artifacts can be written again after
// registration, a registered version cannot. The directory is read-only.
const registeredDir = "_model-versions"

// VersionFiles reads the registered copies of model versions: the content store.
type VersionFiles interface {
	Manifest(ctx context.Context, digest string) (cas.Manifest, error)
	Open(ctx context.Context, digest string) (io.ReadCloser, error)
}

// registeredURI is the artifact URI of the registered copy with manifest digest.
func registeredURI(digest string) string {
	return "mlflow-artifacts:/" + registeredDir + "/sha256/" + strings.TrimPrefix(digest, "sha256:")
}

// isRegistered reports whether key lies in the directory of registered copies.
func isRegistered(key string) bool {
	return key == registeredDir || strings.HasPrefix(key, registeredDir+"/")
}

var errRegisteredReadOnly = fault.New(fault.PermissionDenied, "Artifacts under mlflow-artifacts:/"+registeredDir+
	"/ are the registered copies of model versions and never change; write to a run's or a logged model's artifacts instead.")

// downloadURI is where a client downloads a version from: its registered copy when the
// server keeps one and serves artifacts, else its storage location.
func (a *API) downloadURI(v *registry.ModelVersion) string {
	if v.ManifestDigest != "" && a.opts.VersionFiles != nil && a.opts.ServeArtifacts {
		return registeredURI(v.ManifestDigest)
	}
	return v.StorageLocation
}

// registeredManifest parses key (registeredDir/sha256/<hex>[/rest]) and reads the
// manifest it names, which must be a model version's.
func (a *API) registeredManifest(ctx context.Context, key string) (cas.Manifest, string, error) {
	rest := strings.TrimPrefix(strings.TrimPrefix(key, registeredDir), "/")
	algo, rest, _ := strings.Cut(rest, "/")
	hex, file, _ := strings.Cut(rest, "/")
	digest := "sha256:" + hex
	if algo != "sha256" || cas.CheckDigest(digest) != nil || a.opts.VersionFiles == nil {
		return cas.Manifest{}, "", fault.NotFoundf("No registered model version files at %s", key)
	}
	ok, err := a.registry.IsVersionManifest(ctx, digest)
	if err != nil {
		return cas.Manifest{}, "", err
	}
	if !ok {
		return cas.Manifest{}, "", fault.NotFoundf("No registered model version files at %s", key)
	}
	m, err := a.opts.VersionFiles.Manifest(ctx, digest)
	return m, file, err
}

// listRegistered lists the entries directly under dir of a registered copy, as
// listArtifacts does for stored artifacts: a file or a missing path lists as empty.
func (a *API) listRegistered(ctx context.Context, key string) ([]fileInfo, error) {
	m, dir, err := a.registeredManifest(ctx, key)
	if fault.KindOf(err) == fault.NotFound {
		return []fileInfo{}, nil
	}
	if err != nil {
		return nil, err
	}
	return listManifest(m, dir), nil
}

// listManifest lists the files and directories directly under dir ("" for the top).
func listManifest(m cas.Manifest, dir string) []fileInfo {
	prefix := dir
	if prefix != "" {
		prefix += "/"
	}
	files := []fileInfo{}
	seen := map[string]bool{}
	for _, e := range m.Entries {
		rest, ok := strings.CutPrefix(e.Path, prefix)
		if !ok || rest == "" {
			continue
		}
		name, _, nested := strings.Cut(rest, "/")
		if seen[name] {
			continue
		}
		seen[name] = true
		fi := toFileInfo(name, blob.Info{IsDir: nested, Size: e.Size})
		files = append(files, fi)
	}
	return files
}

// sendRegistered writes one file of a registered copy, checked against its digest as
// it is read.
func (a *API) sendRegistered(w http.ResponseWriter, r *http.Request, key string) error {
	m, file, err := a.registeredManifest(r.Context(), key)
	if err != nil {
		return err
	}
	return a.sendManifestFile(w, r, m, file)
}

func (a *API) sendManifestFile(w http.ResponseWriter, r *http.Request, m cas.Manifest, file string) error {
	for _, e := range m.Entries {
		if e.Path != file {
			continue
		}
		body, err := a.opts.VersionFiles.Open(r.Context(), e.Digest)
		if err != nil {
			return err
		}
		defer body.Close()
		httpx.SetDownload(w.Header(), file, "")
		w.Header().Set("Content-Length", strconv.FormatInt(e.Size, 10))
		if r.Method == http.MethodHead {
			return nil
		}
		if _, err := io.Copy(w, body); err != nil {
			// The status is sent: the body stops short of its Content-Length, which
			// the client sees as a failed download.
			a.logger.Warn("registered file not sent in full", "path", file, "digest", e.Digest, "err", err)
		}
		return nil
	}
	return fault.NotFoundf("No file %q in the registered files", file)
}

// getModelVersionArtifact answers MLflow's GET /model-versions/get-artifact?name=&version=&path=
// with a file of the version's registered copy.
func (a *API) getModelVersionArtifact(w http.ResponseWriter, r *http.Request) (any, error) {
	q, err := parseQuery(r)
	if err != nil {
		return nil, err
	}
	file, err := blob.CleanUserPath(q.Get("path"))
	if err != nil {
		return nil, err
	}
	if file == "" {
		return nil, fault.Missing("path")
	}
	v, err := a.registry.GetModelVersion(r.Context(), q.Get("name"), q.Get("version"))
	if err != nil {
		return nil, err
	}
	if v.ManifestDigest == "" || a.opts.VersionFiles == nil {
		return nil, fault.NotFoundf("Model version %s/%s has no files stored by this server (its source is %s)", v.Name, v.Version, v.Source)
	}
	m, err := a.opts.VersionFiles.Manifest(r.Context(), v.ManifestDigest)
	if err != nil {
		return nil, err
	}
	return nil, a.sendManifestFile(w, r, m, file)
}
