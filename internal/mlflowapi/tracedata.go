package mlflowapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/traces"
	"github.com/mlship/mlship/internal/tracking"
)

// maxTraceDataBytes caps the traces.json read for one trace: a bigger one is answered
// without its spans (the client reads it from the artifact store itself).
const maxTraceDataBytes = 64 << 20

// errTraceDataTooLarge says a trace's traces.json is over maxTraceDataBytes.
var errTraceDataTooLarge = errors.New("traces.json is too large to serve")

// artifactSpans returns the spans that MLflow's client uploaded for a trace, as
// traces.json under the trace's artifact location (the tag mlflow.artifactLocation),
// as OTLP spans: what traces/get answers for the spans the server keeps itself. A
// trace whose location this server does not store, or whose file is not there (yet),
// has none.
func (a *API) artifactSpans(ctx context.Context, info *traces.Info) ([]*tracepb.Span, error) {
	if a.blobs == nil || info.Tags[traces.TagSpansLocation] == traces.SpansInStore {
		return nil, nil
	}
	base, ok := tracking.ArtifactKey(info.Tags[traces.TagArtifactLocation])
	if !ok || base == "" {
		return nil, nil
	}
	obj, err := a.blobs.Open(ctx, base+"/traces.json")
	if fault.KindOf(err) == fault.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	if obj.Info().Size > maxTraceDataBytes {
		return nil, errTraceDataTooLarge
	}
	b, err := io.ReadAll(io.LimitReader(obj, maxTraceDataBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxTraceDataBytes {
		return nil, errTraceDataTooLarge
	}
	return parseTraceData(b)
}

// spanDict is a span as MLflow 3's Span.to_dict writes it in traces.json: OTLP's
// fields, ids in base64, attributes as a map of JSON-encoded values, events' attributes
// as plain values.
type spanDict struct {
	TraceID           string                     `json:"trace_id"`
	SpanID            string                     `json:"span_id"`
	ParentSpanID      *string                    `json:"parent_span_id"`
	Name              string                     `json:"name"`
	StartTimeUnixNano uint64                     `json:"start_time_unix_nano"`
	EndTimeUnixNano   *uint64                    `json:"end_time_unix_nano"`
	Attributes        map[string]json.RawMessage `json:"attributes"`
	Status            struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"status"`
	Events []struct {
		Name         string                     `json:"name"`
		TimeUnixNano uint64                     `json:"time_unix_nano"`
		Attributes   map[string]json.RawMessage `json:"attributes"`
	} `json:"events"`
}

// parseTraceData reads traces.json ({"spans": [...]}) into OTLP spans. A span attribute
// holds its value JSON-encoded, as MLflow's client sets it; the OTLP span carries the
// value itself (a string, a number, a list, a map), as MLflow's server sends it, and the
// client encodes it again on reading.
func parseTraceData(b []byte) ([]*tracepb.Span, error) {
	var data struct {
		Spans []spanDict `json:"spans"`
	}
	if err := json.Unmarshal(b, &data); err != nil {
		return nil, fmt.Errorf("traces.json: %w", err)
	}
	out := make([]*tracepb.Span, 0, len(data.Spans))
	for i, d := range data.Spans {
		sp, err := d.otlp()
		if err != nil {
			return nil, fmt.Errorf("traces.json: span %d: %w", i, err)
		}
		out = append(out, sp)
	}
	return out, nil
}

func (d spanDict) otlp() (*tracepb.Span, error) {
	sp := &tracepb.Span{Name: d.Name, StartTimeUnixNano: d.StartTimeUnixNano,
		Status: &tracepb.Status{Message: d.Status.Message}}
	var err error
	if sp.TraceId, err = base64.StdEncoding.DecodeString(d.TraceID); err != nil || len(sp.TraceId) != 16 {
		return nil, fmt.Errorf("trace_id %q is not 16 bytes in base64", d.TraceID)
	}
	if sp.SpanId, err = base64.StdEncoding.DecodeString(d.SpanID); err != nil || len(sp.SpanId) != 8 {
		return nil, fmt.Errorf("span_id %q is not 8 bytes in base64", d.SpanID)
	}
	if d.ParentSpanID != nil && *d.ParentSpanID != "" {
		if sp.ParentSpanId, err = base64.StdEncoding.DecodeString(*d.ParentSpanID); err != nil {
			return nil, fmt.Errorf("parent_span_id %q is not base64", *d.ParentSpanID)
		}
	}
	if d.EndTimeUnixNano != nil {
		sp.EndTimeUnixNano = *d.EndTimeUnixNano
	}
	sp.Status.Code = tracepb.Status_StatusCode(tracepb.Status_StatusCode_value[d.Status.Code])
	for _, k := range slices.Sorted(maps.Keys(d.Attributes)) {
		v, err := decodeAttribute(d.Attributes[k])
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		sp.Attributes = append(sp.Attributes, &commonpb.KeyValue{Key: k, Value: v})
	}
	for _, e := range d.Events {
		ev := &tracepb.Span_Event{Name: e.Name, TimeUnixNano: e.TimeUnixNano}
		for _, k := range slices.Sorted(maps.Keys(e.Attributes)) {
			v, err := anyValue(e.Attributes[k])
			if err != nil {
				return nil, fmt.Errorf("event %q attribute %q: %w", e.Name, k, err)
			}
			ev.Attributes = append(ev.Attributes, &commonpb.KeyValue{Key: k, Value: v})
		}
		sp.Events = append(sp.Events, ev)
	}
	return sp, nil
}

// decodeAttribute reads a span attribute of traces.json: a string holding the value's
// JSON, or (set through OpenTelemetry directly) the value itself.
func decodeAttribute(raw json.RawMessage) (*commonpb.AnyValue, error) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return anyValue(raw)
	}
	if json.Valid([]byte(s)) {
		return anyValue(json.RawMessage(s))
	}
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}, nil
}

// anyValue converts a JSON value to OTLP's AnyValue as MLflow's client does: integers
// stay integers, null is an empty AnyValue.
func anyValue(raw json.RawMessage) (*commonpb.AnyValue, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return toAnyValue(v), nil
}

func toAnyValue(v any) *commonpb.AnyValue {
	switch v := v.(type) {
	case string:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}
	case bool:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v}}
	case json.Number:
		if !strings.ContainsAny(string(v), ".eE") {
			if n, err := v.Int64(); err == nil {
				return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: n}}
			}
		}
		f, _ := v.Float64()
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: f}}
	case []any:
		arr := &commonpb.ArrayValue{Values: make([]*commonpb.AnyValue, len(v))}
		for i, x := range v {
			arr.Values[i] = toAnyValue(x)
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: arr}}
	case map[string]any:
		kv := &commonpb.KeyValueList{}
		for _, k := range slices.Sorted(maps.Keys(v)) {
			kv.Values = append(kv.Values, &commonpb.KeyValue{Key: k, Value: toAnyValue(v[k])})
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: kv}}
	}
	return &commonpb.AnyValue{}
}
