package registry_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/registry"
)

func TestModelVersionLifecycle(t *testing.T) {
	conform(t, func(t *testing.T, s *registry.Service) {
		ctx := t.Context()
		m := mustModel(t, s, "m")
		v, err := s.CreateModelVersion(ctx, registry.CreateVersionInput{Name: "m", Source: "mlflow-artifacts:/0/run1/artifacts/model",
			RunID: "run1", Description: "first", RunLink: "https://ci.example.com/1",
			Tags: []registry.Tag{{Key: "k", Value: "old"}, {Key: "k", Value: "new"}}})
		wantKind(t, err, ok)
		want := registry.ModelVersion{Name: "m", Version: "1", CreationTimestamp: v.CreationTimestamp, LastUpdatedTimestamp: v.CreationTimestamp,
			CurrentStage: "None", Description: "first", Source: "mlflow-artifacts:/0/run1/artifacts/model", RunID: "run1",
			Status: "READY", RunLink: "https://ci.example.com/1", StorageLocation: "mlflow-artifacts:/0/run1/artifacts/model"}
		if v.CreationTimestamp < m.CreationTimestamp || !sameVersion(v, &want) || !slices.Equal(v.Tags, []registry.Tag{{Key: "k", Value: "new"}}) {
			t.Errorf("created version = %+v", v)
		}
		got := mustGetVersion(t, s, "m", "1")
		if !sameVersion(got, v) {
			t.Errorf("GetModelVersion = %+v, want %+v", got, v)
		}
		if m2 := mustGetModel(t, s, "m"); m2.LastUpdatedTimestamp < v.CreationTimestamp {
			t.Errorf("model last update %d before version creation %d", m2.LastUpdatedTimestamp, v.CreationTimestamp)
		}
		upd, err := s.UpdateModelVersion(ctx, "m", "1", "second")
		wantKind(t, err, ok)
		if upd.Description != "second" {
			t.Errorf("updated description = %q", upd.Description)
		}
		uri, err := s.GetDownloadURI(ctx, "m", "1")
		wantKind(t, err, ok)
		if uri != "mlflow-artifacts:/0/run1/artifacts/model" {
			t.Errorf("download URI = %q", uri)
		}
		wantKind(t, s.SetModelVersionTag(ctx, "m", "1", registry.Tag{Key: "k2", Value: "v"}), ok)
		wantKind(t, s.DeleteModelVersionTag(ctx, "m", "1", "k"), ok)
		wantKind(t, s.DeleteModelVersionTag(ctx, "m", "1", "absent"), ok)
		if tags := mustGetVersion(t, s, "m", "1").Tags; !slices.Equal(tags, []registry.Tag{{Key: "k2", Value: "v"}}) {
			t.Errorf("version tags = %v", tags)
		}
	})
}

// sameVersion compares the fields of versions that the wire carries, and where they are.
func sameVersion(a, b *registry.ModelVersion) bool {
	return a.Name == b.Name && a.Version == b.Version && a.CreationTimestamp == b.CreationTimestamp &&
		a.CurrentStage == b.CurrentStage && a.Description == b.Description && a.Source == b.Source &&
		a.RunID == b.RunID && a.Status == b.Status && a.RunLink == b.RunLink && a.StorageLocation == b.StorageLocation
}

func TestVersionErrors(t *testing.T) {
	conform(t, func(t *testing.T, s *registry.Service) {
		ctx := t.Context()
		mustModel(t, s, "m")
		mustVersion(t, s, "m")
		tests := []struct {
			name string
			err  error
			want fault.Kind
		}{
			{"create in missing model", create(ctx, s, "nope", "mlflow-artifacts:/0/r/artifacts/m"), fault.NotFound},
			{"create without source", create(ctx, s, "m", ""), fault.Invalid},
			{"bad run id", func() error {
				_, err := s.CreateModelVersion(ctx, registry.CreateVersionInput{Name: "m", Source: "mlflow-artifacts:/x", RunID: "../x"})
				return err
			}(), fault.Invalid},
			{"javascript run link", func() error {
				_, err := s.CreateModelVersion(ctx, registry.CreateVersionInput{Name: "m", Source: "mlflow-artifacts:/x", RunLink: "javascript:alert(1)"})
				return err
			}(), fault.Invalid},
			{"get missing version", get(ctx, s, "m", "9"), fault.NotFound},
			{"get version of missing model", get(ctx, s, "nope", "1"), fault.NotFound},
			{"version not a number", get(ctx, s, "m", "one"), fault.Invalid},
			{"empty version", get(ctx, s, "m", ""), fault.Invalid},
			{"update missing", func() error { _, err := s.UpdateModelVersion(ctx, "m", "9", "d"); return err }(), fault.NotFound},
			{"delete missing", s.DeleteModelVersion(ctx, "m", "9"), fault.NotFound},
			{"tag missing", s.SetModelVersionTag(ctx, "m", "9", registry.Tag{Key: "k", Value: "v"}), fault.NotFound},
			{"download missing", func() error { _, err := s.GetDownloadURI(ctx, "m", "9"); return err }(), fault.NotFound},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) { wantKind(t, tc.err, tc.want) })
		}
	})
}

