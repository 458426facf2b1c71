package mlflowapi

import (
	"strings"
	"testing"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// traces.json as MLflow 3.17's client writes it (Span.to_dict), trimmed.
const traceData = `{"spans": [
 {"trace_id": "ESIzRFVmd4iZqrvM3e7/AA==", "span_id": "AQIDBAUGBwg=", "parent_span_id": null, "name": "pipeline",
  "start_time_unix_nano": 1700000000000000000, "end_time_unix_nano": 1700000000500000000,
  "events": [], "status": {"code": "STATUS_CODE_OK", "message": ""},
  "attributes": {"mlflow.spanType": "\"CHAIN\"", "mlflow.spanInputs": "{\"x\": 20}", "team": "\"fraud\"", "k": "3", "ratio": "0.5"},
  "links": []},
 {"trace_id": "ESIzRFVmd4iZqrvM3e7/AA==", "span_id": "CQoLDA0ODxA=", "parent_span_id": "AQIDBAUGBwg=", "name": "retrieve",
  "start_time_unix_nano": 1700000000100000000, "end_time_unix_nano": null,
  "events": [{"name": "cache-miss", "time_unix_nano": 1700000000200000000, "attributes": {"key": "q1", "n": 2}}],
  "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
  "attributes": {"mlflow.spanOutputs": "[\"doc-a\", true, null]", "raw": 7, "not-json": "plain text"}}
]}`

func TestParseTraceData(t *testing.T) {
	spans, err := parseTraceData([]byte(traceData))
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	root, child := spans[0], spans[1]
	if len(root.TraceId) != 16 || len(root.SpanId) != 8 || root.ParentSpanId != nil || string(child.ParentSpanId) != string(root.SpanId) {
		t.Errorf("ids: %x %x %x %x", root.TraceId, root.SpanId, root.ParentSpanId, child.ParentSpanId)
	}
	if root.Status.Code != tracepb.Status_STATUS_CODE_OK || child.Status.Code != tracepb.Status_STATUS_CODE_ERROR ||
		child.Status.Message != "boom" || child.EndTimeUnixNano != 0 || root.EndTimeUnixNano != 1700000000500000000 {
		t.Errorf("status or times: %v %v %d", root.Status, child.Status, child.EndTimeUnixNano)
	}
	// Attribute values are decoded from their JSON: the client encodes them again.
	got := protojson.Format(root)
	for _, want := range []string{`"stringValue":"CHAIN"`, `"key":"x"`, `"intValue":"20"`, `"stringValue":"fraud"`,
		`"intValue":"3"`, `"doubleValue":0.5`} {
		if !strings.Contains(strings.ReplaceAll(got, " ", ""), want) {
			t.Errorf("root lacks %s: %s", want, got)
		}
	}
	got = strings.ReplaceAll(protojson.Format(child), " ", "")
	for _, want := range []string{`"stringValue":"doc-a"`, `"boolValue":true`, `"intValue":"7"`, `"stringValue":"plaintext"`,
		`"name":"cache-miss"`, `"stringValue":"q1"`, `"intValue":"2"`} {
		if !strings.Contains(got, want) {
			t.Errorf("child lacks %s: %s", want, got)
		}
	}
	for _, bad := range []string{`{"spans": [{"trace_id": "short", "span_id": "AQIDBAUGBwg="}]}`, `{"spans": 3}`, `not json`} {
		if _, err := parseTraceData([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}
