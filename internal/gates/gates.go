// Package gates holds registered models to their benchmarks: a benchmark pins a dataset
// version, a target, metrics and thresholds; evaluations run a model version on it as
// background jobs, through the runtime that serves it; and the model's protected
// aliases move only to a version whose evaluation passed against the alias's current
// holder, or with an override whose reason is kept in an audit trail. The metrics and
// threshold rules are internal/gate's.
package gates

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/mlship/mlship/internal/datasets"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/gate"
	"github.com/mlship/mlship/internal/jobs"
	"github.com/mlship/mlship/internal/registry"
	"github.com/mlship/mlship/internal/runtime"
	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/tracking"
	"github.com/mlship/mlship/internal/webhooks"
)

// Definition is what a benchmark holds a model to. Its canonical JSON, hashed, is
// the benchmark's revision: an evaluation names the revision it ran, and a verdict
// counts only for the revision in force.
type Definition struct {
	// Dataset is the pinned dataset version, NAME/VERSION, and DatasetDigest its
	// content (filled in when the benchmark is set).
	Dataset       string `json:"dataset"`
	DatasetDigest string `json:"dataset_digest"`
	// Target is the column holding the truth.
	Target string `json:"target"`
	// Features are the columns given to the model, in order; empty: every column
	// but the target.
	Features []string  `json:"features,omitempty"`
	Spec     gate.Spec `json:"spec"`
	Gate     gate.Gate `json:"gate"`
	// Protected are the aliases that move only to a version that passed.
	Protected []string `json:"protected_aliases"`
}

// Benchmark is a registered model's benchmark in force.
type Benchmark struct {
	Model      string     `json:"model"`
	Revision   string     `json:"revision"`
	Definition Definition `json:"definition"`
	UpdatedAt  int64      `json:"updated_at"`
}

// Evaluation statuses.
const (
	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
)

// Evaluation is one run of a model version on a benchmark revision.
type Evaluation struct {
	ID            int64        `json:"id"`
	Model         string       `json:"model"`
	Version       string       `json:"version"`
	Revision      string       `json:"revision"`
	Alias         string       `json:"alias,omitempty"`
	Status        string       `json:"status"`
	RowsDone      int64        `json:"rows_done"`
	RowsTotal     int64        `json:"rows_total"`
	Runtime       string       `json:"runtime,omitempty"`
	Dataset       string       `json:"dataset"`
	DatasetDigest string       `json:"dataset_digest"`
	Result        *gate.Result `json:"result,omitempty"`
	// BaselineVersion is the version that held Alias when the verdict was made;
	// empty when nothing held it.
	BaselineVersion    string        `json:"baseline_version,omitempty"`
	BaselineEvaluation int64         `json:"baseline_evaluation,omitempty"`
	Verdict            *gate.Verdict `json:"verdict,omitempty"`
	Passed             *bool         `json:"passed,omitempty"`
	RunID              string        `json:"run_id,omitempty"`
	Error              string        `json:"error,omitempty"`
	CreatedAt          int64         `json:"created_at"`
	StartedAt          int64         `json:"started_at,omitempty"`
	FinishedAt         int64         `json:"finished_at,omitempty"`
}

// Done reports whether the evaluation has finished, well or not.
func (e *Evaluation) Done() bool { return e.Status == StatusSucceeded || e.Status == StatusFailed }

// AuditEntry is one move of a protected alias.
type AuditEntry struct {
	ID           int64  `json:"id"`
	Model        string `json:"model"`
	Alias        string `json:"alias"`
	Version      string `json:"version,omitempty"`  // empty: the alias was deleted
	Previous     string `json:"previous,omitempty"` // empty: nothing held it
	Action       string `json:"action"`             // passed, override, deleted
	Reason       string `json:"reason,omitempty"`
	EvaluationID int64  `json:"evaluation_id,omitempty"`
	Actor        string `json:"actor,omitempty"`
	CreatedAt    int64  `json:"created_at"`
}

// Audit actions.
const (
	ActionPassed   = "passed"
	ActionOverride = "override"
	ActionDeleted  = "deleted"
)

