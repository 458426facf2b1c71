package registry

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// aliasLatest is the reserved alias of a model's newest version, in any case.
const aliasLatest = "latest"

// SetAlias points an alias of a registered model at one of its versions, moving it if
// it pointed elsewhere.
func (s *Service) SetAlias(ctx context.Context, name, alias, version string) error {
	if err := validateName("name", name); err != nil {
		return err
	}
	if err := validateNewAlias(alias); err != nil {
		return err
	}
	num, err := parseVersion(version)
	if err != nil {
		return err
	}
	return s.db.Write(ctx, func(tx *store.Tx) error {
		rmID, err := lockVersion(ctx, tx, name, num)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO registered_model_aliases (rm_id, alias, version) VALUES (?, ?, ?)
			ON CONFLICT (rm_id, alias) DO UPDATE SET version = excluded.version`, rmID, alias, num)
		return err
	})
}

// DeleteAlias removes an alias of a registered model; a missing alias is no error, as
// in MLflow.
func (s *Service) DeleteAlias(ctx context.Context, name, alias string) error {
	if err := validateName("name", name); err != nil {
		return err
	}
	if err := validateAlias(alias); err != nil {
		return err
	}
	return s.db.Write(ctx, func(tx *store.Tx) error {
		rmID, err := lockModel(ctx, tx, name)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM registered_model_aliases WHERE rm_id = ? AND alias = ?`, rmID, alias)
		return err
	})
}

// GetVersionByAlias returns the version an alias names. The alias "latest", in any case,
// names the newest version. An unknown alias is a fault.Invalid error, as in MLflow.
func (s *Service) GetVersionByAlias(ctx context.Context, name, alias string) (*ModelVersion, error) {
	if err := validateName("name", name); err != nil {
		return nil, err
	}
	if err := validateAlias(alias); err != nil {
		return nil, err
	}
	q := s.reader()
	rmID, num, err := aliasTarget(ctx, q, name, alias)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, modelNotFound(name)
	case err != nil:
		return nil, err
	case !num.Valid && strings.EqualFold(alias, aliasLatest):
		return nil, fault.NotFoundf("Latest version not found for model %s.", name)
	case !num.Valid:
		return nil, fault.Invalidf("Registered model alias %s not found.", alias)
	}
	v, err := versionByKey(ctx, q, rmID, num.Int64)
	if errors.Is(err, sql.ErrNoRows) { // deleted since
		return nil, versionNotFound(name, num.Int64)
	}
	return v, err
}

// aliasTarget returns a registered model's id and the version an alias names, which is
// NULL when the alias does not exist (or, for "latest", when there are no versions).
func aliasTarget(ctx context.Context, q store.Querier, name, alias string) (int64, sql.NullInt64, error) {
	var rmID int64
	var num sql.NullInt64
	var err error
	if strings.EqualFold(alias, aliasLatest) {
		err = q.QueryRowContext(ctx, `SELECT m.id, (SELECT MAX(v.version) FROM model_versions v WHERE v.rm_id = m.id)
			FROM registered_models m WHERE m.name = ?`, name).Scan(&rmID, &num)
	} else {
		err = q.QueryRowContext(ctx, `SELECT m.id, a.version FROM registered_models m
			LEFT JOIN registered_model_aliases a ON a.rm_id = m.id AND a.alias = ?
			WHERE m.name = ?`, alias, name).Scan(&rmID, &num)
	}
	return rmID, num, err
}

// GetLatestVersions returns the newest version of each of the given stages (all four
// when none is given), oldest first. Stage names are case-insensitive.
func (s *Service) GetLatestVersions(ctx context.Context, name string, stages []string) ([]*ModelVersion, error) {
	want := make(map[string]bool, len(Stages))
	for _, st := range stages {
		c, err := canonicalStage(st)
		if err != nil {
			return nil, err
		}
		want[c] = true
	}
	m, err := s.GetRegisteredModel(ctx, name)
	if err != nil {
		return nil, err
	}
	out := make([]*ModelVersion, 0, len(m.LatestVersions))
	for _, v := range m.LatestVersions {
		if len(want) == 0 || want[v.CurrentStage] {
			out = append(out, v)
		}
	}
	return out, nil
}
