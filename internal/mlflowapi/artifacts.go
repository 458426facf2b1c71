package mlflowapi

import (
	"errors"
	"net/http"
	"path"
	"strings"

	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/httpx"
	"github.com/mlship/mlship/internal/tracking"
)

// ArtifactsPrefix is where the artifact proxy lives.
const ArtifactsPrefix = "/api/2.0/mlflow-artifacts/"

// fileInfo is MLflow's FileInfo: file_size is absent for directories and, as MLflow
// answers, for empty files.
type fileInfo struct {
	Path     string `json:"path"`
	IsDir    bool   `json:"is_dir"`
	FileSize *int64 `json:"file_size,omitempty"`
}

func toFileInfo(name string, i blob.Info) fileInfo {
	fi := fileInfo{Path: name, IsDir: i.IsDir}
	if !i.IsDir && i.Size > 0 {
		size := i.Size
		fi.FileSize = &size
	}
	return fi
}

// artifactRoutes are the artifact proxy's routes, mounted under ArtifactsPrefix. An
// upload keeps the content type its client declared (MLflow's client sends the file's
// guessed type, text/plain and text/html among them), so uploads take any type: a
// browser cannot send a PUT across origins without the preflight this server refuses.
func (a *API) artifactRoutes() []httpx.Route {
	json, none := jsonBody, bodyOf(http.MethodDelete)
	routes := []struct {
		method, op string
		body       httpx.Body
		fn         httpx.HandlerFunc
	}{
		{"GET", "artifacts", httpx.Body{}, a.getArtifact},
		{"PUT", "artifacts", httpx.AnyType, a.putArtifact},
		{"DELETE", "artifacts", none, a.deleteArtifact},
		{"POST", "mpu/create", json, a.createMultipart},
		{"POST", "mpu/complete", json, a.completeMultipart},
		{"POST", "mpu/abort", json, a.abortMultipart},
		{"PUT", "mpu/part", httpx.AnyType, a.uploadPart},
		{"GET", "presigned", httpx.Body{}, a.presignedDownload},
	}
	out := make([]httpx.Route, len(routes))
	for i, r := range routes {
		access := httpx.Write
		if r.method == http.MethodGet {
			access = httpx.Read
		}
		out[i] = httpx.Route{Method: r.method, Path: ArtifactsPrefix + r.op, Body: r.body, Access: access,
			Handler: a.checkObjects(r.method, ArtifactsPrefix+r.op, httpx.Handle(a.logger, a.artifactOp(r.op, r.fn)))}
	}
	return out
}

// artifactOp validates the client's artifact path under op before any I/O, and passes
// it to fn as the request's key.
func (a *API) artifactOp(op string, fn httpx.HandlerFunc) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		if !a.opts.ServeArtifacts {
			return nil, errNoArtifactServing
		}
		p := strings.TrimPrefix(r.URL.Path, ArtifactsPrefix+op)
		key, err := blob.CleanUserPath(strings.TrimPrefix(p, "/"))
		if err != nil {
			return nil, err
		}
		if isRegistered(key) && r.Method != http.MethodGet {
			return nil, errRegisteredReadOnly
		}
		if r.Method == http.MethodPut && strings.HasSuffix(p, "/") {
			return nil, fault.Invalidf("Invalid path %q: an upload must name a file, not a directory", p)
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, a.opts.MaxBodyBytes)
		}
		return fn(w, r.WithContext(withKey(r.Context(), key)))
	}
}

var errNoArtifactServing = fault.New(fault.Unavailable, "This endpoint is only available when running the server with artifact serving enabled (--serve-artifacts).")

// artifactNotFound answers a request under ArtifactsPrefix that no route takes.
func (a *API) artifactNotFound(w http.ResponseWriter, r *http.Request) (any, error) {
	if !a.opts.ServeArtifacts {
		return nil, errNoArtifactServing
	}
	return nil, &httpx.CodedError{Code: "ENDPOINT_NOT_FOUND", Err: fault.NotFoundf("No API endpoint %s %s", r.Method, r.URL.Path)}
}

