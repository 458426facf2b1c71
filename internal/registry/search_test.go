package registry_test

import (
	"testing"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/registry"
)

const promptFilter = " AND tag.`mlflow.prompt.is_prompt` != 'true'"

// seedModels creates, in this order: alpha (team=a), beta (team=b), Gamma (no tags) and
// the prompt p (team=a), with a millisecond between them so that update times differ.
func seedModels(t *testing.T, s *registry.Service) {
	t.Helper()
	for _, m := range []struct {
		name string
		tags []registry.Tag
	}{
		{"alpha", []registry.Tag{{Key: "team", Value: "a"}}},
		{"beta", []registry.Tag{{Key: "team", Value: "b"}}},
		{"Gamma", nil},
		{"p", []registry.Tag{{Key: "team", Value: "a"}, {Key: registry.TagIsPrompt, Value: "true"}}},
	} {
		mustModel(t, s, m.name, m.tags...)
		time.Sleep(2 * time.Millisecond)
	}
}

func TestSearchRegisteredModels(t *testing.T) {
	tests := []struct {
		name    string
		filter  string
		orderBy []string
		want    []string
		err     fault.Kind
	}{
		{"all but prompts, by name", "", nil, []string{"Gamma", "alpha", "beta"}, ok},
		{"client's prompt rule", "name LIKE '%a%'" + promptFilter, nil, []string{"Gamma", "alpha", "beta"}, ok},
		{"prompt rule alone", "tag.`mlflow.prompt.is_prompt` != 'true'", nil, []string{"Gamma", "alpha", "beta"}, ok},
		{"prompts only", "tags.`mlflow.prompt.is_prompt` = 'true'", nil, []string{"p"}, ok},
		{"name equal", "name = 'alpha'", nil, []string{"alpha"}, ok},
		{"name not equal", "name != 'alpha'", nil, []string{"Gamma", "beta"}, ok},
		{"like is case-sensitive", "name LIKE 'g%'", nil, nil, ok},
		{"ilike", "name ILIKE 'g%'", nil, []string{"Gamma"}, ok},
		{"name in", "name IN ('beta', 'alpha', 'zeta')", nil, []string{"alpha", "beta"}, ok},
		{"tag", "tags.team = 'a'", nil, []string{"alpha"}, ok},
		{"tag not equal needs the tag", "tags.team != 'a'", nil, []string{"beta"}, ok},
		{"two conditions", "tags.team LIKE '%' AND name != 'beta'", nil, []string{"alpha"}, ok},
		{"name desc", "", []string{"name DESC"}, []string{"beta", "alpha", "Gamma"}, ok},
		{"newest first", "", []string{"last_updated_timestamp DESC"}, []string{"Gamma", "beta", "alpha"}, ok},
		{"timestamp is last update", "", []string{"timestamp ASC"}, []string{"alpha", "beta", "Gamma"}, ok},
		{"creation timestamp refused", "", []string{"creation_timestamp"}, nil, fault.Invalid},
		{"duplicate order", "", []string{"name", "name DESC"}, nil, fault.Invalid},
		{"unknown attribute", "source = 'x'", nil, nil, fault.Invalid},
		{"bad filter", "name = ", nil, nil, fault.Invalid},
	}
	conform(t, func(t *testing.T, s *registry.Service) {
		seedModels(t, s)
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, next, err := s.SearchRegisteredModels(t.Context(), registry.SearchQuery{Filter: tc.filter, OrderBy: tc.orderBy, MaxResults: 100})
				wantKind(t, err, tc.err)
				if tc.err == ok && (!sameStrings(namesOf(got), tc.want) || next != "") {
					t.Errorf("got %v (next %q), want %v", namesOf(got), next, tc.want)
				}
			})
		}
	})
}

func TestSearchRegisteredModelsPages(t *testing.T) {
	conform(t, func(t *testing.T, s *registry.Service) {
		ctx := t.Context()
		seedModels(t, s)
		mustVersion(t, s, "alpha")
		var names []string
		token := ""
		for range 5 {
			page, next, err := s.SearchRegisteredModels(ctx, registry.SearchQuery{MaxResults: 2, PageToken: token})
			wantKind(t, err, ok)
			names = append(names, namesOf(page)...)
			for _, m := range page {
				if m.Name == "alpha" && (len(m.LatestVersions) != 1 || len(m.Tags) != 1) {
					t.Errorf("alpha in search = %+v", m)
				}
			}
			if token = next; token == "" {
				break
			}
		}
		if !sameStrings(names, []string{"Gamma", "alpha", "beta"}) {
			t.Errorf("paged names = %v", names)
		}
		for _, n := range []int{0, -1, registry.MaxSearchModels + 1} {
			_, _, err := s.SearchRegisteredModels(ctx, registry.SearchQuery{MaxResults: n})
			wantKind(t, err, fault.Invalid)
		}
		_, _, err := s.SearchRegisteredModels(ctx, registry.SearchQuery{MaxResults: registry.MaxSearchModels})
		wantKind(t, err, ok)
		_, _, err = s.SearchRegisteredModels(ctx, registry.SearchQuery{MaxResults: 10, PageToken: "not a token"})
		wantKind(t, err, fault.Invalid)
	})
}

