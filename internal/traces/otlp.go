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
}

// otelTrace gathers the spans of one trace in a request.
type otelTrace struct {
	id         string // MLflow's: "tr-" and the OTLP trace id in hex
	spans      []otelSpan
	start, end uint64 // nanoseconds: the earliest start and latest end
	root       *tracepb.Span
}

// IngestSpans stores the spans of an OpenTelemetry export request in an experiment,
// all of them or none, creating the traces they belong to (or adding to traces that
// exist in the same experiment). runID, when set, is a run the traces are linked to.
// It returns how many spans it stored.
func (s *Service) IngestSpans(ctx context.Context, experimentID, runID string, data *tracepb.TracesData) (int, error) {
	traces, n, err := gatherSpans(data)
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
		for _, id := range slices.Sorted(maps.Keys(traces)) {
			if err := writeTrace(ctx, tx, experimentID, traces[id]); err != nil {
				return err
			}
			if runID != "" {
				if err := linkRuns(ctx, tx, runID, []string{id}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return n, err
}

// gatherSpans checks every span of a request and groups them by trace.
func gatherSpans(data *tracepb.TracesData) (map[string]*otelTrace, int, error) {
	traces := map[string]*otelTrace{}
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
				id := "tr-" + os.traceID
				t := traces[id]
				if t == nil {
					t = &otelTrace{id: id, start: sp.StartTimeUnixNano}
					traces[id] = t
				}
				t.add(os)
			}
		}
	}
	if n == 0 {
		return nil, 0, fault.Invalidf("Invalid OpenTelemetry request: no spans found")
	}
	return traces, n, nil
}

func (t *otelTrace) add(os otelSpan) {
	t.spans = append(t.spans, os)
	t.start = min(t.start, os.span.StartTimeUnixNano)
	t.end = max(t.end, os.span.EndTimeUnixNano)
	if os.parentID == "" {
		t.root = os.span
	}
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

// writeTrace writes one trace's spans, creating its info from them or updating it.
func writeTrace(ctx context.Context, tx *store.Tx, experimentID string, t *otelTrace) error {
	exists, err := lockTrace(ctx, tx, t.id, experimentID)
	if err != nil {
		return err
	}
	if !exists && distinctSpans(t) {
		// A new trace whose spans are all in this request: its info is known from them,
		// so it is written complete, without reading the spans back (what refreshInfo
		// would find is the same).
		info := newInfo(experimentID, t)
		if err := upsertInfo(ctx, tx, &info, false); err != nil {
			return err
		}
		return insertSpans(ctx, tx, t)
	}
	if !exists {
		info := Info{TraceID: t.id, ExperimentID: experimentID, RequestTime: int64(t.start / 1e6), State: StateInProgress,
			Tags: map[string]string{TagSpansLocation: SpansInStore}, Metadata: map[string]string{"mlflow.trace_schema.version": "3"}}
		if err := upsertInfo(ctx, tx, &info, false); err != nil {
			return err
		}
	}
	if err := insertSpans(ctx, tx, t); err != nil {
		return err
	}
	return refreshInfo(ctx, tx, t)
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

// distinctSpans reports whether no span of t is sent twice (the stored one is then
// the last copy, which the info must be computed from).
func distinctSpans(t *otelTrace) bool {
	seen := make(map[string]struct{}, len(t.spans))
	for _, os := range t.spans {
		if _, dup := seen[os.spanID]; dup {
			return false
		}
		seen[os.spanID] = struct{}{}
	}
	return true
}

// refreshInfo brings a trace's times, state and name in line with its stored spans.
func refreshInfo(ctx context.Context, tx *store.Tx, t *otelTrace) error {
	var start, end int64
	if err := tx.QueryRowContext(ctx, `SELECT MIN(start_time_unix_nano), COALESCE(MAX(end_time_unix_nano), 0) FROM trace_spans WHERE trace_id = ?`,
		t.id).Scan(&start, &end); err != nil {
		return err
	}
	startMs := start / 1e6
	var dur any
	if end > 0 {
		dur = max(end/1e6-startMs, 0)
	}
	if t.root == nil {
		_, err := tx.ExecContext(ctx, `UPDATE trace_info SET request_time = ?, execution_duration = COALESCE(?, execution_duration) WHERE trace_id = ?`,
			startMs, dur, t.id)
		return err
	}
	state := StateOK
	if t.root.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR {
		state = StateError
	}
	if _, err := tx.ExecContext(ctx, `UPDATE trace_info SET request_time = ?, execution_duration = ?, state = ? WHERE trace_id = ?`,
		startMs, dur, state, t.id); err != nil {
		return err
	}
	tags := rootTags(t.root)
	tags[TagSpansLocation] = SpansInStore
	return upsertPairs(ctx, tx, "trace_tags", t.id, tags)
}

// insertSpans writes a trace's spans in multi-row statements; a span sent again
// replaces the one stored.
func insertSpans(ctx context.Context, tx *store.Tx, t *otelTrace) error {
	const width = 9
	for chunk := range slices.Chunk(t.spans, tx.Dialect().MaxParams()/width) {
		args := make([]any, 0, width*len(chunk))
		for _, os := range chunk {
			content, err := proto.Marshal(os.span)
			if err != nil {
				return fault.Wrap(fault.Invalid, err, "Invalid span '%s'", clip(os.span.Name))
			}
			var end any
			if os.span.EndTimeUnixNano > 0 {
				end = int64(os.span.EndTimeUnixNano)
			}
			args = append(args, t.id, os.spanID, nullable(os.parentID), os.span.Name, nullable(spanType(os.span)),
				statusName(os.span.GetStatus().GetCode()), int64(os.span.StartTimeUnixNano), end, content)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO trace_spans (trace_id, span_id, parent_span_id, name, type, status,
			start_time_unix_nano, end_time_unix_nano, content) VALUES `+store.RowsOf(width, len(chunk))+`
			ON CONFLICT (trace_id, span_id) DO UPDATE SET parent_span_id = excluded.parent_span_id, name = excluded.name,
			type = excluded.type, status = excluded.status, start_time_unix_nano = excluded.start_time_unix_nano,
			end_time_unix_nano = excluded.end_time_unix_nano, content = excluded.content`, args...)
		if err != nil {
			return err
		}
	}
	return nil
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
