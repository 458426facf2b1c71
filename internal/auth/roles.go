package auth

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// A team is MLflow 3's role: its members are the users the role is assigned to, and its
// grants are the role's permissions. What follows reads and changes teams by the ids
// MLflow's role API names them by.

// TeamGrant is one grant a team holds: a role permission.
type TeamGrant struct {
	ID     int64
	TeamID int64
	Kind   ObjectKind
	Object string // an object's id or name, or Wildcard
	Level  Level
}

// Membership is a user's place in a team: a role assignment. Its ID is the row's
// SQLite rowid, which names it while it exists.
type Membership struct {
	ID     int64
	UserID int64
	TeamID int64
}

// TeamByID returns a team with its members; NotFound when there is none.
func (s *Service) TeamByID(ctx context.Context, id int64) (*Team, error) {
	return s.team(ctx, `id = ?`, id, fault.NotFoundf("no team with id %d", id))
}

// UpdateTeam renames a team or changes its description (nil leaves either as it is).
// Grants and members follow, as they hold the team's id.
func (s *Service) UpdateTeam(ctx context.Context, id int64, name, description *string) (*Team, error) {
	if name != nil && !teamPattern.MatchString(*name) {
		return nil, fault.Invalidf("invalid team name %q: use letters, digits, '_', '.', '@' and '-' (at most 128, starting with a letter or digit)", *name)
	}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE teams SET name = COALESCE(?, name), description = COALESCE(?, description) WHERE id = ?`,
			name, description, id)
		if tx.Dialect().IsUniqueViolation(err) {
			return fault.New(fault.AlreadyExists, "team %q already exists", *name)
		}
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fault.NotFoundf("no team with id %d", id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.TeamByID(ctx, id)
}

// TeamGrants returns the grants of the given teams (of all teams without any), by team
// and by id.
func (s *Service) TeamGrants(ctx context.Context, teamIDs ...int64) (map[int64][]TeamGrant, error) {
	q := `SELECT id, team_id, kind, object_id, level FROM grants WHERE team_id IS NOT NULL`
	args := make([]any, len(teamIDs))
	for i, id := range teamIDs {
		args[i] = id
	}
	if len(teamIDs) > 0 {
		q += ` AND team_id IN (` + store.Placeholders(len(teamIDs)) + `)`
	}
	out := map[int64][]TeamGrant{}
	err := store.ScanEach(ctx, s.db.Reader(), q+` ORDER BY team_id, id`, args, func(rows *sql.Rows) error {
		g, err := scanTeamGrant(rows)
		if err == nil {
			out[g.TeamID] = append(out[g.TeamID], g)
		}
		return err
	})
	return out, err
}

func scanTeamGrant(row interface{ Scan(...any) error }) (TeamGrant, error) {
	var g TeamGrant
	var kind, level string
	if err := row.Scan(&g.ID, &g.TeamID, &kind, &g.Object, &level); err != nil {
		return g, err
	}
	g.Kind = ObjectKind(kind)
	l, err := ParseLevel(level)
	g.Level = l
	return g, err
}

// TeamGrant returns a team's grant by its id; NotFound when there is none, or when the
// grant is a user's.
func (s *Service) TeamGrant(ctx context.Context, id int64) (*TeamGrant, error) {
	return teamGrant(ctx, s.db.Reader(), id)
}

func teamGrant(ctx context.Context, q store.Querier, id int64) (*TeamGrant, error) {
	g, err := scanTeamGrant(q.QueryRowContext(ctx,
		`SELECT id, team_id, kind, object_id, level FROM grants WHERE id = ? AND team_id IS NOT NULL`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fault.NotFoundf("no team grant with id %d", id)
	}
	if err != nil {
		return nil, err
	}
	return &g, nil
}

// AddTeamGrant gives a team level on object (or Wildcard): for an administrator, who
// alone manages roles. A grant the team already holds on the object is AlreadyExists:
// change its level with SetTeamGrantLevel.
func (s *Service) AddTeamGrant(ctx context.Context, teamID int64, kind ObjectKind, object string, level Level) (*TeamGrant, error) {
	if _, err := ParseKind(string(kind)); err != nil {
		return nil, err
	}
	if strings.TrimSpace(object) == "" {
		return nil, fault.Invalidf("name the object the grant is on, or %q for every %s", Wildcard, kindText(kind))
	}
	if err := grantable(level); err != nil {
		return nil, err
	}
	g := &TeamGrant{TeamID: teamID, Kind: kind, Object: object, Level: level}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM teams WHERE id = ?`, teamID).Scan(&n); err != nil || n == 0 {
			if err == nil {
				err = fault.NotFoundf("no team with id %d", teamID)
			}
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM grants WHERE kind = ? AND object_id = ? AND team_id = ?`,
			kind, object, teamID).Scan(&n); err != nil || n > 0 {
			if err == nil {
				err = fault.New(fault.AlreadyExists, "the team already holds a grant on %s %s", kindText(kind), object)
			}
			return err
		}
		id, err := s.insertGrant(ctx, tx, kind, object, "team_id", teamID, level)
		g.ID = id
		return err
	})
	if err != nil {
		return nil, err
	}
	s.grantsChanged()
	return g, nil
}

// SetTeamGrantLevel changes the level of a team's grant, which keeps its id.
func (s *Service) SetTeamGrantLevel(ctx context.Context, id int64, level Level) (*TeamGrant, error) {
	if err := grantable(level); err != nil {
		return nil, err
	}
	var g *TeamGrant
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		if g, err = teamGrant(ctx, tx, id); err != nil {
			return err
		}
		g.Level = level
		_, err = tx.ExecContext(ctx, `UPDATE grants SET level = ? WHERE id = ?`, level.String(), id)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.grantsChanged()
	return g, nil
}

// RemoveTeamGrant removes a team's grant by its id.
func (s *Service) RemoveTeamGrant(ctx context.Context, id int64) error {
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if _, err := teamGrant(ctx, tx, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM grants WHERE id = ?`, id)
		return err
	})
	if err == nil {
		s.grantsChanged()
	}
	return err
}

// Memberships returns the memberships of a team (teamID > 0), of a user (userID > 0),
// of both (whether the user is in the team), or all of them; by team, then user.
func (s *Service) Memberships(ctx context.Context, teamID, userID int64) ([]Membership, error) {
	q := `SELECT rowid, user_id, team_id FROM team_members WHERE (? = 0 OR team_id = ?) AND (? = 0 OR user_id = ?) ORDER BY team_id, user_id`
	out := []Membership{}
	err := store.ScanEach(ctx, s.db.Reader(), q, []any{teamID, teamID, userID, userID}, func(rows *sql.Rows) error {
		var m Membership
		err := rows.Scan(&m.ID, &m.UserID, &m.TeamID)
		out = append(out, m)
		return err
	})
	return out, err
}
