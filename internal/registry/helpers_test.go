package registry_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/registry"
	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/store/storetest"
)

// ok is the "no error" entry of the tables' wanted fault kinds.
const ok fault.Kind = 0

// loggedModelID is a logged model the fake lookup knows.
const loggedModelID = "m-0123456789abcdef0123456789abcdef"

// fakeLoggedModels knows one logged model.
var fakeLoggedModels = registry.LoggedModelsFunc(func(ctx context.Context, id string) (registry.LoggedModel, error) {
	if id != loggedModelID {
		return registry.LoggedModel{}, fault.NotFoundf("Logged model with ID '%s' not found.", id)
	}
	return registry.LoggedModel{ArtifactURI: "mlflow-artifacts:/1/models/" + id + "/artifacts", SourceRunID: "run1"}, nil
})

// conform runs fn against a fresh service on every engine of the conformance suite.
// The service allows s3 sources and resolves the fake logged model.
func conform(t *testing.T, fn func(t *testing.T, s *registry.Service)) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		fn(t, newService(db))
	})
}

func newService(db *store.DB) *registry.Service {
	return registry.New(db, registry.Options{SourceSchemes: []string{"s3"}, LoggedModels: fakeLoggedModels})
}

// wantKind fails unless err is of kind want (ok: no error).
func wantKind(t *testing.T, err error, want fault.Kind) {
	t.Helper()
	switch {
	case want == ok && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != ok && !errors.Is(err, want):
		t.Fatalf("err = %v, want a %q error", err, want)
	}
}

func mustModel(t *testing.T, s *registry.Service, name string, tags ...registry.Tag) *registry.RegisteredModel {
	t.Helper()
	m, err := s.CreateRegisteredModel(t.Context(), registry.CreateModelInput{Name: name, Tags: tags})
	if err != nil {
		t.Fatalf("CreateRegisteredModel(%q): %v", name, err)
	}
	return m
}

func mustVersion(t *testing.T, s *registry.Service, name string, tags ...registry.Tag) *registry.ModelVersion {
	t.Helper()
	v, err := s.CreateModelVersion(t.Context(), registry.CreateVersionInput{
		Name: name, Source: "mlflow-artifacts:/0/run1/artifacts/model", RunID: "run1", Tags: tags})
	if err != nil {
		t.Fatalf("CreateModelVersion(%q): %v", name, err)
	}
	return v
}

func mustGetModel(t *testing.T, s *registry.Service, name string) *registry.RegisteredModel {
	t.Helper()
	m, err := s.GetRegisteredModel(t.Context(), name)
	if err != nil {
		t.Fatalf("GetRegisteredModel(%q): %v", name, err)
	}
	return m
}

func mustGetVersion(t *testing.T, s *registry.Service, name, version string) *registry.ModelVersion {
	t.Helper()
	v, err := s.GetModelVersion(t.Context(), name, version)
	if err != nil {
		t.Fatalf("GetModelVersion(%q, %s): %v", name, version, err)
	}
	return v
}

// versionsOf returns the version numbers of vs, in order.
func versionsOf(vs []*registry.ModelVersion) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Version
	}
	return out
}

// stagesOf maps the version numbers of vs to their stages.
func stagesOf(vs []*registry.ModelVersion) map[string]string {
	out := map[string]string{}
	for _, v := range vs {
		out[v.Version] = v.CurrentStage
	}
	return out
}

func namesOf(ms []*registry.RegisteredModel) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return out
}

func sameStrings(a, b []string) bool { return slices.Equal(a, b) }
