package mlflowapi

import (
	"errors"
	"mime"
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

// ArtifactHandler serves the artifact proxy: every path under ArtifactsPrefix. Each
// client path is validated by blob.CleanUserPath before any I/O.
func (a *API) ArtifactHandler() http.Handler {
	routes := map[string]httpx.HandlerFunc{
		"GET artifacts":     a.getArtifact,
		"PUT artifacts":     a.putArtifact,
		"DELETE artifacts":  a.deleteArtifact,
		"POST mpu/create":   a.createMultipart,
		"POST mpu/complete": a.completeMultipart,
		"POST mpu/abort":    a.abortMultipart,
		"PUT mpu/part":      a.uploadPart,
	}
	return httpx.Handle(a.logger, func(w http.ResponseWriter, r *http.Request) (any, error) {
		if !a.opts.ServeArtifacts {
			return nil, fault.New(fault.Unavailable, "This endpoint is only available when running the server with artifact serving enabled (--serve-artifacts).")
		}
		rest := strings.TrimPrefix(r.URL.Path, ArtifactsPrefix)
		for _, op := range []string{"artifacts", "mpu/create", "mpu/complete", "mpu/abort", "mpu/part"} {
			p, ok := strings.CutPrefix(rest, op)
			if !ok || (p != "" && p[0] != '/') {
				continue
			}
			fn, ok := routes[r.Method+" "+op]
			if !ok {
				return nil, &httpx.CodedError{Code: "ENDPOINT_NOT_FOUND", Err: fault.NotFoundf("No API endpoint %s %s", r.Method, r.URL.Path)}
			}
			key, err := blob.CleanUserPath(strings.TrimPrefix(p, "/"))
			if err != nil {
				return nil, err
			}
			if r.Method == http.MethodPut && strings.HasSuffix(p, "/") {
				return nil, fault.Invalidf("Invalid path %q: an upload must name a file, not a directory", p)
			}
			if r.Method == http.MethodPost {
				r.Body = http.MaxBytesReader(w, r.Body, a.opts.MaxBodyBytes)
			}
			return fn(w, r.WithContext(withKey(r.Context(), key)))
		}
		return nil, &httpx.CodedError{Code: "ENDPOINT_NOT_FOUND", Err: fault.NotFoundf("No API endpoint %s %s", r.Method, r.URL.Path)}
	})
}

func (a *API) getArtifact(w http.ResponseWriter, r *http.Request) (any, error) {
	key := keyOf(r.Context())
	if key == "" {
		return a.listArtifacts(r)
	}
	obj, err := a.blobs.Open(r.Context(), key)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	info := obj.Info()
	ctype := mime.TypeByExtension(path.Ext(key))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Disposition", attachment(path.Base(key)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	http.ServeContent(w, r, "", info.ModTime, obj)
	return nil, nil
}

// attachment is a Content-Disposition that names the download. The name is encoded as
// RFC 5987 says: a URL path keeps characters such as "=", ":" and "@" that would end the
// header parameter early.
func attachment(name string) string {
	const hex = "0123456789ABCDEF"
	b := []byte("attachment; filename*=UTF-8''")
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
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
	infos, err := a.blobs.List(r.Context(), dir)
	if err != nil {
		return nil, err
	}
	files := make([]fileInfo, 0, len(infos))
	for _, i := range infos {
		files = append(files, toFileInfo(path.Base(i.Key), i))
	}
	return struct {
		Files []fileInfo `json:"files"`
	}{files}, nil
}

func (a *API) putArtifact(w http.ResponseWriter, r *http.Request) (any, error) {
	key := keyOf(r.Context())
	if key == "" {
		return nil, fault.Invalidf("Invalid path: an artifact upload must name a file")
	}
	if _, err := a.blobs.Put(r.Context(), key, r.Body); err != nil {
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
