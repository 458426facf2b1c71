package auth

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// Token is an API token as listed: never its secret, which is shown once, at creation.
type Token struct {
	ID        int64    `json:"id"`
	User      string   `json:"user"`
	Name      string   `json:"name"`
	Scopes    []string `json:"scopes"`
	CreatedAt int64    `json:"created_at"`
	ExpiresAt *int64   `json:"expires_at,omitempty"`
	RevokedAt *int64   `json:"revoked_at,omitempty"`
}

// NewToken is what creating a token takes.
type NewToken struct {
	// User holds the token; "" is the caller. Only an administrator names another
	// (a service account, typically).
	User   string `json:"user,omitempty"`
	Name   string `json:"name"`
	Scopes string `json:"scopes"` // e.g. "read" or "read,write"; "" is read
	// ExpiresIn is how long the token lasts, e.g. "720h"; "" is 90 days, "never" never.
	ExpiresIn string `json:"expires_in,omitempty"`
}

// DefaultTokenLifetime is how long a token lasts unless its creator says otherwise.
const DefaultTokenLifetime = 90 * 24 * time.Hour

// CreateToken makes a token for the caller, or (by an administrator) for another user.
// Its scopes may not exceed the caller's, nor its holder's. The secret is returned once
// and not kept.
func (s *Service) CreateToken(ctx context.Context, caller *Identity, in NewToken) (string, *Token, error) {
	if caller == nil {
		return "", nil, fault.New(fault.Unauthenticated, "sign in to create a token")
	}
	if in.Name == "" {
		in.Name = "token"
	}
	if len(in.Name) > 128 {
		return "", nil, fault.Invalidf("a token name has at most 128 characters")
	}
	if in.Scopes == "" {
		in.Scopes = "read"
	}
	scopes, err := ParseScopes(in.Scopes)
	if err != nil {
		return "", nil, err
	}
	if scopes == 0 {
		return "", nil, fault.Invalidf("a token needs a scope: read, write, deploy or admin")
	}
	if scopes&(Write|Deploy) != 0 {
		scopes |= Read // changing what one cannot see is no use
	}
	if !caller.Scopes.Has(scopes) {
		return "", nil, fault.New(fault.PermissionDenied, "a token cannot have more than its creator's scopes (%s)", caller.Scopes)
	}
	holder := caller.Name
	if in.User != "" && in.User != caller.Name {
		if !caller.Scopes.Has(Admin) {
			return "", nil, fault.New(fault.PermissionDenied, "only an administrator creates tokens for another user")
		}
		holder = in.User
	}
	now := s.opts.Now()
	var expires *int64
	switch in.ExpiresIn {
	case "never":
	case "":
		e := now.Add(DefaultTokenLifetime).UnixMilli()
		expires = &e
	default:
		d, err := time.ParseDuration(in.ExpiresIn)
		if err != nil || d <= 0 {
			return "", nil, fault.Invalidf("expires_in %q: give a duration such as 720h, or never", in.ExpiresIn)
		}
		e := now.Add(d).UnixMilli()
		expires = &e
	}
	secret, err := newToken()
	if err != nil {
		return "", nil, err
	}
	hash := tokenHash(secret)
	t := &Token{User: holder, Name: in.Name, Scopes: scopes.Names(), CreatedAt: now.UnixMilli(), ExpiresAt: expires}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		u, _, err := s.userByName(ctx, tx, holder)
		if err != nil {
			return err
		}
		if !rights(*u).Has(scopes) {
			return fault.New(fault.PermissionDenied, "user %q cannot hold a token with scopes %s", holder, scopes)
		}
		return tx.QueryRowContext(ctx, `INSERT INTO api_tokens (user_id, name, secret_hash, scopes, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, u.ID, t.Name, hash[:], scopes.String(), t.CreatedAt, expires).Scan(&t.ID)
	})
	if err != nil {
		return "", nil, err
	}
	return secret, t, nil
}

// ListTokens returns the tokens of user ("" for every user's), newest first.
func (s *Service) ListTokens(ctx context.Context, user string) ([]Token, error) {
	q := `SELECT t.id, u.name, t.name, t.scopes, t.created_at, t.expires_at, t.revoked_at
		FROM api_tokens t JOIN users u ON u.id = t.user_id`
	var args []any
	if user != "" {
		q += ` WHERE u.name = ?`
		args = append(args, user)
	}
	rows, err := s.db.Reader().QueryContext(ctx, q+` ORDER BY t.id DESC`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		var t Token
		var scopes string
		var expires, revoked sql.NullInt64
		if err := rows.Scan(&t.ID, &t.User, &t.Name, &scopes, &t.CreatedAt, &expires, &revoked); err != nil {
			return nil, err
		}
		sc, _ := ParseScopes(scopes)
		t.Scopes = sc.Names()
		if expires.Valid {
			t.ExpiresAt = &expires.Int64
		}
		if revoked.Valid {
			t.RevokedAt = &revoked.Int64
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken revokes a token of the caller's (any token, for an administrator). It
// takes effect on the next request.
func (s *Service) RevokeToken(ctx context.Context, caller *Identity, id int64) error {
	if caller == nil {
		return fault.New(fault.Unauthenticated, "sign in to revoke a token")
	}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		var holder int64
		err := tx.QueryRowContext(ctx, `SELECT user_id FROM api_tokens WHERE id = ?`, id).Scan(&holder)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && holder != caller.UserID && !caller.Scopes.Has(Admin)) {
			return fault.NotFoundf("token %d not found", id)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, time.Now().UnixMilli(), id)
		return err
	})
	s.changed()
	return err
}
