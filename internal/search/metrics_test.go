package search

import (
	"strings"
	"testing"
)

func TestParseMetricsFilter(t *testing.T) {
	for in, want := range map[string]MetricsFilter{
		"trace.status = 'OK'":                {View: "trace", Entity: "status", Value: "OK"},
		"trace.tag.`mlflow.traceName` = 'a'": {View: "trace", Entity: "tag", Key: "mlflow.traceName", Value: "a"},
		"trace.metadata.k = \"v\"":           {View: "trace", Entity: "metadata", Key: "k", Value: "v"},
		"span.type = 'LLM'":                  {View: "span", Entity: "type", Value: "LLM"},
		"assessment.name = 'correct'":        {View: "assessment", Entity: "name", Value: "correct"},
	} {
		if got, err := ParseMetricsFilter(in); err != nil || got != want {
			t.Errorf("%s: got %+v, %v; want %+v", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"trace.status != 'OK'":                   "only '='",
		"trace.tag = 'x'":                        "requires a key",
		"span.name.x = 'x'":                      "does not require a key",
		"run.status = 'x'":                       "Invalid view type",
		"span.kind = 'x'":                        "Invalid entity",
		"trace.status = OK":                      "quoted string",
		"trace.status = 'a' AND span.type = 'b'": "one filter clause",
		"trace.status IS NULL":                   "only '='",
		"status = 'OK'":                          "Invalid identifier",
	} {
		if _, err := ParseMetricsFilter(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: got %v; want an error containing %q", in, err, msg)
		}
	}
}
