package search

import (
	"reflect"
	"strings"
	"testing"
)

type orderCase struct {
	name    string
	schema  *Schema
	clauses []string
	want    []OrderBy
}

func asc(e Entity, key string) OrderBy  { return OrderBy{Entity: e, Key: key} }
func desc(e Entity, key string) OrderBy { return OrderBy{Entity: e, Key: key, Desc: true} }

var orderCases = []orderCase{
	{"runs mixed", Runs, []string{"metrics.rmse DESC", "params.lr", "attributes.start_time ASC"},
		[]OrderBy{desc(Metric, "rmse"), asc(Param, "lr"), asc(Attribute, "start_time")}},
	{"runs backticks", Runs, []string{"metrics.`my metric` desc"}, []OrderBy{desc(Metric, "my metric")}},
	{"runs double quotes", Runs, []string{`metrics."a b" DESC`, `tags."c d"`}, []OrderBy{desc(Metric, "a b"), asc(Tag, "c d")}},
	{"runs direction any case", Runs, []string{"metric.a Desc", "tags.b aSc"}, []OrderBy{desc(Metric, "a"), asc(Tag, "b")}},
	{"runs tab and spaces", Runs, []string{"metrics.a\tDESC", "metrics.b   ASC"}, []OrderBy{desc(Metric, "a"), asc(Metric, "b")}},
	{"runs bare attributes", Runs, []string{"run_name", "status DESC", "end_time"},
		[]OrderBy{asc(Attribute, "run_name"), desc(Attribute, "status"), asc(Attribute, "end_time")}},
	{"runs created alias", Runs, []string{"created DESC"}, []OrderBy{desc(Attribute, "start_time")}},
	{"runs tag key aliased", Runs, []string{"tags.Created"}, []OrderBy{asc(Tag, "start_time")}},
	{"runs dotted key", Runs, []string{"metrics.a.b DESC"}, []OrderBy{desc(Metric, "a.b")}},
	{"runs none", Runs, nil, []OrderBy{}},
	{"experiments", Experiments, []string{"name", "creation_time DESC", "experiment_id", "attribute.last_update_time ASC"},
		[]OrderBy{asc(Attribute, "name"), desc(Attribute, "creation_time"), asc(Attribute, "experiment_id"),
			asc(Attribute, "last_update_time")}},
	{"experiments allow duplicates", Experiments, []string{"name", "name DESC"},
		[]OrderBy{asc(Attribute, "name"), desc(Attribute, "name")}},
	{"registered models", RegisteredModels, []string{"name DESC", "timestamp"},
		[]OrderBy{desc(Attribute, "name"), asc(Attribute, "last_updated_timestamp")}},
	{"registered models timestamp desc", RegisteredModels, []string{"timestamp DESC"}, []OrderBy{desc(Attribute, "last_updated_timestamp")}},
	{"registered models last updated", RegisteredModels, []string{"last_updated_timestamp ASC"},
		[]OrderBy{asc(Attribute, "last_updated_timestamp")}},
	{"registered models quotes removed by shlex", RegisteredModels, []string{"`name` DESC"}, []OrderBy{desc(Attribute, "name")}},
	{"model versions", ModelVersions, []string{"name", "version_number DESC", "attribute.creation_timestamp", `attribute."last_updated_timestamp" ASC`},
		[]OrderBy{asc(Attribute, "name"), desc(Attribute, "version_number"), asc(Attribute, "creation_timestamp"),
			asc(Attribute, "last_updated_timestamp")}},
	{"logged models fields", LoggedModels, []string{"creation_time", "metrics.acc", "last_updated_timestamp", " name "},
		[]OrderBy{asc(Attribute, "creation_timestamp"), asc(Metric, "acc"), asc(Attribute, "last_updated_timestamp"), asc(Attribute, "name")}},
	{"logged models metric key verbatim", LoggedModels, []string{"metrics.`a b`"}, []OrderBy{asc(Metric, "`a b`")}},
}

func TestParseOrderBy(t *testing.T) {
	for _, tc := range orderCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseOrderBy(tc.clauses, tc.schema)
			if err != nil {
				t.Fatalf("ParseOrderBy(%q, %v): %v", tc.clauses, tc.schema, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseOrderBy(%q, %v)\n got %+v\nwant %+v", tc.clauses, tc.schema, got, tc.want)
			}
		})
	}
}

type orderErrorCase struct {
	name    string
	schema  *Schema
	clauses []string
	wantErr string
}

