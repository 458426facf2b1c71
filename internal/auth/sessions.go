package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// SessionPrefix starts every browser session's secret (the value of its cookie).
const SessionPrefix = "mlss_"

// SessionPolicy is how long a browser session lasts: Lifetime from its start however
// active it is, and IdleTimeout since the last request it made.
type SessionPolicy struct {
	Lifetime    time.Duration
	IdleTimeout time.Duration
}

// errSessionEnded is the one answer to a session cookie that is forged, expired, idle
// too long, ended at logout, or whose user was removed.
var errSessionEnded = fault.New(fault.Unauthenticated, "the session has ended or is not valid: sign in again at /auth/login")

// IsSessionEnded reports whether err is the refusal of a session cookie.
func IsSessionEnded(err error) bool { return errors.Is(err, errSessionEnded) }

func sessionHash(secret string) [32]byte { return sha256.Sum256([]byte("s\x00" + secret)) }

// CSRFToken is the token a page sends in X-CSRF-Token with every request that changes
// state under the session whose secret is given. It is derived from the secret, so it is
// bound to the session and known only to who holds the cookie (or was shown the token).
func CSRFToken(secret string) string {
	h := sha256.Sum256([]byte("csrf\x00" + secret))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// StartSession opens a browser session for the user and returns its secret, to be set
// as a cookie. Sessions that have ended are pruned on the way.
func (s *Service) StartSession(ctx context.Context, userID int64, p SessionPolicy) (string, error) {
	if p.Lifetime <= 0 || p.IdleTimeout <= 0 {
		return "", fmt.Errorf("session policy %+v: lifetime and idle timeout must be positive", p)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	secret := SessionPrefix + base64.RawURLEncoding.EncodeToString(b)
	key := sessionHash(secret)
	now := s.opts.Now().UnixMilli()
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at + idle_timeout <= ?`, now, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (user_id, secret_hash, created_at, expires_at, last_seen_at, idle_timeout)
			VALUES (?, ?, ?, ?, ?, ?)`, userID, key[:], now, now+p.Lifetime.Milliseconds(), now, p.IdleTimeout.Milliseconds())
		return err
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// VerifySession returns the identity of the session whose secret is given: the user's
// own rights, as with a password. A session's last use is recorded at most once a
// minute (a tenth of its idle timeout if shorter), so a page's requests do not each
// write to the database.
func (s *Service) VerifySession(ctx context.Context, secret string) (*Identity, error) {
	if !strings.HasPrefix(secret, SessionPrefix) || len(secret) != len(SessionPrefix)+43 {
		return nil, errSessionEnded
	}
	key := sessionHash(secret)
	var (
		sessionID, expires, lastSeen, idle int64
		u                                  User
	)
	err := s.db.Reader().QueryRowContext(ctx, `SELECT s.id, s.expires_at, s.last_seen_at, s.idle_timeout, u.id, u.name, u.kind, u.is_admin
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.secret_hash = ?`, key[:]).
		Scan(&sessionID, &expires, &lastSeen, &idle, &u.ID, &u.Name, &u.Kind, &u.Admin)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errSessionEnded
	}
	if err != nil {
		return nil, err
	}
	now := s.opts.Now().UnixMilli()
	if now >= expires || now >= lastSeen+idle {
		if err := s.EndSession(ctx, sessionID); err != nil {
			return nil, err
		}
		return nil, errSessionEnded
	}
	if now-lastSeen >= min(idle/10, time.Minute.Milliseconds()) {
		err := s.db.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id = ?`, now, sessionID)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return &Identity{UserID: u.ID, Name: u.Name, Kind: u.Kind, Admin: u.Admin, Scopes: rights(u),
		SessionID: sessionID, CSRFToken: CSRFToken(secret)}, nil
}

// EndSession ends a browser session (logout). Ending one that has ended is no error.
func (s *Service) EndSession(ctx context.Context, sessionID int64) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, sessionID)
		return err
	})
}

// EndSessions ends every browser session of the named user, as when it is disabled.
// Removing a user ends its sessions too (they are deleted with it).
func (s *Service) EndSessions(ctx context.Context, user string) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		u, _, err := s.userByName(ctx, tx, user)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, u.ID)
		return err
	})
}
