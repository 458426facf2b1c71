package tracking

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// DefaultExperimentID is the experiment MLflow clients log to when none is chosen.
const DefaultExperimentID = "0"

// Options configure a Service.
type Options struct {
	// ArtifactRoot is the root under which experiments get their artifact location
	// unless one is given, e.g. "mlflow-artifacts:/".
	ArtifactRoot string
	// TruncateLongValues shortens over-long param and run tag values instead of
	// refusing them, as MLflow does by default.
	TruncateLongValues bool
	// ArtifactSchemes lists the URI schemes, besides mlflow-artifacts, that an
	// experiment's artifact location may use.
	ArtifactSchemes []string
	// RunCacheSize is how many loaded runs to keep in memory; 0 turns the cache off.
	// Only a process that is its database's only writer may cache.
	RunCacheSize int
}

// Service is the tracking domain over a metadata store.
type Service struct {
	db    *store.DB
	opts  Options
	now   func() time.Time
	cache *runCache // nil when off
}

// New returns a tracking service. Call Init before serving.
func New(db *store.DB, opts Options) *Service {
	if opts.ArtifactRoot == "" {
		opts.ArtifactRoot = "mlflow-artifacts:/"
	}
	s := &Service{db: db, opts: opts, now: time.Now}
	if opts.RunCacheSize > 0 {
		s.cache = newRunCache(opts.RunCacheSize)
	}
	return s
}

// writeRuns runs a write that changes the given runs (every run when ids is nil), and
// then drops them from the cache.
func (s *Service) writeRuns(ctx context.Context, ids []string, fn func(tx *store.Tx) error) error {
	err := s.db.Write(ctx, fn)
	switch {
	case s.cache == nil:
	case ids == nil:
		s.cache.invalidateAll()
	default:
		s.cache.invalidate(ids...)
	}
	return err
}

// Init creates the Default experiment if it does not exist.
func (s *Service) Init(ctx context.Context) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		now := s.nowMillis()
		_, err := tx.ExecContext(ctx, `INSERT INTO experiments
			(experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time)
			VALUES (0, 'Default', ?, 'active', ?, ?) ON CONFLICT DO NOTHING`,
			s.artifactLocation(DefaultExperimentID), now, now)
		return err
	})
}

func (s *Service) nowMillis() int64 { return s.now().UnixMilli() }

// artifactLocation is the default artifact location of an experiment.
func (s *Service) artifactLocation(id string) string {
	return strings.TrimSuffix(s.opts.ArtifactRoot, "/") + "/" + id
}

// reader returns the read pool.
func (s *Service) reader() store.Querier { return s.db.Reader() }

// notFound turns sql.ErrNoRows into a not-found fault with msg.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fault.NotFoundf(format, args...)
	}
	return err
}

// ArtifactKey maps an artifact URI that this server stores (mlflow-artifacts:/<path>, or
// mlflow-artifacts://host/<path>) to its key in the artifact blob store.
func ArtifactKey(uri string) (string, bool) {
	rest, ok := strings.CutPrefix(uri, "mlflow-artifacts:")
	if !ok {
		return "", false
	}
	if strings.HasPrefix(rest, "//") {
		u, err := url.Parse(uri)
		if err != nil {
			return "", false
		}
		rest = u.Path
	}
	key := strings.Trim(rest, "/")
	if key != "" && blob.CheckKey(key) != nil {
		return "", false
	}
	return key, true
}
