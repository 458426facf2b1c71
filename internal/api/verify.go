package api

import (
	"context"
	"net/http"
	"slices"

	"github.com/mlship/mlship/internal/cas"
)

// Verification is what checking a version's stored files found.
type Verification struct {
	Name           string    `json:"name"`
	Version        string    `json:"version"`
	ManifestDigest string    `json:"manifest_digest"`
	OK             bool      `json:"ok"`
	Problems       []Problem `json:"problems"`
}

// Problem is a stored file that is missing or corrupt; Path is "" for the manifest itself.
type Problem struct {
	Path   string `json:"path"`
	Digest string `json:"digest"`
	Kind   string `json:"kind"` // missing, size or corrupt
}

func (a *API) verify(w http.ResponseWriter, r *http.Request) (any, error) {
	v, problems, err := a.registry.VerifyModelVersion(r.Context(), r.PathValue("name"), r.PathValue("version"))
	if err != nil {
		return nil, err
	}
	return &Verification{Name: v.Name, Version: v.Version, ManifestDigest: v.ManifestDigest,
		OK: len(problems) == 0, Problems: wireProblems(problems)}, nil
}

func wireProblems(problems []cas.Problem) []Problem {
	out := make([]Problem, len(problems))
	for i, p := range problems {
		out[i] = Problem{Path: p.Path, Digest: p.Digest, Kind: string(p.Kind)}
	}
	return out
}

// Collection is what a garbage collection of the content store removed.
type Collection struct {
	Removed    int   `json:"removed"`
	FreedBytes int64 `json:"freed_bytes"`
}

// collectGarbage removes stored files and manifests that no model version or dataset
// version references (and that are older than the store's grace period, so uploads in
// flight are kept).
// Servers sharing a database collect one at a time: a second request waits for the
// first collection to end, then collects what is left.
func (a *API) collectGarbage(w http.ResponseWriter, r *http.Request) (any, error) {
	var c Collection
	gc := func(ctx context.Context) error {
		live, err := a.registry.LiveManifests(ctx)
		if err != nil {
			return err
		}
		if a.datasets != nil {
			data, err := a.datasets.LiveManifests(ctx)
			if err != nil {
				return err
			}
			live = append(live, data...)
		}
		c.Removed, c.FreedBytes, err = a.content.GC(ctx, slices.Values(live))
		return err
	}
	var err error
	if a.once != nil {
		err = a.once(r.Context(), "content-gc", gc)
	} else {
		err = gc(r.Context())
	}
	if err != nil {
		return nil, err
	}
	return &c, nil
}