func (a *API) getArtifact(w http.ResponseWriter, r *http.Request) (any, error) {
	key := keyOf(r.Context())
	if key == "" {
		return a.listArtifacts(r)
	}
	if isRegistered(key) {
		return nil, a.sendRegistered(w, r, key)
	}
	obj, err := a.blobs.Open(r.Context(), key)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	info := obj.Info()
	httpx.SetDownload(w.Header(), key, "")
	http.ServeContent(w, r, "", info.ModTime, obj)
	return nil, nil
}

// listArtifacts answers GET artifacts?path=dir with the entries directly under dir,
// named by their base names. A file or a missing path lists as empty, which is how
// clients tell files from directories.
func (a *API) listArtifacts(r *http.Request) (any, error) {
	q, err := parseQuery(r)
	if err != nil {
		return nil, err
	}
	dir, err := blob.CleanUserPath(q.Get("path"))
	if err != nil {
		return nil, err
	}
	if isRegistered(dir) {
		files, err := a.listRegistered(r.Context(), dir)
		return fileList{files}, err
	}
	infos, err := a.blobs.List(r.Context(), dir)
	if err != nil {
		return nil, err
	}
	files := make([]fileInfo, 0, len(infos))
	for _, i := range infos {
		files = append(files, toFileInfo(path.Base(i.Key), i))
	}
	return fileList{files}, nil
}

type fileList struct {
	Files []fileInfo `json:"files"`
}

func (a *API) putArtifact(w http.ResponseWriter, r *http.Request) (any, error) {
	key := keyOf(r.Context())
	if key == "" {
		return nil, fault.Invalidf("Invalid path: an artifact upload must name a file")
	}
	if _, err := a.blobs.Put(r.Context(), key, httpx.UploadBody(r)); err != nil {
		return nil, err
	}
	return httpx.Empty, nil
}

func (a *API) deleteArtifact(w http.ResponseWriter, r *http.Request) (any, error) {
	key := keyOf(r.Context())
	if key == "" {
		return nil, fault.Invalidf("Invalid path: refusing to delete every artifact")
	}
	info, err := a.blobs.Stat(r.Context(), key)
	switch {
	case errors.Is(err, blob.ErrNotFound):
		return httpx.Empty, nil
	case err != nil && !errors.Is(err, blob.ErrIsDir):
		return nil, err
	case err == nil && !info.IsDir:
		return httpx.Empty, a.blobs.Delete(r.Context(), key)
	}
	return httpx.Empty, a.blobs.DeletePrefix(r.Context(), key)
}

// listRunArtifacts answers artifacts/list: the entries under a path of a run's
// artifact root, named relative to that root.
func (a *API) listRunArtifacts(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		runRef
		Path      string `json:"path"`
		PageToken string `json:"page_token"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	rel, err := blob.CleanUserPath(req.Path)
	if err != nil {
		return nil, err
	}
	run, err := a.tracking.GetRun(r.Context(), req.id())
	if err != nil {
		return nil, err
	}
	return a.listUnder(r, run.Info.ArtifactURI, rel)
}

// listUnder lists the entries under rel of an artifact root URI, named relative to the
// root. A root this server does not store lists as empty.
func (a *API) listUnder(r *http.Request, root, rel string) (any, error) {
	resp := struct {
		RootURI string     `json:"root_uri"`
		Files   []fileInfo `json:"files,omitempty"`
	}{RootURI: root}
	base, ok := tracking.ArtifactKey(root)
	if !ok || !a.opts.ServeArtifacts {
		return resp, nil
	}
	infos, err := a.blobs.List(r.Context(), joinKey(base, rel))
	if err != nil {
		return nil, err
	}
	for _, i := range infos {
		resp.Files = append(resp.Files, toFileInfo(strings.TrimPrefix(i.Key, base+"/"), i))
	}
	return resp, nil
}

func joinKey(base, rel string) string {
	switch {
	case base == "":
		return rel
	case rel == "":
		return base
	}
	return base + "/" + rel
}
