package registry_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/registry"
)

func TestRegisteredModelLifecycle(t *testing.T) {
	conform(t, func(t *testing.T, s *registry.Service) {
		ctx := t.Context()
		owner := []registry.Tag{{Key: registry.TagOwner, Value: "fraud-team"}, {Key: registry.TagContact, Value: "#fraud"}}
		m, err := s.CreateRegisteredModel(ctx, registry.CreateModelInput{Name: "fraud", Description: "d", Tags: owner})
		wantKind(t, err, ok)
		if m.Name != "fraud" || m.Description != "d" || m.CreationTimestamp <= 0 || m.LastUpdatedTimestamp != m.CreationTimestamp ||
			len(m.Tags) != 2 || len(m.LatestVersions) != 0 || len(m.Aliases) != 0 {
			t.Errorf("created model = %+v", m)
		}
		_, err = s.CreateRegisteredModel(ctx, registry.CreateModelInput{Name: "fraud"})
		wantKind(t, err, fault.AlreadyExists)
		if !strings.Contains(err.Error(), "Registered Model (name=fraud) already exists.") {
			t.Errorf("duplicate message = %q", err)
		}

		got := mustGetModel(t, s, "fraud")
		if !slices.Equal(got.Tags, []registry.Tag{{Key: registry.TagContact, Value: "#fraud"}, {Key: registry.TagOwner, Value: "fraud-team"}}) {
			t.Errorf("tags = %v", got.Tags)
		}
		upd, err := s.UpdateRegisteredModel(ctx, "fraud", "new description")
		wantKind(t, err, ok)
		if upd.Description != "new description" || upd.LastUpdatedTimestamp < m.LastUpdatedTimestamp {
			t.Errorf("updated model = %+v", upd)
		}
		wantKind(t, s.SetRegisteredModelTag(ctx, "fraud", registry.Tag{Key: registry.TagOwner, Value: "risk"}), ok)
		wantKind(t, s.DeleteRegisteredModelTag(ctx, "fraud", registry.TagContact), ok)
		wantKind(t, s.DeleteRegisteredModelTag(ctx, "fraud", "never-set"), ok)
		if tags := mustGetModel(t, s, "fraud").Tags; !slices.Equal(tags, []registry.Tag{{Key: registry.TagOwner, Value: "risk"}}) {
			t.Errorf("tags after set and delete = %v", tags)
		}

		wantKind(t, s.DeleteRegisteredModel(ctx, "fraud"), ok)
		_, err = s.GetRegisteredModel(ctx, "fraud")
		wantKind(t, err, fault.NotFound)
		wantKind(t, s.DeleteRegisteredModel(ctx, "fraud"), fault.NotFound)
		wantKind(t, s.SetRegisteredModelTag(ctx, "fraud", registry.Tag{Key: "k", Value: "v"}), fault.NotFound)
		_, err = s.UpdateRegisteredModel(ctx, "fraud", "x")
		wantKind(t, err, fault.NotFound)
	})
}

func TestModelAndPromptNamesCollide(t *testing.T) {
	conform(t, func(t *testing.T, s *registry.Service) {
		mustModel(t, s, "shared")
		_, err := s.CreateRegisteredModel(t.Context(), registry.CreateModelInput{Name: "shared",
			Tags: []registry.Tag{{Key: registry.TagIsPrompt, Value: "true"}}})
		wantKind(t, err, fault.AlreadyExists)
		if !strings.Contains(err.Error(), "already taken by a registered model") {
			t.Errorf("message = %q", err)
		}
	})
}

