package auth

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/store"
)

func TestSessions(t *testing.T) {
	forEngines(t, func(t *testing.T) {
		ctx := context.Background()
		now := time.Unix(1_800_000_000, 0)
		s := newService(t, func() time.Time { return now })
		u, _, err := s.ExternalUser(ctx, "https://idp.example", "sub-1", "ana")
		if err != nil {
			t.Fatal(err)
		}
		policy := SessionPolicy{Lifetime: 8 * time.Hour, IdleTimeout: time.Hour}
		start := func() string {
			t.Helper()
			secret, err := s.StartSession(ctx, u.ID, policy)
			if err != nil {
				t.Fatal(err)
			}
			return secret
		}
		ended := func(what, secret string) {
			t.Helper()
			if id, err := s.VerifySession(ctx, secret); !IsSessionEnded(err) {
				t.Errorf("%s: %+v %v, want the session ended", what, id, err)
			}
		}

		secret := start()
		id, err := s.VerifySession(ctx, secret)
		if err != nil || id.Name != "ana" || id.SessionID == 0 || id.Scopes != userScopes || id.CSRFToken != CSRFToken(secret) {
			t.Fatalf("verify: %+v %v", id, err)
		}
		if other := start(); CSRFToken(other) == id.CSRFToken {
			t.Error("two sessions share a CSRF token")
		}
		// The secret with its last character changed (to one it isn't: 1 in 64 secrets ends in "A").
		changed := secret[:len(secret)-1] + "A"
		if changed == secret {
			changed = secret[:len(secret)-1] + "B"
		}
		for _, forged := range []string{"", "mlss_", changed, secret + "A", "mls_" + secret[5:], "x"} {
			ended("forged "+forged, forged)
		}

		// Used within the idle timeout, it lasts; idle longer, it ends.
		for range 3 {
			now = now.Add(50 * time.Minute)
			if _, err := s.VerifySession(ctx, secret); err != nil {
				t.Fatalf("active session after %s: %v", now.Sub(time.Unix(1_800_000_000, 0)), err)
			}
		}
		idle := start()
		now = now.Add(time.Hour)
		ended("idle for an hour", idle)
		// However active, it ends after its lifetime.
		for now.Before(time.Unix(1_800_000_000, 0).Add(8 * time.Hour)) {
			s.VerifySession(ctx, secret)
			now = now.Add(30 * time.Minute)
		}
		ended("past its lifetime", secret)

		// Logout ends one session; removing the user ends them all.
		a, b := start(), start()
		ida, _ := s.VerifySession(ctx, a)
		if err := s.EndSession(ctx, ida.SessionID); err != nil {
			t.Fatal(err)
		}
		ended("after logout", a)
		if _, err := s.VerifySession(ctx, b); err != nil {
			t.Fatalf("another session after one's logout: %v", err)
		}
		if err := s.EndSessions(ctx, "ana"); err != nil {
			t.Fatal(err)
		}
		ended("after EndSessions", b)
		c := start()
		if _, err := s.CreateUser(ctx, NewUser{Name: "keeper", Password: "keeper-password", Admin: true}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteUser(ctx, "ana"); err != nil {
			t.Fatal(err)
		}
		ended("after the user is removed", c)
	})
}

func TestExternalUser(t *testing.T) {
	forEngines(t, func(t *testing.T) {
		ctx := context.Background()
		s := newService(t, nil)
		if _, err := s.CreateUser(ctx, NewUser{Name: "ana", Password: "a-long-password"}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			issuer, subject, name string
			want                  string
			created               bool
		}{
			{"https://a.example", "1", "ana", "ana-2", true}, // never the local ana
			{"https://a.example", "1", "renamed", "ana-2", false},
			{"https://b.example", "1", "ana", "ana-3", true}, // another issuer's subject 1 is someone else
			{"https://a.example", "2", "bo smith/../x", "bo-smith-..-x", true},
			{"https://a.example", "3", "-.@", "sso-", true},
			{"https://a.example", "4", "", "sso-", true},
			{"https://a.example", "5", "carla@example.com", "carla@example.com", true},
		} {
			u, created, err := s.ExternalUser(ctx, tc.issuer, tc.subject, tc.name)
			if err != nil {
				t.Fatalf("%+v: %v", tc, err)
			}
			if created != tc.created || u.Name != tc.want && !(tc.want == "sso-" && len(u.Name) == 16 && u.Name[:4] == "sso-") {
				t.Errorf("%+v: got %q created %v", tc, u.Name, created)
			}
			if u.HasPassword || u.Admin {
				t.Errorf("%+v: an identity provider's user has a password or is admin: %+v", tc, u)
			}
			if _, err := s.SignIn(ctx, u.Name, "", "test"); err == nil {
				t.Errorf("%s signs in with an empty password", u.Name)
			}
		}
		if _, _, err := s.ExternalUser(ctx, "", "x", "y"); err == nil {
			t.Error("a user with no issuer")
		}
	})
}

func TestSyncTeams(t *testing.T) {
	forEngines(t, func(t *testing.T) {
		ctx := context.Background()
		s := newService(t, nil)
		u, _, err := s.ExternalUser(ctx, "https://a.example", "1", "ana")
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"fraud", "risk", "by-hand"} {
			if _, err := s.CreateTeam(ctx, name, ""); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.AddMember(ctx, "by-hand", "ana"); err != nil {
			t.Fatal(err)
		}
		teamsOf := func() []string {
			var out []string
			teams, err := s.ListTeams(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, tm := range teams {
				if slices.Contains(tm.Members, "ana") {
					out = append(out, tm.Name)
				}
			}
			return out
		}
		for _, tc := range []struct {
			groups []string
			create bool
			want   []string
		}{
			{[]string{"fraud", "unknown", "bad name!", "fraud"}, false, []string{"fraud"}},
			{[]string{"risk"}, false, []string{"risk"}},
			{nil, false, nil},
			{[]string{"risk", "new-team"}, true, []string{"new-team", "risk"}},
		} {
			if err := s.SyncTeams(ctx, u.ID, tc.groups, tc.create); err != nil {
				t.Fatal(err)
			}
			if got := teamsOf(); !slices.Equal(got, tc.want) {
				t.Errorf("groups %v (create %v): teams %v, want %v", tc.groups, tc.create, got, tc.want)
			}
		}
		if _, err := s.GetTeam(ctx, "unknown"); err == nil {
			t.Error("a group made a team with creation off")
		}
	})
}

// BenchmarkVerifySession is what a browser's request pays to be signed in by its
// cookie (one indexed read; the last use is written at most once a minute), beside a
// token's check (cached after its first use).
func BenchmarkVerifySession(b *testing.B) {
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite://"+filepath.Join(b.TempDir(), "auth.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s := New(db, slog.New(slog.DiscardHandler), Options{})
	u, _, err := s.ExternalUser(ctx, "https://idp.example", "1", "ana")
	if err != nil {
		b.Fatal(err)
	}
	secret, err := s.StartSession(ctx, u.ID, SessionPolicy{Lifetime: time.Hour, IdleTimeout: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	admin := &Identity{UserID: u.ID, Name: "ana", Admin: true, Scopes: AllScopes}
	token, _, err := s.CreateToken(ctx, admin, NewToken{Name: "t", Scopes: "read"})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("session", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.VerifySession(ctx, secret); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("token", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Verify(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})
}