// Loader loads a registered model version into the runtime that serves it.
type Loader interface {
	Load(ctx context.Context, model, version string) (m runtime.Model, runtimeName string, err error)
}

// Options are a Service's collaborators.
type Options struct {
	DB       *store.DB
	Registry *registry.Service
	Datasets *datasets.Service
	Tracking *tracking.Service
	Loader   Loader
	// Queue runs evaluations; New adds its worker, the caller opens and starts it.
	Queue  *jobs.Queue
	Logger *slog.Logger
	// BatchRows is how many rows go to the model per request (default 8192).
	BatchRows int
	// MayMoveProtected, if set, is asked before a protected alias of the model moves or
	// is deleted (with identities on: MANAGE on the model).
	MayMoveProtected func(ctx context.Context, model string) error
	// Events records verdicts and protected-alias overrides for webhooks; nil records none.
	Events webhooks.Recorder
}

// Service manages benchmarks, evaluations and the protected aliases' guard.
type Service struct {
	opts   Options
	db     *store.DB
	reg    *registry.Service
	data   *datasets.Service
	logger *slog.Logger
	queue  *jobs.Queue
	now    func() time.Time
}

// New adds the evaluation worker to opts.Queue and installs the alias guard in the
// registry. Once the queue is open, Start recovers interrupted evaluations.
func New(ctx context.Context, opts Options) (*Service, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.BatchRows <= 0 {
		opts.BatchRows = 8192
	}
	s := &Service{opts: opts, db: opts.DB, reg: opts.Registry, data: opts.Datasets,
		logger: opts.Logger.With("component", "gates"), now: time.Now}
	if err := s.registerWorkers(opts.Queue); err != nil {
		return nil, err
	}
	s.queue = opts.Queue
	opts.Registry.SetGuard(s)
	return s, nil
}

// Start recovers the evaluations a crash left behind; call it once the queue is open,
// before the queue starts.
func (s *Service) Start(ctx context.Context) error { return s.recover(ctx) }

// recover settles the evaluations left unfinished by a process that stopped. River
// runs again the jobs it holds; an evaluation whose job is missing (the process
// stopped between recording it and queueing it, or the queue file was lost) or
// finished without recording an outcome is queued anew; a holder's measurement, which
// runs inside its candidate's job, is marked failed: the candidate's job measures
// the holder again.
func (s *Service) recover(ctx context.Context) error {
	type pending struct {
		id    int64
		alias string
		job   sql.NullInt64
	}
	var rows []pending
	err := store.ScanEach(ctx, s.db.Reader(), `SELECT id, alias, job_id FROM evaluations WHERE status IN (?, ?)`,
		[]any{StatusQueued, StatusRunning}, func(r *sql.Rows) error {
			var p pending
			err := r.Scan(&p.id, &p.alias, &p.job)
			rows = append(rows, p)
			return err
		})
	if err != nil {
		return err
	}
	for _, p := range rows {
		if p.job.Valid {
			if j, err := s.queue.Job(ctx, p.job.Int64); err == nil && !finalized(j.State) {
				continue // River runs it
			}
		}
		if p.alias == "" {
			s.finish(ctx, p.id, func(e *Evaluation) {
				e.Status, e.Error = StatusFailed, "interrupted: the server stopped during the evaluation"
			})
			continue
		}
		jobID, err := s.queue.Insert(ctx, evaluateArgs{EvaluationID: p.id}, nil)
		if err != nil {
			return err
		}
		if err := s.db.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE evaluations SET job_id = ?, status = ? WHERE id = ?`, jobID, StatusQueued, p.id)
			return err
		}); err != nil {
			return err
		}
		s.logger.Info("queued an interrupted evaluation again", "evaluation", p.id)
	}
	return nil
}

func finalized(state rivertype.JobState) bool {
	return state == rivertype.JobStateCompleted || state == rivertype.JobStateCancelled || state == rivertype.JobStateDiscarded
}

func (s *Service) millis() int64 { return s.now().UnixMilli() }

// BenchmarkInput is a benchmark as a client writes it.
type BenchmarkInput struct {
	Dataset   string    `json:"dataset"`
	Target    string    `json:"target"`
	Features  []string  `json:"features,omitempty"`
	Spec      gate.Spec `json:"spec"`
	Gate      gate.Gate `json:"gate"`
	Protected []string  `json:"protected_aliases"`
}

// UnmarshalJSON decodes a benchmark strictly: the spec and gate refuse unknown keys,
// and every threshold must say greater_is_better, as MLflow's MetricThreshold does.
func (in *BenchmarkInput) UnmarshalJSON(data []byte) error {
	var raw struct {
		Dataset   string          `json:"dataset"`
		Target    string          `json:"target"`
		Features  []string        `json:"features"`
		Spec      json.RawMessage `json:"spec"`
		Gate      json.RawMessage `json:"gate"`
		Protected []string        `json:"protected_aliases"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return fault.Invalidf("benchmark: %v", err)
	}
	*in = BenchmarkInput{Dataset: raw.Dataset, Target: raw.Target, Features: raw.Features, Protected: raw.Protected}
	if len(raw.Spec) == 0 || string(raw.Spec) == "null" {
		return fault.Invalidf("benchmark: spec is required, with at least its task (classification or regression)")
	}
	// The spec is checked once its classes are known (see define).
	specDec := json.NewDecoder(bytes.NewReader(raw.Spec))
	specDec.DisallowUnknownFields()
	if err := specDec.Decode(&in.Spec); err != nil {
		return fault.Invalidf("spec: %v", err)
	}
	var err error
	if len(raw.Gate) > 0 && string(raw.Gate) != "null" {
		if in.Gate, err = gate.ParseGate(raw.Gate); err != nil {
			return err
		}
	}
	return nil
}

