package api

import (
	"io"
	"net/http"
	"strconv"

	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/httpx"
)

// versionFile streams one file of a model version from the content store. The bytes are
// hashed as they go out; if they do not match the version's manifest the connection is
// cut, so a client never receives a corrupt file as a complete one.
func (a *API) versionFile(w http.ResponseWriter, r *http.Request) (any, error) {
	path, err := blob.CleanUserPath(r.PathValue("path"))
	if err != nil {
		return nil, err
	}
	v, err := a.registry.GetModelVersion(r.Context(), r.PathValue("name"), r.PathValue("version"))
	if err != nil {
		return nil, err
	}
	if v.ManifestDigest == "" {
		return nil, fault.Invalidf("Model version %s/%s has no stored files: its source is not stored by this server.", v.Name, v.Version)
	}
	m, err := a.content.Manifest(r.Context(), v.ManifestDigest)
	if err != nil {
		return nil, err
	}
	for _, e := range m.Entries {
		if e.Path != path {
			continue
		}
		rc, err := a.content.Open(r.Context(), e.Digest)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		h := w.Header()
		httpx.SetDownload(h, path, "application/octet-stream")
		h.Set("Content-Length", strconv.FormatInt(e.Size, 10))
		h.Set("ETag", strconv.Quote(e.Digest))
		if _, err := io.CopyBuffer(w, rc, make([]byte, 256<<10)); err != nil {
			a.logger.Error("serving a model file failed", "name", v.Name, "version", v.Version, "path", path, "err", err)
			panic(http.ErrAbortHandler)
		}
		return nil, nil
	}
	return nil, fault.NotFoundf("Model version %s/%s has no file %q.", v.Name, v.Version, path)
}
