// Package traces owns MLflow 3's traces: a trace's info (when it ran, how long, its
// state), its tags and request metadata, the runs it belongs to, its spans when they
// arrive over OpenTelemetry, and the assessments (feedback, expectations) made on it.
//
// A trace logged by MLflow's Python client keeps MLflow's split: its info here, its
// spans in traces.json under the trace's artifact location (the tag
// mlflow.artifactLocation), which the client uploads and reads itself through the
// artifact proxy. A trace sent to /v1/traces keeps its spans here, one row each, as OTLP
// protobuf, and carries the tag mlflow.trace.spansLocation = TRACKING_STORE, which
// tells the client to ask the server for them.
package traces

import (
	"context"
	"regexp"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/tracking"
)

// Tags and metadata keys with a meaning to MLflow's client.
const (
	TagArtifactLocation = "mlflow.artifactLocation"
	TagSpansLocation    = "mlflow.trace.spansLocation"
	TagTraceName        = "mlflow.traceName"
	MetaSourceRun       = "mlflow.sourceRun"
	SpansInStore        = "TRACKING_STORE"
)

// The states of a trace, as MLflow's TraceInfoV3.State names them.
const (
	StateOK         = "OK"
	StateError      = "ERROR"
	StateInProgress = "IN_PROGRESS"
)

// Limits. A trace's tag and metadata values are capped as MLflow caps them; a request
// of spans is capped so that one request cannot hold the writer for long.
const (
	MaxKeyLength      = 250
	MaxValueLength    = 8000
	MaxSpansPerWrite  = 10_000
	MaxAttributeBytes = 4 << 20 // one span attribute's value, encoded
	MaxLinkedTraces   = 100     // traces linked to a run in one request
	MaxSearchResults  = 500
	MaxExperiments    = 1000 // experiments one search covers
	MaxDeleteIDs      = 1000 // traces deleted by id in one request
	DefaultSearchSize = 100
)

// Info is a trace's metadata: everything but its spans.
type Info struct {
	TraceID           string
	ExperimentID      string
	ClientRequestID   string
	RequestTime       int64  // milliseconds since the epoch
	ExecutionDuration *int64 // milliseconds; nil while in progress
	State             string
	RequestPreview    string
	ResponsePreview   string
	Metadata          map[string]string
	Tags              map[string]string
	Assessments       []Assessment
}

// Experiments is what traces need of tracking: an experiment's artifact location and
// state, and the experiment of a run.
type Experiments interface {
	GetExperiment(ctx context.Context, id string) (*tracking.Experiment, error)
	ExperimentOfRun(ctx context.Context, runID string) (string, error)
}

// Service is the traces domain over the metadata store.
type Service struct {
	db   *store.DB
	exps Experiments
	now  func() time.Time
}

// New returns the traces service.
func New(db *store.DB, exps Experiments) *Service {
	return &Service{db: db, exps: exps, now: time.Now}
}

// traceIDPattern is what a trace id may be: MLflow's "tr-" and 32 hex digits, its
// older request ids, and other clients' ids alike, as long as it is one path segment
// (it names the trace's artifact directory).
var traceIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)

// CheckTraceID refuses an id that is no trace id.
func CheckTraceID(id string) error {
	if !traceIDPattern.MatchString(id) {
		return fault.Invalidf("Invalid trace id '%s': expected letters, digits, '-', '_', '.' or ':', at most 128", clip(id))
	}
	return nil
}

// activeExperiment returns the experiment a trace is written to, refusing a deleted one.
func (s *Service) activeExperiment(ctx context.Context, id string) (*tracking.Experiment, error) {
	if id == "" {
		return nil, fault.Missing("experiment_id")
	}
	e, err := s.exps.GetExperiment(ctx, id)
	if err != nil {
		return nil, err
	}
	if e.LifecycleStage != tracking.StageActive {
		return nil, fault.Invalidf("The experiment %s must be in the 'active' state. Current state is %s.", id, e.LifecycleStage)
	}
	return e, nil
}

func checkKeyValue(what, key, value string) error {
	switch {
	case key == "":
		return fault.Missing("key")
	case len(key) > MaxKeyLength:
		return fault.Invalidf("The %s key '%s' is %d characters long; at most %d are allowed", what, clip(key), len(key), MaxKeyLength)
	case len(value) > MaxValueLength:
		return fault.Invalidf("The value of %s '%s' is %d characters long; at most %d are allowed", what, clip(key), len(value), MaxValueLength)
	}
	return nil
}

// clip shortens user input quoted in an error message.
func clip(s string) string {
	if len(s) <= 200 {
		return s
	}
	return s[:200] + "..."
}

func notFound(id string) error {
	return fault.NotFoundf("Trace with ID '%s' not found.", clip(id))
}