// SetBenchmark gives a registered model a benchmark, or a new revision of it. The
// dataset version is pinned by its digest; a classifier's classes, when not given,
// are the distinct values of the target column, sorted as scikit-learn sorts them.
func (s *Service) SetBenchmark(ctx context.Context, model string, in BenchmarkInput) (*Benchmark, error) {
	if _, err := s.reg.GetRegisteredModel(ctx, model); err != nil {
		return nil, err
	}
	def, err := s.define(ctx, in)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(def)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	revision := hex.EncodeToString(sum[:])
	now := s.millis()
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		var rmID int64
		if err := tx.QueryRowContext(ctx, `SELECT id FROM registered_models WHERE name = ?`, model).Scan(&rmID); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fault.NotFoundf("Registered Model with name=%s not found", model)
			}
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO benchmark_revisions (revision, definition, created_at)
			VALUES (?, ?, ?) ON CONFLICT (revision) DO NOTHING`, revision, string(raw), now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO benchmarks (rm_id, revision, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (rm_id) DO UPDATE SET revision = excluded.revision, updated_at = excluded.updated_at`,
			rmID, revision, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Benchmark{Model: model, Revision: revision, Definition: def, UpdatedAt: now}, nil
}

// define checks a benchmark input against its dataset and completes it.
func (s *Service) define(ctx context.Context, in BenchmarkInput) (Definition, error) {
	if in.Dataset == "" || in.Target == "" {
		return Definition{}, fault.Invalidf("a benchmark needs a dataset version (NAME/VERSION) and a target column")
	}
	name, version, ok := strings.Cut(in.Dataset, "/")
	if !ok || version == "" || version == "latest" {
		return Definition{}, fault.Invalidf("dataset %q: pin a version, NAME/VERSION, so the benchmark never changes under the model", in.Dataset)
	}
	v, err := s.data.Get(ctx, name, version)
	if err != nil {
		return Definition{}, err
	}
	if err := in.Gate.Check(); err != nil {
		return Definition{}, err
	}
	def := Definition{Dataset: fmt.Sprintf("%s/%d", v.Name, v.Version), DatasetDigest: v.Digest,
		Target: in.Target, Features: in.Features, Spec: in.Spec, Gate: in.Gate, Protected: in.Protected}
	if len(def.Protected) == 0 {
		def.Protected = []string{"production"}
	}
	for _, a := range def.Protected {
		if a == "" || strings.EqualFold(a, "latest") || strings.ContainsAny(a, "/@ ") {
			return Definition{}, fault.Invalidf("protected alias %q is not a valid alias", a)
		}
	}
	slices.Sort(def.Protected)
	def.Protected = slices.Compact(def.Protected)
	columns := make(map[string]bool, len(v.Schema.Fields))
	for _, f := range v.Schema.Fields {
		columns[f.Name] = true
	}
	need := append([]string{def.Target}, def.Features...)
	if def.Spec.SliceBy != "" {
		need = append(need, def.Spec.SliceBy)
	}
	for _, c := range need {
		if !columns[c] {
			return Definition{}, fault.Invalidf("dataset %s has no column %q (it has %s)", def.Dataset, c, strings.Join(fieldNames(v), ", "))
		}
	}
	if slices.Contains(def.Features, def.Target) {
		return Definition{}, fault.Invalidf("the target column %q cannot also be a feature", def.Target)
	}
	if def.Spec.Task == gate.TaskClassification && len(def.Spec.Classes) == 0 {
		classes, err := s.distinctTargets(ctx, v, def.Target)
		if err != nil {
			return Definition{}, err
		}
		def.Spec.Classes = classes
	}
	if err := def.Spec.Check(); err != nil {
		return Definition{}, err
	}
	if err := def.Gate.CheckFor(def.Spec); err != nil {
		return Definition{}, err
	}
	return def, nil
}

