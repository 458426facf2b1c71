package server

import (
	"context"
	"errors"

	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/cas"
	"github.com/mlship/mlship/internal/tracking"
)

// content backs the registry's content store: version files are copied from the
// artifact store into a content-addressed store kept in its own directory, out of reach
// of artifact uploads.
type content struct {
	cas      *cas.Store
	blobs    blob.Store
	tracking *tracking.Service
}

func (c content) Snapshot(ctx context.Context, uri string) (string, error) {
	key, ok := tracking.ArtifactKey(uri)
	if !ok {
		return "", nil
	}
	_, digest, err := c.cas.ImportDir(ctx, c.blobs, key, nil)
	if errors.Is(err, cas.ErrNotFound) {
		return "", nil
	}
	return digest, err
}

func (c content) RunArtifactURI(ctx context.Context, runID string) (string, error) {
	run, err := c.tracking.GetRun(ctx, runID)
	if err != nil {
		return "", err
	}
	return run.Info.ArtifactURI, nil
}

func (c content) Verify(ctx context.Context, digest string) ([]cas.Problem, error) {
	return c.cas.Verify(ctx, digest)
}
