package gates

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/mlship/mlship/internal/datasets"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/gate"
	"github.com/mlship/mlship/internal/jobs"
	"github.com/mlship/mlship/internal/protojson"
	"github.com/mlship/mlship/internal/registry"
	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/tracking"
	"github.com/mlship/mlship/internal/webhooks"
)

// evaluateArgs is the job that runs one evaluation.
type evaluateArgs struct {
	EvaluationID int64 `json:"evaluation_id"`
}

func (evaluateArgs) Kind() string { return "gate_evaluate" }

type evaluateWorker struct {
	river.WorkerDefaults[evaluateArgs]
	s *Service
}

func (w *evaluateWorker) Work(ctx context.Context, job *river.Job[evaluateArgs]) error {
	return w.s.run(ctx, job.Args.EvaluationID)
}

func (s *Service) registerWorkers(q *jobs.Queue) error {
	return jobs.AddWorker(q, &evaluateWorker{s: s})
}

// EvaluateInput names what to evaluate.
type EvaluateInput struct {
	Model, Version string
	// Alias is the protected alias the verdict is for; default the benchmark's
	// first.
	Alias string
	// Revision runs an earlier revision of the benchmark; default the one in force.
	Revision string
}

// Evaluate queues an evaluation and returns it; it runs in the background (see
// Evaluation.Status and RowsDone).
func (s *Service) Evaluate(ctx context.Context, in EvaluateInput) (*Evaluation, error) {
	b, err := s.Benchmark(ctx, in.Model)
	if err != nil {
		return nil, err
	}
	mv, err := s.reg.GetModelVersion(ctx, in.Model, in.Version)
	if err != nil {
		return nil, err
	}
	if mv.ManifestDigest == "" {
		return nil, fault.Invalidf("%s version %s has no files stored by this server (its source is %s), so it cannot be evaluated", mv.Name, mv.Version, mv.Source)
	}
	revision, def := b.Revision, b.Definition
	if in.Revision != "" && in.Revision != b.Revision {
		if def, err = s.revision(ctx, in.Revision); err != nil {
			return nil, err
		}
		revision = in.Revision
	}
	alias := in.Alias
	if alias == "" {
		alias = def.Protected[0]
	}
	if !slices.Contains(def.Protected, alias) {
		return nil, fault.Invalidf("alias %q is not protected by %s's benchmark (protected: %s)", alias, in.Model, strings.Join(def.Protected, ", "))
	}
	num, _ := strconv.ParseInt(mv.Version, 10, 64)
	id, err := s.record(ctx, in.Model, num, revision, alias, StatusQueued, def.DatasetDigest)
	if err != nil {
		return nil, err
	}
	jobID, err := s.queue.Insert(ctx, evaluateArgs{EvaluationID: id}, nil)
	if err != nil {
		s.finish(context.WithoutCancel(ctx), id, func(e *Evaluation) { e.Status, e.Error = StatusFailed, "could not be queued: "+err.Error() })
		return nil, err
	}
	if err := s.db.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE evaluations SET job_id = ? WHERE id = ?`, jobID, id)
		return err
	}); err != nil {
		return nil, err
	}
	return s.Evaluation(ctx, id)
}

// record inserts an evaluation of a model's version on a benchmark revision and
// returns its id; a running one has started now.
func (s *Service) record(ctx context.Context, model string, version int64, revision, alias, status, digest string) (int64, error) {
	now := s.millis()
	var started any
	if status == StatusRunning {
		started = now
	}
	var id int64
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO evaluations (rm_id, version, revision, alias, status, dataset_digest,
			created_at, started_at) VALUES ((SELECT id FROM registered_models WHERE name = ?), ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			model, version, revision, alias, status, digest, now, started).Scan(&id)
	})
	return id, err
}

// run carries out an evaluation: it measures the candidate (and the alias's holder,
// when the holder has no result on this revision yet), judges the candidate against
// the holder, logs the result as an MLflow run and records it. A failure is recorded
// on the evaluation and not retried, except when the server is shutting down.
func (s *Service) run(ctx context.Context, id int64) error {
	e, err := s.Evaluation(ctx, id)
	if err != nil {
		if fault.KindOf(err) == fault.NotFound {
			return nil // its model was deleted since
		}
		return err
	}
	if e.Done() {
		return nil
	}
	err = s.evaluate(ctx, e)
	if err != nil && ctx.Err() != nil {
		return err // shutting down: the job runs again at the next start
	}
	if err != nil {
		msg := fault.Message(err)
		if fault.KindOf(err) == fault.Internal {
			msg = err.Error()
		}
		s.logger.Warn("evaluation failed", "evaluation", id, "model", e.Model, "version", e.Version, "err", err)
		s.finish(ctx, id, func(e *Evaluation) { e.Status, e.Error = StatusFailed, msg })
	}
	return nil
}

func (s *Service) evaluate(ctx context.Context, e *Evaluation) error {
	def, err := s.revision(ctx, e.Revision)
	if err != nil {
		return err
	}
	if err := s.db.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE evaluations SET status = ?, started_at = ?, error = '' WHERE id = ?`,
			StatusRunning, s.millis(), e.ID)
		return err
	}); err != nil {
		return err
	}
	baseline, holder, baselineEval, err := s.baseline(ctx, e, def)
	if err != nil {
		return err
	}
	res, runtimeName, err := s.measure(ctx, def, e.Model, e.Version, s.progress(ctx, e.ID))
	if err != nil {
		return err
	}
	verdict := def.Gate.Validate(res.All(), baseline)
	runID, err := s.logRun(ctx, e, def, res, &verdict, runtimeName, holder)
	if err != nil {
		s.logger.Warn("could not log the evaluation as an MLflow run", "evaluation", e.ID, "err", err)
	}
	s.finish(ctx, e.ID, func(x *Evaluation) {
		x.Status, x.Result, x.Verdict, x.Runtime, x.RunID = StatusSucceeded, &res, &verdict, runtimeName, runID
		x.Passed = &verdict.Passed
		x.ID, x.Model, x.Version, x.Alias = e.ID, e.Model, e.Version, e.Alias // for the verdict's event
		if holder != 0 {
			x.BaselineVersion = strconv.FormatInt(holder, 10)
			x.BaselineEvaluation = baselineEval
		}
	})
	s.tagVersion(ctx, e, verdict, runID)
	return nil
}

