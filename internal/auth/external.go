package auth

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// ExternalUser returns the user an identity provider vouches for as subject at issuer:
// the one linked to that pair on an earlier sign-in, else a new user with no password,
// linked to it. The new user is named after the provider's name for it (made a valid
// name; with a suffix -2, -3... when taken): a provider's name never signs in as an
// existing user of that name, only the issuer and subject do.
func (s *Service) ExternalUser(ctx context.Context, issuer, subject, name string) (*User, bool, error) {
	if issuer == "" || subject == "" {
		return nil, false, fault.Invalidf("an identity provider's user needs an issuer and a subject")
	}
	var (
		out     *User
		created bool
	)
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		var userID int64
		err := tx.QueryRowContext(ctx, `SELECT user_id FROM user_identities WHERE issuer = ? AND subject = ?`, issuer, subject).Scan(&userID)
		if err == nil {
			out, _, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, userID))
			return err
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		out, err = s.createLinked(ctx, tx, issuer, subject, externalName(name, issuer, subject))
		created = err == nil
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return out, created, nil
}

func (s *Service) createLinked(ctx context.Context, tx *store.Tx, issuer, subject, base string) (*User, error) {
	name, err := freeName(ctx, tx, base)
	if err != nil {
		return nil, err
	}
	now := s.opts.Now().UnixMilli()
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO users (name, kind, password_hash, is_admin, created_at, updated_at)
		VALUES (?, ?, '', 0, ?, ?) RETURNING id`, name, KindUser, now, now).Scan(&id)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO user_identities (issuer, subject, user_id, created_at) VALUES (?, ?, ?, ?)`,
		issuer, subject, id, now); err != nil {
		return nil, err
	}
	return &User{ID: id, Name: name, Kind: KindUser, CreatedAt: now, UpdatedAt: now}, nil
}

// freeName returns base, or base-2, base-3... whichever no user has.
func freeName(ctx context.Context, q store.Querier, base string) (string, error) {
	for i := 1; i <= 1000; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		var n int
		if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE name = ?`, name).Scan(&n); err != nil {
			return "", err
		}
		if n == 0 {
			return name, nil
		}
	}
	return "", fault.New(fault.Conflict, "no free user name for %q", base)
}

// externalName makes a valid user name of a provider's name for a user (its
// preferred_username or email): characters a name may not hold become '-'. With nothing
// left, the name is sso- and a digest of the issuer and subject.
func externalName(name, issuer, subject string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '@', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.TrimLeft(b.String(), "_.@-")
	if len(out) > 100 {
		out = out[:100]
	}
	if out == "" {
		h := sha256.Sum256([]byte(issuer + "\x00" + subject))
		out = "sso-" + hex.EncodeToString(h[:6])
	}
	return out
}

// SyncTeams makes the user a member of exactly the teams named in groups (the groups an
// identity provider says the user is in): it joins those that exist and leaves every
// other. A group no team is named after is ignored, or, with create, becomes a new team.
func (s *Service) SyncTeams(ctx context.Context, userID int64, groups []string, create bool) error {
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		want := map[int64]bool{}
		for _, g := range groups {
			id, err := s.groupTeam(ctx, tx, g, create)
			if err != nil {
				return err
			}
			if id != 0 {
				want[id] = true
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM team_members WHERE user_id = ?`, userID); err != nil {
			return err
		}
		for id := range want {
			if _, err := tx.ExecContext(ctx, `INSERT INTO team_members (team_id, user_id) VALUES (?, ?)`, id, userID); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.grantsChanged()
	}
	return err
}

// groupTeam returns the id of the team named g: 0 when there is none (and create is
// off) or g cannot name a team.
func (s *Service) groupTeam(ctx context.Context, tx *store.Tx, g string, create bool) (int64, error) {
	if !teamPattern.MatchString(g) {
		return 0, nil
	}
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM teams WHERE name = ?`, g).Scan(&id)
	switch {
	case err == nil:
		return id, nil
	case !errors.Is(err, sql.ErrNoRows):
		return 0, err
	case !create:
		return 0, nil
	}
	// A team's id comes from id_sequences, as CreateTeam's does.
	id, err = nextID(ctx, tx, "teams")
	if err != nil {
		return 0, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO teams (id, name, description, created_at) VALUES (?, ?, ?, ?)`,
		id, g, "the identity provider's group "+g, s.opts.Now().UnixMilli())
	return id, err
}
