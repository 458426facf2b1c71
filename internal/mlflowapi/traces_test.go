package mlflowapi_test

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"net/http"
	"testing"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

const v3 = "/api/3.0/mlflow/"

func TestStartTraceV3Wire(t *testing.T) {
	s := newServer(t, nil)
	exp, _ := s.createRun(t, "wire-traces")
	body := `{"trace": {"trace_info": {"trace_id": "tr-abc", "trace_location": {"type": "MLFLOW_EXPERIMENT",
		"mlflow_experiment": {"experiment_id": "` + exp + `"}}, "request_time": "2023-11-14T22:13:20.123Z",
		"execution_duration": "1.500s", "state": "OK", "trace_metadata": {"a": "b"}, "tags": {"t": "v"},
		"request_preview": "in", "response_preview": "out"}}}`
	got := s.do(t, "POST", v3+"traces", body).ok(t)
	info := dig(got, "trace", "trace_info").(map[string]any)
	for k, want := range map[string]any{"trace_id": "tr-abc", "request_time": "2023-11-14T22:13:20.123Z",
		"execution_duration": "1.500s", "state": "OK", "request_preview": "in", "response_preview": "out"} {
		if info[k] != want {
			t.Errorf("%s = %v, want %v", k, info[k], want)
		}
	}
	if loc := dig(info, "tags", "mlflow.artifactLocation"); loc != "mlflow-artifacts:/"+exp+"/traces/tr-abc/artifacts" {
		t.Errorf("artifact location %v", loc)
	}
	if dig(info, "trace_location", "mlflow_experiment", "experiment_id") != exp || dig(info, "trace_metadata", "a") != "b" {
		t.Errorf("info %v", info)
	}
	s.do(t, "GET", api+"traces/tr-abc", nil).ok(t)
	for name, bad := range map[string]string{
		"time":     `{"trace": {"trace_info": {"trace_id": "tr-x", "trace_location": {"mlflow_experiment": {"experiment_id": "` + exp + `"}}, "request_time": "yesterday"}}}`,
		"duration": `{"trace": {"trace_info": {"trace_id": "tr-x", "trace_location": {"mlflow_experiment": {"experiment_id": "` + exp + `"}}, "execution_duration": "5m"}}}`,
		"no info":  `{"trace": {}}`,
		"id":       `{"trace": {"trace_info": {"trace_id": "a/b", "trace_location": {"mlflow_experiment": {"experiment_id": "` + exp + `"}}}}}`,
	} {
		t.Run(name, func(t *testing.T) { s.do(t, "POST", v3+"traces", bad).wantError(t, 400, "INVALID_PARAMETER_VALUE") })
	}
	s.do(t, "GET", v3+"traces/get?trace_id=tr-404", nil).wantError(t, 404, "RESOURCE_DOES_NOT_EXIST")
}

func otlpBody(t *testing.T, traceID []byte, attr int) []byte {
	sp := &tracepb.Span{TraceId: traceID, SpanId: []byte("spanid01"), Name: "root", StartTimeUnixNano: 1e18, EndTimeUnixNano: 1e18 + 5}
	if attr > 0 {
		sp.Name = string(make([]byte, attr)) // a name is no attribute: bounded by the body limit only
	}
	b, err := proto.Marshal(&tracepb.TracesData{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{sp}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func compress(t *testing.T, enc string, b []byte) []byte {
	var buf bytes.Buffer
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	if enc == "gzip" {
		w = gzip.NewWriter(&buf)
	} else {
		w = zlib.NewWriter(&buf)
	}
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestOTLPEncodings(t *testing.T) {
	s := newServer(t, nil) // 1 MiB body limit
	exp, _ := s.createRun(t, "otlp-encodings")
	pb := "application/x-protobuf"
	hdr := func(ct, enc string) []string {
		return []string{"Content-Type", ct, "Content-Encoding", enc, "X-Mlflow-Experiment-Id", exp}
	}
	id1, id2 := []byte("0123456789abcdef"), []byte("fedcba9876543210")
	if r := s.do(t, "POST", "/v1/traces", compress(t, "gzip", otlpBody(t, id1, 0)), hdr(pb, "gzip")...); r.status != 200 || len(r.body) != 0 {
		t.Fatalf("gzip: %d %s", r.status, r.body)
	}
	json := `{"resource_spans": [{"scope_spans": [{"spans": [{"trace_id": "66656463626139383736353433323130", "span_id": "7370616e69643031", "name": "j"}]}]}]}`
	if r := s.do(t, "POST", "/v1/traces", compress(t, "deflate", []byte(json)), hdr("application/json", "deflate")...); r.status != 200 {
		t.Fatalf("deflate JSON: %d %s", r.status, r.body)
	}
	for _, id := range [][]byte{id1, id2} {
		got := s.do(t, "GET", v3+"traces/get?trace_id=tr-"+string(hexOf(id)), nil).ok(t)
		spans := dig(got, "trace", "spans").([]any)
		if len(spans) != 1 || dig(spans[0], "trace_id") != base64.StdEncoding.EncodeToString(id) {
			t.Errorf("spans of %s: %v", id, spans)
		}
	}
	// A body that is small compressed and over the limit once decompressed.
	bomb := compress(t, "gzip", otlpBody(t, []byte("bbbbbbbbbbbbbbbb"), 2<<20))
	s.do(t, "POST", "/v1/traces", bomb, hdr(pb, "gzip")...).wantError(t, http.StatusRequestEntityTooLarge, "REQUEST_LIMIT_EXCEEDED")
	s.do(t, "POST", "/v1/traces", otlpBody(t, id1, 0), hdr(pb, "br")...).wantError(t, 400, "INVALID_PARAMETER_VALUE")
	s.do(t, "POST", "/v1/traces", []byte("not gzip"), hdr(pb, "gzip")...).wantError(t, 400, "INVALID_PARAMETER_VALUE")
	s.do(t, "POST", "/v1/traces", otlpBody(t, id1, 0), hdr("text/plain", "")...).wantError(t, 400, "INVALID_PARAMETER_VALUE")
	s.do(t, "POST", "/v1/traces", otlpBody(t, id1, 0), "Content-Type", pb).wantError(t, 400, "INVALID_PARAMETER_VALUE")
	s.do(t, "POST", "/v1/traces", otlpBody(t, id1, 0), "Content-Type", pb, "X-Mlflow-Experiment-Id", "424242").
		wantError(t, 404, "RESOURCE_DOES_NOT_EXIST")
}

func hexOf(b []byte) []byte {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return out
}
