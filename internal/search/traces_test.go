package search

import (
	"reflect"
	"strings"
	"testing"
)

func TestTracesSchema(t *testing.T) {
	for _, tc := range []struct {
		filter string
		want   Comparison
	}{
		{"tags.team = 'a'", Comparison{Entity: Tag, Key: "team", Op: Eq, Str: "a"}},
		{"metadata.`mlflow.sourceRun` = 'r1'", Comparison{Entity: Metadata, Key: "mlflow.sourceRun", Op: Eq, Str: "r1"}},
		{"request_metadata.k LIKE 'v%'", Comparison{Entity: Metadata, Key: "k", Op: Like, Str: "v%"}},
		{"trace.status = 'OK'", Comparison{Entity: Attribute, Key: "status", Op: Eq, Str: "OK"}},
		{"timestamp > 5", Comparison{Entity: Attribute, Key: "timestamp_ms", Op: Gt, Numeric: true, Num: 5}},
		{"attributes.run_id = 'r'", Comparison{Entity: Attribute, Key: "run_id", Op: Eq, Str: "r"}},
		{"span.name = 'retrieve'", Comparison{Entity: Span, Key: "name", Op: Eq, Str: "retrieve"}},
		{"span.`type` != 'LLM'", Comparison{Entity: Span, Key: "type", Op: Ne, Str: "LLM"}},
		{"span.status IN ('OK', 'ERROR')", Comparison{Entity: Span, Key: "status", Op: In, List: []string{"OK", "ERROR"}}},
		{"span.name rlike '^ret.*ve$'", Comparison{Entity: Span, Key: "name", Op: RLike, Str: "^ret.*ve$"}},
		{"span.attributes.model = 'x'", Comparison{Entity: Span, Key: "attributes.model", Op: Eq, Str: "x"}},
		{"span.content ILIKE '%x%'", Comparison{Entity: Span, Key: "content", Op: ILike, Str: "%x%"}},
		{"feedback.correct = 'true'", Comparison{Entity: Feedback, Key: "correct", Op: Eq, Str: "true"}},
		{"feedback.`my score` >= 0.5", Comparison{Entity: Feedback, Key: "my score", Op: Ge, Numeric: true, Num: 0.5}},
		{"expectation.answer LIKE '%paris%'", Comparison{Entity: Expectation, Key: "answer", Op: Like, Str: "%paris%"}},
		{"feedback.score IS NOT NULL", Comparison{Entity: Feedback, Key: "score", Op: IsNotNull}},
		{"expectation.answer is null", Comparison{Entity: Expectation, Key: "answer", Op: IsNull}},
		{"tags.team IS NULL", Comparison{Entity: Tag, Key: "team", Op: IsNull}},
		{"metadata.k IS NOT NULL", Comparison{Entity: Metadata, Key: "k", Op: IsNotNull}},
		{"name IS NULL", Comparison{Entity: Attribute, Key: "name", Op: IsNull}},
		{"tags.team RLIKE 'a|b'", Comparison{Entity: Tag, Key: "team", Op: RLike, Str: "a|b"}},
		{"status RLIKE 'O.'", Comparison{Entity: Attribute, Key: "status", Op: RLike, Str: "O."}},
		{"issue.id = 'iss-1'", Comparison{Entity: Issue, Key: "id", Op: Eq, Str: "iss-1"}},
		{"prompt = 'qa/1'", Comparison{Entity: Attribute, Key: "prompt", Op: Eq, Str: "qa/1"}},
	} {
		got, err := ParseFilter(tc.filter, Traces)
		if err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], tc.want) {
			t.Errorf("%s: got %+v, %v; want %+v", tc.filter, got, err, tc.want)
		}
	}
	got, err := ParseFilter("span.name = 'a' AND tags.x IS NULL AND feedback.f > 1", Traces)
	if err != nil || len(got) != 3 || got[1].Op != IsNull || got[2].Op != Gt {
		t.Errorf("three comparisons: %+v %v", got, err)
	}
	for _, bad := range []struct{ filter, msg string }{
		{"metrics.x > 1", "Invalid entity type"},
		{"status > 'a'", "Invalid comparator"},
		{"timestamp = 'x'", "numeric"},
		{"timestamp IS NULL", "Invalid comparator"},
		{"status IS NULL", "Invalid comparator"},
		{"span.kind = 'a'", "Invalid span attribute 'kind'"},
		{"span.attributes. = 'a'", "cannot be empty"},
		{"span.name > 'a'", "Invalid comparator"},
		{"span.name IS NULL", "Invalid comparator"},
		{"span.content = 'a'", "Invalid comparator"},
		{"span.name = 1", "quoted string"},
		{"feedback.score > '1'", "Expected a numeric value for feedback"},
		{"feedback.score = 1", "Expected a quoted string value for feedback"},
		{"feedback.score IN ('a')", "Expected a quoted string value"},
		{"feedback. = 'a'", "cannot be empty"},
		{"tags.x IS 'a'", "Invalid clause"},
		{"issue.name = 'a'", "Invalid issue attribute 'name'"},
		{"issue.id != 'a'", "Invalid comparator"},
		{"prompt LIKE 'a%'", "Invalid comparator"},
		{"tags.x IS NOT  NULL", "Invalid clause"},
		{"tags.x RLIKE '(a'", "Invalid RLIKE pattern"},
		{"tags.x RLIKE '(?<=a)b'", "Invalid RLIKE pattern"},
		{"tags.x RLIKE '" + strings.Repeat("a", MaxRegexp+1) + "'", "at most 1000"},
	} {
		if _, err := ParseFilter(bad.filter, Traces); err == nil || !strings.Contains(err.Error(), bad.msg) {
			t.Errorf("%s: got %v; want an error containing %q", bad.filter, err, bad.msg)
		}
	}
	for _, s := range []*Schema{Runs, Experiments, RegisteredModels, ModelVersions, LoggedModels} {
		for _, f := range []string{"tags.a RLIKE 'x'", "tags.a IS NOT NULL", "span.name = 'x'", "feedback.a = 'x'"} {
			if _, err := ParseFilter(f, s); err == nil {
				t.Errorf("%s: %s accepted", s, f)
			}
		}
	}
	obs, err := ParseOrderBy([]string{"timestamp_ms DESC", "tags.x", "name"}, Traces)
	if err != nil || len(obs) != 3 || obs[0].Key != "timestamp_ms" || !obs[0].Desc || obs[1].Entity != Tag {
		t.Errorf("order_by: %+v %v", obs, err)
	}
}
