package auth

import (
	"context"
	"testing"

	"github.com/mlship/mlship/internal/fault"
)

// TestPrecedence holds the way grants combine to MLflow 3's: a DENY granted to the user
// or to any of its teams, on the object or on every object of its kind, wins over every
// other grant; otherwise the highest grant counts, never below the default permission.
func TestPrecedence(t *testing.T) {
	forEngines(t, func(t *testing.T) {
		type g struct {
			p      Principal
			object string
			level  Level
		}
		for _, tc := range []struct {
			name   string
			def    string
			grants []g
			want   Level
		}{
			{"none: the default", "READ", nil, LevelRead},
			{"none: no permissions", "NO_PERMISSIONS", nil, NoPermissions},
			{"own grant", "NO_PERMISSIONS", []g{{Principal{User: "u"}, "1", LevelEdit}}, LevelEdit},
			{"own below the default is the default", "EDIT", []g{{Principal{User: "u"}, "1", LevelRead}}, LevelEdit},
			{"highest of own and teams'", "NO_PERMISSIONS", []g{{Principal{User: "u"}, "1", LevelRead}, {Principal{Team: "a"}, "1", LevelManage}}, LevelManage},
			{"highest of two teams'", "NO_PERMISSIONS", []g{{Principal{Team: "a"}, "1", LevelRead}, {Principal{Team: "b"}, "1", LevelEdit}}, LevelEdit},
			{"own DENY beats a team's grant", "READ", []g{{Principal{User: "u"}, "1", LevelDeny}, {Principal{Team: "a"}, "1", LevelManage}}, LevelDeny},
			{"a team's DENY beats another's", "READ", []g{{Principal{Team: "a"}, "1", LevelDeny}, {Principal{Team: "b"}, "1", LevelEdit}}, LevelDeny},
			{"a team's DENY beats the own grant", "READ", []g{{Principal{Team: "a"}, "1", LevelDeny}, {Principal{User: "u"}, "1", LevelManage}}, LevelDeny},
			{"DENY beats the default", "MANAGE", []g{{Principal{User: "u"}, "1", LevelDeny}}, LevelDeny},
			{"wildcard grant", "NO_PERMISSIONS", []g{{Principal{Team: "a"}, Wildcard, LevelRead}}, LevelRead},
			{"wildcard and own: the highest", "NO_PERMISSIONS", []g{{Principal{Team: "a"}, Wildcard, LevelRead}, {Principal{User: "u"}, "1", LevelEdit}}, LevelEdit},
			{"wildcard DENY beats a grant on the object", "READ", []g{{Principal{Team: "a"}, Wildcard, LevelDeny}, {Principal{User: "u"}, "1", LevelManage}}, LevelDeny},
			{"DENY on another object", "READ", []g{{Principal{User: "u"}, "2", LevelDeny}}, LevelRead},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ctx := context.Background()
				s := newPermService(t, tc.def)
				u := signedIn(t, s, "u", false)
				for _, team := range []string{"a", "b"} {
					if _, err := s.CreateTeam(ctx, team, ""); err != nil {
						t.Fatal(err)
					}
					if err := s.AddMember(ctx, team, "u"); err != nil {
						t.Fatal(err)
					}
				}
				for _, gr := range tc.grants {
					if err := s.Grant(ctx, nil, Experiment, gr.object, gr.p, gr.level); err != nil {
						t.Fatal(err)
					}
				}
				got, err := s.LevelOf(ctx, u, Experiment, "1")
				if err != nil || got != tc.want {
					t.Fatalf("level %s, %v; want %s", got, err, tc.want)
				}
				v, err := s.Visible(WithIdentity(ctx, u), Experiment)
				if err != nil || v.Allows("1") != (tc.want >= LevelRead) {
					t.Errorf("visible %+v %v: allows 1 = %v, want %v", v, err, v.Allows("1"), tc.want >= LevelRead)
				}
			})
		}
	})
}

