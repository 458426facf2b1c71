package traces

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
)

// attributesJSON is what trace_spans.attributes holds for searches on span attributes:
// a JSON object of the span's attributes by key, each value as the client meant it.
// MLflow's client sends every attribute as a string of JSON ("\"LLM\"", "{\"q\": 1}"),
// which is stored decoded ("LLM", {"q": 1}); a string that is not JSON stays a string,
// and OpenTelemetry's typed values become their JSON (numbers, booleans, arrays,
// objects; bytes in base64). A key sent twice keeps its last value. No attributes: nil.
func attributesJSON(attrs []*commonpb.KeyValue) []byte {
	if len(attrs) == 0 {
		return nil
	}
	last := make(map[string]int, len(attrs))
	for i, kv := range attrs {
		last[kv.Key] = i
	}
	b := make([]byte, 0, 64*len(attrs))
	b = append(b, '{')
	for i, kv := range attrs {
		if last[kv.Key] != i {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = appendJSONString(b, kv.Key)
		b = append(b, ':')
		b = appendAttrValue(b, kv.Value, true)
	}
	b = append(b, '}')
	// PostgreSQL's jsonb refuses the NUL character; the search form does without it.
	if nul := []byte(`\u0000`); bytes.Contains(b, nul) {
		b = bytes.ReplaceAll(b, nul, []byte(`\ufffd`))
	}
	return b
}

// appendAttrValue appends v as JSON; top says v is an attribute's own value, whose
// strings are MLflow's JSON encodings.
func appendAttrValue(b []byte, v *commonpb.AnyValue, top bool) []byte {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		if top && json.Valid([]byte(x.StringValue)) {
			return append(b, x.StringValue...)
		}
		return appendJSONString(b, x.StringValue)
	case *commonpb.AnyValue_BoolValue:
		return strconv.AppendBool(b, x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return strconv.AppendInt(b, x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		if math.IsNaN(x.DoubleValue) || math.IsInf(x.DoubleValue, 0) {
			return appendJSONString(b, strconv.FormatFloat(x.DoubleValue, 'g', -1, 64))
		}
		return strconv.AppendFloat(b, x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_BytesValue:
		return appendJSONString(b, base64.StdEncoding.EncodeToString(x.BytesValue))
	case *commonpb.AnyValue_ArrayValue:
		b = append(b, '[')
		for i, e := range x.ArrayValue.GetValues() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendAttrValue(b, e, false)
		}
		return append(b, ']')
	case *commonpb.AnyValue_KvlistValue:
		b = append(b, '{')
		for i, kv := range x.KvlistValue.GetValues() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, kv.Key)
			b = append(b, ':')
			b = appendAttrValue(b, kv.Value, false)
		}
		return append(b, '}')
	}
	return append(b, "null"...)
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			buf := bytes.NewBuffer(b)
			enc := json.NewEncoder(buf)
			enc.SetEscapeHTML(false) // <, > and & as themselves, as on the fast path
			enc.Encode(s)            // a string always encodes
			return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
