package traces

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strings"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// The span attribute MLflow keeps a span's type in (a JSON string, e.g. "\"LLM\"").
const attrSpanType = "mlflow.spanType"

// otelSpan is a received span, checked, with what its row needs.
type otelSpan struct {
	traceID, spanID, parentID string // hex
	span                      *tracepb.Span
	seq                       int    // its place in the request
	content                   []byte // the span as OTLP protobuf
	attributes                any    // attributesJSON as a string, or nil
}

// otelTrace gathers the spans of one trace in a request.
type otelTrace struct {
	id         string // MLflow's: "tr-" and the OTLP trace id in hex
	spans      []otelSpan
	bySpanID   map[string]int // index in spans
	start, end uint64         // nanoseconds: the earliest start and latest end
	root       *tracepb.Span
}

// IngestSpans stores the spans of an OpenTelemetry export request in an experiment,
// all of them or none, creating the traces they belong to (or adding to traces that
// exist in the same experiment). runID, when set, is a run the traces are linked to.
// It returns how many spans it stored.
func (s *Service) IngestSpans(ctx context.Context, experimentID, runID string, data *tracepb.TracesData) (int, error) {
	return s.IngestEncodedSpans(ctx, experimentID, runID, data, nil)
}

// IngestEncodedSpans is IngestSpans for a request received as protobuf: encoded is
// data's encoding, from which each span's bytes are stored as they came rather than
// encoded anew. encoded may be nil.
func (s *Service) IngestEncodedSpans(ctx context.Context, experimentID, runID string, data *tracepb.TracesData, encoded []byte) (int, error) {
	traces, n, err := gatherSpans(data, spanEncodings(encoded))
	if err != nil {
		return 0, err
	}
	if _, err := s.activeExperiment(ctx, experimentID); err != nil {
		return 0, err
	}
	if runID != "" {
		exp, err := s.exps.ExperimentOfRun(ctx, runID)
		if err != nil {
			return 0, err
		}
		if exp != experimentID {
			return 0, fault.Invalidf("Run '%s' is in experiment %s, not %s", clip(runID), exp, experimentID)
		}
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		return writeTraces(ctx, tx, experimentID, runID, traces)
	})
	return n, err
}

