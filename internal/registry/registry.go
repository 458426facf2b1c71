// Package registry owns the model registry: registered models, their numbered versions,
// tags, aliases and stages, and where each version's artifacts are. It enforces MLflow's
// rules (OSS SQL store semantics: names, alias grammar, stage transitions, version
// numbering) and refuses model version sources that could make the server or a client
// read outside the artifacts it serves. It knows nothing of HTTP.
//
// Entities carry MLflow's JSON field names, since MLflow's data model is the product's.
//
// Ownership is recorded as plain registered model tags: TagOwner names the owning team
// or person, TagContact how to reach them.
package registry

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/mlship/mlship/internal/cas"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/webhooks"
)

// LoggedModel is what the registry needs to know of a logged model: where its artifacts
// are and which run produced it.
type LoggedModel struct {
	ArtifactURI string
	SourceRunID string
}

// LoggedModels finds logged models by id. A missing model is a fault.NotFound error.
type LoggedModels interface {
	LookupLoggedModel(ctx context.Context, id string) (LoggedModel, error)
}

// LoggedModelsFunc adapts a function to LoggedModels.
type LoggedModelsFunc func(ctx context.Context, id string) (LoggedModel, error)

// LookupLoggedModel calls f.
func (f LoggedModelsFunc) LookupLoggedModel(ctx context.Context, id string) (LoggedModel, error) {
	return f(ctx, id)
}

// Options configure a Service.
type Options struct {
	// SourceSchemes lists the URI schemes, besides mlflow-artifacts, runs and models, that
	// a model version's source may use (s3, gs, https, ...). Local paths and file: URIs
	// are never accepted.
	SourceSchemes []string
	// LoggedModels resolves models:/<model id> sources; without it they are refused.
	LoggedModels LoggedModels
	// Content, when set, keeps an immutable copy of each new version's files.
	Content Content
}

// Content copies a new version's files into a content-addressed store and verifies them
// later. The server backs it with internal/cas over the artifact blob store.
type Content interface {
	// Snapshot copies the files under an artifact URI and returns the digest of their
	// manifest; "" when the URI is not stored by this server or holds no files.
	Snapshot(ctx context.Context, artifactURI string) (string, error)
	// RunArtifactURI returns the artifact root of a run, to resolve runs:/ sources.
	RunArtifactURI(ctx context.Context, runID string) (string, error)
	// Verify re-reads every file of a manifest and reports what is missing or corrupt.
	Verify(ctx context.Context, digest string) ([]cas.Problem, error)
}

// Service is the model registry over a metadata store.
type Service struct {
	db    *store.DB
	opts  Options
	now   func() time.Time
	guard AliasGuard
	// events records the registry's events for webhooks; nil records none.
	events webhooks.Recorder
}

// New returns a registry service.
func New(db *store.DB, opts Options) *Service {
	schemes := make([]string, len(opts.SourceSchemes))
	for i, sc := range opts.SourceSchemes {
		schemes[i] = strings.ToLower(sc)
	}
	opts.SourceSchemes = schemes
	return &Service{db: db, opts: opts, now: time.Now}
}

func (s *Service) nowMillis() int64 { return s.now().UnixMilli() }

// reader returns the read pool.
func (s *Service) reader() store.Querier { return s.db.Reader() }

// notFound turns sql.ErrNoRows into a not-found fault with msg.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fault.NotFoundf(format, args...)
	}
	return err
}