// tagVersion puts the newest verdict on the model version's tags, where MLflow
// clients and UIs see it: mlship.gate.<alias> is "passed" or "failed", with the
// evaluation and its run beside it.
func (s *Service) tagVersion(ctx context.Context, e *Evaluation, verdict gate.Verdict, runID string) {
	word := "failed"
	if verdict.Passed {
		word = "passed"
	}
	prefix := "mlship.gate." + e.Alias
	tags := []registry.Tag{{Key: prefix, Value: word}, {Key: prefix + ".evaluation_id", Value: strconv.FormatInt(e.ID, 10)}}
	if runID != "" {
		tags = append(tags, registry.Tag{Key: prefix + ".run_id", Value: runID})
	}
	for _, t := range tags {
		if err := s.reg.SetModelVersionTag(ctx, e.Model, e.Version, t); err != nil {
			s.logger.Warn("could not tag the evaluated version", "evaluation", e.ID, "err", err)
			return
		}
	}
}

// baseline finds the version holding the evaluation's alias now and its metrics on
// the same revision, measuring it first when it has none.
func (s *Service) baseline(ctx context.Context, e *Evaluation, def Definition) (*gate.Baseline, int64, int64, error) {
	mv, err := s.reg.GetVersionByAlias(ctx, e.Model, e.Alias)
	if err != nil {
		if k := fault.KindOf(err); k == fault.Invalid || k == fault.NotFound {
			return nil, 0, 0, nil // nothing holds it
		}
		return nil, 0, 0, err
	}
	holder, _ := strconv.ParseInt(mv.Version, 10, 64)
	if mv.Version == e.Version {
		return nil, 0, 0, nil // it holds the alias already: nothing to compare with
	}
	prior, err := s.latestResult(ctx, e.Model, mv.Version, e.Revision)
	if err != nil {
		return nil, 0, 0, err
	}
	if prior == nil {
		if prior, err = s.measureHolder(ctx, e, def, mv.Version); err != nil {
			return nil, 0, 0, fmt.Errorf("measuring version %s, which holds %q: %w", mv.Version, e.Alias, err)
		}
	}
	return &gate.Baseline{Name: fmt.Sprintf("version %s (%s)", mv.Version, e.Alias), Metrics: prior.Result.All()},
		holder, prior.ID, nil
}

// latestResult returns a version's newest successful evaluation on a revision, or nil.
func (s *Service) latestResult(ctx context.Context, model, version, revision string) (*Evaluation, error) {
	e, err := scanEvaluation(s.db.Reader().QueryRowContext(ctx, `SELECT `+evaluationColumns+evaluationsFrom+`
		WHERE m.name = ? AND e.version = ? AND e.revision = ? AND e.status = ? AND e.result IS NOT NULL
		ORDER BY e.id DESC LIMIT 1`, model, version, revision, StatusSucceeded))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return e, err
}

