package traces_test

import (
	"database/sql"
	"encoding/json"
	"reflect"
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/store/storetest"
	"github.com/mlship/mlship/internal/traces"
	"github.com/mlship/mlship/internal/tracking"
)

// A request mixing new traces and a trace that exists, with spans sent twice: the last
// copy of a span is the one stored and the one the trace's info is made from.
func TestIngestBatchOfTraces(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		s, exp := newIngestService(t, db)
		oldID, newID := []byte("oooooooooooooooo"), []byte("nnnnnnnnnnnnnnnn")
		if _, err := s.IngestSpans(ctx, exp, "", request(span(oldID, 1, 0, "root", 1e9), span(oldID, 2, 1, "child", 2e9))); err != nil {
			t.Fatal(err)
		}
		resent := span(oldID, 2, 1, "child again", 5e9)
		resent.EndTimeUnixNano = 9e9
		first, last := span(newID, 1, 0, "first copy", 1e9), span(newID, 1, 0, "last copy", 3e9)
		last.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR}
		if n, err := s.IngestSpans(ctx, exp, "", request(first, resent, span(oldID, 3, 1, "new child", 3e9), last)); n != 4 || err != nil {
			t.Fatalf("ingest: %d %v", n, err)
		}
		oldTr, newTr := "tr-"+hexOf(oldID), "tr-"+hexOf(newID)
		spans, err := s.Spans(ctx, []string{oldTr, newTr})
		if err != nil {
			t.Fatal(err)
		}
		if got := spanNames(t, spans[oldTr]); !reflect.DeepEqual(got, []string{"root", "new child", "child again"}) {
			t.Errorf("existing trace's spans: %q", got)
		}
		if got := spanNames(t, spans[newTr]); !reflect.DeepEqual(got, []string{"last copy"}) {
			t.Errorf("new trace's spans: %q", got)
		}
		infos, err := s.GetInfos(ctx, []string{oldTr, newTr})
		if err != nil || len(infos) != 2 {
			t.Fatalf("infos: %v %v", infos, err)
		}
		if in := infos[0]; in.RequestTime != 1000 || *in.ExecutionDuration != 8000 || in.State != traces.StateOK {
			t.Errorf("existing trace's info: %+v", in)
		}
		if in := infos[1]; in.RequestTime != 3000 || *in.ExecutionDuration != 2 || in.State != traces.StateError || in.Tags[traces.TagTraceName] != "last copy" {
			t.Errorf("new trace's info: %+v", in)
		}
	})
}

// trace_spans.attributes holds a span's attributes as JSON, MLflow's JSON-encoded
// strings decoded, queryable on every engine.
func TestIngestSpanAttributes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		s, exp := newIngestService(t, db)
		sp := span([]byte("aaaaaaaaaaaaaaaa"), 1, 0, "llm", 1e9) // mlflow.spanType = "\"LLM\""
		str := func(v string) *commonpb.AnyValue {
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}
		}
		sp.Attributes = append(sp.Attributes,
			&commonpb.KeyValue{Key: "mlflow.spanInputs", Value: str(`{"prompt": "hi"}`)},
			&commonpb.KeyValue{Key: "plain", Value: str("not json")},
			&commonpb.KeyValue{Key: "tokens", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 42}}},
			&commonpb.KeyValue{Key: "tags", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{
				Values: []*commonpb.AnyValue{str("a"), {Value: &commonpb.AnyValue_BoolValue{BoolValue: true}}}}}}},
			&commonpb.KeyValue{Key: "nul", Value: str("a\x00b")})
		bare := span([]byte("aaaaaaaaaaaaaaaa"), 2, 1, "bare", 1e9)
		bare.Attributes = nil
		if _, err := s.IngestSpans(ctx, exp, "", request(sp, bare)); err != nil {
			t.Fatal(err)
		}
		var raw string
		if err := db.Reader().QueryRowContext(ctx, `SELECT attributes FROM trace_spans WHERE span_id = ?`, "0000000000000001").Scan(&raw); err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(raw), &got); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		want := map[string]any{"mlflow.spanType": "LLM", "mlflow.spanInputs": map[string]any{"prompt": "hi"}, "plain": "not json",
			"tokens": 42.0, "tags": []any{"a", true}, "nul": "a\ufffdb"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("attributes %v, want %v", got, want)
		}
		// The form a search filter uses: one attribute's value as SQL text.
		value := `json_extract(attributes, '$."' || ? || '"')`
		if db.Dialect().Name() == "postgres" {
			value = `attributes ->> ?`
		}
		var names []string
		err := store.ScanEach(ctx, db.Reader(), `SELECT name FROM trace_spans WHERE `+value+` = ? ORDER BY name`,
			[]any{"mlflow.spanType", "LLM"}, func(r *sql.Rows) error {
				var n string
				err := r.Scan(&n)
				names = append(names, n)
				return err
			})
		if err != nil || !reflect.DeepEqual(names, []string{"llm"}) {
			t.Errorf("spans of type LLM by attribute: %q %v", names, err)
		}
		var null bool
		if err := db.Reader().QueryRowContext(ctx, `SELECT attributes IS NULL FROM trace_spans WHERE span_id = ?`, "0000000000000002").Scan(&null); err != nil || !null {
			t.Errorf("a span without attributes: null=%v %v", null, err)
		}
	})
}

func newIngestService(t *testing.T, db *store.DB) (*traces.Service, string) {
	tr := tracking.New(db, tracking.Options{ArtifactRoot: "mlflow-artifacts:/"})
	if err := tr.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	exp, err := tr.CreateExperiment(t.Context(), "ingest", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return traces.New(db, tr), exp
}

func spanNames(t *testing.T, spans [][]byte) []string {
	var names []string
	for _, b := range spans {
		var sp tracepb.Span
		if err := proto.Unmarshal(b, &sp); err != nil {
			t.Fatal(err)
		}
		names = append(names, sp.Name)
	}
	return names
}

// Spans received as protobuf are stored as they came; an encoding that is not the
// request's is not used.
func TestIngestEncodedSpans(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		s, exp := newIngestService(t, db)
		a, b := span([]byte("aaaaaaaaaaaaaaaa"), 1, 0, "a", 1e9), span([]byte("bbbbbbbbbbbbbbbb"), 1, 0, "b", 1e9)
		data := &tracepb.TracesData{ResourceSpans: []*tracepb.ResourceSpans{
			{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{a}}}},
			{ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: "x"}}, {Spans: []*tracepb.Span{b}}}},
		}}
		encoded, err := proto.Marshal(data)
		if err != nil {
			t.Fatal(err)
		}
		var decoded tracepb.TracesData
		if err := proto.Unmarshal(encoded, &decoded); err != nil {
			t.Fatal(err)
		}
		c := span([]byte("cccccccccccccccc"), 1, 0, "c", 1e9)
		if _, err := s.IngestEncodedSpans(ctx, exp, "", &decoded, encoded); err != nil {
			t.Fatal(err)
		}
		if _, err := s.IngestEncodedSpans(ctx, exp, "", request(c), encoded); err != nil { // not c's encoding
			t.Fatal(err)
		}
		ids := []string{"tr-" + hexOf(a.TraceId), "tr-" + hexOf(b.TraceId), "tr-" + hexOf(c.TraceId)}
		stored, err := s.Spans(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []*tracepb.Span{a, b, c} {
			var got tracepb.Span
			if len(stored[ids[i]]) != 1 || proto.Unmarshal(stored[ids[i]][0], &got) != nil || !proto.Equal(&got, want) {
				t.Errorf("span %s: stored %v", want.Name, &got)
			}
		}
	})
}
