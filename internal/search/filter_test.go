package search

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/fault"
)

func str(e Entity, key string, op Op, v string) Comparison {
	return Comparison{Entity: e, Key: key, Op: op, Str: v}
}

func num(e Entity, key string, op Op, v float64) Comparison {
	return Comparison{Entity: e, Key: key, Op: op, Numeric: true, Num: v}
}

func list(e Entity, key string, op Op, v ...string) Comparison {
	return Comparison{Entity: e, Key: key, Op: op, List: v}
}

type filterCase struct {
	name   string
	filter string
	want   []Comparison
}

func runFilterCases(t *testing.T, s *Schema, cases []filterCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseFilter(tc.filter, s)
			if err != nil {
				t.Fatalf("ParseFilter(%q, %v): %v", tc.filter, s, err)
			}
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseFilter(%q, %v)\n got %+v\nwant %+v", tc.filter, s, got, tc.want)
			}
		})
	}
}

type errorCase struct {
	name    string
	filter  string
	wantErr string // a substring of the message
}

func runErrorCases(t *testing.T, s *Schema, cases []errorCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseFilter(tc.filter, s)
			if err == nil {
				t.Fatalf("ParseFilter(%q, %v) = %+v, want an error", tc.filter, s, got)
			}
			assertInvalid(t, err)
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseFilter(%q, %v) error %q, want it to contain %q", tc.filter, s, err, tc.wantErr)
			}
		})
	}
}

func assertInvalid(t *testing.T, err error) {
	t.Helper()
	var fe *fault.Error
	if !errors.As(err, &fe) || !errors.Is(err, fault.Invalid) {
		t.Errorf("error %v (%T) is not a fault.Invalid error", err, err)
	}
}

func TestParseFilterEmpty(t *testing.T) {
	for _, f := range []string{"", " ", "\t\n ", "AND", "and AND"} {
		for _, s := range allSchemas {
			got, err := ParseFilter(f, s)
			if err != nil || len(got) != 0 {
				t.Errorf("ParseFilter(%q, %v) = %v, %v; want no comparisons", f, s, got, err)
			}
		}
	}
}

var allSchemas = []*Schema{Runs, Experiments, RegisteredModels, ModelVersions, LoggedModels, Traces}