// measureHolder evaluates the alias's holder within the candidate's job, recorded as
// an evaluation of its own (without a verdict).
func (s *Service) measureHolder(ctx context.Context, e *Evaluation, def Definition, version string) (*Evaluation, error) {
	num, _ := strconv.ParseInt(version, 10, 64)
	id, err := s.record(ctx, e.Model, num, e.Revision, "", StatusRunning, def.DatasetDigest)
	if err != nil {
		return nil, err
	}
	res, runtimeName, err := s.measure(ctx, def, e.Model, version, s.progress(ctx, id))
	if err != nil {
		s.finish(context.WithoutCancel(ctx), id, func(x *Evaluation) { x.Status, x.Error = StatusFailed, fault.Message(err) })
		return nil, err
	}
	h := &Evaluation{ID: id, Model: e.Model, Version: version, Revision: e.Revision}
	runID, err := s.logRun(ctx, h, def, res, nil, runtimeName, 0)
	if err != nil {
		s.logger.Warn("could not log the evaluation as an MLflow run", "evaluation", id, "err", err)
	}
	s.finish(ctx, id, func(x *Evaluation) {
		x.Status, x.Result, x.Runtime, x.RunID = StatusSucceeded, &res, runtimeName, runID
	})
	h.Result = &res
	return h, nil
}

// progress returns a callback that records how many rows an evaluation has done, at
// most every half second.
func (s *Service) progress(ctx context.Context, id int64) func(done, total int64) {
	var last time.Time
	return func(done, total int64) {
		if now := time.Now(); now.Sub(last) >= 500*time.Millisecond || done == total {
			last = now
			err := s.db.Write(ctx, func(tx *store.Tx) error {
				_, err := tx.ExecContext(ctx, `UPDATE evaluations SET rows_done = ?, rows_total = ? WHERE id = ?`, done, total, id)
				return err
			})
			if err != nil && ctx.Err() == nil {
				s.logger.Warn("could not record an evaluation's progress", "evaluation", id, "err", err)
			}
		}
	}
}