func fieldNames(v *datasets.Version) []string {
	out := make([]string, len(v.Schema.Fields))
	for i, f := range v.Schema.Fields {
		out[i] = f.Name
	}
	return out
}

// Benchmark returns a model's benchmark in force.
func (s *Service) Benchmark(ctx context.Context, model string) (*Benchmark, error) {
	b, err := s.benchmark(ctx, s.db.Reader(), model)
	if err != nil {
		return nil, err
	}
	if b == nil {
		if _, err := s.reg.GetRegisteredModel(ctx, model); err != nil {
			return nil, err
		}
		return nil, fault.NotFoundf("registered model %s has no benchmark: set one with `mlship gate set %s --dataset NAME/VERSION --target COLUMN --task classification|regression`", model, model)
	}
	return b, nil
}

// benchmark reads a model's benchmark; nil when it has none.
func (s *Service) benchmark(ctx context.Context, q store.Querier, model string) (*Benchmark, error) {
	var b Benchmark
	var raw string
	err := q.QueryRowContext(ctx, `SELECT m.name, b.revision, r.definition, b.updated_at FROM benchmarks b
		JOIN registered_models m ON m.id = b.rm_id JOIN benchmark_revisions r ON r.revision = b.revision
		WHERE m.name = ?`, model).Scan(&b.Model, &b.Revision, &raw, &b.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(raw), &b.Definition); err != nil {
		return nil, fmt.Errorf("benchmark of %s: stored definition: %w", model, err)
	}
	return &b, nil
}

// revision reads a stored benchmark revision.
func (s *Service) revision(ctx context.Context, revision string) (Definition, error) {
	var raw string
	err := s.db.Reader().QueryRowContext(ctx, `SELECT definition FROM benchmark_revisions WHERE revision = ?`, revision).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return Definition{}, fault.NotFoundf("benchmark revision %s not found", revision)
	}
	if err != nil {
		return Definition{}, err
	}
	var def Definition
	err = json.Unmarshal([]byte(raw), &def)
	return def, err
}

