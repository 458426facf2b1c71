package traces_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/traces"
)

// TestSearchSpansAndAssessments holds the filters on spans, assessments, presence and
// regular expressions to MLflow's meaning, on every engine.
func TestSearchSpansAndAssessments(t *testing.T) {
	each(t, func(e *env) {
		ctx := t.Context()
		// sp-a: root "agent" (ERROR) > "retrieve_docs" (LLM); sp-b: root "chat" (LLM).
		a := []byte("aaaaaaaaaaaaaaaa")
		root := span(a, 1, 0, "agent", 1e9)
		root.Attributes = nil
		root.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR}
		b := []byte("bbbbbbbbbbbbbbbb")
		chat := span(b, 1, 0, "chat", 2e9)
		chat.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_OK}
		chat.Attributes = append(chat.Attributes,
			&commonpb.KeyValue{Key: "model", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: `"gpt-4o"`}}},
			&commonpb.KeyValue{Key: "mlflow.spanInputs", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: `{"question": "capital of Italy?"}`}}},
			&commonpb.KeyValue{Key: "max.tokens", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 12}}})
		if _, err := e.s.IngestSpans(ctx, e.exp, "", request(root, span(a, 2, 1, "retrieve_docs", 1e9), chat)); err != nil {
			t.Fatal(err)
		}
		idA, idB := "tr-"+hexOf(a), "tr-"+hexOf(b)
		e.start("tr-plain", 3000, map[string]string{"team": "fraud"}, nil)

		assess := func(trace, js string) string {
			var m map[string]json.RawMessage
			if err := json.Unmarshal([]byte(js), &m); err != nil {
				t.Fatal(err)
			}
			got, err := e.s.CreateAssessment(ctx, trace, m)
			if err != nil {
				t.Fatal(err)
			}
			return got.ID
		}
		assess(idA, `{"assessment_name": "correct", "feedback": {"value": true}}`)
		assess(idA, `{"assessment_name": "score", "feedback": {"value": 0.9}}`)
		assess(idA, `{"assessment_name": "tone", "feedback": {"value": "polite"}}`)
		assess(idA, `{"assessment_name": "answer", "expectation": {"value": "Paris"}}`)
		old := assess(idB, `{"assessment_name": "score", "feedback": {"value": 0.95}}`)
		assess(idB, `{"assessment_name": "score", "feedback": {"value": 0.2}, "overrides": "`+old+`"}`)
		assess(idB, `{"assessment_name": "correct", "feedback": {"value": false}}`)
		assess(idB, `{"assessment_name": "answer", "expectation": {"serialized_value": {"serialization_format": "JSON_FORMAT", "value": "{\"city\": \"Rome\"}"}}}`)
		assess("tr-plain", `{"assessment_name": "tone", "expectation": {"value": "polite"}}`)
		assess(idB, `{"assessment_name": "iss-7", "issue": {"issue_name": "slow retrieval"}}`)

		for _, tc := range []struct{ filter, want string }{
			{"span.name = 'retrieve_docs'", idA},
			{"span.name != 'agent'", idB + " " + idA},
			{"span.name IN ('chat', 'agent')", idB + " " + idA},
			{"span.name NOT IN ('chat', 'agent')", idA},
			{"span.name LIKE 'retr%'", idA},
			{"span.name ILIKE 'CHA%'", idB},
			{"span.name RLIKE '^re.*docs$'", idA},
			{"span.name RLIKE 'ha'", idB},
			{"span.type = 'LLM'", idB + " " + idA},
			{"span.status = 'ERROR'", idA},
			{"span.status = 'OK'", idB},
			// Span comparisons hold on one span together: no span of A is both LLM and ERROR.
			{"span.type = 'LLM' AND span.status = 'ERROR'", ""},
			{"span.type = 'LLM' AND span.name = 'retrieve_docs'", idA},
			{"feedback.correct = 'true'", idA},
			{"feedback.correct = 'false'", idB},
			{"feedback.correct != 'true'", idB},
			{"feedback.score > 0.5", idA}, // B's 0.95 was overridden by 0.2
			{"feedback.score <= 0.2", idB},
			{"feedback.score >= 1", ""},
			{"feedback.correct > 0", ""}, // booleans are not numbers
			{"feedback.tone = 'polite'", idA},
			{"feedback.tone = '\"polite\"'", idA},
			{"feedback.tone LIKE '%lit%'", idA},
			{"feedback.tone LIKE 'pol%'", ""}, // LIKE sees the JSON text, quotes included
			{"feedback.tone RLIKE 'po.ite'", idA},
			{"feedback.tone IS NOT NULL", idA},
			{"feedback.tone IS NULL", "tr-plain " + idB},
			{"expectation.tone IS NOT NULL", "tr-plain"},
			{"expectation.answer = 'Paris'", idA},
			{"expectation.answer LIKE '%Rome%'", idB},
			{"feedback.score > 0.1 AND span.name = 'chat'", idB},
			{"tags.team IS NULL", idB + " " + idA},
			{"tags.team IS NOT NULL", "tr-plain"},
			{"tags.team RLIKE '^fr'", "tr-plain"},
			{"metadata.k IS NULL AND name IS NOT NULL", idB + " " + idA},
			{"name RLIKE '^(agent|chat)$'", idB + " " + idA},
			{"run_id IS NULL", "tr-plain " + idB + " " + idA},
			{"status RLIKE 'ERR'", idA},
			{"issue.id = 'iss-7'", idB},
			{"span.attributes.model = 'gpt-4o'", idB},
			{"span.attributes.model LIKE 'gpt%'", idB},
			{"span.attributes.model RLIKE '^gpt-4'", idB},
			{"span.attributes.model IN ('gpt-4o', 'x')", idB},
			{"span.attributes.model != 'gpt-4o'", ""}, // spans without the attribute never match
			{"span.attributes.`max.tokens` = '12'", idB},
			{"span.attributes.`mlflow.spanType` = 'LLM'", idB + " " + idA},
			{"span.attributes.model = 'gpt-4o' AND span.name = 'chat'", idB},
			{"span.attributes.model = 'gpt-4o' AND span.name = 'agent'", ""},
			{"span.content ILIKE '%ITALY%'", idB},
			{"text LIKE '%capital%'", idB},
			{"span.content LIKE '%retrieve%'", idA},
			{"issue.id = 'iss-8'", ""},
		} {
			infos, _, err := e.s.Search(ctx, traces.SearchQuery{ExperimentIDs: []string{e.exp}, Filter: tc.filter, OrderBy: []string{"timestamp DESC"}})
			if err != nil {
				t.Errorf("%q: %v", tc.filter, err)
				continue
			}
			if got := ids(infos); got != tc.want {
				t.Errorf("%q: got %q, want %q", tc.filter, got, tc.want)
			}
		}
		for _, filter := range []string{"span.attributes. = 'x'", "tags.x RLIKE '(a'"} {
			_, _, err := e.s.Search(ctx, traces.SearchQuery{ExperimentIDs: []string{e.exp}, Filter: filter})
			if fault.KindOf(err) != fault.Invalid {
				t.Errorf("%q: got %v, want a 400", filter, err)
			}
		}
		// A pattern RE2 accepts but PostgreSQL does not is still the client's error.
		_, _, err := e.s.Search(ctx, traces.SearchQuery{ExperimentIDs: []string{e.exp}, Filter: "span.name RLIKE '(?P<x>a)'"})
		if err != nil && fault.KindOf(err) != fault.Invalid {
			t.Errorf("named group: %v", err)
		}
	})
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}

