package tracking

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// CreateExperiment creates an experiment and returns its id.
func (s *Service) CreateExperiment(ctx context.Context, name, artifactLocation string, tags []Tag) (string, error) {
	if err := Required("name", name); err != nil {
		return "", err
	}
	if err := validateExperimentName(name); err != nil {
		return "", err
	}
	for _, t := range tags {
		if err := validateExperimentTag(t); err != nil {
			return "", err
		}
	}
	loc, err := s.checkArtifactLocation(artifactLocation)
	if err != nil {
		return "", err
	}
	var id int64
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		now := s.nowMillis()
		err := tx.QueryRowContext(ctx, `INSERT INTO experiments
			(name, artifact_location, lifecycle_stage, creation_time, last_update_time)
			VALUES (?, ?, 'active', ?, ?) RETURNING experiment_id`, name, loc, now, now).Scan(&id)
		if tx.Dialect().IsUniqueViolation(err) {
			return fault.New(fault.AlreadyExists, "Experiment(name=%s) already exists. Error: UNIQUE constraint failed: experiments.name", name)
		}
		if err != nil {
			return err
		}
		store.Describe(ctx, strconv.FormatInt(id, 10), "")
		if loc == "" {
			loc = s.artifactLocation(strconv.FormatInt(id, 10))
			if _, err := tx.ExecContext(ctx, `UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?`, loc, id); err != nil {
				return err
			}
		}
		for _, t := range tags {
			if err := upsertExperimentTag(ctx, tx, id, t); err != nil {
				return err
			}
		}
		return nil
	})
	return strconv.FormatInt(id, 10), err
}

// checkArtifactLocation accepts an empty location (the default is used), a location
// under mlflow-artifacts:, or one of an allowed scheme; it refuses fragments, query
// parameters, traversal and runs: URIs, and returns the canonical form.
func (s *Service) checkArtifactLocation(loc string) (string, error) {
	if loc == "" {
		return "", nil
	}
	if err := lengthLimit("artifact_location", loc, MaxArtifactLocation); err != nil {
		return "", err
	}
	bad := func(why string) (string, error) {
		return "", fault.Invalidf("Invalid artifact location '%s': %s", abbreviate(loc), why)
	}
	u, err := url.Parse(loc)
	if err != nil {
		return bad("not a valid URI")
	}
	switch {
	case u.Fragment != "" || strings.Contains(loc, "#"):
		return bad("URI fragments are not allowed")
	case u.RawQuery != "" || strings.Contains(loc, "?") || strings.Contains(loc, ";"):
		return bad("URI query and path parameters are not allowed")
	case hasDotDot(loc):
		return bad("'..' is not allowed")
	case u.Scheme == "runs":
		return bad("runs: URIs cannot be artifact locations")
	case u.Scheme == "mlflow-artifacts":
		return loc, nil
	case u.Scheme != "" && slices.Contains(s.opts.ArtifactSchemes, u.Scheme):
		return loc, nil
	}
	return bad("the scheme must be mlflow-artifacts (artifacts served by this server) or one allowed by --artifact-schemes")
}

// hasDotDot reports whether s, decoded any number of times, has a ".." path segment.
func hasDotDot(s string) bool {
	for range 4 {
		for seg := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == '/' || r == '\\' }) {
			if seg == ".." {
				return true
			}
		}
		d, err := url.PathUnescape(s)
		if err != nil || d == s {
			return err != nil
		}
		s = d
	}
	return true
}

