package traces_test

import (
	"encoding/json"
	"fmt"
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/store/storetest"
	"github.com/mlship/mlship/internal/traces"
	"github.com/mlship/mlship/internal/tracking"
)

type env struct {
	t      *testing.T
	tr     *tracking.Service
	s      *traces.Service
	exp    string
	other  string
	run    string
	remote string // a run of the other experiment
}

// each runs fn on every engine with a tracking service, two experiments and a run.
func each(t *testing.T, fn func(e *env)) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		tr := tracking.New(db, tracking.Options{ArtifactRoot: "mlflow-artifacts:/"})
		if err := tr.Init(ctx); err != nil {
			t.Fatal(err)
		}
		e := &env{t: t, tr: tr, s: traces.New(db, tr)}
		var err error
		if e.exp, err = tr.CreateExperiment(ctx, "traces", "", nil); err != nil {
			t.Fatal(err)
		}
		if e.other, err = tr.CreateExperiment(ctx, "other", "", nil); err != nil {
			t.Fatal(err)
		}
		e.run = e.createRun(e.exp)
		e.remote = e.createRun(e.other)
		fn(e)
	})
}

func (e *env) createRun(exp string) string {
	run, err := e.tr.CreateRun(e.t.Context(), tracking.CreateRunInput{ExperimentID: exp, StartTime: ms(1)})
	if err != nil {
		e.t.Fatal(err)
	}
	return run.Info.RunID
}

func ms(n int64) *int64 { return &n }

func (e *env) start(id string, at int64, tags map[string]string, meta map[string]string) *traces.Info {
	e.t.Helper()
	info, err := e.s.StartTrace(e.t.Context(), traces.Info{TraceID: id, ExperimentID: e.exp, RequestTime: at,
		ExecutionDuration: ms(5), State: traces.StateOK, Tags: tags, Metadata: meta})
	if err != nil {
		e.t.Fatalf("StartTrace %s: %v", id, err)
	}
	return info
}

