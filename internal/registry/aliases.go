package registry

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// aliasLatest is the reserved alias of a model's newest version, in any case.
const aliasLatest = "latest"

// AliasMove is a change of an alias, as an AliasGuard sees it inside the write that
// makes it.
type AliasMove struct {
	ModelID  int64
	Name     string
	Alias    string
	Version  int64 // 0: the alias is being deleted
	Previous int64 // the version it pointed at; 0: none
	// Override is the reason given to move a protected alias without the gate's
	// blessing; empty for an ordinary move.
	Override string
	Actor    string
}

// AliasGuard decides whether an alias may move. It runs inside the registry's write
// transaction, so that its checks and records commit or roll back with the move.
type AliasGuard interface {
	CheckAlias(ctx context.Context, tx *store.Tx, move AliasMove) error
}

// SetGuard installs the guard every alias move goes through, whichever API asks for
// it. Call it before serving requests.
func (s *Service) SetGuard(g AliasGuard) { s.guard = g }

// SetAlias points an alias of a registered model at one of its versions, moving it if
// it pointed elsewhere. The alias guard may refuse the move.
func (s *Service) SetAlias(ctx context.Context, name, alias, version string) error {
	return s.SetAliasOverride(ctx, name, alias, version, "", "")
}

// SetAliasOverride is SetAlias with a reason to move a protected alias although the
// version has not passed the gate; the guard records the reason and who gave it.
func (s *Service) SetAliasOverride(ctx context.Context, name, alias, version, reason, actor string) error {
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
	return s.write(ctx, func(tx *store.Tx) error {
		rmID, err := lockVersion(ctx, tx, name, num)
		if err != nil {
			return err
		}
		if err := s.checkMove(ctx, tx, AliasMove{ModelID: rmID, Name: name, Alias: alias, Version: num,
			Override: strings.TrimSpace(reason), Actor: actor}); err != nil {
			return err
		}
		// set_at moves with the alias, not when it is pointed where it points.
		now := time.Now().UnixMilli()
		_, err = tx.ExecContext(ctx, `INSERT INTO registered_model_aliases (rm_id, alias, version, set_at, first_set_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (rm_id, alias) DO UPDATE SET version = excluded.version,
			set_at = CASE WHEN registered_model_aliases.version = excluded.version AND registered_model_aliases.set_at > 0
				THEN registered_model_aliases.set_at ELSE excluded.set_at END`, rmID, alias, num, now, now)
		if err != nil {
			return err
		}
		return s.record(ctx, tx, rmID, "model_version_alias.created", "prompt_alias.created",
			aliasCreated{Name: name, Alias: alias, Version: version})
	})
}

// checkMove fills in the alias's current version and asks the guard.
func (s *Service) checkMove(ctx context.Context, tx *store.Tx, m AliasMove) error {
	if s.guard == nil {
		return nil
	}
	var prev sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT version FROM registered_model_aliases WHERE rm_id = ? AND alias = ?`,
		m.ModelID, m.Alias).Scan(&prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	m.Previous = prev.Int64
	if m.Previous == m.Version { // no move: pointing an alias where it points
		return nil
	}
	return s.guard.CheckAlias(ctx, tx, m)
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
	return s.write(ctx, func(tx *store.Tx) error {
		rmID, err := lockModel(ctx, tx, name)
		if err != nil {
			return err
		}
		if err := s.checkMove(ctx, tx, AliasMove{ModelID: rmID, Name: name, Alias: alias}); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM registered_model_aliases WHERE rm_id = ? AND alias = ?`, rmID, alias)
		if err != nil {
			return err
		}
		return s.record(ctx, tx, rmID, "model_version_alias.deleted", "prompt_alias.deleted",
			aliasDeleted{Name: name, Alias: alias})
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