var runsFilters = []filterCase{
	{"metric", "metrics.acc > 0.9", []Comparison{num(Metric, "acc", Gt, 0.9)}},
	{"metric alias", "metric.acc >= 1", []Comparison{num(Metric, "acc", Ge, 1)}},
	{"metric negative", "metrics.loss<-1", []Comparison{num(Metric, "loss", Lt, -1)}},
	{"metric exponent", "metrics.loss <= 1E-5", []Comparison{num(Metric, "loss", Le, 1e-5)}},
	{"metric leading dot", "metrics.a = .5", []Comparison{num(Metric, "a", Eq, 0.5)}},
	{"metric trailing dot", "metrics.a != 5.", []Comparison{num(Metric, "a", Ne, 5)}},
	{"metric negative fraction", "metrics.a > -.5", []Comparison{num(Metric, "a", Gt, -0.5)}},
	{"metric infinity", "metrics.a < 1e999", []Comparison{num(Metric, "a", Lt, math.Inf(1))}},
	{"metric backticks", "metrics.`my metric` > 1", []Comparison{num(Metric, "my metric", Gt, 1)}},
	{"metric double quotes", `metrics."my-metric" > 1`, []Comparison{num(Metric, "my-metric", Gt, 1)}},
	{"metric dotted key", "metrics.a.b > 1", []Comparison{num(Metric, "a.b", Gt, 1)}},
	{"metric quoted dotted key", "metrics.`a.b` > 1", []Comparison{num(Metric, "a.b", Gt, 1)}},
	{"metric key with digit", "metrics.1a > 1", []Comparison{num(Metric, "1a", Gt, 1)}},
	{"metric trailing dot key", "metrics. > 1", []Comparison{num(Metric, "", Gt, 1)}},
	{"backticked entity", "`metrics`.a > 1", []Comparison{num(Metric, "a", Gt, 1)}},
	{"param", "params.lr = '0.1'", []Comparison{str(Param, "lr", Eq, "0.1")}},
	{"param aliases", "param.a = 'x' AND parameter.b = 'y' AND parameters.c = 'z'",
		[]Comparison{str(Param, "a", Eq, "x"), str(Param, "b", Eq, "y"), str(Param, "c", Eq, "z")}},
	{"param double-quoted value", `params.opt = "adam"`, []Comparison{str(Param, "opt", Eq, "adam")}},
	{"param like", "params.opt LIKE '%ad_m%'", []Comparison{str(Param, "opt", Like, "%ad_m%")}},
	{"param ilike lower case", "params.opt ilike 'ADAM'", []Comparison{str(Param, "opt", ILike, "ADAM")}},
	{"param single-quoted key", "params.'a b' = 'x'", []Comparison{str(Param, "a b", Eq, "x")}},
	{"doubled quote kept verbatim", "tags.a = 'it''s'", []Comparison{str(Tag, "a", Eq, "it''s")}},
	{"backslash quote kept verbatim", `tags.a = 'a\'b'`, []Comparison{str(Tag, "a", Eq, `a\'b`)}},
	{"empty string", "tags.a = ''", []Comparison{str(Tag, "a", Eq, "")}},
	{"empty double-quoted string", `tags.a = ""`, []Comparison{str(Tag, "a", Eq, "")}},
	{"keyword-looking value", "tags.a = 'x AND y = 1'", []Comparison{str(Tag, "a", Eq, "x AND y = 1")}},
	{"tag", "tags.`mlflow.runName` != 'x'", []Comparison{str(Tag, "mlflow.runName", Ne, "x")}},
	{"tag keys that are sqlparse keywords", "tags.and = 'x' AND tags.desc = 'y' AND tags.like = 'z'",
		[]Comparison{str(Tag, "and", Eq, "x"), str(Tag, "desc", Eq, "y"), str(Tag, "like", Eq, "z")}},
	{"tag key aliased like an attribute", "tags.created = 'x' AND tags.`run name` = 'y'",
		[]Comparison{str(Tag, "start_time", Eq, "x"), str(Tag, "run_name", Eq, "y")}},
	{"unicode", "tags.é = 'ü' AND tags.日本 = '語'", []Comparison{str(Tag, "é", Eq, "ü"), str(Tag, "日本", Eq, "語")}},
	{"bare attribute", "status = 'FINISHED'", []Comparison{str(Attribute, "status", Eq, "FINISHED")}},
	{"attribute aliases", "attribute.run_id = 'a' AND attributes.user_id = 'b' AND attr.artifact_uri = 'c' AND run.run_name = 'd'",
		[]Comparison{str(Attribute, "run_id", Eq, "a"), str(Attribute, "user_id", Eq, "b"),
			str(Attribute, "artifact_uri", Eq, "c"), str(Attribute, "run_name", Eq, "d")}},
	{"run name alias", "`Run Name` = 'x' AND attributes.\"run name\" LIKE 'y%'",
		[]Comparison{str(Attribute, "run_name", Eq, "x"), str(Attribute, "run_name", Like, "y%")}},
	{"quoted bare attribute", `"run_id" = 'x'`, []Comparison{str(Attribute, "run_id", Eq, "x")}},
	{"numeric attribute", "attributes.start_time >= 1700000000000", []Comparison{num(Attribute, "start_time", Ge, 1.7e12)}},
	{"created alias", "created > 5 AND Created < 9.5",
		[]Comparison{num(Attribute, "start_time", Gt, 5), num(Attribute, "start_time", Lt, 9.5)}},
	{"end_time", "end_time != 0", []Comparison{num(Attribute, "end_time", Ne, 0)}},
	{"run_id in", "attributes.run_id IN ('a', 'b')", []Comparison{list(Attribute, "run_id", In, "a", "b")}},
	{"run_id not in lower case", "run_id not in ('a')", []Comparison{list(Attribute, "run_id", NotIn, "a")}},
	{"in without space", "run_id IN('a','b',)", []Comparison{list(Attribute, "run_id", In, "a", "b")}},
	{"in list mixed quotes", `run_id IN ('a', "b")`, []Comparison{list(Attribute, "run_id", In, "a", "b")}},
	{"in list python escapes", `run_id IN ('\x41\u00e9\101\d', 'x\ty')`,
		[]Comparison{list(Attribute, "run_id", In, `AéA\d`, "x\ty")}},
	{"in list adjacent literals", "run_id IN ('a' 'b', 'it''s')", []Comparison{list(Attribute, "run_id", In, "ab", "its")}},
	{"in list newlines", "run_id IN (\n'a',\n'b'\n)", []Comparison{list(Attribute, "run_id", In, "a", "b")}},
	{"dataset", "datasets.name = 'train' AND dataset.digest != 'abc'",
		[]Comparison{str(Dataset, "name", Eq, "train"), str(Dataset, "digest", Ne, "abc")}},
	{"dataset in", "datasets.context IN ('training', 'eval')", []Comparison{list(Dataset, "context", In, "training", "eval")}},
	{"dataset not in", "datasets.digest NOT IN ('x')", []Comparison{list(Dataset, "digest", NotIn, "x")}},
	{"and any case", "metrics.a > 1 and metrics.b < 2 And metrics.c = 3",
		[]Comparison{num(Metric, "a", Gt, 1), num(Metric, "b", Lt, 2), num(Metric, "c", Eq, 3)}},
	{"whitespace everywhere", " \tmetrics.a\n>\r\n1\u3000AND\ttags.b='c' ", []Comparison{num(Metric, "a", Gt, 1), str(Tag, "b", Eq, "c")}},
	{"no whitespace", "metrics.a>=1 AND tags.b!='c'", []Comparison{num(Metric, "a", Ge, 1), str(Tag, "b", Ne, "c")}},
	{"AND glued to a string", "tags.a = 'x'AND tags.b='y'", []Comparison{str(Tag, "a", Eq, "x"), str(Tag, "b", Eq, "y")}},
	{"AND glued to an exponent", "metrics.a > 1e5AND metrics.b < 2", []Comparison{num(Metric, "a", Gt, 1e5), num(Metric, "b", Lt, 2)}},
	// MLflow only rejects tokens that are neither comparisons nor AND.
	{"leading AND", "AND metrics.a > 1", []Comparison{num(Metric, "a", Gt, 1)}},
	{"trailing AND", "metrics.a > 1 AND", []Comparison{num(Metric, "a", Gt, 1)}},
	{"doubled AND", "metrics.a > 1 AND AND metrics.b > 2", []Comparison{num(Metric, "a", Gt, 1), num(Metric, "b", Gt, 2)}},
	{"missing AND", "metrics.a > 1 metrics.b > 2", []Comparison{num(Metric, "a", Gt, 1), num(Metric, "b", Gt, 2)}},
	{"missing AND after IN", "run_id IN ('a') metrics.b > 2", []Comparison{list(Attribute, "run_id", In, "a"), num(Metric, "b", Gt, 2)}},
	{"IN after AND", "metrics.b > 2 AND run_id IN ('a')", []Comparison{num(Metric, "b", Gt, 2), list(Attribute, "run_id", In, "a")}},
}