// DeleteBenchmark removes a model's benchmark: its aliases are no longer protected.
// Evaluations and the audit trail stay.
func (s *Service) DeleteBenchmark(ctx context.Context, model string) error {
	if _, err := s.Benchmark(ctx, model); err != nil {
		return err
	}
	return s.db.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM benchmarks WHERE rm_id = (SELECT id FROM registered_models WHERE name = ?)`, model)
		return err
	})
}

const evaluationColumns = `e.id, m.name, e.version, e.revision, e.alias, e.status, e.rows_done, e.rows_total,
	e.runtime, r.definition, e.dataset_digest, e.result, e.baseline_version, e.baseline_eval, e.verdict, e.passed,
	e.run_id, e.error, e.created_at, e.started_at, e.finished_at`

const evaluationsFrom = ` FROM evaluations e JOIN registered_models m ON m.id = e.rm_id
	JOIN benchmark_revisions r ON r.revision = e.revision`

func scanEvaluation(sc interface{ Scan(...any) error }) (*Evaluation, error) {
	var e Evaluation
	var version int64
	var def string
	var result, verdict sql.NullString
	var baseline, baselineEval, passed, started, finished sql.NullInt64
	if err := sc.Scan(&e.ID, &e.Model, &version, &e.Revision, &e.Alias, &e.Status, &e.RowsDone, &e.RowsTotal,
		&e.Runtime, &def, &e.DatasetDigest, &result, &baseline, &baselineEval, &verdict, &passed,
		&e.RunID, &e.Error, &e.CreatedAt, &started, &finished); err != nil {
		return nil, err
	}
	e.Version = strconv.FormatInt(version, 10)
	var d struct {
		Dataset string `json:"dataset"`
	}
	if json.Unmarshal([]byte(def), &d) == nil {
		e.Dataset = d.Dataset
	}
	if result.Valid {
		e.Result = new(gate.Result)
		if err := json.Unmarshal([]byte(result.String), e.Result); err != nil {
			return nil, err
		}
	}
	if verdict.Valid {
		e.Verdict = new(gate.Verdict)
		if err := json.Unmarshal([]byte(verdict.String), e.Verdict); err != nil {
			return nil, err
		}
	}
	if baseline.Valid {
		e.BaselineVersion = strconv.FormatInt(baseline.Int64, 10)
	}
	e.BaselineEvaluation = baselineEval.Int64
	if passed.Valid {
		p := passed.Int64 == 1
		e.Passed = &p
	}
	e.StartedAt, e.FinishedAt = started.Int64, finished.Int64
	return &e, nil
}

// Evaluation returns one evaluation.
func (s *Service) Evaluation(ctx context.Context, id int64) (*Evaluation, error) {
	e, err := scanEvaluation(s.db.Reader().QueryRowContext(ctx, `SELECT `+evaluationColumns+evaluationsFrom+` WHERE e.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fault.NotFoundf("evaluation %d not found", id)
	}
	return e, err
}

// History lists a model's evaluations, newest first; version, when not empty, keeps
// one version's.
func (s *Service) History(ctx context.Context, model, version string) ([]*Evaluation, error) {
	if _, err := s.reg.GetRegisteredModel(ctx, model); err != nil {
		return nil, err
	}
	q := `SELECT ` + evaluationColumns + evaluationsFrom + ` WHERE m.name = ?`
	args := []any{model}
	if version != "" {
		num, err := strconv.ParseInt(version, 10, 64)
		if err != nil || num < 1 {
			return nil, fault.Invalidf("version %q is not a version number", version)
		}
		q += ` AND e.version = ?`
		args = append(args, num)
	}
	out := []*Evaluation{}
	err := store.ScanEach(ctx, s.db.Reader(), q+` ORDER BY e.id DESC`, args, func(rows *sql.Rows) error {
		e, err := scanEvaluation(rows)
		if err == nil {
			out = append(out, e)
		}
		return err
	})
	return out, err
}

// Audit lists the moves of a model's protected aliases, newest first.
func (s *Service) Audit(ctx context.Context, model string) ([]*AuditEntry, error) {
	out := []*AuditEntry{}
	err := store.ScanEach(ctx, s.db.Reader(), `SELECT id, model, alias, version, previous, action, reason,
		evaluation_id, actor, created_at FROM alias_audit WHERE model = ? ORDER BY id DESC`, []any{model},
		func(rows *sql.Rows) error {
			var a AuditEntry
			var version, previous, eval sql.NullInt64
			if err := rows.Scan(&a.ID, &a.Model, &a.Alias, &version, &previous, &a.Action, &a.Reason,
				&eval, &a.Actor, &a.CreatedAt); err != nil {
				return err
			}
			a.Version, a.Previous = versionString(version), versionString(previous)
			a.EvaluationID = eval.Int64
			out = append(out, &a)
			return nil
		})
	return out, err
}

func versionString(v sql.NullInt64) string {
	if !v.Valid || v.Int64 == 0 {
		return ""
	}
	return strconv.FormatInt(v.Int64, 10)
}

func nullVersion(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}