func TestStartTraceAndTags(t *testing.T) {
	each(t, func(e *env) {
		ctx := t.Context()
		info := e.start("tr-1", 1000, map[string]string{"team": "fraud"}, map[string]string{traces.MetaSourceRun: e.run})
		if got := info.Tags[traces.TagArtifactLocation]; got != "mlflow-artifacts:/"+e.exp+"/traces/tr-1/artifacts" {
			t.Errorf("artifact location %q", got)
		}
		if info.Tags["team"] != "fraud" || info.Metadata[traces.MetaSourceRun] != e.run || *info.ExecutionDuration != 5 {
			t.Errorf("info %+v", info)
		}
		if err := e.s.SetTag(ctx, "tr-1", "k", "v"); err != nil {
			t.Fatal(err)
		}
		if err := e.s.DeleteTag(ctx, "tr-1", "team"); err != nil {
			t.Fatal(err)
		}
		got, _ := e.s.GetInfo(ctx, "tr-1")
		if got.Tags["k"] != "v" || got.Tags["team"] != "" {
			t.Errorf("tags %v", got.Tags)
		}
		for name, err := range map[string]error{
			"delete a missing tag":   e.s.DeleteTag(ctx, "tr-1", "nope"),
			"tag a missing trace":    e.s.SetTag(ctx, "tr-404", "k", "v"),
			"move to another exp":    startErr(e, traces.Info{TraceID: "tr-1", ExperimentID: e.other, RequestTime: 1}),
			"bad id":                 startErr(e, traces.Info{TraceID: "../x", ExperimentID: e.exp}),
			"bad state":              startErr(e, traces.Info{TraceID: "tr-2", ExperimentID: e.exp, State: "DONE"}),
			"no experiment":          startErr(e, traces.Info{TraceID: "tr-2"}),
			"missing experiment":     startErr(e, traces.Info{TraceID: "tr-2", ExperimentID: "999"}),
			"link across experiment": e.s.LinkToRun(ctx, e.remote, []string{"tr-1"}),
			"move the spans":         e.s.SetTag(ctx, "tr-1", traces.TagArtifactLocation, "mlflow-artifacts:/"+e.other+"/x"),
			"drop the spans' place":  e.s.DeleteTag(ctx, "tr-1", traces.TagSpansLocation),
		} {
			if err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
		if _, err := e.s.GetInfo(ctx, "tr-404"); fault.KindOf(err) != fault.NotFound {
			t.Errorf("missing trace: %v", err)
		}
		// MLflow 2's two calls: started in progress, ended with its duration and state.
		id := traces.NewRequestID()
		if _, err := e.s.StartTrace(ctx, traces.Info{TraceID: id, ExperimentID: e.exp, RequestTime: 1000, State: traces.StateInProgress,
			Tags: map[string]string{"a": "1"}}); err != nil {
			t.Fatal(err)
		}
		ended, err := e.s.EndTrace(ctx, id, 1250, traces.StateError, map[string]string{"m": "x"}, map[string]string{"b": "2"})
		if err != nil || ended.State != traces.StateError || *ended.ExecutionDuration != 250 || ended.Tags["a"] != "1" ||
			ended.Tags["b"] != "2" || ended.Metadata["m"] != "x" {
			t.Errorf("ended: %+v %v", ended, err)
		}
	})
}

func startErr(e *env, in traces.Info) error {
	_, err := e.s.StartTrace(e.t.Context(), in)
	return err
}

func TestSearch(t *testing.T) {
	each(t, func(e *env) {
		ctx := t.Context()
		for i := range 5 {
			meta := map[string]string{}
			if i < 2 {
				meta[traces.MetaSourceRun] = e.run
			}
			e.start(fmt.Sprintf("tr-%d", i), int64(1000*(i+1)), map[string]string{"parity": []string{"even", "odd"}[i%2],
				traces.TagTraceName: fmt.Sprintf("name-%d", i)}, meta)
		}
		if err := e.s.LinkToRun(ctx, e.run, []string{"tr-4"}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			filter  string
			order   []string
			want    string
			wantErr bool
		}{
			{"", nil, "tr-4 tr-3 tr-2 tr-1 tr-0", false},
			{"", []string{"timestamp_ms ASC"}, "tr-0 tr-1 tr-2 tr-3 tr-4", false},
			{"tags.parity = 'even'", nil, "tr-4 tr-2 tr-0", false},
			{"tag.parity != 'even' AND timestamp > 2000", nil, "tr-3", false},
			{"name = 'name-3'", nil, "tr-3", false},
			{"name IN ('name-1', 'name-2')", []string{"name DESC"}, "tr-2 tr-1", false},
			{"attributes.run_id = '" + e.run + "'", nil, "tr-4 tr-1 tr-0", false},
			{"metadata.`mlflow.sourceRun` = '" + e.run + "'", nil, "tr-1 tr-0", false},
			{"status = 'OK' AND execution_time_ms <= 5 AND end_time_ms = 3005", nil, "tr-2", false},
			{"request_id LIKE 'tr-%'", []string{"tags.parity ASC", "timestamp DESC"}, "tr-4 tr-2 tr-0 tr-3 tr-1", false},
			{"metrics.x > 1", nil, "", true},
		} {
			infos, _, err := e.s.Search(ctx, traces.SearchQuery{ExperimentIDs: []string{e.exp}, Filter: tc.filter, OrderBy: tc.order})
			if (err != nil) != tc.wantErr {
				t.Errorf("%q: %v", tc.filter, err)
				continue
			}
			if got := ids(infos); got != tc.want {
				t.Errorf("%q %v: got %q, want %q", tc.filter, tc.order, got, tc.want)
			}
		}
		page, next, err := e.s.Search(ctx, traces.SearchQuery{ExperimentIDs: []string{e.exp}, MaxResults: 2})
		if err != nil || ids(page) != "tr-4 tr-3" || next == "" {
			t.Fatalf("page 1: %q %q %v", ids(page), next, err)
		}
		page, next, err = e.s.Search(ctx, traces.SearchQuery{ExperimentIDs: []string{e.exp}, MaxResults: 3, PageToken: next})
		if err != nil || ids(page) != "tr-2 tr-1 tr-0" || next != "" {
			t.Fatalf("page 2: %q %q %v", ids(page), next, err)
		}
		if _, _, err := e.s.Search(ctx, traces.SearchQuery{ExperimentIDs: make([]string, traces.MaxExperiments+1)}); fault.KindOf(err) != fault.Invalid {
			t.Errorf("too many experiments: %v", err)
		}
		if other, _, _ := e.s.Search(ctx, traces.SearchQuery{ExperimentIDs: []string{e.other}}); len(other) != 0 {
			t.Errorf("other experiment: %q", ids(other))
		}
	})
}

func ids(infos []*traces.Info) string {
	s := ""
	for i, in := range infos {
		if i > 0 {
			s += " "
		}
		s += in.TraceID
	}
	return s
}

func TestDelete(t *testing.T) {
	each(t, func(e *env) {
		ctx := t.Context()
		for i := range 4 {
			e.start(fmt.Sprintf("tr-%d", i), int64(1000*(i+1)), nil, nil)
		}
		if n, err := e.s.Delete(ctx, traces.DeleteQuery{ExperimentID: e.exp, TraceIDs: []string{"tr-0", "tr-404"}}); n != 1 || err != nil {
			t.Errorf("by id: %d %v", n, err)
		}
		if n, err := e.s.Delete(ctx, traces.DeleteQuery{ExperimentID: e.exp, MaxTimestampMs: ms(3500), MaxTraces: ms(1)}); n != 1 || err != nil {
			t.Errorf("by time: %d %v", n, err)
		}
		if n, err := e.s.Delete(ctx, traces.DeleteQuery{ExperimentID: e.other, TraceIDs: []string{"tr-3"}}); n != 0 || err != nil {
			t.Errorf("another experiment's: %d %v", n, err)
		}
		if _, err := e.s.Delete(ctx, traces.DeleteQuery{ExperimentID: e.exp}); err == nil {
			t.Error("neither ids nor time: accepted")
		}
		if _, err := e.s.Delete(ctx, traces.DeleteQuery{ExperimentID: e.exp, TraceIDs: make([]string, traces.MaxDeleteIDs+1)}); fault.KindOf(err) != fault.Invalid {
			t.Errorf("too many ids: %v", err)
		}
		left, _, _ := e.s.Search(ctx, traces.SearchQuery{ExperimentIDs: []string{e.exp}})
		if ids(left) != "tr-3 tr-2" {
			t.Errorf("left %q", ids(left))
		}
	})
}

func span(trace []byte, id, parent byte, name string, start uint64) *tracepb.Span {
	sp := &tracepb.Span{TraceId: trace, SpanId: []byte{0, 0, 0, 0, 0, 0, 0, id}, Name: name,
		StartTimeUnixNano: start, EndTimeUnixNano: start + 2e6,
		Attributes: []*commonpb.KeyValue{{Key: "mlflow.spanType", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: `"LLM"`}}}}}
	if parent != 0 {
		sp.ParentSpanId = []byte{0, 0, 0, 0, 0, 0, 0, parent}
	}
	return sp
}