func TestSearchModelVersions(t *testing.T) {
	tests := []struct {
		name    string
		filter  string
		orderBy []string
		want    []string // name/version
		err     fault.Kind
	}{
		{"default: newest update first", "", nil, []string{"b/2", "b/1", "a/3", "a/2", "a/1"}, ok},
		{"name", "name = 'a'", nil, []string{"a/3", "a/2", "a/1"}, ok},
		{"name in", "name IN ('b')", nil, []string{"b/2", "b/1"}, ok},
		{"version number", "version_number > 1", []string{"name"}, []string{"a/3", "a/2", "b/2"}, ok},
		{"quoted version number", "version_number = '2'", []string{"name"}, []string{"a/2", "b/2"}, ok},
		{"run id", "run_id = 'run-b'", nil, []string{"b/2", "b/1"}, ok},
		{"run id in", "run_id IN ('run-a', 'zzz')", nil, []string{"a/3", "a/2", "a/1"}, ok},
		{"source path", "source_path LIKE '%/a2/%'", nil, []string{"a/2"}, ok},
		{"tag", "tags.quality = 'good'", nil, []string{"b/1", "a/1"}, ok},
		{"tag and name", "tags.quality = 'good' AND name = 'a'", nil, []string{"a/1"}, ok},
		{"prompt rule", "name = 'a'" + promptFilter, nil, []string{"a/3", "a/2", "a/1"}, ok},
		{"name then version", "", []string{"name ASC"}, []string{"a/3", "a/2", "a/1", "b/2", "b/1"}, ok},
		{"version ascending", "", []string{"name DESC", "version_number ASC"}, []string{"b/1", "b/2", "a/1", "a/2", "a/3"}, ok},
		{"creation time", "", []string{"creation_timestamp ASC"}, []string{"a/1", "a/2", "a/3", "b/1", "b/2"}, ok},
		{"float version refused", "version_number = 1.5", nil, nil, fault.Invalid},
		{"unknown attribute", "stage = 'None'", nil, nil, fault.Invalid},
		{"duplicate order", "", []string{"name", "name"}, nil, fault.Invalid},
	}
	conform(t, func(t *testing.T, s *registry.Service) {
		ctx := t.Context()
		mustModel(t, s, "a")
		mustModel(t, s, "b")
		mustModel(t, s, "p", registry.Tag{Key: registry.TagIsPrompt, Value: "true"})
		for _, v := range []struct{ name, run, quality string }{
			{"a", "run-a", "good"}, {"a", "run-a", ""}, {"a", "run-a", ""}, {"b", "run-b", "good"}, {"b", "run-b", ""}, {"p", "", ""},
		} {
			var tags []registry.Tag
			if v.quality != "" {
				tags = append(tags, registry.Tag{Key: "quality", Value: v.quality})
			}
			if v.name == "p" {
				tags = append(tags, registry.Tag{Key: registry.TagIsPrompt, Value: "true"})
				_, err := s.CreateModelVersion(ctx, registry.CreateVersionInput{Name: "p", Source: "prompt-template", Tags: tags})
				wantKind(t, err, ok)
				continue
			}
			n := len(versionsOfModel(t, s, v.name)) + 1
			_, err := s.CreateModelVersion(ctx, registry.CreateVersionInput{Name: v.name, RunID: v.run, Tags: tags,
				Source: "mlflow-artifacts:/0/" + v.run + "/artifacts/" + v.name + string(rune('0'+n)) + "/model"})
			wantKind(t, err, ok)
			time.Sleep(2 * time.Millisecond)
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, _, err := s.SearchModelVersions(ctx, registry.SearchQuery{Filter: tc.filter, OrderBy: tc.orderBy, MaxResults: 100})
				wantKind(t, err, tc.err)
				if tc.err == ok && !sameStrings(refsOf(got), tc.want) {
					t.Errorf("got %v, want %v", refsOf(got), tc.want)
				}
			})
		}
		got, _, err := s.SearchModelVersions(ctx, registry.SearchQuery{Filter: "tags.`mlflow.prompt.is_prompt` = 'true'", MaxResults: 10})
		wantKind(t, err, ok)
		if !sameStrings(refsOf(got), []string{"p/1"}) {
			t.Errorf("prompt versions = %v", refsOf(got))
		}
		page, next, err := s.SearchModelVersions(ctx, registry.SearchQuery{MaxResults: 3, OrderBy: []string{"name"}})
		wantKind(t, err, ok)
		rest, last, err := s.SearchModelVersions(ctx, registry.SearchQuery{MaxResults: 3, OrderBy: []string{"name"}, PageToken: next})
		wantKind(t, err, ok)
		if !sameStrings(append(refsOf(page), refsOf(rest)...), []string{"a/3", "a/2", "a/1", "b/2", "b/1"}) || next == "" || last != "" {
			t.Errorf("pages = %v %v (tokens %q, %q)", refsOf(page), refsOf(rest), next, last)
		}
		_, _, err = s.SearchModelVersions(ctx, registry.SearchQuery{MaxResults: registry.MaxSearchVersions + 1})
		wantKind(t, err, fault.Invalid)
	})
}

func versionsOfModel(t *testing.T, s *registry.Service, name string) []*registry.ModelVersion {
	t.Helper()
	vs, _, err := s.SearchModelVersions(t.Context(), registry.SearchQuery{Filter: "name = '" + name + "'", MaxResults: 100})
	wantKind(t, err, ok)
	return vs
}

func refsOf(vs []*registry.ModelVersion) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Name + "/" + v.Version
	}
	return out
}