func TestParseFilterRuns(t *testing.T) { runFilterCases(t, Runs, runsFilters) }

var runsErrors = []errorCase{
	{"or", "metrics.a = 1 or metrics.b = 2", "Invalid clause(s) in filter string: 'or'"},
	{"not", "not metrics.a = 1", "Invalid clause(s)"},
	{"parentheses", "(metrics.a = 1)", "Invalid clause(s)"},
	{"parenthesized second", "tags.a='x' and(tags.b='y')", "Invalid clause(s)"},
	{"trailing semicolon", "metrics.a > 1;", "Invalid clause(s) in filter string: ';'"},
	{"two statements", "metrics.a > 1; metrics.b > 2", "Invalid clause(s)"},
	{"comment", "metrics.a > 1 -- c", "Invalid clause(s)"},
	{"block comment", "metrics.a > 1 /* c */", "Invalid clause(s)"},
	{"trailing garbage", "metrics.a > 1 x", "Invalid clause(s)"},
	{"trailing value", "tags.a = 'x' 'y'", "Invalid clause(s)"},
	{"missing value", "metrics.a >", "Invalid clause(s) in filter string: 'metrics.a', '>'"},
	{"missing operator", "metrics.a", "Invalid clause(s)"},
	{"value first", "'run_id' = 'x'", "Invalid clause(s)"},
	{"unbalanced quote", "tags.a = 'x", "Invalid clause(s)"},
	{"unbalanced double quote", `tags.a = "x`, "Invalid clause(s)"},
	{"unbalanced backtick", "tags.`a = 'x'", "Invalid clause(s)"},
	{"unbalanced parenthesis", "run_id IN ('a'", "Invalid clause(s)"},
	{"IN after a comparison without AND", "metrics.a > 1 run_id IN ('a')", "Invalid clause(s)"},
	{"two IN without AND", "run_id IN ('a') run_id IN ('b')", "Invalid clause(s)"},
	{"IN without list", "run_id IN 'a'", "Invalid clause(s)"},
	{"list with =", "run_id = ('a')", "only be compared with IN or NOT IN"},
	{"double equals", "metrics.a == 1", "Invalid comparator '=='"},
	{"sql not equal", "metrics.a <> 1", "Invalid comparator '<>'"},
	{"not like", "params.a NOT LIKE 'x'", "Invalid comparator 'NOT LIKE'"},
	{"is null", "tags.a IS NULL", "Invalid comparator 'IS NULL'"},
	{"space before dot", "metrics .a > 1", "Invalid clause(s)"},
	{"space after dot", "metrics. a > 1", "Invalid clause(s)"},
	{"key is a keyword", "tags.in = 'x'", "Invalid clause(s)"},
	{"key starting with digits", "tags.12a = 'x'", "Invalid clause(s)"},
	{"number glued to a word", "metrics.a > 1AND metrics.b < 2", "Expected numeric value type for metric. Found 1AND"},
	{"hex number", "metrics.a > 0x10", "Invalid clause(s)"},
	{"plus exponent", "metrics.a > 1e+5", "Invalid clause(s)"},
	{"arithmetic", "metrics.a > 1-2", "Invalid clause(s)"},
	{"operator in key", "metrics.a-b > 1", "Invalid clause(s)"},
	{"unknown entity", "metricz.a > 1", "Invalid entity type 'metricz'"},
	{"entity is case-sensitive", "Metrics.a > 1", "Invalid entity type 'Metrics'"},
	{"quoted entity", `"metrics".a > 1`, "Invalid entity type"},
	{"unknown attribute", "attributes.foo = 'x'", "Invalid attribute key 'foo'"},
	{"attribute is case-sensitive", "STATUS = 'x'", "Invalid attribute key 'STATUS'"},
	{"unknown dataset key", "datasets.profile = 'x'", "Invalid dataset key 'profile'"},
	{"metric with string", "metrics.a > '1'", "Expected numeric value type for metric. Found '1'"},
	{"metric with double-quoted string", `metrics.a > "1"`, "Expected numeric value type for metric"},
	{"metric with like", "metrics.a LIKE 1", "Invalid comparator 'LIKE'"},
	{"metric with list", "metrics.a IN ('1')", "Expected numeric value type for metric"},
	{"param with number", "params.a = 1", "Expected a quoted string value for parameter"},
	{"param with unquoted word", "params.a = abc", "is either not quoted"},
	{"param with backticks", "params.a = `abc`", "is either not quoted"},
	{"param with >", "params.a > 'x'", "Invalid comparator '>'"},
	{"param with IN", "params.a IN ('x')", "Expected a quoted string value for parameter"},
	{"tag with number", "tags.a = 1", "Expected a quoted string value for tag"},
	{"string attribute with number", "status = 1", "Expected a quoted string value for attributes"},
	{"string attribute with >", "status > 'a'", "Invalid comparator '>'"},
	{"numeric attribute with string", "start_time > '1'", "Expected numeric value type for numeric attribute"},
	{"numeric attribute with like", "start_time LIKE 1", "Invalid comparator 'LIKE'"},
	{"IN on another attribute", "status IN ('a')", "Only ['run_id'] attributes support comparison with a list"},
	{"empty list", "run_id IN ()", "but got empty list"},
	{"list of numbers", "run_id IN (1)", "ill-formed list"},
	{"list with two commas", "run_id IN ('a',,'b')", "ill-formed list"},
	{"list with only a comma", "run_id IN (,)", "ill-formed list"},
	{"nested list", "run_id IN (('a'))", "ill-formed list"},
	{"list with a newline in a string", "run_id IN ('a\nb')", "ill-formed list"},
	{"list with a bad escape", `run_id IN ('\x4')`, "ill-formed list"},
	{"list with a named escape", `run_id IN ('\N{DASH}')`, "ill-formed list"},
	{"list with a non-breaking space", "run_id IN ('a',\u00a0'b')", "ill-formed list"},
	{"list hiding a parenthesis", `run_id IN ('a\\', ')')`, "Invalid clause(s)"},
	{"dataset with number", "datasets.name = 1", "Expected a quoted string value for dataset attributes"},
	{"dataset with >", "datasets.name > 'a'", "Invalid comparator '>'"},
	{"not valid utf-8", "tags.a = '\xff'", "not valid UTF-8"},
	{"too many tokens", strings.Repeat("metrics.a > 1 AND ", 1001), "Error on parsing filter"},
}

