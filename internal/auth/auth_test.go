package auth

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store/storetest"
)

func newService(t *testing.T, now func() time.Time) *Service {
	t.Helper()
	return New(storetest.Open(t, engineOf(t)), slog.New(slog.DiscardHandler), Options{Now: now})
}

// forEngines runs fn once per engine under test, as a subtest named by the engine.
func forEngines(t *testing.T, fn func(t *testing.T)) {
	for _, e := range storetest.Engines() {
		t.Run(e, fn)
	}
}

// engineOf is the engine of the forEngines subtest t runs in (or is nested in); SQLite
// outside one.
func engineOf(t testing.TB) string {
	if parts := strings.Split(t.Name(), "/"); len(parts) > 1 && slices.Contains(storetest.Engines(), parts[1]) {
		return parts[1]
	}
	return "sqlite"
}

func TestPasswordHashes(t *testing.T) {
	h, err := hashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := hashPassword("correct horse battery")
	if h == h2 || !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hashes %q %q: want salted argon2id PHC strings", h, h2)
	}
	for _, tc := range []struct {
		hash, password string
		ok             bool
	}{
		{h, "correct horse battery", true},
		{h, "correct horse batterY", false},
		{h, "", false},
		{strings.Replace(h, "argon2id", "argon2i", 1), "correct horse battery", false},
		{strings.Replace(h, "m=19456", "m=999999999", 1), "correct horse battery", false}, // no memory bomb
		{strings.Replace(h, "t=2", "t=99", 1), "correct horse battery", false},
		{"", "x", false},
		{"$argon2id$v=19$m=1,t=1,p=1$$", "x", false},
	} {
		if got := verifyPassword(tc.hash, tc.password); got != tc.ok {
			t.Errorf("verify(%q, %q) = %v, want %v", tc.hash, tc.password, got, tc.ok)
		}
	}
}

