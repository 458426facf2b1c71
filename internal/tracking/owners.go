package tracking

import (
	"context"
	"database/sql"
	"errors"
	"strconv"

	"github.com/mlship/mlship/internal/fault"
)

// ExperimentOfRun returns the id of the experiment a run belongs to. A run never moves,
// so callers may keep the answer.
func (s *Service) ExperimentOfRun(ctx context.Context, runID string) (string, error) {
	if s.cache != nil {
		if r := s.cache.get(runID); r != nil {
			return r.Info.ExperimentID, nil
		}
	}
	return s.ownerOf(ctx, `SELECT experiment_id FROM runs WHERE run_uuid = ?`, runID, "Run with id=%s not found")
}

// ExperimentOfLoggedModel returns the id of the experiment a logged model belongs to.
func (s *Service) ExperimentOfLoggedModel(ctx context.Context, modelID string) (string, error) {
	return s.ownerOf(ctx, `SELECT experiment_id FROM logged_models WHERE model_id = ?`, modelID, "Logged model with ID '%s' not found.")
}

func (s *Service) ownerOf(ctx context.Context, query, id, missing string) (string, error) {
	var exp int64
	err := s.reader().QueryRowContext(ctx, query, id).Scan(&exp)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fault.NotFoundf(missing, id)
	}
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(exp, 10), nil
}