// gatherSpans checks every span of a request and groups them by trace, in the order
// of their ids; a span sent twice is kept in its last copy. encoded, when it has as many
// entries as there are spans, holds each span's encoding in order.
func gatherSpans(data *tracepb.TracesData, encoded [][]byte) ([]*otelTrace, int, error) {
	byID := map[string]*otelTrace{}
	n := 0
	for _, rs := range data.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				if n++; n > MaxSpansPerWrite {
					return nil, 0, fault.New(fault.TooLarge, "Too many spans in one request: more than %d; send them in smaller batches", MaxSpansPerWrite)
				}
				os, err := checkSpan(sp)
				if err != nil {
					return nil, 0, err
				}
				os.seq = n
				if len(encoded) >= n {
					os.content = encoded[n-1]
				}
				id := "tr-" + os.traceID
				t := byID[id]
				if t == nil {
					t = &otelTrace{id: id, bySpanID: map[string]int{}}
					byID[id] = t
				}
				t.add(os)
			}
		}
	}
	if n == 0 {
		return nil, 0, fault.Invalidf("Invalid OpenTelemetry request: no spans found")
	}
	traces := make([]*otelTrace, 0, len(byID))
	if len(encoded) != n { // not the encoding of data: encode the spans anew
		for _, t := range byID {
			for i := range t.spans {
				t.spans[i].content = nil
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(byID)) { // one lock order for concurrent writers
		t := byID[id]
		if err := t.finish(); err != nil {
			return nil, 0, err
		}
		traces = append(traces, t)
	}
	return traces, n, nil
}

// add keeps a span, replacing an earlier copy of it.
func (t *otelTrace) add(os otelSpan) {
	if i, dup := t.bySpanID[os.spanID]; dup {
		t.spans[i] = os
		return
	}
	t.bySpanID[os.spanID] = len(t.spans)
	t.spans = append(t.spans, os)
}

// finish sets the trace's times and root from its spans (the root is the last span
// received without a parent) and encodes each span for its row (unless its encoding
// came with it).
func (t *otelTrace) finish() error {
	rootSeq := 0
	t.start = t.spans[0].span.StartTimeUnixNano
	for i := range t.spans {
		os := &t.spans[i]
		t.start = min(t.start, os.span.StartTimeUnixNano)
		t.end = max(t.end, os.span.EndTimeUnixNano)
		if os.parentID == "" && os.seq > rootSeq {
			t.root, rootSeq = os.span, os.seq
		}
		if attrs := attributesJSON(os.span.Attributes); attrs != nil {
			os.attributes = string(attrs)
		}
		if os.content == nil {
			var err error
			if os.content, err = proto.Marshal(os.span); err != nil {
				return fault.Wrap(fault.Invalid, err, "Invalid span '%s'", clip(os.span.Name))
			}
		}
	}
	return nil
}

// checkSpan refuses a span without proper ids or with an attribute over the limit.
func checkSpan(sp *tracepb.Span) (otelSpan, error) {
	switch {
	case len(sp.TraceId) != 16 || isZero(sp.TraceId):
		return otelSpan{}, fault.Invalidf("Invalid span '%s': its trace id must be 16 bytes (32 hex digits), not all zero; got %d bytes", clip(sp.Name), len(sp.TraceId))
	case len(sp.SpanId) != 8 || isZero(sp.SpanId):
		return otelSpan{}, fault.Invalidf("Invalid span '%s': its span id must be 8 bytes (16 hex digits), not all zero; got %d bytes", clip(sp.Name), len(sp.SpanId))
	case len(sp.ParentSpanId) != 0 && len(sp.ParentSpanId) != 8:
		return otelSpan{}, fault.Invalidf("Invalid span '%s': its parent span id must be 8 bytes (16 hex digits) or empty; got %d bytes", clip(sp.Name), len(sp.ParentSpanId))
	}
	if err := checkAttributes(sp.Name, "attribute", sp.Attributes); err != nil {
		return otelSpan{}, err
	}
	for _, e := range sp.Events {
		if err := checkAttributes(sp.Name, "event attribute", e.Attributes); err != nil {
			return otelSpan{}, err
		}
	}
	os := otelSpan{traceID: hex.EncodeToString(sp.TraceId), spanID: hex.EncodeToString(sp.SpanId), span: sp}
	if len(sp.ParentSpanId) == 8 && !isZero(sp.ParentSpanId) {
		os.parentID = hex.EncodeToString(sp.ParentSpanId)
	}
	return os, nil
}

func checkAttributes(span, what string, attrs []*commonpb.KeyValue) error {
	for _, kv := range attrs {
		if n := proto.Size(kv.Value); n > MaxAttributeBytes {
			return fault.New(fault.TooLarge, "The %s '%s' of span '%s' is %d bytes; at most %d are allowed",
				what, clip(kv.Key), clip(span), n, MaxAttributeBytes)
		}
	}
	return nil
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// writeTraces writes a request's spans: the traces that are new get their info
// complete from the request's spans, all of them in a few multi-row statements; the
// traces that exist get their spans added and their info brought in line.
func writeTraces(ctx context.Context, tx *store.Tx, experimentID, runID string, traces []*otelTrace) error {
	ids := make([]string, len(traces))
	for i, t := range traces {
		ids[i] = t.id
	}
	keys, err := lockTraces(ctx, tx, ids, experimentID)
	if err != nil {
		return err
	}
	var infos []Info
	var old []*otelTrace
	for _, t := range traces {
		if _, ok := keys[t.id]; ok {
			old = append(old, t)
		} else {
			infos = append(infos, newInfo(experimentID, t))
		}
	}
	if err := insertInfos(ctx, tx, infos, keys); err != nil {
		return err
	}
	if err := insertSpans(ctx, tx, traces, keys); err != nil {
		return err
	}
	for _, t := range old {
		if err := refreshInfo(ctx, tx, t, keys[t.id]); err != nil {
			return err
		}
	}
	if runID != "" {
		return linkRuns(ctx, tx, runID, ids)
	}
	return nil
}

// newInfo is the info of a new trace made of t's spans alone, as refreshInfo would
// leave it.
func newInfo(experimentID string, t *otelTrace) Info {
	startMs := int64(t.start / 1e6)
	info := Info{TraceID: t.id, ExperimentID: experimentID, RequestTime: startMs, State: StateInProgress,
		Tags: map[string]string{TagSpansLocation: SpansInStore}, Metadata: map[string]string{"mlflow.trace_schema.version": "3"}}
	if t.end > 0 {
		d := max(int64(t.end/1e6)-startMs, 0)
		info.ExecutionDuration = &d
	}
	if t.root != nil {
		info.State = StateOK
		if t.root.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR {
			info.State = StateError
		}
		maps.Copy(info.Tags, rootTags(t.root))
	}
	return info
}

// traceTagPrefix marks the root span's attributes that carry the trace's own tags:
// MLflow's span processor sends a trace's tags over OTLP as mlflow.traceTag.<KEY>
// attributes, each a plain string.
const traceTagPrefix = "mlflow.traceTag."

// rootTags are the trace tags the root span gives: its name (unless a tag names the
// trace), and its mlflow.traceTag.* attributes. The tags that say where the spans are
// stay the server's; a tag too long to store is left out, as MLflow leaves it.
func rootTags(root *tracepb.Span) map[string]string {
	tags := map[string]string{}
	if root.Name != "" {
		tags[TagTraceName] = clip(root.Name)
	}
	for _, kv := range root.Attributes {
		key, ok := strings.CutPrefix(kv.Key, traceTagPrefix)
		if !ok || key == TagSpansLocation || key == TagArtifactLocation {
			continue
		}
		v := kv.GetValue().GetStringValue()
		var unquoted string
		if json.Unmarshal([]byte(v), &unquoted) == nil {
			v = unquoted
		}
		if checkKeyValue("tag", key, v) == nil {
			tags[key] = v
		}
	}
	return tags
}

// refreshInfo brings a trace's times, state and name in line with its stored spans.
func refreshInfo(ctx context.Context, tx *store.Tx, t *otelTrace, key int64) error {
	var start, end int64
	if err := tx.QueryRowContext(ctx, `SELECT MIN(start_time_unix_nano), COALESCE(MAX(end_time_unix_nano), 0) FROM trace_spans WHERE trace_key = ?`,
		key).Scan(&start, &end); err != nil {
		return err
	}
	startMs := start / 1e6
	var dur any
	if end > 0 {
		dur = max(end/1e6-startMs, 0)
	}
	if t.root == nil {
		_, err := tx.ExecContext(ctx, `UPDATE trace_info SET request_time = ?, execution_duration = COALESCE(?, execution_duration) WHERE trace_key = ?`,
			startMs, dur, key)
		return err
	}
	state := StateOK
	if t.root.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR {
		state = StateError
	}
	if _, err := tx.ExecContext(ctx, `UPDATE trace_info SET request_time = ?, execution_duration = ?, state = ? WHERE trace_key = ?`,
		startMs, dur, state, key); err != nil {
		return err
	}
	tags := rootTags(t.root)
	tags[TagSpansLocation] = SpansInStore
	return upsertPairs(ctx, tx, "trace_tags", key, tags)
}

// insertSpans writes the traces' spans in multi-row statements; a span sent again
// replaces the one stored.
func insertSpans(ctx context.Context, tx *store.Tx, traces []*otelTrace, keys map[string]int64) error {
	const width = 10
	per := tx.Dialect().MaxParams() / width
	args := make([]any, 0, width*per)
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO trace_spans (trace_key, span_id, parent_span_id, name, type, status,
			start_time_unix_nano, end_time_unix_nano, attributes, content) VALUES `+store.RowsOf(width, len(args)/width)+`
			ON CONFLICT (trace_key, span_id) DO UPDATE SET parent_span_id = excluded.parent_span_id, name = excluded.name,
			type = excluded.type, status = excluded.status, start_time_unix_nano = excluded.start_time_unix_nano,
			end_time_unix_nano = excluded.end_time_unix_nano, attributes = excluded.attributes, content = excluded.content`, args...)
		args = args[:0]
		return err
	}
	for _, t := range traces {
		key := keys[t.id]
		for _, os := range t.spans {
			if len(args) == width*per {
				if err := flush(); err != nil {
					return err
				}
			}
			var end any
			if os.span.EndTimeUnixNano > 0 {
				end = int64(os.span.EndTimeUnixNano)
			}
			args = append(args, key, os.spanID, nullable(os.parentID), os.span.Name, nullable(spanType(os.span)),
				statusName(os.span.GetStatus().GetCode()), int64(os.span.StartTimeUnixNano), end, os.attributes, os.content)
		}
	}
	return flush()
}

func spanType(sp *tracepb.Span) string {
	for _, kv := range sp.Attributes {
		if kv.Key != attrSpanType {
			continue
		}
		v := kv.Value.GetStringValue()
		var s string
		if json.Unmarshal([]byte(v), &s) == nil {
			return s
		}
		return v
	}
	return ""
}

func statusName(c tracepb.Status_StatusCode) string {
	switch c {
	case tracepb.Status_STATUS_CODE_OK:
		return "OK"
	case tracepb.Status_STATUS_CODE_ERROR:
		return "ERROR"
	}
	return "UNSET"
}

// spanEncodings returns the bytes of each span in an encoded ExportTraceServiceRequest
// (TracesData), in the order proto.Unmarshal lists them: resource_spans (1), their
// scope_spans (2), their spans (2). Nil if the encoding cannot be read.
func spanEncodings(encoded []byte) [][]byte {
	var out [][]byte
	err := eachMessage(encoded, 1, func(rs []byte) error {
		return eachMessage(rs, 2, func(ss []byte) error {
			return eachMessage(ss, 2, func(sp []byte) error {
				out = append(out, sp)
				return nil
			})
		})
	})
	if err != nil {
		return nil
	}
	return out
}

// eachMessage calls fn with the value of every occurrence of field num (a message) in b.
func eachMessage(b []byte, num protowire.Number, fn func([]byte) error) error {
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return protowire.ParseError(l)
		}
		b = b[l:]
		if n == num && typ == protowire.BytesType {
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return protowire.ParseError(l)
			}
			if err := fn(v); err != nil {
				return err
			}
			b = b[l:]
			continue
		}
		if l = protowire.ConsumeFieldValue(n, typ, b); l < 0 {
			return protowire.ParseError(l)
		}
		b = b[l:]
	}
	return nil
}