func TestSignInAndTokens(t *testing.T) {
	forEngines(t, func(t *testing.T) {
		ctx := context.Background()
		now := time.Unix(1_800_000_000, 0)
		s := newService(t, func() time.Time { return now })
		if ok, err := s.Bootstrap(ctx, "short"); ok || fault.KindOf(err) != fault.Invalid {
			t.Fatalf("bootstrap with a short password: %v %v", ok, err)
		}
		if ok, err := s.Bootstrap(ctx, "admin-password"); !ok || err != nil {
			t.Fatalf("bootstrap: %v %v", ok, err)
		}
		if ok, err := s.Bootstrap(ctx, "another-password"); ok || err != nil {
			t.Fatalf("second bootstrap: %v %v", ok, err)
		}
		admin, err := s.SignIn(ctx, "admin", "admin-password", "c1")
		if err != nil || !admin.Admin || admin.Scopes != AllScopes {
			t.Fatalf("admin sign-in: %+v %v", admin, err)
		}
		for _, tc := range []struct{ name, password string }{{"admin", "wrong-password"}, {"nobody", "admin-password"}, {"", ""}} {
			if _, err := s.SignIn(ctx, tc.name, tc.password, "c2"); !IsBadCredentials(err) {
				t.Errorf("sign-in %q/%q: %v, want invalid credentials", tc.name, tc.password, err)
			}
		}

		if _, err := s.CreateUser(ctx, NewUser{Name: "bot", Kind: KindService}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateUser(ctx, NewUser{Name: "bot", Kind: KindService}); fault.KindOf(err) != fault.AlreadyExists {
			t.Fatalf("duplicate user: %v", err)
		}
		if _, err := s.CreateUser(ctx, NewUser{Name: "bad/name", Password: "long-enough-password"}); fault.KindOf(err) != fault.Invalid {
			t.Fatalf("bad name: %v", err)
		}
		if _, err := s.SignIn(ctx, "bot", "", "c3"); !IsBadCredentials(err) {
			t.Fatalf("a service account signed in with no password: %v", err)
		}
		secret, tok, err := s.CreateToken(ctx, admin, NewToken{User: "bot", Name: "ci", Scopes: "deploy", ExpiresIn: "1h"})
		if err != nil {
			t.Fatal(err)
		}
		if tok.User != "bot" || strings.Join(tok.Scopes, ",") != "read,deploy" || !looksLikeToken(secret) {
			t.Fatalf("token %+v %q", tok, secret)
		}
		bot, err := s.Verify(ctx, secret)
		if err != nil || bot.Name != "bot" || bot.Scopes != Read|Deploy || bot.TokenID != tok.ID {
			t.Fatalf("verify: %+v %v", bot, err)
		}
		// A token's holder cannot mint more than it has; a service account holds no admin.
		if _, _, err := s.CreateToken(ctx, bot, NewToken{Scopes: "write"}); fault.KindOf(err) != fault.PermissionDenied {
			t.Fatalf("escalation: %v", err)
		}
		if _, _, err := s.CreateToken(ctx, admin, NewToken{User: "bot", Scopes: "admin"}); fault.KindOf(err) != fault.PermissionDenied {
			t.Fatalf("admin token for a non-admin: %v", err)
		}
		if _, _, err := s.CreateToken(ctx, admin, NewToken{Scopes: "root"}); fault.KindOf(err) != fault.Invalid {
			t.Fatalf("unknown scope: %v", err)
		}

		// Expiry: the cached answer ends with the token.
		now = now.Add(2 * time.Hour)
		if _, err := s.Verify(ctx, secret); !IsBadCredentials(err) {
			t.Fatalf("expired token: %v", err)
		}

		// Revocation empties the cache at once.
		secret2, tok2, err := s.CreateToken(ctx, admin, NewToken{Scopes: "read", ExpiresIn: "never"})
		if err != nil || tok2.ExpiresAt != nil {
			t.Fatal(tok2, err)
		}
		if _, err := s.Verify(ctx, secret2); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeToken(ctx, bot, tok2.ID); fault.KindOf(err) != fault.NotFound {
			t.Fatalf("revoking another's token: %v", err)
		}
		if err := s.RevokeToken(ctx, admin, tok2.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Verify(ctx, secret2); !IsBadCredentials(err) {
			t.Fatalf("revoked token: %v", err)
		}

		// A changed password takes effect at once too; the last administrator stays.
		newPassword := "a-new-admin-password"
		if _, err := s.UpdateUser(ctx, "admin", UserUpdate{Password: &newPassword}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SignIn(ctx, "admin", "admin-password", "c4"); !IsBadCredentials(err) {
			t.Fatalf("old password: %v", err)
		}
		no := false
		if _, err := s.UpdateUser(ctx, "admin", UserUpdate{Admin: &no}); fault.KindOf(err) != fault.Conflict {
			t.Fatalf("demoting the last admin: %v", err)
		}
		if err := s.DeleteUser(ctx, "admin"); fault.KindOf(err) != fault.Conflict {
			t.Fatalf("deleting the last admin: %v", err)
		}
		if err := s.DeleteUser(ctx, "bot"); err != nil {
			t.Fatal(err)
		}
		if tokens, _ := s.ListTokens(ctx, ""); len(tokens) != 1 || tokens[0].ID != tok2.ID {
			t.Fatalf("tokens after deleting bot: %+v", tokens)
		}
	})
}

func TestFailedSignInsAreLimited(t *testing.T) {
	forEngines(t, func(t *testing.T) {
		ctx := context.Background()
		now := time.Unix(1_800_000_000, 0)
		s := newService(t, func() time.Time { return now })
		if _, err := s.CreateUser(ctx, NewUser{Name: "ana", Password: "ana-password-1"}); err != nil {
			t.Fatal(err)
		}
		for i := range failedBurst {
			if _, err := s.SignIn(ctx, "ana", "guess", "attacker"); !IsBadCredentials(err) {
				t.Fatalf("guess %d: %v", i, err)
			}
		}
		// The name is locked for everyone, the right password included; another name from
		// another address is not.
		for _, client := range []string{"attacker", "elsewhere"} {
			if _, err := s.SignIn(ctx, "ana", "ana-password-1", client); !errors.Is(err, fault.Exhausted) {
				t.Fatalf("from %s past the limit: %v", client, err)
			}
		}
		if _, err := s.CreateUser(ctx, NewUser{Name: "bo", Password: "bo-password-12"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SignIn(ctx, "bo", "bo-password-12", "elsewhere"); err != nil {
			t.Fatalf("another user: %v", err)
		}
		now = now.Add(failedEvery)
		if _, err := s.SignIn(ctx, "ana", "ana-password-1", "elsewhere"); err != nil {
			t.Fatalf("after the window: %v", err)
		}
	})
}
