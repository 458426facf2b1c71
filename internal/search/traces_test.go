package search

import "testing"

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
	} {
		got, err := ParseFilter(tc.filter, Traces)
		if err != nil || len(got) != 1 || got[0].Entity != tc.want.Entity || got[0].Key != tc.want.Key ||
			got[0].Op != tc.want.Op || got[0].Str != tc.want.Str || got[0].Num != tc.want.Num {
			t.Errorf("%s: got %+v, %v; want %+v", tc.filter, got, err, tc.want)
		}
	}
	for _, bad := range []string{"metrics.x > 1", "status > 'a'", "timestamp = 'x'", "span.name = 'a'"} {
		if _, err := ParseFilter(bad, Traces); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
	obs, err := ParseOrderBy([]string{"timestamp_ms DESC", "tags.x", "name"}, Traces)
	if err != nil || len(obs) != 3 || obs[0].Key != "timestamp_ms" || !obs[0].Desc || obs[1].Entity != Tag {
		t.Errorf("order_by: %+v %v", obs, err)
	}
}
