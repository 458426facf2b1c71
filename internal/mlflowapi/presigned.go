package mlflowapi

import (
	"context"
	"net/http"
	"time"

	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/protojson"
	"github.com/mlship/mlship/internal/tracking"
)

// MLflow 3's artifacts/presigned-upload-url and artifacts/presigned-download-url hand a
// client a URL of the object store for one file of a run (or, for uploads, of a logged
// model), so that large files do not pass through the server. MLflow offers them only for
// runs whose artifact URI is the bucket itself; mlship offers them for the artifacts it
// stores too, when its store is an S3 bucket and the operator allows presigned URLs
// (mlship server --s3-presigned-urls).

// Presigned URL lifetimes, as MLflow's: 15 minutes for uploads and 5 for downloads unless
// the request asks, at most 7 days (the longest any cloud provider signs for).
const (
	presignedUploadTTL   = 900 * time.Second
	presignedDownloadTTL = 300 * time.Second
	maxPresignedTTL      = 604800 * time.Second
)

type presignRequest struct {
	RunID      string           `json:"run_id"`
	ModelID    string           `json:"model_id"`
	Path       string           `json:"path"`
	Expiration *protojson.Int64 `json:"expiration"`
}

// ttl is the lifetime the request asks for, or def.
func (p *presignRequest) ttl(def time.Duration) (time.Duration, error) {
	if p.Expiration == nil {
		return def, nil
	}
	d := time.Duration(*p.Expiration) * time.Second
	if d < time.Second || d > maxPresignedTTL {
		return 0, fault.Invalidf("expiration must be between 1 and 604800 seconds (got %d).", int64(*p.Expiration))
	}
	return d, nil
}

// key is the store key of the file the request names under root, an artifact URI.
func (a *API) presignKey(root, path string) (string, error) {
	if path == "" {
		return "", fault.Missing("path")
	}
	rel, err := blob.CleanUserPath(path)
	if err != nil {
		return "", err
	}
	if rel == "" {
		return "", fault.Invalidf("path must name a file under the artifact root, got %q", path)
	}
	base, ok := tracking.ArtifactKey(root)
	if !ok || !a.opts.ServeArtifacts {
		return "", fault.Invalidf("Presigned URLs are handed out for the artifacts this server stores; %s is not one of them: "+
			"use the store's own credentials for it", root)
	}
	return joinKey(base, rel), nil
}

// presignsPuts reports whether the artifact store hands out upload URLs.
func (a *API) presignsPuts() bool {
	p, ok := a.blobs.(blob.PutPresigner)
	return ok && p.PresignsPuts() && a.opts.ServeArtifacts
}

var errNoPresign = fault.New(fault.NotImplemented,
	"Presigned URLs are not supported by this server's artifact store (mlship server --s3-presigned-urls with an s3:// --artifacts-destination)")

// presignedUploadURL answers artifacts/presigned-upload-url.
func (a *API) presignedUploadURL(w http.ResponseWriter, r *http.Request) (any, error) {
	var req presignRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if (req.RunID == "") == (req.ModelID == "") {
		return nil, fault.Invalidf("Exactly one of run_id and model_id must be provided.")
	}
	ttl, err := req.ttl(presignedUploadTTL)
	if err != nil {
		return nil, err
	}
	root, err := a.artifactRootOf(r.Context(), req.RunID, req.ModelID)
	if err != nil {
		return nil, err
	}
	key, err := a.presignKey(root, req.Path)
	if err != nil {
		return nil, err
	}
	if !a.presignsPuts() {
		return nil, errNoPresign
	}
	u, headers, err := a.blobs.(blob.PutPresigner).PresignPut(r.Context(), key, ttl)
	if err != nil {
		return nil, err
	}
	return struct {
		URL     string            `json:"presigned_url"`
		Headers map[string]string `json:"headers"`
	}{u, headers}, nil
}

// presignedDownloadURL answers artifacts/presigned-download-url.
func (a *API) presignedDownloadURL(w http.ResponseWriter, r *http.Request) (any, error) {
	var req presignRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.RunID == "" {
		return nil, fault.Missing("run_id")
	}
	ttl, err := req.ttl(presignedDownloadTTL)
	if err != nil {
		return nil, err
	}
	root, err := a.artifactRootOf(r.Context(), req.RunID, "")
	if err != nil {
		return nil, err
	}
	key, err := a.presignKey(root, req.Path)
	if err != nil {
		return nil, err
	}
	p, ok := a.blobs.(blob.GetPresigner)
	if !ok || !p.PresignsGets() {
		return nil, errNoPresign
	}
	u, headers, size, err := p.PresignGet(r.Context(), key, ttl)
	if err != nil {
		return nil, err
	}
	return struct {
		URL      string            `json:"presigned_url"`
		Headers  map[string]string `json:"headers"`
		FileSize protojson.Int64   `json:"file_size"`
	}{u, headers, protojson.Int64(size)}, nil
}

// artifactRootOf is the artifact URI of a run, or of a logged model.
func (a *API) artifactRootOf(ctx context.Context, runID, modelID string) (string, error) {
	if runID != "" {
		run, err := a.tracking.GetRun(ctx, runID)
		if err != nil {
			return "", err
		}
		return run.Info.ArtifactURI, nil
	}
	m, err := a.tracking.GetLoggedModel(ctx, modelID)
	if err != nil {
		return "", err
	}
	return m.Info.ArtifactURI, nil
}