func request(spans ...*tracepb.Span) *tracepb.TracesData {
	return &tracepb.TracesData{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}}}}}
}

func TestIngestSpans(t *testing.T) {
	each(t, func(e *env) {
		ctx := t.Context()
		tid := []byte("0123456789abcdef")
		id := "tr-30313233343536373839616263646566"
		// Children first, root later, as exporters send them.
		var children []*tracepb.Span
		for i := range 3000 {
			children = append(children, &tracepb.Span{TraceId: tid, SpanId: []byte{1, 0, 0, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)},
				ParentSpanId: []byte{0, 0, 0, 0, 0, 0, 0, 1}, Name: "child", StartTimeUnixNano: 2e9 + uint64(i), EndTimeUnixNano: 3e9})
		}
		if n, err := e.s.IngestSpans(ctx, e.exp, "", request(children...)); n != 3000 || err != nil {
			t.Fatalf("children: %d %v", n, err)
		}
		info, err := e.s.GetInfo(ctx, id)
		if err != nil || info.State != traces.StateInProgress || info.Tags[traces.TagSpansLocation] != traces.SpansInStore {
			t.Fatalf("before the root: %+v %v", info, err)
		}
		root := span(tid, 1, 0, "root", 1e9)
		root.EndTimeUnixNano = 4e9
		root.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR}
		if _, err := e.s.IngestSpans(ctx, e.exp, e.run, request(root)); err != nil {
			t.Fatal(err)
		}
		info, _ = e.s.GetInfo(ctx, id)
		if info.State != traces.StateError || info.RequestTime != 1000 || *info.ExecutionDuration != 3000 || info.Tags[traces.TagTraceName] != "root" {
			t.Errorf("after the root: %+v", info)
		}
		spans, err := e.s.Spans(ctx, []string{id})
		if err != nil || len(spans[id]) != 3001 {
			t.Fatalf("spans: %d %v", len(spans[id]), err)
		}
		var first tracepb.Span
		if err := proto.Unmarshal(spans[id][0], &first); err != nil || first.Name != "root" {
			t.Errorf("first span %v %v", first.Name, err)
		}
		if found, _, _ := e.s.Search(ctx, traces.SearchQuery{ExperimentIDs: []string{e.exp}, Filter: "run_id = '" + e.run + "'"}); ids(found) != id {
			t.Errorf("linked by the run header: %q", ids(found))
		}
		// The client's own record of the trace keeps the spans where they are.
		got, err := e.s.StartTrace(ctx, traces.Info{TraceID: id, ExperimentID: e.exp, RequestTime: 1000, ExecutionDuration: ms(3000), State: "OK"})
		if err != nil || got.Tags[traces.TagSpansLocation] != traces.SpansInStore {
			t.Errorf("start after ingest: %+v %v", got, err)
		}
	})
}

