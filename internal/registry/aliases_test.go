package registry_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/registry"
)

func TestAliasNameRules(t *testing.T) {
	tests := []struct {
		alias string
		want  fault.Kind
	}{
		{"champion", ok},
		{"prod-2024_a", ok},
		{"ünï", ok},
		{"v", ok},
		{"version1", ok},
		{"", fault.Invalid},
		{"latest", fault.Invalid},
		{"LaTeSt", fault.Invalid},
		{"v1", fault.Invalid},
		{"V42", fault.Invalid},
		{"has space", fault.Invalid},
		{"dot.ted", fault.Invalid},
		{"slash/ed", fault.Invalid},
		{strings.Repeat("a", registry.MaxAliasLength), ok},
		{strings.Repeat("a", registry.MaxAliasLength+1), fault.Invalid},
	}
	conform(t, func(t *testing.T, s *registry.Service) {
		mustModel(t, s, "m")
		mustVersion(t, s, "m")
		for _, tc := range tests {
			t.Run(tc.alias, func(t *testing.T) {
				wantKind(t, s.SetAlias(t.Context(), "m", tc.alias, "1"), tc.want)
			})
		}
	})
}

func TestAliases(t *testing.T) {
	conform(t, func(t *testing.T, s *registry.Service) {
		ctx := t.Context()
		mustModel(t, s, "m")
		mustVersion(t, s, "m")
		mustVersion(t, s, "m")

		wantKind(t, s.SetAlias(ctx, "m", "champion", "1"), ok)
		wantKind(t, s.SetAlias(ctx, "m", "challenger", "2"), ok)
		wantKind(t, s.SetAlias(ctx, "m", "champion", "2"), ok) // moves
		wantKind(t, s.SetAlias(ctx, "m", "x", "3"), fault.NotFound)
		wantKind(t, s.SetAlias(ctx, "nope", "x", "1"), fault.NotFound)
		wantKind(t, s.SetAlias(ctx, "m", "x", "two"), fault.Invalid)

		v, err := s.GetVersionByAlias(ctx, "m", "champion")
		wantKind(t, err, ok)
		if v.Version != "2" || !slices.Equal(v.Aliases, []string{"challenger", "champion"}) {
			t.Errorf("champion = version %s with aliases %v", v.Version, v.Aliases)
		}
		m := mustGetModel(t, s, "m")
		want := []registry.Alias{{Alias: "challenger", Version: "2"}, {Alias: "champion", Version: "2"}}
		if !slices.Equal(m.Aliases, want) {
			t.Errorf("model aliases = %v, want %v", m.Aliases, want)
		}
		if v1 := mustGetVersion(t, s, "m", "1"); len(v1.Aliases) != 0 {
			t.Errorf("version 1 aliases = %v", v1.Aliases)
		}

		_, err = s.GetVersionByAlias(ctx, "m", "unknown")
		wantKind(t, err, fault.Invalid)
		_, err = s.GetVersionByAlias(ctx, "nope", "champion")
		wantKind(t, err, fault.NotFound)
		_, err = s.GetVersionByAlias(ctx, "m", "bad alias")
		wantKind(t, err, fault.Invalid)

		wantKind(t, s.DeleteAlias(ctx, "m", "champion"), ok)
		wantKind(t, s.DeleteAlias(ctx, "m", "champion"), ok)
		wantKind(t, s.DeleteAlias(ctx, "nope", "champion"), fault.NotFound)
		_, err = s.GetVersionByAlias(ctx, "m", "champion")
		wantKind(t, err, fault.Invalid)
	})
}

func TestLatestAlias(t *testing.T) {
	conform(t, func(t *testing.T, s *registry.Service) {
		ctx := t.Context()
		mustModel(t, s, "m")
		_, err := s.GetVersionByAlias(ctx, "m", "latest")
		wantKind(t, err, fault.NotFound)
		mustVersion(t, s, "m")
		mustVersion(t, s, "m")
		mustVersion(t, s, "m")
		// The newest version wins whatever the stages.
		_, err = s.TransitionStage(ctx, "m", "1", "Production", false)
		wantKind(t, err, ok)
		for _, alias := range []string{"latest", "LATEST", "Latest"} {
			v, err := s.GetVersionByAlias(ctx, "m", alias)
			wantKind(t, err, ok)
			if v.Version != "3" {
				t.Errorf("%s = version %s, want 3", alias, v.Version)
			}
		}
		wantKind(t, s.DeleteModelVersion(ctx, "m", "3"), ok)
		if v, _ := s.GetVersionByAlias(ctx, "m", "latest"); v == nil || v.Version != "2" {
			t.Errorf("latest after deleting 3 = %+v", v)
		}
	})
}