func TestFilterCorrelation(t *testing.T) {
	each(t, func(e *env) {
		ctx := t.Context()
		// 8 traces: "a" on 0-3, "b" on 2-5 (2 and 3 both); 6 and 7 neither.
		for i := range 8 {
			tags := map[string]string{}
			if i < 4 {
				tags["a"] = "1"
			}
			if i >= 2 && i < 6 {
				tags["b"] = "1"
			}
			e.start("tr-"+string(rune('0'+i)), int64(1000*(i+1)), tags, nil)
		}
		c, err := e.s.FilterCorrelation(ctx, []string{e.exp}, "tags.a = '1'", "tags.b IS NOT NULL", "")
		if err != nil {
			t.Fatal(err)
		}
		if c.Total != 8 || c.Filter1 != 4 || c.Filter2 != 4 || c.Joint != 2 {
			t.Errorf("counts %+v", c)
		}
		// MLflow: calculate_npmi_from_counts(2, 4, 4, 8) -> npmi 0.0, smoothed 0.0 (independent).
		if math.Abs(c.NPMI) > 1e-9 || math.Abs(c.NPMISmoothed) > 1e-9 {
			t.Errorf("npmi %v %v", c.NPMI, c.NPMISmoothed)
		}
		c, err = e.s.FilterCorrelation(ctx, []string{e.exp}, "tags.a = '1'", "tags.b = '1'", "timestamp_ms >= 3000")
		if err != nil || c.Total != 6 || c.Filter1 != 2 || c.Filter2 != 4 || c.Joint != 2 {
			t.Errorf("with a base filter: %+v %v", c, err)
		}
		// MLflow: calculate_npmi_from_counts(2, 2, 4, 6).
		if math.Abs(c.NPMI-0.3690702464285428) > 1e-12 || math.Abs(c.NPMISmoothed-0.24732998509440215) > 1e-12 {
			t.Errorf("npmi %v %v", c.NPMI, c.NPMISmoothed)
		}
		c, _ = e.s.FilterCorrelation(ctx, []string{e.exp}, "tags.a = '1'", "tags.none = 'x'", "")
		if !math.IsNaN(c.NPMI) || !math.IsNaN(c.NPMISmoothed) || c.Filter2 != 0 {
			t.Errorf("a filter that matches nothing: %+v", c)
		}
		if _, err := e.s.FilterCorrelation(ctx, []string{e.exp}, "metrics.x > 1", "", ""); fault.KindOf(err) != fault.Invalid {
			t.Errorf("bad filter: %v", err)
		}
	})
}

