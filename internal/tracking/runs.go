package tracking

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// TagRunName is the tag that mirrors a run's name.
const TagRunName = "mlflow.runName"

// CreateRunInput is what a client gives to create a run.
type CreateRunInput struct {
	ExperimentID string
	UserID       string
	RunName      string
	StartTime    *int64
	Tags         []Tag
}

// CreateRun starts a run in an active experiment.
func (s *Service) CreateRun(ctx context.Context, in CreateRunInput) (*Run, error) {
	if in.ExperimentID == "" {
		in.ExperimentID = DefaultExperimentID
	}
	expID, err := parseExperimentID(in.ExperimentID)
	if err != nil {
		return nil, err
	}
	name, tags, err := s.runNameAndTags(in)
	if err != nil {
		return nil, err
	}
	run := &Run{Info: RunInfo{RunName: name, ExperimentID: in.ExperimentID, UserID: in.UserID,
		Status: StatusRunning, StartTime: in.StartTime, LifecycleStage: StageActive}}
	run.Info.RunID = newRunID()
	run.Info.RunUUID = run.Info.RunID
	run.Data.Tags = tags
	store.Describe(ctx, run.Info.RunID, "")
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		var loc string
		err := tx.QueryRowContext(ctx, `SELECT artifact_location FROM experiments WHERE experiment_id = ?`, expID).Scan(&loc)
		if err != nil {
			return notFound(err, "No Experiment with id=%s exists", in.ExperimentID)
		}
		if err := requireActiveExperiment(ctx, tx, expID); err != nil {
			return err
		}
		run.Info.ArtifactURI = loc + "/" + run.Info.RunID + "/artifacts"
		_, err = tx.ExecContext(ctx, `INSERT INTO runs (run_uuid, experiment_id, name, user_id, status,
			start_time, lifecycle_stage, artifact_uri) VALUES (?, ?, ?, ?, ?, ?, 'active', ?)`,
			run.Info.RunID, expID, name, in.UserID, StatusRunning, in.StartTime, run.Info.ArtifactURI)
		if err != nil {
			return err
		}
		return upsertTags(ctx, tx, run.Info.RunID, tags)
	})
	if err != nil {
		return nil, err
	}
	return run, nil
}

// runNameAndTags settles a new run's name, which may come from run_name, from the
// mlflow.runName tag, or be generated, and returns the tags with the name tag set.
func (s *Service) runNameAndTags(in CreateRunInput) (string, []Tag, error) {
	tags := make([]Tag, 0, len(in.Tags)+1)
	tagName := ""
	for _, t := range in.Tags {
		if err := s.normalizeTag(&t); err != nil {
			return "", nil, err
		}
		if t.Key == TagRunName {
			tagName = t.Value
			continue
		}
		tags = append(tags, t)
	}
	name := in.RunName
	switch {
	case name != "" && tagName != "" && name != tagName:
		return "", nil, fault.Invalidf("Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='%s', mlflow.runName='%s').", name, tagName)
	case name == "" && tagName != "":
		name = tagName
	case name == "":
		name = randomRunName()
	}
	return name, append(tags, Tag{Key: TagRunName, Value: name}), nil
}

// newRunID returns 32 lowercase hex characters, as MLflow's uuid4().hex.
func newRunID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return hex.EncodeToString(b[:])
}

// GetRun returns a run with its latest metrics, params, tags and inputs.
func (s *Service) GetRun(ctx context.Context, id string) (*Run, error) {
	if err := ValidateRunID(id); err != nil {
		return nil, err
	}
	runs, err := s.loadRuns(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, fault.NotFoundf("Run with id=%s not found", id)
	}
	return runs[0], nil
}

// runState is what a write must know about a run before changing it.
type runState struct {
	experimentID int64
	stage        string
}

func lockRun(ctx context.Context, tx *store.Tx, id string) (runState, error) {
	var st runState
	err := tx.QueryRowContext(ctx, `SELECT experiment_id, lifecycle_stage FROM runs WHERE run_uuid = ?`, id).
		Scan(&st.experimentID, &st.stage)
	return st, notFound(err, "Run with id=%s not found", id)
}

// activeRun fetches a run for a write and refuses one that is deleted.
func activeRun(ctx context.Context, tx *store.Tx, id string) (runState, error) {
	st, err := lockRun(ctx, tx, id)
	if err == nil && st.stage != StageActive {
		err = fault.Invalidf("The run %s must be in the 'active' state. Current state is %s.", id, st.stage)
	}
	return st, err
}

