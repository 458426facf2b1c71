package cas

import (
	"context"
	"errors"
)

// ProblemKind says what is wrong with a stored file or manifest.
type ProblemKind string

// The problems Verify finds.
const (
	ProblemMissing ProblemKind = "missing" // no object under the digest
	ProblemSize    ProblemKind = "size"    // the object's size is not the manifest's
	ProblemCorrupt ProblemKind = "corrupt" // the object's bytes do not hash to the digest
)

// Problem is a file of a manifest, or the manifest itself when Path is "", that is not
// stored intact.
type Problem struct {
	Path   string
	Digest string
	Kind   ProblemKind
}

// Verify re-reads and re-hashes every file of the manifest named by manifestDigest, and the
// manifest itself, and returns what is not intact, sorted by path. A file stored at several
// paths is read once and reported at each. The error is for a check that could not be made
// (an invalid digest, an I/O failure, a canceled context), never for what the check found.
func (s *Store) Verify(ctx context.Context, manifestDigest string) ([]Problem, error) {
	d, err := parseDigest(manifestDigest)
	if err != nil {
		return nil, err
	}
	m, err := s.readManifest(ctx, d)
	switch {
	case errors.Is(err, ErrNotFound):
		return []Problem{{Digest: manifestDigest, Kind: ProblemMissing}}, nil
	case errors.Is(err, ErrCorrupt):
		return []Problem{{Digest: manifestDigest, Kind: ProblemCorrupt}}, nil
	case err != nil:
		return nil, err
	}
	return s.verifyFiles(ctx, m)
}

func (s *Store) verifyFiles(ctx context.Context, m Manifest) ([]Problem, error) {
	var problems []Problem
	verdicts := make(map[sum]ProblemKind)
	for _, e := range m.Entries {
		d, _ := parseDigest(e.Digest) // validated with the manifest
		kind, seen := verdicts[d]
		if !seen {
			var err error
			if kind, err = s.checkObject(ctx, d, e.Size); err != nil {
				return nil, pathError(e.Path, err)
			}
			verdicts[d] = kind
		}
		if kind != "" {
			problems = append(problems, Problem{Path: e.Path, Digest: e.Digest, Kind: kind})
		}
	}
	return problems, nil
}

// checkObject returns what is wrong with the object d, expected to hold size bytes, or "".
func (s *Store) checkObject(ctx context.Context, d sum, size int64) (ProblemKind, error) {
	obj, err := s.openObject(ctx, s.objectKey(d), d)
	if errors.Is(err, ErrNotFound) {
		return ProblemMissing, nil
	}
	if err != nil {
		return "", err
	}
	defer obj.Close()
	if obj.Info().Size != size {
		return ProblemSize, nil
	}
	got, _, err := hashReader(ctx, obj)
	switch {
	case err != nil:
		return "", err
	case got != d:
		return ProblemCorrupt, nil
	}
	return "", nil
}