func TestLinkPromptsAndSearchByPrompt(t *testing.T) {
	each(t, func(e *env) {
		ctx := t.Context()
		e.start("tr-1", 1000, nil, nil)
		// As MLflow's client tags a trace that used a prompt.
		e.start("tr-2", 2000, map[string]string{traces.TagLinkedPrompts: `[{"name": "qa_%", "version": "2"}]`}, nil)
		e.start("tr-3", 3000, nil, nil)
		if err := e.s.LinkPrompts(ctx, "tr-1", []traces.PromptVersion{{"qa", "1"}, {"summary", "3"}}); err != nil {
			t.Fatal(err)
		}
		if err := e.s.LinkPrompts(ctx, "tr-2", []traces.PromptVersion{{"qa", "1"}, {"qa_%", "2"}}); err != nil {
			t.Fatal(err)
		}
		info, _ := e.s.GetInfo(ctx, "tr-2")
		if got := info.Tags[traces.TagLinkedPrompts]; got != `[{"name": "qa_%", "version": "2"}, {"name": "qa", "version": "1"}]` {
			t.Errorf("merged tag %s", got)
		}
		for filter, want := range map[string]string{
			"prompt = 'qa/1'":      "tr-2 tr-1",
			"prompt = 'summary/3'": "tr-1",
			"prompt = 'qa_%/2'":    "tr-2",
			"prompt = 'qaX%/2'":    "", // % and _ are not wildcards here
			"prompt = 'qa/2'":      "",
		} {
			infos, _, err := e.s.Search(ctx, traces.SearchQuery{ExperimentIDs: []string{e.exp}, Filter: filter})
			if err != nil || ids(infos) != want {
				t.Errorf("%s: got %q %v, want %q", filter, ids(infos), err, want)
			}
		}
		for _, filter := range []string{"prompt = 'qa'", "prompt = 'a/b/c'", "prompt LIKE 'qa%'", "text = 'x'"} {
			if _, _, err := e.s.Search(ctx, traces.SearchQuery{ExperimentIDs: []string{e.exp}, Filter: filter}); fault.KindOf(err) != fault.Invalid {
				t.Errorf("%s: %v", filter, err)
			}
		}
		if err := e.s.LinkPrompts(ctx, "tr-404", []traces.PromptVersion{{"qa", "1"}}); fault.KindOf(err) != fault.NotFound {
			t.Errorf("missing trace: %v", err)
		}
		if err := e.s.LinkPrompts(ctx, "tr-3", []traces.PromptVersion{{"", "1"}}); fault.KindOf(err) != fault.Invalid {
			t.Errorf("no name: %v", err)
		}
	})
}

