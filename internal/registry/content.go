package registry

import (
	"context"
	"database/sql"
	"strings"

	"github.com/mlship/mlship/internal/cas"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// snapshot copies a new version's files into the content store, when there is one and
// the files are stored by this server. A copy of a version (models:/name/n) shares the
// manifest of the version it copies, found inside the write.
func (s *Service) snapshot(ctx context.Context, nv *newVersion) error {
	if s.opts.Content == nil {
		return nil
	}
	uri := nv.storage
	switch nv.src.kind {
	case sourceModelVersion, sourceRemote:
		return nil
	case sourceRun:
		root, err := s.opts.Content.RunArtifactURI(ctx, nv.src.runID)
		if err != nil {
			return badSource(nv.in.Source, "its run does not exist")
		}
		uri = root
		if _, path, ok := strings.Cut(strings.TrimPrefix(nv.src.canonical, "runs:/"), "/"); ok {
			uri += "/" + path
		}
	}
	digest, err := s.opts.Content.Snapshot(ctx, uri)
	if err != nil {
		return fault.Wrap(fault.KindOf(err), err, "could not copy the files of source %q", nv.in.Source)
	}
	nv.digest = digest
	return nil
}

// VerifyModelVersion re-reads every file of a version from the content store and
// returns what is missing or corrupt; nil means the version is intact.
func (s *Service) VerifyModelVersion(ctx context.Context, name, version string) (*ModelVersion, []cas.Problem, error) {
	if s.opts.Content == nil {
		return nil, nil, fault.New(fault.NotImplemented, "this server keeps no content store")
	}
	v, err := s.GetModelVersion(ctx, name, version)
	if err != nil {
		return nil, nil, err
	}
	if v.ManifestDigest == "" {
		return v, nil, fault.Invalidf("Model version %s/%s has no stored content to verify: its source is not stored by this server.", name, v.Version)
	}
	problems, err := s.opts.Content.Verify(ctx, v.ManifestDigest)
	return v, problems, err
}

// LiveManifests returns the manifests that model versions reference: everything the
// content store must keep.
func (s *Service) LiveManifests(ctx context.Context) ([]string, error) {
	var out []string
	err := store.ScanEach(ctx, s.reader(), `SELECT DISTINCT manifest_digest FROM model_versions WHERE manifest_digest != ''`,
		nil, func(rows *sql.Rows) error {
			var d string
			err := rows.Scan(&d)
			out = append(out, d)
			return err
		})
	return out, err
}

// IsVersionManifest reports whether some model version was registered with the files
// of the manifest digest: only those are served as registered copies.
func (s *Service) IsVersionManifest(ctx context.Context, digest string) (bool, error) {
	var one int
	err := s.reader().QueryRowContext(ctx, `SELECT 1 FROM model_versions WHERE manifest_digest = ? LIMIT 1`, digest).Scan(&one)
	if err == sql.ErrNoRows {
		return false, nil
	}
	return err == nil, err
}