func TestRenameCarriesVersionsTagsAndAliases(t *testing.T) {
	conform(t, func(t *testing.T, s *registry.Service) {
		ctx := t.Context()
		mustModel(t, s, "old", registry.Tag{Key: "team", Value: "a"})
		mustVersion(t, s, "old", registry.Tag{Key: "k", Value: "v"})
		mustVersion(t, s, "old")
		wantKind(t, s.SetAlias(ctx, "old", "champion", "1"), ok)
		mustModel(t, s, "taken")

		_, err := s.RenameRegisteredModel(ctx, "old", "taken")
		wantKind(t, err, fault.AlreadyExists)
		_, err = s.RenameRegisteredModel(ctx, "missing", "new")
		wantKind(t, err, fault.NotFound)
		_, err = s.RenameRegisteredModel(ctx, "old", "")
		wantKind(t, err, fault.Invalid)

		m, err := s.RenameRegisteredModel(ctx, "old", "new")
		wantKind(t, err, ok)
		if m.Name != "new" || len(m.Tags) != 1 || len(m.Aliases) != 1 || len(m.LatestVersions) != 1 || m.LatestVersions[0].Name != "new" {
			t.Errorf("renamed model = %+v", m)
		}
		_, err = s.GetRegisteredModel(ctx, "old")
		wantKind(t, err, fault.NotFound)
		v := mustGetVersion(t, s, "new", "1")
		if v.Name != "new" || !slices.Equal(v.Aliases, []string{"champion"}) || len(v.Tags) != 1 {
			t.Errorf("version after rename = %+v", v)
		}
		byAlias, err := s.GetVersionByAlias(ctx, "new", "champion")
		wantKind(t, err, ok)
		if byAlias.Version != "1" {
			t.Errorf("alias after rename names version %s", byAlias.Version)
		}
		if next := mustVersion(t, s, "new"); next.Version != "3" {
			t.Errorf("version after rename = %s, want 3", next.Version)
		}
	})
}

func TestDeleteModelTakesEverything(t *testing.T) {
	conform(t, func(t *testing.T, s *registry.Service) {
		ctx := t.Context()
		mustModel(t, s, "gone", registry.Tag{Key: "k", Value: "v"})
		mustVersion(t, s, "gone", registry.Tag{Key: "k", Value: "v"})
		wantKind(t, s.SetAlias(ctx, "gone", "prod", "1"), ok)
		wantKind(t, s.DeleteRegisteredModel(ctx, "gone"), ok)

		// A new model of the same name starts afresh.
		m := mustModel(t, s, "gone")
		if len(m.Tags) != 0 || len(m.Aliases) != 0 || len(m.LatestVersions) != 0 {
			t.Errorf("recreated model = %+v", m)
		}
		if v := mustVersion(t, s, "gone"); v.Version != "1" || len(v.Tags) != 0 || len(v.Aliases) != 0 {
			t.Errorf("first version of recreated model = %+v", v)
		}
	})
}

func TestModelNameRules(t *testing.T) {
	tests := []struct {
		name string
		want fault.Kind
	}{
		{"fraud-detector_v2.1", ok},
		{"with space", ok},
		{"Ünïcode", ok},
		{"", fault.Invalid},
		{"   ", fault.Invalid},
		{"a/b", fault.Invalid},
		{"a:b", fault.Invalid},
		{"..", fault.Invalid},
		{".", fault.Invalid},
		{"foo%2Fbar", fault.Invalid},
		{"foo%20", fault.Invalid},
		{"tab\there", fault.Invalid},
		{"nul\x00", fault.Invalid},
		{strings.Repeat("n", registry.MaxNameLength), ok},
		{strings.Repeat("n", registry.MaxNameLength+1), fault.Invalid},
	}
	conform(t, func(t *testing.T, s *registry.Service) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.CreateRegisteredModel(t.Context(), registry.CreateModelInput{Name: tc.name})
				wantKind(t, err, tc.want)
			})
		}
	})
}

func TestTagRules(t *testing.T) {
	tests := []struct {
		tag  registry.Tag
		want fault.Kind
	}{
		{registry.Tag{Key: "mlship.owner", Value: "team"}, ok},
		{registry.Tag{Key: "a b/c:d-e_f", Value: ""}, ok},
		{registry.Tag{Key: "", Value: "v"}, fault.Invalid},
		{registry.Tag{Key: "bad!", Value: "v"}, fault.Invalid},
		{registry.Tag{Key: "../x", Value: "v"}, fault.Invalid},
		{registry.Tag{Key: "/abs", Value: "v"}, fault.Invalid},
		{registry.Tag{Key: strings.Repeat("k", registry.MaxTagKeyLength+1), Value: "v"}, fault.Invalid},
		{registry.Tag{Key: "big", Value: strings.Repeat("v", registry.MaxTagValueLength)}, ok},
		{registry.Tag{Key: "big", Value: strings.Repeat("v", registry.MaxTagValueLength+1)}, fault.Invalid},
	}
	conform(t, func(t *testing.T, s *registry.Service) {
		mustModel(t, s, "m")
		mustVersion(t, s, "m")
		for _, tc := range tests {
			t.Run(tc.tag.Key, func(t *testing.T) {
				wantKind(t, s.SetRegisteredModelTag(t.Context(), "m", tc.tag), tc.want)
				wantKind(t, s.SetModelVersionTag(t.Context(), "m", "1", tc.tag), tc.want)
			})
		}
	})
}