func TestIngestRefusesWhole(t *testing.T) {
	each(t, func(e *env) {
		ctx := t.Context()
		good := span([]byte("aaaaaaaaaaaaaaaa"), 1, 0, "ok", 1e9)
		huge := span([]byte("bbbbbbbbbbbbbbbb"), 1, 0, "huge", 1e9)
		huge.Attributes = append(huge.Attributes, &commonpb.KeyValue{Key: "blob",
			Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: string(make([]byte, traces.MaxAttributeBytes+1))}}})
		many := make([]*tracepb.Span, traces.MaxSpansPerWrite+1)
		for i := range many {
			many[i] = span([]byte("cccccccccccccccc"), byte(i%250+1), 0, "x", 1e9)
		}
		for name, tc := range map[string]struct {
			exp  string
			data *tracepb.TracesData
			kind fault.Kind
		}{
			"a huge attribute":     {e.exp, request(good, huge), fault.TooLarge},
			"too many spans":       {e.exp, request(many...), fault.TooLarge},
			"a short trace id":     {e.exp, request(good, span([]byte{1, 2}, 1, 0, "short", 1)), fault.Invalid},
			"a zero span id":       {e.exp, request(good, span([]byte("dddddddddddddddd"), 0, 0, "zero", 1)), fault.Invalid},
			"no spans":             {e.exp, request(), fault.Invalid},
			"a missing experiment": {"999", request(good), fault.NotFound},
		} {
			if _, err := e.s.IngestSpans(ctx, tc.exp, "", tc.data); fault.KindOf(err) != tc.kind {
				t.Errorf("%s: %v, want %v", name, err, tc.kind)
			}
		}
		if found, _, _ := e.s.Search(ctx, traces.SearchQuery{ExperimentIDs: []string{e.exp, e.other}}); len(found) != 0 {
			t.Errorf("stored after refusals: %q", ids(found))
		}
		if _, err := e.s.IngestSpans(ctx, e.exp, "", request(good)); err != nil {
			t.Fatal(err)
		}
		// Spans of a trace that exists in another experiment are refused, the others with them.
		other := span([]byte("eeeeeeeeeeeeeeee"), 1, 0, "fine", 1e9)
		if _, err := e.s.IngestSpans(ctx, e.other, "", request(other, good)); fault.KindOf(err) != fault.Invalid {
			t.Errorf("a trace of another experiment: %v", err)
		}
		if found, _, _ := e.s.Search(ctx, traces.SearchQuery{ExperimentIDs: []string{e.other}}); len(found) != 0 {
			t.Errorf("partial write: %q", ids(found))
		}
	})
}

func TestAssessments(t *testing.T) {
	each(t, func(e *env) {
		ctx := t.Context()
		e.start("tr-1", 1000, nil, nil)
		body := func(s string) map[string]json.RawMessage {
			var m map[string]json.RawMessage
			if err := json.Unmarshal([]byte(s), &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
		fb, err := e.s.CreateAssessment(ctx, "tr-1", body(`{"assessment_name": "correct", "feedback": {"value": true}}`))
		if err != nil {
			t.Fatal(err)
		}
		over, err := e.s.CreateAssessment(ctx, "tr-1", body(`{"assessment_name": "correct", "feedback": {"value": false}, "overrides": "`+fb.ID+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := e.s.GetAssessment(ctx, "tr-1", fb.ID); string(got.Body["valid"]) != "false" {
			t.Errorf("overridden assessment still valid: %s", got.Body["valid"])
		}
		up, err := e.s.UpdateAssessment(ctx, "tr-1", over.ID, body(`{"assessment_name": "right", "rationale": "why"}`), []string{"assessmentName", "rationale"})
		if err != nil || string(up.Body["assessment_name"]) != `"right"` || string(up.Body["rationale"]) != `"why"` {
			t.Errorf("update: %v %v", up, err)
		}
		if err := e.s.DeleteAssessment(ctx, "tr-1", over.ID); err != nil {
			t.Fatal(err)
		}
		info, _ := e.s.GetInfo(ctx, "tr-1")
		if len(info.Assessments) != 1 || string(info.Assessments[0].Body["valid"]) != "true" {
			t.Errorf("after delete: %+v", info.Assessments)
		}
		for name, err := range map[string]error{
			"no name":        errOf(e.s.CreateAssessment(ctx, "tr-1", body(`{"feedback": {}}`))),
			"missing trace":  errOf(e.s.CreateAssessment(ctx, "tr-404", body(`{"assessment_name": "x"}`))),
			"bad mask":       errOf(e.s.UpdateAssessment(ctx, "tr-1", fb.ID, body(`{}`), []string{"trace_id"})),
			"missing delete": e.s.DeleteAssessment(ctx, "tr-1", "a-404"),
		} {
			if err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
	})
}

func errOf[T any](_ T, err error) error { return err }
