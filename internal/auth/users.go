package auth

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// User is a user or a service account. Its password is never read back.
type User struct {
	ID          int64  `json:"-"`
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Admin       bool   `json:"admin"`
	HasPassword bool   `json:"has_password"`
	CreatedAt   int64  `json:"created_at"`
	UpdatedAt   int64  `json:"updated_at"`
}

// NewUser is what creating a user takes. A service account has no password.
type NewUser struct {
	Name     string `json:"name"`
	Kind     string `json:"kind,omitempty"` // user (default) or service
	Password string `json:"password,omitempty"`
	Admin    bool   `json:"admin,omitempty"`
}

// CreateUser adds a user or a service account.
func (s *Service) CreateUser(ctx context.Context, in NewUser) (*User, error) {
	if err := CheckName(in.Name); err != nil {
		return nil, err
	}
	if in.Kind == "" {
		in.Kind = KindUser
	}
	var hash string
	switch in.Kind {
	case KindUser:
		if err := checkPassword(in.Password); err != nil {
			return nil, err
		}
		h, err := hashPassword(in.Password)
		if err != nil {
			return nil, err
		}
		hash = h
	case KindService:
		if in.Password != "" {
			return nil, fault.Invalidf("a service account has no password: give it a token (mlship tokens create --user %s)", in.Name)
		}
	default:
		return nil, fault.Invalidf("unknown kind %q: user or service", in.Kind)
	}
	now := time.Now().UnixMilli()
	u := &User{Name: in.Name, Kind: in.Kind, Admin: in.Admin, HasPassword: hash != "", CreatedAt: now, UpdatedAt: now}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO users (name, kind, password_hash, is_admin, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, u.Name, u.Kind, hash, u.Admin, now, now).Scan(&u.ID)
		if tx.Dialect().IsUniqueViolation(err) {
			return fault.New(fault.AlreadyExists, "user %q already exists", u.Name)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// Bootstrap creates the administrator "admin" with password when there is no user yet.
// It reports whether it created it.
func (s *Service) Bootstrap(ctx context.Context, password string) (bool, error) {
	n, err := s.CountUsers(ctx)
	if err != nil || n > 0 {
		return false, err
	}
	_, err = s.CreateUser(ctx, NewUser{Name: "admin", Password: password, Admin: true})
	if errors.Is(err, fault.AlreadyExists) {
		return false, nil
	}
	return err == nil, err
}

// CountUsers returns how many users and service accounts there are.
func (s *Service) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.db.Reader().QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, err
}

const userColumns = `id, name, kind, password_hash, is_admin, created_at, updated_at`

func scanUser(row interface{ Scan(...any) error }) (*User, string, error) {
	var u User
	var hash string
	if err := row.Scan(&u.ID, &u.Name, &u.Kind, &hash, &u.Admin, &u.CreatedAt, &u.UpdatedAt); err != nil {
		return nil, "", err
	}
	u.HasPassword = hash != ""
	return &u, hash, nil
}

func (s *Service) userByName(ctx context.Context, q store.Querier, name string) (*User, string, error) {
	u, hash, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", fault.NotFoundf("user %q not found", name)
	}
	return u, hash, err
}

// GetUser returns the named user.
func (s *Service) GetUser(ctx context.Context, name string) (*User, error) {
	u, _, err := s.userByName(ctx, s.db.Reader(), name)
	return u, err
}

// ListUsers returns every user and service account, by name.
func (s *Service) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.db.Reader().QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []User{}
	for rows.Next() {
		u, _, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *u)
	}
	return out, rows.Err()
}

// UserUpdate changes a user: nil fields stay as they are.
type UserUpdate struct {
	Password *string `json:"password,omitempty"`
	Admin    *bool   `json:"admin,omitempty"`
}

// UpdateUser changes a user's password or administrator flag. The last administrator
// cannot be demoted.
func (s *Service) UpdateUser(ctx context.Context, name string, up UserUpdate) (*User, error) {
	var hash string
	if up.Password != nil {
		if err := checkPassword(*up.Password); err != nil {
			return nil, err
		}
		h, err := hashPassword(*up.Password)
		if err != nil {
			return nil, err
		}
		hash = h
	}
	var out *User
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		u, _, err := s.userByName(ctx, tx, name)
		if err != nil {
			return err
		}
		if up.Password != nil && u.Kind == KindService {
			return fault.Invalidf("a service account has no password: give it a token")
		}
		if up.Admin != nil && !*up.Admin && u.Admin {
			if err := lastAdmin(ctx, tx, u.ID); err != nil {
				return err
			}
		}
		now := time.Now().UnixMilli()
		if up.Password != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`, hash, now, u.ID); err != nil {
				return err
			}
			u.HasPassword = true
		}
		if up.Admin != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE users SET is_admin = ?, updated_at = ? WHERE id = ?`, *up.Admin, now, u.ID); err != nil {
				return err
			}
			u.Admin = *up.Admin
		}
		u.UpdatedAt = now
		out = u
		return nil
	})
	s.changed()
	return out, err
}

// DeleteUser removes a user and every token it holds. The last administrator cannot be
// removed.
func (s *Service) DeleteUser(ctx context.Context, name string) error {
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		u, _, err := s.userByName(ctx, tx, name)
		if err != nil {
			return err
		}
		if u.Admin {
			if err := lastAdmin(ctx, tx, u.ID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM api_tokens WHERE user_id = ?`, u.ID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, u.ID)
		return err
	})
	s.changed()
	return err
}

// lastAdmin refuses when the user id is the only administrator left.
func lastAdmin(ctx context.Context, q store.Querier, id int64) error {
	var others int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE is_admin = 1 AND id <> ?`, id).Scan(&others); err != nil {
		return err
	}
	if others == 0 {
		return fault.New(fault.Conflict, "the last administrator cannot be removed or demoted: make another user admin first")
	}
	return nil
}