// TestGrantRefusals: NO_PERMISSIONS is no grant (refused as MLflow 3 refuses it), and a
// grant on every object of a kind is for administrators.
func TestGrantRefusals(t *testing.T) {
	forEngines(t, func(t *testing.T) {
		ctx := context.Background()
		s := newPermService(t, "READ")
		owner := signedIn(t, s, "owner", false)
		signedIn(t, s, "u", false)
		if err := s.GrantCreator(WithIdentity(ctx, owner), Experiment, "1"); err != nil {
			t.Fatal(err)
		}
		if err := s.Grant(ctx, owner, Experiment, "1", Principal{User: "u"}, NoPermissions); fault.KindOf(err) != fault.Invalid {
			t.Errorf("NO_PERMISSIONS granted: %v", err)
		}
		if err := s.Grant(ctx, owner, Experiment, Wildcard, Principal{User: "u"}, LevelRead); fault.KindOf(err) != fault.PermissionDenied {
			t.Errorf("a manager of one experiment granted on all: %v", err)
		}
		if _, err := s.CreateTeam(ctx, "a", ""); err != nil {
			t.Fatal(err)
		}
		tm, _ := s.GetTeam(ctx, "a")
		if _, err := s.AddTeamGrant(ctx, tm.ID, Experiment, "1", NoPermissions); fault.KindOf(err) != fault.Invalid {
			t.Errorf("NO_PERMISSIONS added to a team: %v", err)
		}
		if _, err := s.AddTeamGrant(ctx, tm.ID, "prompt", "1", LevelRead); fault.KindOf(err) != fault.Invalid {
			t.Errorf("a grant on an unknown kind: %v", err)
		}
		if _, err := s.AddTeamGrant(ctx, tm.ID+100, Experiment, "1", LevelRead); fault.KindOf(err) != fault.NotFound {
			t.Errorf("a grant to an unknown team: %v", err)
		}
	})
}

// TestTeamsByID: the ids MLflow's role API hands out (a team's, a team grant's) name
// the same thing while it lives, and nothing after it is deleted, not a newer one.
func TestTeamsByID(t *testing.T) {
	forEngines(t, func(t *testing.T) {
		ctx := context.Background()
		s := newPermService(t, "NO_PERMISSIONS")
		u := signedIn(t, s, "u", false)
		a, err := s.CreateTeam(ctx, "a", "")
		if err != nil {
			t.Fatal(err)
		}
		g, err := s.AddTeamGrant(ctx, a.ID, Experiment, "1", LevelRead)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddTeamGrant(ctx, a.ID, Experiment, "1", LevelEdit); fault.KindOf(err) != fault.AlreadyExists {
			t.Errorf("a second grant on the same object: %v", err)
		}
		if err := s.AddMember(ctx, "a", "u"); err != nil {
			t.Fatal(err)
		}
		if l, _ := s.LevelOf(ctx, u, Experiment, "1"); l != LevelRead {
			t.Errorf("member has %s", l)
		}
		if g2, err := s.SetTeamGrantLevel(ctx, g.ID, LevelDeny); err != nil || g2.ID != g.ID || g2.Level != LevelDeny {
			t.Errorf("level changed: %+v %v", g2, err)
		}
		if l, _ := s.LevelOf(ctx, u, Experiment, "1"); l != LevelDeny {
			t.Errorf("member has %s after the change", l)
		}
		// A user's grant is no team grant.
		if err := s.Grant(ctx, nil, Experiment, "2", Principal{User: "u"}, LevelRead); err != nil {
			t.Fatal(err)
		}
		gs, _ := s.TeamGrants(ctx, a.ID)
		if len(gs[a.ID]) != 1 || gs[a.ID][0].ID != g.ID {
			t.Errorf("team grants %+v", gs)
		}
		if _, err := s.TeamGrant(ctx, g.ID+1); fault.KindOf(err) != fault.NotFound {
			t.Errorf("a user's grant read as a team's: %v", err)
		}
		name, desc := "b", "renamed"
		if tm, err := s.UpdateTeam(ctx, a.ID, &name, &desc); err != nil || tm.Name != "b" || tm.Description != "renamed" || len(tm.Members) != 1 {
			t.Errorf("updated %+v %v", tm, err)
		}
		if err := s.RemoveTeamGrant(ctx, g.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteTeam(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		c, err := s.CreateTeam(ctx, "c", "")
		if err != nil {
			t.Fatal(err)
		}
		if c.ID == a.ID {
			t.Errorf("a deleted team's id %d given again", a.ID)
		}
		if g3, err := s.AddTeamGrant(ctx, c.ID, Experiment, "1", LevelRead); err != nil || g3.ID <= g.ID+1 {
			t.Errorf("a removed grant's id given again: %+v %v", g3, err)
		}
		if _, err := s.TeamByID(ctx, a.ID); fault.KindOf(err) != fault.NotFound {
			t.Errorf("deleted team found: %v", err)
		}
	})
}
