package auth

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/store/storetest"
)

func newPermService(t *testing.T, def string) *Service {
	t.Helper()
	return New(storetest.Open(t, engineOf(t)), slog.New(slog.DiscardHandler), Options{DefaultPermission: def})
}

func signedIn(t *testing.T, s *Service, name string, admin bool) *Identity {
	t.Helper()
	u, err := s.CreateUser(context.Background(), NewUser{Name: name, Password: name + "-password-long", Admin: admin})
	if err != nil {
		t.Fatal(err)
	}
	return &Identity{UserID: u.ID, Name: u.Name, Kind: KindUser, Admin: admin, Scopes: rights(*u)}
}

// TestCan checks who may do what with an object: a DENY (own or a team's) wins, else
// the highest of the user's and its teams' grants, else the default permission;
// administrators may do anything.
func TestCan(t *testing.T) {
	forEngines(t, func(t *testing.T) {
		for _, def := range []string{"READ", "NO_PERMISSIONS"} {
			t.Run(def, func(t *testing.T) {
				ctx := context.Background()
				s := newPermService(t, def)
				admin := signedIn(t, s, "root", true)
				owner, reader, editor, member, denied, stranger := signedIn(t, s, "owner", false), signedIn(t, s, "reader", false),
					signedIn(t, s, "editor", false), signedIn(t, s, "member", false), signedIn(t, s, "denied", false), signedIn(t, s, "stranger", false)
				if err := s.GrantCreator(WithIdentity(ctx, owner), Experiment, "1"); err != nil {
					t.Fatal(err)
				}
				grant := func(caller *Identity, p Principal, l Level) error {
					return s.Grant(ctx, caller, Experiment, "1", p, l)
				}
				must := func(err error) {
					t.Helper()
					if err != nil {
						t.Fatal(err)
					}
				}
				if _, err := s.CreateTeam(ctx, "ds", ""); err != nil {
					t.Fatal(err)
				}
				must(s.AddMember(ctx, "ds", "member"))
				must(s.AddMember(ctx, "ds", "denied"))
				must(grant(owner, Principal{User: "reader"}, LevelRead))
				must(grant(owner, Principal{User: "editor"}, LevelEdit))
				must(grant(owner, Principal{Team: "ds"}, LevelEdit))
				must(grant(admin, Principal{User: "denied"}, LevelDeny))
				// A reader cannot grant; an editor neither.
				for _, c := range []*Identity{reader, editor, member} {
					if err := grant(c, Principal{User: "stranger"}, LevelManage); fault.KindOf(err) != fault.PermissionDenied {
						t.Errorf("%s granted: %v", c.Name, err)
					}
				}
				dflt := LevelRead
				if def == "NO_PERMISSIONS" {
					dflt = NoPermissions
				}
				for _, tc := range []struct {
					who  *Identity
					obj  string
					want Level
				}{
					{admin, "1", LevelManage}, {owner, "1", LevelManage}, {reader, "1", LevelRead}, {editor, "1", LevelEdit},
					{member, "1", LevelEdit}, {denied, "1", LevelDeny}, {stranger, "1", dflt}, {editor, "2", dflt},
				} {
					for l := LevelRead; l <= LevelManage; l++ {
						err := s.Can(WithIdentity(ctx, tc.who), Experiment, tc.obj, l)
						if (err == nil) != (tc.want >= l) {
							t.Errorf("%s %s on experiment %s: %v, has %s", tc.who.Name, l, tc.obj, err, tc.want)
						}
						if err != nil && fault.KindOf(err) != fault.PermissionDenied {
							t.Errorf("refusal of kind %v", fault.KindOf(err))
						}
					}
				}
				// Without an identity (identities off) everything is allowed.
				if err := s.Can(ctx, Experiment, "1", LevelManage); err != nil {
					t.Error(err)
				}
				// Changes are seen at once: the cached grants are dropped.
				must(s.RemoveMember(ctx, "ds", "member"))
				if err := s.Can(WithIdentity(ctx, member), Experiment, "1", LevelEdit); err == nil {
					t.Error("a former member still edits")
				}
				must(s.Revoke(ctx, owner, Experiment, "1", Principal{User: "denied"}))
				if err := s.Can(WithIdentity(ctx, denied), Experiment, "1", LevelEdit); err != nil {
					t.Errorf("the team's EDIT after the denial is revoked: %v", err)
				}
				gs, err := s.ListGrants(ctx, owner, Experiment, "1")
				if err != nil || len(gs) != 4 || gs[0].User != "editor" || gs[3].Team != "ds" {
					t.Errorf("grants %+v %v", gs, err)
				}
				if _, err := s.ListGrants(ctx, reader, Experiment, "1"); fault.KindOf(err) != fault.PermissionDenied {
					t.Errorf("a reader lists grants: %v", err)
				}
			})
		}
	})
}