func TestParseFilterRunsErrors(t *testing.T) { runErrorCases(t, Runs, runsErrors) }

var experimentsFilters = []filterCase{
	{"name", "name = 'Default'", []Comparison{str(Attribute, "name", Eq, "Default")}},
	{"attribute prefix", "attribute.name LIKE '%x%'", []Comparison{str(Attribute, "name", Like, "%x%")}},
	{"quoted name", "`name` ILIKE 'x'", []Comparison{str(Attribute, "name", ILike, "x")}},
	{"lower-case like", "name like 'x%'", []Comparison{str(Attribute, "name", Like, "x%")}},
	{"creation time", "creation_time > 1700000000000", []Comparison{num(Attribute, "creation_time", Gt, 1.7e12)}},
	{"last update time", "last_update_time <= -1", []Comparison{num(Attribute, "last_update_time", Le, -1)}},
	{"tags", "tags.team = 'a' AND tag.`b c` != 'd'", []Comparison{str(Tag, "team", Eq, "a"), str(Tag, "b c", Ne, "d")}},
	{"tag key created is not aliased", "tags.created = 'x'", []Comparison{str(Tag, "created", Eq, "x")}},
}

func TestParseFilterExperiments(t *testing.T) { runFilterCases(t, Experiments, experimentsFilters) }

