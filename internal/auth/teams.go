package auth

import (
	"context"
	"database/sql"
	"errors"
	"regexp"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// Team is a group of users; what it is granted, each member may do. It is MLflow 3's
// role too: its ID is the role's, never given to another team after it is deleted.
type Team struct {
	ID          int64    `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Members     []string `json:"members"`
	CreatedAt   int64    `json:"created_at"`
}

var teamPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$`)

// CreateTeam adds an empty team.
func (s *Service) CreateTeam(ctx context.Context, name, description string) (*Team, error) {
	if !teamPattern.MatchString(name) {
		return nil, fault.Invalidf("invalid team name %q: use letters, digits, '_', '.', '@' and '-' (at most 128, starting with a letter or digit)", name)
	}
	t := &Team{Name: name, Description: description, Members: []string{}, CreatedAt: s.opts.Now().UnixMilli()}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		id, err := nextID(ctx, tx, "teams")
		if err != nil {
			return err
		}
		t.ID = id
		_, err = tx.ExecContext(ctx, `INSERT INTO teams (id, name, description, created_at) VALUES (?, ?, ?, ?)`, id, name, description, t.CreatedAt)
		if tx.Dialect().IsUniqueViolation(err) {
			return fault.New(fault.AlreadyExists, "team %q already exists", name)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// DeleteTeam removes a team and its grants.
func (s *Service) DeleteTeam(ctx context.Context, name string) error {
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		id, err := teamID(ctx, tx, name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM grants WHERE team_id = ?`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM team_members WHERE team_id = ?`, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM teams WHERE id = ?`, id)
		return err
	})
	if err == nil {
		s.grantsChanged()
	}
	return err
}

// GetTeam returns a team with its members.
func (s *Service) GetTeam(ctx context.Context, name string) (*Team, error) {
	return s.team(ctx, `name = ?`, name, fault.NotFoundf("team %q not found", name))
}

// team returns the team where matches, with its members, or notFound.
func (s *Service) team(ctx context.Context, where string, arg any, notFound error) (*Team, error) {
	q := s.db.Reader()
	t := &Team{Members: []string{}}
	err := q.QueryRowContext(ctx, `SELECT id, name, description, created_at FROM teams WHERE `+where, arg).
		Scan(&t.ID, &t.Name, &t.Description, &t.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, `SELECT u.name FROM team_members m JOIN users u ON u.id = m.user_id WHERE m.team_id = ? ORDER BY u.name`, t.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		t.Members = append(t.Members, n)
	}
	return t, rows.Err()
}

// ListTeams returns every team with its members, by name.
func (s *Service) ListTeams(ctx context.Context) ([]Team, error) {
	rows, err := s.db.Reader().QueryContext(ctx, `SELECT t.id, t.name, t.description, t.created_at, COALESCE(u.name, '')
		FROM teams t LEFT JOIN team_members m ON m.team_id = t.id LEFT JOIN users u ON u.id = m.user_id
		ORDER BY t.name, u.name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Team{}
	for rows.Next() {
		var t Team
		var member string
		if err := rows.Scan(&t.ID, &t.Name, &t.Description, &t.CreatedAt, &member); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].Name != t.Name {
			t.Members = []string{}
			out = append(out, t)
		}
		if member != "" {
			last := &out[len(out)-1]
			last.Members = append(last.Members, member)
		}
	}
	return out, rows.Err()
}

// AddMember puts a user in a team; adding a member twice is no error.
func (s *Service) AddMember(ctx context.Context, team, user string) error {
	return s.changeMember(ctx, team, user, `INSERT INTO team_members (team_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING`)
}

// RemoveMember takes a user out of a team.
func (s *Service) RemoveMember(ctx context.Context, team, user string) error {
	return s.changeMember(ctx, team, user, `DELETE FROM team_members WHERE team_id = ? AND user_id = ?`)
}

func (s *Service) changeMember(ctx context.Context, team, user, stmt string) error {
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		tid, err := teamID(ctx, tx, team)
		if err != nil {
			return err
		}
		_, uid, err := principalID(ctx, tx, Principal{User: user})
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, stmt, tid, uid)
		return err
	})
	if err == nil {
		s.grantsChanged()
	}
	return err
}

func teamID(ctx context.Context, q store.Querier, name string) (int64, error) {
	_, id, err := principalID(ctx, q, Principal{Team: name})
	return id, err
}