// finish records an evaluation's outcome: what set changes on a copy of it.
func (s *Service) finish(ctx context.Context, id int64, set func(*Evaluation)) {
	var e Evaluation
	set(&e)
	var result, verdict, passed, baseline, baselineEval any
	if e.Result != nil {
		b, _ := json.Marshal(e.Result)
		result = string(b)
	}
	if e.Verdict != nil {
		b, _ := json.Marshal(e.Verdict)
		verdict = string(b)
	}
	if e.Passed != nil {
		passed = boolInt(*e.Passed)
	}
	if e.BaselineVersion != "" {
		baseline = versionOrZero(e.BaselineVersion)
		baselineEval = e.BaselineEvaluation
	}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE evaluations SET status = ?, error = ?, result = ?, verdict = ?, passed = ?,
			baseline_version = ?, baseline_eval = ?, runtime = ?, run_id = ?, finished_at = ?,
			rows_done = CASE WHEN ? = 'succeeded' THEN rows_total ELSE rows_done END WHERE id = ?`,
			e.Status, e.Error, result, verdict, passed, baseline, baselineEval, e.Runtime, e.RunID, s.millis(), e.Status, id)
		if err != nil || e.Verdict == nil || s.opts.Events == nil {
			return err
		}
		return s.opts.Events.Record(ctx, tx, webhooks.GateVerdict, verdictEvent{Name: e.Model, Version: e.Version,
			Alias: e.Alias, Passed: e.Verdict.Passed, Summary: e.Verdict.Summary, EvaluationID: id, RunID: e.RunID,
			BaselineVersion: e.BaselineVersion})
	})
	if err != nil {
		s.logger.Error("could not record an evaluation's outcome", "evaluation", id, "err", err)
	} else if e.Verdict != nil && s.opts.Events != nil {
		s.opts.Events.Committed()
	}
}

// verdictEvent is the payload of gate_verdict.created.
type verdictEvent struct {
	Name            string `json:"name"`
	Version         string `json:"version"`
	Alias           string `json:"alias"`
	Passed          bool   `json:"passed"`
	Summary         string `json:"summary"`
	EvaluationID    int64  `json:"evaluation_id"`
	RunID           string `json:"run_id,omitempty"`
	BaselineVersion string `json:"baseline_version,omitempty"`
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// experimentName is the MLflow experiment that holds a model's evaluations.
func experimentName(model string) string { return "mlship-gates/" + model }

// logRun logs an evaluation as a finished MLflow run: the metrics (slice metrics
// with "/" for the separators MLflow's keys refuse), the benchmark as params, the
// verdict as tags, and the benchmark dataset as the run's input.
func (s *Service) logRun(ctx context.Context, e *Evaluation, def Definition, res gate.Result, verdict *gate.Verdict,
	runtimeName string, holder int64) (string, error) {
	tr := s.opts.Tracking
	if tr == nil {
		return "", nil
	}
	expID, err := s.experiment(ctx, e.Model)
	if err != nil {
		return "", err
	}
	start := s.millis()
	tags := []tracking.Tag{
		{Key: "mlship.gate.evaluation_id", Value: strconv.FormatInt(e.ID, 10)},
		{Key: "mlship.gate.model", Value: e.Model},
		{Key: "mlship.gate.version", Value: e.Version},
	}
	if verdict != nil {
		tags = append(tags, tracking.Tag{Key: "mlship.gate.passed", Value: strconv.FormatBool(verdict.Passed)},
			tracking.Tag{Key: "mlship.gate.summary", Value: verdict.Summary})
	}
	run, err := tr.CreateRun(ctx, tracking.CreateRunInput{ExperimentID: expID, RunName: fmt.Sprintf("%s v%s", e.Model, e.Version),
		StartTime: &start, Tags: tags, UserID: "mlship"})
	if err != nil {
		return "", err
	}
	runID := run.Info.RunID
	params := []tracking.Param{
		{Key: "model", Value: e.Model}, {Key: "version", Value: e.Version},
		{Key: "benchmark_revision", Value: e.Revision}, {Key: "dataset", Value: def.Dataset},
		{Key: "dataset_digest", Value: def.DatasetDigest}, {Key: "target", Value: def.Target},
		{Key: "task", Value: string(def.Spec.Task)}, {Key: "runtime", Value: runtimeName},
	}
	if e.Alias != "" {
		params = append(params, tracking.Param{Key: "alias", Value: e.Alias})
	}
	if holder != 0 {
		params = append(params, tracking.Param{Key: "baseline_version", Value: strconv.FormatInt(holder, 10)})
	}
	all := res.All()
	metrics := make([]tracking.Metric, 0, len(all))
	for _, k := range slices.Sorted(maps.Keys(all)) {
		metrics = append(metrics, tracking.Metric{Key: metricKey(k), Value: protojson.Float(all[k]), Timestamp: start})
	}
	if err := tr.LogBatch(ctx, runID, tracking.Batch{Metrics: metrics, Params: params}); err != nil {
		return runID, err
	}
	name, _, _ := strings.Cut(def.Dataset, "/")
	if err := tr.LogInputs(ctx, runID, []tracking.DatasetInput{{
		Tags:    []tracking.Tag{{Key: "mlflow.data.context", Value: "evaluation"}},
		Dataset: tracking.Dataset{Name: name, Digest: datasets.MLflowDigestOf(def.DatasetDigest), SourceType: "mlship", Source: "mlship-dataset:" + def.Dataset},
	}}, nil); err != nil {
		return runID, err
	}
	end := s.millis()
	_, err = tr.UpdateRun(ctx, tracking.UpdateRunInput{RunID: runID, Status: "FINISHED", EndTime: &end})
	return runID, err
}

// experiment returns the id of a model's evaluation experiment, creating it.
func (s *Service) experiment(ctx context.Context, model string) (string, error) {
	tr := s.opts.Tracking
	name := experimentName(model)
	exp, err := tr.GetExperimentByName(ctx, name)
	if err == nil {
		return exp.ExperimentID, nil
	}
	if fault.KindOf(err) != fault.NotFound {
		return "", err
	}
	id, err := tr.CreateExperiment(ctx, name, "", []tracking.Tag{{Key: "mlship.gate.model", Value: model}})
	if fault.KindOf(err) == fault.AlreadyExists { // created meanwhile
		if exp, err := tr.GetExperimentByName(ctx, name); err == nil {
			return exp.ExperimentID, nil
		}
	}
	return id, err
}

// metricKey makes a slice metric's name ("f1_score/region:EU") a valid MLflow key:
// letters, digits and "_-./ " are kept, anything else becomes "_".
func metricKey(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("_-./ ", r):
			return r
		case r == ':':
			return '/'
		}
		return '_'
	}, name)
}