// TestVisible checks what a search is limited to.
func TestVisible(t *testing.T) {
	forEngines(t, func(t *testing.T) {
		ctx := context.Background()
		for _, tc := range []struct {
			def  string
			only bool
			ids  []string
		}{{"READ", false, []string{"2"}}, {"NO_PERMISSIONS", true, []string{"1"}}} {
			s := newPermService(t, tc.def)
			u := signedIn(t, s, "u", false)
			if err := s.Grant(ctx, nil, Experiment, "1", Principal{User: "u"}, LevelEdit); err != nil {
				t.Fatal(err)
			}
			if err := s.Grant(ctx, nil, Experiment, "2", Principal{User: "u"}, LevelDeny); err != nil {
				t.Fatal(err)
			}
			v, err := s.Visible(WithIdentity(ctx, u), Experiment)
			if err != nil || v == nil || v.Only != tc.only || len(v.IDs) != 1 || v.IDs[0] != tc.ids[0] {
				t.Errorf("%s: visible %+v %v", tc.def, v, err)
			}
			if !v.Allows("1") || v.Allows("2") || v.Allows("3") == tc.only {
				t.Errorf("%s: allows wrong", tc.def)
			}
		}
	})
}

// TestGrantCachedNoQuery checks that a repeated check costs no database query.
func TestGrantCachedNoQuery(t *testing.T) {
	forEngines(t, func(t *testing.T) {
		ctx := context.Background()
		s := newPermService(t, "")
		u := signedIn(t, s, "u", false)
		c := WithIdentity(ctx, u)
		if err := s.Can(c, Experiment, "1", LevelRead); err != nil {
			t.Fatal(err)
		}
		s.db.Close() // a query now would fail
		for i := 0; i < 3; i++ {
			if err := s.Can(c, Experiment, "1", LevelRead); err != nil {
				t.Fatalf("check %d asked the database: %v", i, err)
			}
		}
	})
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]Level{"read": LevelRead, "USE": LevelUse, "Edit": LevelEdit, "MANAGE": LevelManage,
		"NO_PERMISSIONS": NoPermissions, "deny": LevelDeny} {
		if got, err := ParseLevel(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	if _, err := ParseLevel("ALL"); fault.KindOf(err) != fault.Invalid {
		t.Errorf("ALL: %v", err)
	}
}

// BenchmarkCan measures a permission check of an ordinary user holding grants, answered
// from the cache.
func BenchmarkCan(b *testing.B) {
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite://"+filepath.Join(b.TempDir(), "auth.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s := New(db, slog.New(slog.DiscardHandler), Options{})
	u, err := s.CreateUser(ctx, NewUser{Name: "u", Password: "u-password-long"})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 100 {
		if err := s.Grant(ctx, nil, Experiment, fmt.Sprint(i), Principal{User: "u"}, LevelEdit); err != nil {
			b.Fatal(err)
		}
	}
	c := WithIdentity(ctx, &Identity{UserID: u.ID, Name: "u", Kind: KindUser})
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Can(c, Experiment, "42", LevelEdit); err != nil {
			b.Fatal(err)
		}
	}
}