func TestQueryMetrics(t *testing.T) {
	each(t, func(e *env) {
		ctx := t.Context()
		// Three traces: at 1000 (OK, 10 ms), 2000 (OK, 20 ms) and 61000 ms (ERROR, 40 ms), and
		// one of two spans sent over OpenTelemetry.
		for i, tr := range []struct {
			at, dur int64
			state   string
		}{{1000, 10, "OK"}, {2000, 20, "OK"}, {61000, 40, "ERROR"}} {
			id := "tr-" + string(rune('a'+i))
			if _, err := e.s.StartTrace(ctx, traces.Info{TraceID: id, ExperimentID: e.exp, RequestTime: tr.at,
				ExecutionDuration: ms(tr.dur), State: tr.state, Tags: map[string]string{traces.TagTraceName: "agent"}}); err != nil {
				t.Fatal(err)
			}
			var m map[string]json.RawMessage
			_ = json.Unmarshal([]byte(`{"assessment_name": "score", "feedback": {"value": `+[]string{"0.5", "1", `"yes"`}[i]+`}}`), &m)
			if _, err := e.s.CreateAssessment(ctx, id, m); err != nil {
				t.Fatal(err)
			}
		}
		a := []byte("aaaaaaaaaaaaaaaa")
		if _, err := e.s.IngestSpans(ctx, e.exp, "", request(span(a, 1, 0, "root", 5e9), span(a, 2, 1, "llm", 5e9))); err != nil {
			t.Fatal(err)
		}
		q := func(mq traces.MetricsQuery) []traces.DataPoint {
			t.Helper()
			mq.ExperimentIDs = []string{e.exp}
			got, err := e.s.QueryMetrics(ctx, mq)
			if err != nil {
				t.Fatalf("%+v: %v", mq, err)
			}
			return got
		}
		count := []traces.Aggregation{{Type: "COUNT"}}
		got := q(traces.MetricsQuery{View: "TRACES", Metric: "trace_count", Aggregations: count, Dimensions: []string{"trace_status"}})
		// The OpenTelemetry trace (its root span at 5000 ms) is OK too.
		if len(got) != 2 || got[0].Dimensions["trace_status"] != "ERROR" || got[0].Values["COUNT"] != 1 ||
			got[1].Dimensions["trace_status"] != "OK" || got[1].Values["COUNT"] != 3 {
			t.Errorf("trace_count by status: %+v", got)
		}
		stats := []traces.Aggregation{{Type: "AVG"}, {Type: "MAX"}, {Type: "PERCENTILE", Percentile: 50}}
		got = q(traces.MetricsQuery{View: "TRACES", Metric: "latency", Aggregations: stats, Filters: []string{"trace.tag.mlflow.traceName = 'agent'"}})
		if len(got) != 1 || got[0].Values["AVG"] != 70.0/3 || got[0].Values["MAX"] != 40 || got[0].Values["P50.0"] != 20 {
			t.Errorf("latency: %+v", got)
		}
		start, end := int64(0), int64(120_000)
		got = q(traces.MetricsQuery{View: "TRACES", Metric: "trace_count", Aggregations: count, TimeIntervalSeconds: 60,
			StartTimeMs: &start, EndTimeMs: &end, Filters: []string{"trace.status = 'OK'"}})
		if len(got) != 1 || got[0].Dimensions["time_bucket"] != "1970-01-01T00:00:00+00:00" || got[0].Values["COUNT"] != 3 {
			t.Errorf("by minute: %+v", got)
		}
		got = q(traces.MetricsQuery{View: "SPANS", Metric: "span_count", Aggregations: count, Dimensions: []string{"span_name"},
			Filters: []string{"span.type = 'LLM'"}})
		if len(got) != 2 || got[0].Dimensions["span_name"] != "llm" || got[1].Values["COUNT"] != 1 {
			t.Errorf("span_count: %+v", got)
		}
		got = q(traces.MetricsQuery{View: "SPANS", Metric: "latency", Aggregations: []traces.Aggregation{{Type: "MIN"}}})
		if len(got) != 1 || got[0].Values["MIN"] != 2 {
			t.Errorf("span latency: %+v", got)
		}
		got = q(traces.MetricsQuery{View: "ASSESSMENTS", Metric: "assessment_value", Aggregations: []traces.Aggregation{{Type: "AVG"}},
			Dimensions: []string{"assessment_name"}, Filters: []string{"assessment.type = 'feedback'"}})
		if len(got) != 1 || got[0].Dimensions["assessment_name"] != "score" || math.Abs(got[0].Values["AVG"]-2.5/3) > 1e-12 {
			t.Errorf("assessment_value: %+v", got)
		}
		got = q(traces.MetricsQuery{View: "ASSESSMENTS", Metric: "assessment_count", Aggregations: count, Dimensions: []string{"assessment_value"}})
		if len(got) != 3 || got[0].Values["COUNT"] != 1 {
			t.Errorf("assessment_count by value: %+v", got)
		}
		got = q(traces.MetricsQuery{View: "TRACES", Metric: "trace_count", Aggregations: count, Filters: []string{"trace.status = 'NONE'"}})
		if len(got) != 1 || got[0].Values["COUNT"] != 0 {
			t.Errorf("nothing counted: %+v", got)
		}
		for _, bad := range []traces.MetricsQuery{
			{View: "TRACES", Metric: "total_tokens", Aggregations: count},
			{View: "TRACES", Metric: "trace_count", Aggregations: []traces.Aggregation{{Type: "AVG"}}},
			{View: "TRACES", Metric: "trace_count", Aggregations: count, Dimensions: []string{"span_name"}},
			{View: "TRACES", Metric: "trace_count", Aggregations: count, Filters: []string{"span.name = 'x'"}},
			{View: "TRACES", Metric: "trace_count", Aggregations: count, Filters: []string{"trace.status != 'x'"}},
			{View: "TRACES", Metric: "trace_count", Aggregations: count, TimeIntervalSeconds: 60},
			{View: "NOPE", Metric: "trace_count", Aggregations: count},
		} {
			bad.ExperimentIDs = []string{e.exp}
			if _, err := e.s.QueryMetrics(ctx, bad); fault.KindOf(err) != fault.Invalid {
				t.Errorf("%+v: %v", bad, err)
			}
		}
	})
}