var experimentsErrors = []errorCase{
	{"attributes prefix", "attributes.name = 'x'", "Invalid entity type 'attributes'"},
	{"backticked prefix", "`tag`.a = 'x'", "Invalid entity type '`tag`'"},
	{"metrics", "metrics.a > 1", "Invalid entity type 'metrics'"},
	{"params", "params.a = 'x'", "Invalid entity type 'params'"},
	{"float time", "creation_time > 1.5", "Invalid value for numeric attribute 'creation_time'"},
	{"exponent time", "creation_time > 1e3", "Invalid value for numeric attribute"},
	{"name in", "name IN ('a')", "support comparison with a list"},
	{"experiment_id", "experiment_id = '1'", "Invalid attribute key 'experiment_id'"},
	{"name with >", "name > 'a'", "Invalid comparator '>'"},
}

func TestParseFilterExperimentsErrors(t *testing.T) { runErrorCases(t, Experiments, experimentsErrors) }

var registeredModelsFilters = []filterCase{
	{"name", "name = 'fraud'", []Comparison{str(Attribute, "name", Eq, "fraud")}},
	{"name like", "name ILIKE '%fraud%'", []Comparison{str(Attribute, "name", ILike, "%fraud%")}},
	{"name in", "name IN ('a', 'b')", []Comparison{list(Attribute, "name", In, "a", "b")}},
	{"name not in", "attribute.name NOT IN ('a')", []Comparison{list(Attribute, "name", NotIn, "a")}},
	{"prompt filter the client adds", "name LIKE 'f%' AND tag.`mlflow.prompt.is_prompt` != 'true'",
		[]Comparison{str(Attribute, "name", Like, "f%"), str(Tag, "mlflow.prompt.is_prompt", Ne, "true")}},
}