func upsertExperimentTag(ctx context.Context, tx *store.Tx, id int64, t Tag) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?)
		ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value`, id, t.Key, t.Value)
	return err
}

// parseExperimentID validates an experiment id and returns it as a number.
func parseExperimentID(id string) (int64, error) {
	if err := ValidateExperimentID(id); err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return 0, fault.Invalidf("Invalid experiment ID: '%s'. Experiment IDs are integers.", abbreviate(id))
	}
	return n, nil
}

const experimentColumns = `experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time`

func scanExperiment(row interface{ Scan(...any) error }) (*Experiment, error) {
	var e Experiment
	var id int64
	if err := row.Scan(&id, &e.Name, &e.ArtifactLocation, &e.LifecycleStage, &e.CreationTime, &e.LastUpdateTime); err != nil {
		return nil, err
	}
	e.ExperimentID = strconv.FormatInt(id, 10)
	return &e, nil
}

// GetExperiment returns an experiment, deleted or not.
func (s *Service) GetExperiment(ctx context.Context, id string) (*Experiment, error) {
	n, err := parseExperimentID(id)
	if err != nil {
		return nil, err
	}
	row := s.reader().QueryRowContext(ctx, `SELECT `+experimentColumns+` FROM experiments WHERE experiment_id = ?`, n)
	e, err := scanExperiment(row)
	if err != nil {
		return nil, notFound(err, "No Experiment with id=%s exists", id)
	}
	return e, s.loadExperimentTags(ctx, []*Experiment{e})
}

// GetExperimentByName returns the experiment with the given name.
func (s *Service) GetExperimentByName(ctx context.Context, name string) (*Experiment, error) {
	if err := Required("experiment_name", name); err != nil {
		return nil, err
	}
	row := s.reader().QueryRowContext(ctx, `SELECT `+experimentColumns+` FROM experiments WHERE name = ?`, name)
	e, err := scanExperiment(row)
	if err != nil {
		return nil, notFound(err, "Could not find experiment with name '%s'", name)
	}
	return e, s.loadExperimentTags(ctx, []*Experiment{e})
}

func (s *Service) loadExperimentTags(ctx context.Context, exps []*Experiment) error {
	if len(exps) == 0 {
		return nil
	}
	byID := make(map[string]*Experiment, len(exps))
	ids := make([]any, 0, len(exps))
	for _, e := range exps {
		byID[e.ExperimentID] = e
		ids = append(ids, e.ExperimentID)
	}
	rows, err := s.reader().QueryContext(ctx, `SELECT experiment_id, key, value FROM experiment_tags
		WHERE experiment_id IN (`+store.Placeholders(len(ids))+`) ORDER BY experiment_id, key`, ids...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var t Tag
		if err := rows.Scan(&id, &t.Key, &t.Value); err != nil {
			return err
		}
		e := byID[strconv.FormatInt(id, 10)]
		e.Tags = append(e.Tags, t)
	}
	return rows.Err()
}

// experimentStage returns the lifecycle stage of an experiment inside a write.
func experimentStage(ctx context.Context, tx *store.Tx, id int64) (string, error) {
	var stage string
	err := tx.QueryRowContext(ctx, `SELECT lifecycle_stage FROM experiments WHERE experiment_id = ?`, id).Scan(&stage)
	return stage, notFound(err, "No Experiment with id=%d exists", id)
}

// DeleteExperiment marks an experiment and its runs deleted.
func (s *Service) DeleteExperiment(ctx context.Context, id string) error {
	if id == DefaultExperimentID {
		return fault.Invalidf("Cannot delete the default experiment '0'. This is an internally reserved experiment.")
	}
	return s.setExperimentStage(ctx, id, StageDeleted)
}

// RestoreExperiment restores a deleted experiment and its runs.
func (s *Service) RestoreExperiment(ctx context.Context, id string) error {
	return s.setExperimentStage(ctx, id, StageActive)
}

func (s *Service) setExperimentStage(ctx context.Context, id, stage string) error {
	n, err := parseExperimentID(id)
	if err != nil {
		return err
	}
	return s.writeRuns(ctx, nil, func(tx *store.Tx) error {
		cur, err := experimentStage(ctx, tx, n)
		if err != nil {
			return err
		}
		if stage == StageActive && cur != StageDeleted {
			return fault.Invalidf("Cannot restore an active experiment.")
		}
		now := s.nowMillis()
		if _, err := tx.ExecContext(ctx, `UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? WHERE experiment_id = ?`, stage, now, n); err != nil {
			return err
		}
		var deletedTime any
		if stage == StageDeleted {
			deletedTime = now
		}
		_, err = tx.ExecContext(ctx, `UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE experiment_id = ? AND lifecycle_stage != ?`,
			stage, deletedTime, n, stage)
		return err
	})
}

// RenameExperiment gives an active experiment a new name.
func (s *Service) RenameExperiment(ctx context.Context, id, newName string) error {
	n, err := parseExperimentID(id)
	if err != nil {
		return err
	}
	if newName == "" {
		return nil
	}
	if err := validateExperimentName(newName); err != nil {
		return err
	}
	return s.db.Write(ctx, func(tx *store.Tx) error {
		stage, err := experimentStage(ctx, tx, n)
		if err != nil {
			return err
		}
		if stage != StageActive {
			return fault.Invalidf("Cannot rename a non-active experiment.")
		}
		_, err = tx.ExecContext(ctx, `UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?`, newName, s.nowMillis(), n)
		if tx.Dialect().IsUniqueViolation(err) {
			return fault.New(fault.AlreadyExists, "Experiment(name=%s) already exists.", newName)
		}
		return err
	})
}

// SetExperimentTag sets a tag on an active experiment.
func (s *Service) SetExperimentTag(ctx context.Context, id string, t Tag) error {
	n, err := parseExperimentID(id)
	if err != nil {
		return err
	}
	if err := validateExperimentTag(t); err != nil {
		return err
	}
	return s.db.Write(ctx, func(tx *store.Tx) error {
		if err := requireActiveExperiment(ctx, tx, n); err != nil {
			return err
		}
		return upsertExperimentTag(ctx, tx, n, t)
	})
}

// DeleteExperimentTag removes a tag from an active experiment.
func (s *Service) DeleteExperimentTag(ctx context.Context, id, key string) error {
	n, err := parseExperimentID(id)
	if err != nil {
		return err
	}
	if err := Required("key", key); err != nil {
		return err
	}
	return s.db.Write(ctx, func(tx *store.Tx) error {
		if err := requireActiveExperiment(ctx, tx, n); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?`, n, key)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return fault.NotFoundf("No tag with name: %s in experiment with id %d", key, n)
		}
		return nil
	})
}

func requireActiveExperiment(ctx context.Context, tx *store.Tx, id int64) error {
	stage, err := experimentStage(ctx, tx, id)
	if err != nil {
		return err
	}
	if stage != StageActive {
		return fault.Invalidf("The experiment %d must be in the 'active' state. Current state is %s.", id, stage)
	}
	return nil
}
