// Package genaidata owns MLflow 3's GenAI evaluation data: evaluation datasets (their
// tags, the experiments they belong to and their records of inputs, outputs and
// expectations) and the scorers registered on an experiment, version by version.
//
// Records are kept as MLflow keeps them: JSON documents, one row each, found again by a
// hash of their inputs, so that merging a record whose inputs are already in the dataset
// updates it (its expectations and tags merged key by key, its outputs replaced) rather
// than adding a second one. A scorer is stored as the client serialized it; the server
// never runs one.
package genaidata

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/tracking"
)

// Limits. MLflow sets none; these keep one request from holding the writer for long.
const (
	MaxNameLength       = 500
	MaxTagKeyLength     = 250
	MaxTagValueLength   = 8000
	MaxTagsPerRequest   = 1000
	MaxRecordsPerUpsert = 10_000
	MaxRecordBytes      = 4 << 20 // one record's JSON
	MaxExperiments      = 1000    // experiments named in one request
	MaxSearchResults    = 1000
	MaxRecordsPage      = 10_000
	DefaultRecordsPage  = 1000
	MaxScorerBytes      = 1 << 20
)

// userTag is the tag MLflow's client sets to the user who wrote a dataset or record.
const userTag = "mlflow.user"

// Experiments is what evaluation data needs of tracking: an experiment and its state.
type Experiments interface {
	GetExperiment(ctx context.Context, id string) (*tracking.Experiment, error)
}

// Service is the evaluation data domain over the metadata store.
type Service struct {
	db   *store.DB
	exps Experiments
	now  func() time.Time
}

// New returns the evaluation data service.
func New(db *store.DB, exps Experiments) *Service {
	return &Service{db: db, exps: exps, now: time.Now}
}

func (s *Service) nowMillis() int64 { return s.now().UnixMilli() }

// activeExperiment returns an experiment's id as a number, refusing a missing or deleted one.
func (s *Service) activeExperiment(ctx context.Context, id string) (int64, error) {
	if id == "" {
		return 0, fault.Missing("experiment_id")
	}
	e, err := s.exps.GetExperiment(ctx, id)
	if err != nil {
		return 0, err
	}
	if e.LifecycleStage != tracking.StageActive {
		return 0, fault.Invalidf("The experiment %s must be in the 'active' state. Current state is %s.", id, e.LifecycleStage)
	}
	return strconv.ParseInt(e.ExperimentID, 10, 64)
}

// activeExperiments checks every id and returns them as numbers, without repeats.
func (s *Service) activeExperiments(ctx context.Context, ids []string) ([]int64, error) {
	if len(ids) > MaxExperiments {
		return nil, fault.Invalidf("At most %d experiments may be given at once; got %d", MaxExperiments, len(ids))
	}
	seen := map[int64]bool{}
	out := make([]int64, 0, len(ids))
	for _, id := range ids {
		n, err := s.activeExperiment(ctx, id)
		if err != nil {
			return nil, err
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// newID returns prefix and 32 hex digits, as MLflow's ids ("d-", "dr-").
func newID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// newUUID returns a random UUID, as MLflow's scorer ids.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[:8], h[8:12], h[12:16], h[16:20], h[20:])
}

// digest is MLflow's dataset digest: it changes with every update.
func digest(name string, updated int64) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s:%d", name, updated)))
	return hex.EncodeToString(sum[:])[:8]
}

// clip shortens user input quoted in an error message.
func clip(s string) string {
	if len(s) <= 200 {
		return s
	}
	return s[:200] + "..."
}

// decodeJSON decodes b keeping numbers exact.
func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON value")
	}
	return nil
}

// canonical encodes v with object keys sorted, so equal documents encode equally.
func canonical(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // values decoded from JSON always encode
	}
	return string(b)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