func TestParseFilterRegisteredModels(t *testing.T) {
	runFilterCases(t, RegisteredModels, registeredModelsFilters)
}

var registeredModelsErrors = []errorCase{
	{"quoted attribute", `"name" = 'x'`, `Invalid attribute key '"name"'`},
	{"backticked attribute", "attribute.`name` = 'x'", "Invalid attribute key '`name`'"},
	{"other attribute", "creation_timestamp > 1", "Invalid attribute key 'creation_timestamp'"},
	{"number", "name = 1", "Expected a quoted string value for attributes"},
	{"tag in", "tags.a IN ('x')", "Expected a quoted string value for tag"},
	{"tag with >", "tags.a > 'x'", "Invalid comparator '>'"},
	{"metrics", "metrics.a > 1", "Invalid entity type 'metrics'"},
}

func TestParseFilterRegisteredModelsErrors(t *testing.T) {
	runErrorCases(t, RegisteredModels, registeredModelsErrors)
}

var modelVersionsFilters = []filterCase{
	{"name", "name = 'fraud'", []Comparison{str(Attribute, "name", Eq, "fraud")}},
	{"run_id in", "run_id IN ('a', 'b')", []Comparison{list(Attribute, "run_id", In, "a", "b")}},
	{"run_id not in", "run_id NOT IN ('a')", []Comparison{list(Attribute, "run_id", NotIn, "a")}},
	{"source_path", "source_path LIKE 's3://%'", []Comparison{str(Attribute, "source_path", Like, "s3://%")}},
	{"version number", "version_number > 3", []Comparison{num(Attribute, "version_number", Gt, 3)}},
	{"quoted version number", "version_number = '3'", []Comparison{num(Attribute, "version_number", Eq, 3)}},
	{"quoted version number like python's int", "version_number = ' -1_0 '", []Comparison{num(Attribute, "version_number", Eq, -10)}},
	{"tags", "tags.`k` = 'v' AND tag.x LIKE 'y'", []Comparison{str(Tag, "k", Eq, "v"), str(Tag, "x", Like, "y")}},
}

func TestParseFilterModelVersions(t *testing.T) {
	runFilterCases(t, ModelVersions, modelVersionsFilters)
}

var modelVersionsErrors = []errorCase{
	{"float version", "version_number = 3.0", "Invalid value for numeric attribute 'version_number'"},
	{"word version", "version_number = 'three'", "Invalid value for numeric attribute 'version_number': 'three'"},
	{"source_path in", "source_path IN ('a')", "Only ['name', 'run_id'] attributes support comparison with a list"},
	{"version like", "version_number LIKE '3'", "Invalid comparator 'LIKE'"},
	{"run_id with >", "run_id > 'a'", "Invalid comparator '>'"},
	{"quoted attribute", `"name" = 'x'`, "Invalid attribute key"},
	{"attributes prefix", "attributes.name = 'x'", "Invalid entity type 'attributes'"},
}

func TestParseFilterModelVersionsErrors(t *testing.T) {
	runErrorCases(t, ModelVersions, modelVersionsErrors)
}

