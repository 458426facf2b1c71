package mlflowapi

import (
	"context"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"time"

	"github.com/mlship/mlship/internal/blob"
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
		return "", fault.Invalidf("Missing value for required parameter 'path'. See the API docs for more information about request parameters.")
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
