package mlflowapi

import (
	"context"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"time"

	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/cas"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/httpx"
	"github.com/mlship/mlship/internal/protojson"
)

type keyCtx struct{}

func withKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, keyCtx{}, key)
}

// keyOf returns the validated artifact key of the request.
func keyOf(ctx context.Context) string {
	k, _ := ctx.Value(keyCtx{}).(string)
	return k
}

// MaxUploadParts caps the parts of one multipart upload.
const MaxUploadParts = blob.MaxPartNumber

// PresignedPartTTL is how long a presigned part URL of an object store stays valid: parts
// are uploaded one after the other, so the last must still be valid once all before it
// are sent.
const PresignedPartTTL = 6 * time.Hour

type credential struct {
	URL        string            `json:"url"`
	PartNumber int               `json:"part_number"`
	Headers    map[string]string `json:"headers"`
}

// multipartTarget returns the key of a multipart upload: the directory in the URL and
// the base name of the client's local file.
func multipartTarget(r *http.Request, localPath string) (string, error) {
	if localPath == "" {
		return "", fault.Missing("path")
	}
	name, err := blob.CleanUserPath(path.Base(localPath))
	if err != nil {
		return "", err
	}
	return joinKey(keyOf(r.Context()), name), nil
}

// createMultipart starts an upload whose parts the client PUTs to this server's
// mpu/part endpoint, as it would PUT them to presigned object-store URLs.
func (a *API) createMultipart(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		Path     string          `json:"path"`
		NumParts protojson.Int64 `json:"num_parts"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	key, err := multipartTarget(r, req.Path)
	if err != nil {
		return nil, err
	}
	n := int(req.NumParts)
	if n < 1 || n > MaxUploadParts {
		return nil, fault.Invalidf("num_parts must be between 1 and %d, got %d", MaxUploadParts, n)
	}
	id, err := a.blobs.CreateMultipart(r.Context(), key)
	if err != nil {
		return nil, err
	}
	base := requestBase(r) + ArtifactsPrefix + "mpu/part/" + escapeKey(key)
	creds := make([]credential, n)
	presigner, _ := a.blobs.(blob.PartPresigner)
	for i := range creds {
		if presigner != nil {
			// The parts go straight to the bucket, not through this server.
			u, headers, ok, err := presigner.PresignPart(r.Context(), key, id, i+1, PresignedPartTTL)
			if err != nil {
				return nil, err
			}
			if ok {
				creds[i] = credential{URL: u, PartNumber: i + 1, Headers: headers}
				continue
			}
		}
		q := url.Values{"upload_id": {id}, "part_number": {strconv.Itoa(i + 1)}}
		creds[i] = credential{URL: base + "?" + q.Encode(), PartNumber: i + 1, Headers: map[string]string{}}
	}
	return struct {
		UploadID    string       `json:"upload_id"`
		Credentials []credential `json:"credentials"`
	}{id, creds}, nil
}

// uploadPart stores one part and answers its ETag, as an object store would.
func (a *API) uploadPart(w http.ResponseWriter, r *http.Request) (any, error) {
	q, err := parseQuery(r)
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(q.Get("part_number"))
	if err != nil {
		return nil, fault.Invalidf("Invalid part_number '%s'", q.Get("part_number"))
	}
	etag, err := a.blobs.UploadPart(r.Context(), keyOf(r.Context()), q.Get("upload_id"), n, httpx.UploadBody(r))
	if err != nil {
		return nil, err
	}
	w.Header().Set("ETag", strconv.Quote(etag))
	return httpx.Empty, nil
}

func (a *API) completeMultipart(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		Path     string `json:"path"`
		UploadID string `json:"upload_id"`
		Parts    []struct {
			PartNumber protojson.Int64 `json:"part_number"`
			ETag       string          `json:"etag"`
		} `json:"parts"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	key, err := multipartTarget(r, req.Path)
	if err != nil {
		return nil, err
	}
	parts := make([]blob.Part, len(req.Parts))
	for i, p := range req.Parts {
		parts[i] = blob.Part{Number: int(p.PartNumber), ETag: p.ETag}
	}
	if _, err := a.blobs.CompleteMultipart(r.Context(), key, req.UploadID, parts); err != nil {
		return nil, err
	}
	return httpx.Empty, nil
}

func (a *API) abortMultipart(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		Path     string `json:"path"`
		UploadID string `json:"upload_id"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	key, err := multipartTarget(r, req.Path)
	if err != nil {
		return nil, err
	}
	return httpx.Empty, a.blobs.AbortMultipart(r.Context(), key, req.UploadID)
}

// requestBase is the scheme and host the client used to reach this server.
func requestBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// escapeKey escapes each segment of a key for use in a URL path.
func escapeKey(key string) string {
	u := url.URL{Path: key}
	return u.EscapedPath()
}

// PresignedGetTTL is how long a presigned download URL stays valid: the client reads a large
// file in chunks, each a request of its own, so it must last the whole download.
const PresignedGetTTL = time.Hour

// versionPresigner is the content store of registered copies when it can presign reads.
type versionPresigner interface {
	PresignsOpens() bool
	PresignOpen(ctx context.Context, digest string, ttl time.Duration) (string, map[string]string, int64, bool, error)
}

// presignsDownloads reports whether the artifacts and the registered copies can both be
// read from presigned URLs: server-info then tells clients to download that way, and they
// ask mlflow-artifacts/presigned for every file.
func (a *API) presignsDownloads() bool {
	p, ok := a.blobs.(blob.GetPresigner)
	if !ok || !p.PresignsGets() {
		return false
	}
	v, ok := a.opts.VersionFiles.(versionPresigner)
	return a.opts.VersionFiles == nil || ok && v.PresignsOpens()
}

// presignedDownload answers mlflow-artifacts/presigned/PATH, MLflow's GetPresignedDownloadUrl:
// a URL of the object store from which the client reads the file in ranged chunks, the
// headers to send with it and the file's size.
func (a *API) presignedDownload(w http.ResponseWriter, r *http.Request) (any, error) {
	key := keyOf(r.Context())
	if key == "" {
		return nil, fault.Invalidf("A presigned URL names a file: mlflow-artifacts/presigned/PATH")
	}
	if !a.presignsDownloads() {
		return nil, fault.New(fault.NotImplemented,
			"Presigned downloads are not supported by this server's artifact store (mlship server --s3-presigned-urls with an s3:// --artifacts-destination)")
	}
	var (
		u       string
		headers map[string]string
		size    int64
		err     error
	)
	if isRegistered(key) {
		m, file, merr := a.registeredManifest(r.Context(), key)
		if merr != nil {
			return nil, merr
		}
		i := slices.IndexFunc(m.Entries, func(e cas.Entry) bool { return e.Path == file })
		if i < 0 {
			return nil, fault.NotFoundf("No file %s in the registered copy", file)
		}
		u, headers, size, _, err = a.opts.VersionFiles.(versionPresigner).PresignOpen(r.Context(), m.Entries[i].Digest, PresignedGetTTL)
	} else {
		u, headers, size, err = a.blobs.(blob.GetPresigner).PresignGet(r.Context(), key, PresignedGetTTL)
	}
	if err != nil {
		return nil, err
	}
	return struct {
		URL      string            `json:"url"`
		Headers  map[string]string `json:"headers"`
		FileSize int64             `json:"file_size"`
	}{u, headers, size}, nil
}