var loggedModelsFilters = []filterCase{
	{"metric", "metrics.accuracy > 0.9", []Comparison{num(Metric, "accuracy", Gt, 0.9)}},
	{"quoted metric", "metrics.`a b` <= 1", []Comparison{num(Metric, "a b", Le, 1)}},
	{"param", "params.lr = '0.1'", []Comparison{str(Param, "lr", Eq, "0.1")}},
	{"tag", "tags.x LIKE 'y%'", []Comparison{str(Tag, "x", Like, "y%")}},
	{"attributes", "name = 'm' AND attributes.model_type = 'sk' AND status != 'READY' AND source_run_id = 'r'",
		[]Comparison{str(Attribute, "name", Eq, "m"), str(Attribute, "model_type", Eq, "sk"),
			str(Attribute, "status", Ne, "READY"), str(Attribute, "source_run_id", Eq, "r")}},
	{"model_id in", "model_id IN ('m-1', 'm-2')", []Comparison{list(Attribute, "model_id", In, "m-1", "m-2")}},
	{"creation time aliases", "creation_time > 1 AND attributes.creation_timestamp < 2.5",
		[]Comparison{num(Attribute, "creation_timestamp", Gt, 1), num(Attribute, "creation_timestamp", Lt, 2.5)}},
	{"last updated aliases", "last_updated_time >= 1 AND last_updated_timestamp <= 2",
		[]Comparison{num(Attribute, "last_updated_timestamp", Ge, 1), num(Attribute, "last_updated_timestamp", Le, 2)}},
}

func TestParseFilterLoggedModels(t *testing.T) { runFilterCases(t, LoggedModels, loggedModelsFilters) }

var loggedModelsErrors = []errorCase{
	{"singular prefix", "metric.a > 1", "Invalid entity type 'metric'"},
	{"datasets", "datasets.name = 'x'", "Invalid entity type 'datasets'"},
	{"unknown attribute", "artifact_uri = 'x'", "Invalid attribute key 'artifact_uri'"},
	{"param in", "params.a IN ('x')", "Expected a quoted string value for parameter"},
	{"time with string", "creation_time > 'x'", "Expected numeric value type for numeric attribute"},
}

func TestParseFilterLoggedModelsErrors(t *testing.T) {
	runErrorCases(t, LoggedModels, loggedModelsErrors)
}

// TestParseFilterCost: comparisons too costly for the database are refused, those at
// the limits are not.
func TestParseFilterCost(t *testing.T) {
	inList := func(n int) string {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("'%032d'", i)
		}
		return "(" + strings.Join(ids, ", ") + ")"
	}
	long := strings.Repeat("a", MaxLikePattern)
	wild := strings.Repeat("%a", MaxLikeWildcard)
	runErrorCases(t, Runs, []errorCase{
		{"long ILIKE", "tags.t ILIKE '%" + long + "%'", "at most 256 are allowed"},
		{"long LIKE", "params.p LIKE '" + long + "b'", "at most 256 are allowed"},
		{"long attribute LIKE", "attributes.run_name LIKE '" + long + "%'", "at most 256 are allowed"},
		{"many wildcards", "tags.t LIKE '" + wild + "%'", "at most 32 are allowed"},
		// More values than SQLite's 32766 bind variables: refused by the token limit.
		{"40000 run ids", "attributes.run_id IN " + inList(40_000), "Error on parsing filter"},
	})
	runErrorCases(t, ModelVersions, []errorCase{
		{"40000 run ids", "run_id IN " + inList(40_000), "Error on parsing filter"},
	})
	for _, f := range []string{
		"tags.t ILIKE '" + long + "'",
		"tags.t LIKE '" + wild + "'",
		"tags.t = '" + strings.Repeat("a", 5000) + "'", // equality costs one comparison
		"attributes.run_id IN " + inList(3000),
	} {
		if _, err := ParseFilter(f, Runs); err != nil {
			t.Errorf("ParseFilter(%.60q...) at the limit: %v", f, err)
		}
	}
}