// UpdateRunInput changes a run's status, end time or name; nil fields stay as they are.
type UpdateRunInput struct {
	RunID   string
	Status  string
	EndTime *int64
	RunName string
}

// UpdateRun updates an active run and returns its info.
func (s *Service) UpdateRun(ctx context.Context, in UpdateRunInput) (*RunInfo, error) {
	if err := ValidateRunID(in.RunID); err != nil {
		return nil, err
	}
	if in.Status != "" && !slices.Contains(RunStatuses, in.Status) {
		return nil, fault.Invalidf("Invalid run status '%s': it must be one of %s", abbreviate(in.Status), strings.Join(RunStatuses, ", "))
	}
	err := s.writeRuns(ctx, []string{in.RunID}, func(tx *store.Tx) error {
		if _, err := activeRun(ctx, tx, in.RunID); err != nil {
			return err
		}
		if in.Status != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE runs SET status = ? WHERE run_uuid = ?`, in.Status, in.RunID); err != nil {
				return err
			}
		}
		if in.EndTime != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE runs SET end_time = ? WHERE run_uuid = ?`, *in.EndTime, in.RunID); err != nil {
				return err
			}
		}
		if in.RunName != "" {
			return setRunName(ctx, tx, in.RunID, in.RunName)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	run, err := s.GetRun(ctx, in.RunID)
	if err != nil {
		return nil, err
	}
	return &run.Info, nil
}

func setRunName(ctx context.Context, tx *store.Tx, runID, name string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE runs SET name = ? WHERE run_uuid = ?`, name, runID); err != nil {
		return err
	}
	return upsertTags(ctx, tx, runID, []Tag{{Key: TagRunName, Value: name}})
}

// DeleteRun marks a run deleted.
func (s *Service) DeleteRun(ctx context.Context, id string) error {
	return s.setRunStage(ctx, id, StageDeleted)
}

// RestoreRun restores a deleted run.
func (s *Service) RestoreRun(ctx context.Context, id string) error {
	return s.setRunStage(ctx, id, StageActive)
}

func (s *Service) setRunStage(ctx context.Context, id, stage string) error {
	if err := ValidateRunID(id); err != nil {
		return err
	}
	return s.writeRuns(ctx, []string{id}, func(tx *store.Tx) error {
		if _, err := lockRun(ctx, tx, id); err != nil {
			return err
		}
		var deleted any
		if stage == StageDeleted {
			deleted = s.nowMillis()
		}
		_, err := tx.ExecContext(ctx, `UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE run_uuid = ?`, stage, deleted, id)
		return err
	})
}

// SetTag sets a tag on an active run; the mlflow.runName tag also renames the run.
func (s *Service) SetTag(ctx context.Context, runID string, t Tag) error {
	if err := ValidateRunID(runID); err != nil {
		return err
	}
	if err := s.normalizeTag(&t); err != nil {
		return err
	}
	return s.writeRuns(ctx, []string{runID}, func(tx *store.Tx) error {
		if _, err := activeRun(ctx, tx, runID); err != nil {
			return err
		}
		if t.Key == TagRunName {
			return setRunName(ctx, tx, runID, t.Value)
		}
		return upsertTags(ctx, tx, runID, []Tag{t})
	})
}

// DeleteTag removes a tag from an active run.
func (s *Service) DeleteTag(ctx context.Context, runID, key string) error {
	if err := ValidateRunID(runID); err != nil {
		return err
	}
	if err := Required("key", key); err != nil {
		return err
	}
	return s.writeRuns(ctx, []string{runID}, func(tx *store.Tx) error {
		if _, err := activeRun(ctx, tx, runID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM tags WHERE run_uuid = ? AND key = ?`, runID, key)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fault.NotFoundf("No tag with name: %s in run with id %s", key, runID)
		}
		return nil
	})
}

// upsertTags writes tags in one statement; a later tag with the same key wins.
func upsertTags(ctx context.Context, tx *store.Tx, runID string, tags []Tag) error {
	if len(tags) == 0 {
		return nil
	}
	last := make(map[string]int, len(tags))
	for i, t := range tags {
		last[t.Key] = i
	}
	args := make([]any, 0, 3*len(last))
	for i, t := range tags {
		if last[t.Key] == i {
			args = append(args, runID, t.Key, t.Value)
		}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO tags (run_uuid, key, value) VALUES `+store.RowsOf(3, len(args)/3)+`
		ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value`, args...)
	return err
}

func formatID(n int64) string { return strconv.FormatInt(n, 10) }