var orderErrorCases = []orderErrorCase{
	{"invalid direction", Runs, []string{"metrics.a DOWN"}, "Invalid ordering key in order_by clause 'metrics.a DOWN'"},
	{"nulls last", Runs, []string{"metrics.a DESC NULLS LAST"}, "Could not be parsed"},
	{"two directions", Runs, []string{"metrics.a ASC DESC"}, "Could not be parsed"},
	{"leading space", Runs, []string{" metrics.a"}, "Could not be parsed"},
	{"trailing space", Runs, []string{"metrics.a "}, "Could not be parsed"},
	{"two keys in one clause", Runs, []string{"metrics.a, metrics.b"}, "Could not be parsed"},
	{"empty", Runs, []string{""}, "Could not be parsed"},
	{"unbalanced backtick", Runs, []string{"metrics.`a"}, "Could not be parsed"},
	{"semicolon", Runs, []string{"metrics.a;"}, "Could not be parsed"},
	{"unknown attribute", Runs, []string{"attributes.foo"}, "Invalid attribute key 'foo'"},
	{"run name alias is not orderable", Runs, []string{"`Run Name`"}, "Invalid attribute key 'Run Name'"},
	{"unknown entity", Runs, []string{"metricz.a"}, "Invalid entity type 'metricz'"},
	{"dataset", Runs, []string{"datasets.name"}, "Invalid order_by entity: dataset"},
	{"duplicate metric", Runs, []string{"metrics.a", "metric.a DESC"}, "`order_by` contains duplicate fields"},
	{"duplicate through alias", Runs, []string{"start_time", "created DESC"}, "duplicate fields"},
	{"experiments tag", Experiments, []string{"tags.x"}, "Invalid order_by entity: tag"},
	{"experiments attributes prefix", Experiments, []string{"attributes.name"}, "Invalid entity type 'attributes'"},
	{"experiments unknown", Experiments, []string{"foo"}, "Invalid attribute key 'foo'"},
	{"registered models prefix", RegisteredModels, []string{"attribute.name"}, "Invalid order by key 'attribute.name'"},
	{"registered models quoted", RegisteredModels, []string{"`name`"}, "Invalid order by key '`name`'"},
	{"registered models creation", RegisteredModels, []string{"creation_timestamp"}, "Invalid order by key"},
	{"registered models duplicate", RegisteredModels, []string{"timestamp", "last_updated_timestamp DESC"}, "duplicate fields"},
	{"model versions run_id", ModelVersions, []string{"run_id"}, "Invalid attribute key 'run_id'"},
	{"model versions tag", ModelVersions, []string{"tags.name"}, "Invalid order_by entity: tag"},
	{"model versions duplicate", ModelVersions, []string{"name", "attribute.name DESC"}, "duplicate fields"},
	{"logged models params", LoggedModels, []string{"params.lr"}, "Only metrics are supported"},
	{"logged models attributes prefix", LoggedModels, []string{"attributes.name"}, "Only metrics are supported"},
	{"logged models unknown", LoggedModels, []string{"foo"}, "Invalid order by field name: foo."},
	{"too many tokens", Runs, []string{"metrics.a" + strings.Repeat(" ", 10000) + "DESC"}, "Could not be parsed"},
}

func TestParseOrderByErrors(t *testing.T) {
	for _, tc := range orderErrorCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseOrderBy(tc.clauses, tc.schema)
			if err == nil {
				t.Fatalf("ParseOrderBy(%q, %v) = %+v, want an error", tc.clauses, tc.schema, got)
			}
			assertInvalid(t, err)
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseOrderBy(%q, %v) error %q, want it to contain %q", tc.clauses, tc.schema, err, tc.wantErr)
			}
		})
	}
}

func TestShlexSplit(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`a b`, []string{"a", "b"}},
		{`  a   b  `, []string{"a", "b"}},
		{`metrics."a b" DESC`, []string{"metrics.a b", "DESC"}},
		{`"a""b"`, []string{"ab"}},
		{`""`, []string{""}},
		{`a\ b`, []string{"a b"}},
		{`"a\"b" "c\d"`, []string{`a"b`, `c\d`}},
		{`'a\b'`, []string{`a\b`}},
		{"a\vb", []string{"a\vb"}},
		{"", nil},
	}
	for _, tc := range tests {
		got, ok := shlexSplit(tc.in)
		if !ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("shlexSplit(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
	for _, in := range []string{`"a`, `'a`, `a\`} {
		if got, ok := shlexSplit(in); ok {
			t.Errorf("shlexSplit(%q) = %q, want failure", in, got)
		}
	}
}
