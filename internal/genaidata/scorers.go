package genaidata

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// Scorer is one registered version of a scorer.
type Scorer struct {
	ExperimentID string
	Name         string
	Version      int64
	ScorerID     string
	Serialized   string // as the client serialized it: JSON
	CreationTime int64
}

// scorerName is what a scorer's name may be: one line of printable characters.
var scorerName = regexp.MustCompile(`^[^\x00-\x1f\x7f]{1,256}$`)

func checkScorerName(name string) error {
	if name == "" {
		return fault.Missing("name")
	}
	if !scorerName.MatchString(name) {
		return fault.Invalidf("Invalid scorer name '%s': 1 to 256 printable characters", clip(name))
	}
	return nil
}

func scorerNotFound(name, exp string) error {
	return fault.NotFoundf("Scorer with name '%s' not found for experiment %s.", clip(name), clip(exp))
}

// RegisterScorer stores a new version of the scorer name on an experiment: version 1 the
// first time, one more than the last version after.
func (s *Service) RegisterScorer(ctx context.Context, experimentID, name, serialized string) (*Scorer, error) {
	if err := checkScorerName(name); err != nil {
		return nil, err
	}
	if serialized == "" {
		return nil, fault.Missing("serialized_scorer")
	}
	if len(serialized) > MaxScorerBytes {
		return nil, fault.Invalidf("A serialized scorer is at most %d bytes; this one is %d", MaxScorerBytes, len(serialized))
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(serialized), &obj); err != nil || obj == nil {
		return nil, fault.Invalidf("serialized_scorer must be valid JSON: an object")
	}
	exp, err := s.activeExperiment(ctx, experimentID)
	if err != nil {
		return nil, err
	}
	out := Scorer{ExperimentID: strconv.FormatInt(exp, 10), Name: name, Serialized: serialized, CreationTime: s.nowMillis()}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if err := tx.Lock(ctx, "genai-scorer:"+out.ExperimentID+":"+name); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, `SELECT scorer_id FROM genai_scorers WHERE experiment_id = ? AND name = ?`, exp, name).Scan(&out.ScorerID)
		if errors.Is(err, sql.ErrNoRows) {
			out.ScorerID = newUUID()
			_, err = tx.ExecContext(ctx, `INSERT INTO genai_scorers (scorer_id, experiment_id, name) VALUES (?, ?, ?)`, out.ScorerID, exp, name)
		}
		if err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) + 1 FROM genai_scorer_versions WHERE scorer_id = ?`,
			out.ScorerID).Scan(&out.Version); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO genai_scorer_versions (scorer_id, version, serialized_scorer, creation_time)
			VALUES (?, ?, ?, ?)`, out.ScorerID, out.Version, serialized, out.CreationTime)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

const scorerColumns = `s.experiment_id, s.name, v.version, s.scorer_id, v.serialized_scorer, v.creation_time`

func (s *Service) scorers(ctx context.Context, where string, args ...any) ([]Scorer, error) {
	var out []Scorer
	err := store.ScanEach(ctx, s.db.Reader(), `SELECT `+scorerColumns+` FROM genai_scorers s
		JOIN genai_scorer_versions v ON v.scorer_id = s.scorer_id WHERE `+where, args, func(r *sql.Rows) error {
		var sc Scorer
		var exp int64
		if err := r.Scan(&exp, &sc.Name, &sc.Version, &sc.ScorerID, &sc.Serialized, &sc.CreationTime); err != nil {
			return err
		}
		sc.ExperimentID = strconv.FormatInt(exp, 10)
		out = append(out, sc)
		return nil
	})
	return out, err
}

// ListScorers returns the latest version of every scorer of an experiment, by name.
func (s *Service) ListScorers(ctx context.Context, experimentID string) ([]Scorer, error) {
	exp, err := s.activeExperiment(ctx, experimentID)
	if err != nil {
		return nil, err
	}
	return s.scorers(ctx, `s.experiment_id = ? AND v.version = (SELECT MAX(w.version) FROM genai_scorer_versions w
		WHERE w.scorer_id = s.scorer_id) ORDER BY s.name`, exp)
}

// ScorerVersions returns every version of a scorer, oldest first.
func (s *Service) ScorerVersions(ctx context.Context, experimentID, name string) ([]Scorer, error) {
	exp, err := s.activeExperiment(ctx, experimentID)
	if err != nil {
		return nil, err
	}
	out, err := s.scorers(ctx, `s.experiment_id = ? AND s.name = ? ORDER BY v.version`, exp, name)
	if err == nil && len(out) == 0 {
		return nil, scorerNotFound(name, experimentID)
	}
	return out, err
}

// GetScorer returns a version of a scorer, its latest when version is nil.
func (s *Service) GetScorer(ctx context.Context, experimentID, name string, version *int64) (*Scorer, error) {
	exp, err := s.activeExperiment(ctx, experimentID)
	if err != nil {
		return nil, err
	}
	var out []Scorer
	if version == nil {
		out, err = s.scorers(ctx, `s.experiment_id = ? AND s.name = ? ORDER BY v.version DESC LIMIT 1`, exp, name)
	} else {
		out, err = s.scorers(ctx, `s.experiment_id = ? AND s.name = ? AND v.version = ?`, exp, name, *version)
	}
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		if version != nil {
			return nil, fault.NotFoundf("Scorer with name '%s' and version %d not found for experiment %s.", clip(name), *version, clip(experimentID))
		}
		return nil, scorerNotFound(name, experimentID)
	}
	return &out[0], nil
}

// DeleteScorer deletes a version of a scorer, or every version when version is nil.
func (s *Service) DeleteScorer(ctx context.Context, experimentID, name string, version *int64) error {
	exp, err := s.activeExperiment(ctx, experimentID)
	if err != nil {
		return err
	}
	return s.db.Write(ctx, func(tx *store.Tx) error {
		var id string
		err := tx.QueryRowContext(ctx, `SELECT scorer_id FROM genai_scorers WHERE experiment_id = ? AND name = ?`+
			tx.Dialect().ForUpdate("genai_scorers"), exp, name).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return scorerNotFound(name, experimentID)
		}
		if err != nil {
			return err
		}
		if version == nil {
			_, err = tx.ExecContext(ctx, `DELETE FROM genai_scorers WHERE scorer_id = ?`, id)
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM genai_scorer_versions WHERE scorer_id = ? AND version = ?`, id, *version)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fault.NotFoundf("Scorer with name '%s' and version %d not found for experiment %s.", clip(name), *version, clip(experimentID))
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM genai_scorers WHERE scorer_id = ? AND NOT EXISTS
			(SELECT 1 FROM genai_scorer_versions v WHERE v.scorer_id = ?)`, id, id)
		return err
	})
}
