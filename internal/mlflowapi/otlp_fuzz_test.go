package mlflowapi

import (
	"testing"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/mlship/mlship/internal/fault"
)

// FuzzDecodeOTLPJSON holds OTLP's JSON reader to refusing what it cannot read with a
// client error, never a panic.
func FuzzDecodeOTLPJSON(f *testing.F) {
	for _, seed := range []string{
		`{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "0102030405060708090a0b0c0d0e0f10", "spanId": "0102030405060708", "name": "x"}]}]}]}`,
		`{"resource_spans": [{"scope_spans": [{"spans": [{"trace_id": "zz", "links": [{"traceId": "01"}]}]}]}]}`,
		`{"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": [{"key": "k", "value": {"intValue": "3"}}]}]}]}]}`,
		`{"resourceSpans": 3}`, `[]`, `{`, `"x"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var data tracepb.TracesData
		if err := decodeOTLPJSON(body, &data); err != nil && fault.KindOf(err) != fault.Invalid {
			t.Fatalf("%q: %v is not a client error", body, err)
		}
	})
}