func create(ctx context.Context, s *registry.Service, name, source string) error {
	_, err := s.CreateModelVersion(ctx, registry.CreateVersionInput{Name: name, Source: source})
	return err
}

func get(ctx context.Context, s *registry.Service, name, version string) error {
	_, err := s.GetModelVersion(ctx, name, version)
	return err
}

func TestDeletedVersionNumbersAreNotReused(t *testing.T) {
	conform(t, func(t *testing.T, s *registry.Service) {
		ctx := t.Context()
		mustModel(t, s, "m")
		mustVersion(t, s, "m")
		mustVersion(t, s, "m")
		wantKind(t, s.SetAlias(ctx, "m", "champion", "2"), ok)
		wantKind(t, s.SetAlias(ctx, "m", "stable", "1"), ok)
		wantKind(t, s.DeleteModelVersion(ctx, "m", "2"), ok)
		_, err := s.GetModelVersion(ctx, "m", "2")
		wantKind(t, err, fault.NotFound)
		_, err = s.GetVersionByAlias(ctx, "m", "champion")
		wantKind(t, err, fault.Invalid)
		if m := mustGetModel(t, s, "m"); len(m.Aliases) != 1 || m.Aliases[0].Alias != "stable" {
			t.Errorf("aliases after deleting version 2 = %v", m.Aliases)
		}
		if v := mustVersion(t, s, "m"); v.Version != "3" {
			t.Errorf("version after deleting 2 = %s, want 3", v.Version)
		}
	})
}

func TestConcurrentCreateVersion(t *testing.T) {
	conform(t, func(t *testing.T, s *registry.Service) {
		mustModel(t, s, "busy")
		const n = 20
		got := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				v, err := s.CreateModelVersion(t.Context(), registry.CreateVersionInput{Name: "busy",
					Source: fmt.Sprintf("mlflow-artifacts:/0/r%d/artifacts/model", i)})
				if err != nil {
					t.Errorf("creator %d: %v", i, err)
					return
				}
				got[i] = v.Version
			})
		}
		wg.Wait()
		var want []string
		for i := 1; i <= n; i++ {
			want = append(want, strconv.Itoa(i))
		}
		slices.SortFunc(got, func(a, b string) int { x, _ := strconv.Atoi(a); y, _ := strconv.Atoi(b); return x - y })
		if !slices.Equal(got, want) {
			t.Errorf("versions = %v, want 1..%d exactly", got, n)
		}
	})
}

func TestStagesAndLatestVersions(t *testing.T) {
	conform(t, func(t *testing.T, s *registry.Service) {
		ctx := t.Context()
		mustModel(t, s, "m")
		for range 5 {
			mustVersion(t, s, "m")
		}
		transition := func(version, stage string, archive bool, want fault.Kind) *registry.ModelVersion {
			t.Helper()
			v, err := s.TransitionStage(ctx, "m", version, stage, archive)
			wantKind(t, err, want)
			return v
		}
		if v := transition("1", "production", false, ok); v.CurrentStage != "Production" {
			t.Errorf("stage = %q, want canonical Production", v.CurrentStage)
		}
		transition("2", "Production", false, ok)
		transition("3", "STAGING", false, ok)
		transition("4", "Archived", false, ok)
		transition("1", "Deployed", false, fault.Invalid)
		transition("1", "None", true, fault.Invalid)
		transition("1", "", false, fault.Invalid)
		transition("9", "Staging", false, fault.NotFound)

		latest, err := s.GetLatestVersions(ctx, "m", nil)
		wantKind(t, err, ok)
		want := map[string]string{"2": "Production", "3": "Staging", "4": "Archived", "5": "None"}
		if got := stagesOf(latest); !maps.Equal(got, want) {
			t.Errorf("latest of all stages = %v, want %v", got, want)
		}
		latest, err = s.GetLatestVersions(ctx, "m", []string{"production", "STAGING"})
		wantKind(t, err, ok)
		if got := versionsOf(latest); !sameStrings(got, []string{"2", "3"}) {
			t.Errorf("latest of production and staging = %v", got)
		}
		_, err = s.GetLatestVersions(ctx, "m", []string{"bogus"})
		wantKind(t, err, fault.Invalid)
		_, err = s.GetLatestVersions(ctx, "missing", nil)
		wantKind(t, err, fault.NotFound)

		// Archiving the existing Production versions leaves 5 alone in Production.
		transition("5", "Production", true, ok)
		all, _, err := s.SearchModelVersions(ctx, registry.SearchQuery{Filter: "name = 'm'", MaxResults: 10})
		wantKind(t, err, ok)
		want = map[string]string{"1": "Archived", "2": "Archived", "3": "Staging", "4": "Archived", "5": "Production"}
		if got := stagesOf(all); !maps.Equal(got, want) {
			t.Errorf("stages after archiving = %v, want %v", got, want)
		}
		if m := mustGetModel(t, s, "m"); !maps.Equal(stagesOf(m.LatestVersions), map[string]string{"3": "Staging", "4": "Archived", "5": "Production"}) {
			t.Errorf("model's latest versions = %v", stagesOf(m.LatestVersions))
		}
	})
}
