package mlflowapi

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	pbproto "google.golang.org/protobuf/proto"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/mlship/mlship/internal/fault"
	mjson "github.com/mlship/mlship/internal/protojson"
	"github.com/mlship/mlship/internal/traces"
)

// traceRoutes are MLflow 3's trace endpoints, served under /api/2.0/mlflow and
// /api/3.0/mlflow alike (the client calls some under one, some under the other).
func (a *API) traceRoutes() []route {
	return []route{
		{"POST", "traces", a.startTrace, writeAccess},
		{"GET", "traces/{trace_id}", a.getTraceInfoV3, readAccess},
		{"GET", "traces/get", a.getTrace, readAccess},
		{"GET", "traces/batchGet", a.batchGetTraces, readAccess},
		{"POST", "traces/batchGetInfos", a.batchGetTraceInfos, readAccess},
		{"POST", "traces/search", a.searchTraces, readAccess},
		{"POST", "traces/calculate-filter-correlation", a.traceFilterCorrelation, readAccess},
		{"POST", "traces/metrics", a.queryTraceMetrics, readAccess},
		{"POST", "traces/delete-traces", a.deleteTraces, writeAccess},
		{"PATCH", "traces/{trace_id}/tags", a.setTraceTag, writeAccess},
		{"DELETE", "traces/{trace_id}/tags", a.deleteTraceTag, writeAccess},
		{"POST", "traces/link-to-run", a.linkTracesToRun, writeAccess},
		{"POST", "traces/link-prompts", a.linkPromptsToTrace, writeAccess},
		{"POST", "traces/{trace_id}/assessments", a.createAssessment, writeAccess},
		{"GET", "traces/{trace_id}/assessments/{assessment_id}", a.getAssessment, readAccess},
		{"PATCH", "traces/{trace_id}/assessments/{assessment_id}", a.updateAssessment, writeAccess},
		{"DELETE", "traces/{trace_id}/assessments/{assessment_id}", a.deleteAssessment, writeAccess},

		{"PATCH", "traces/{trace_id}", a.endTrace, writeAccess},
		{"GET", "traces/{trace_id}/info", a.getTraceInfoV2, readAccess},
		{"GET", "traces", a.searchTracesV2, readAccess},
	}
}

// traceLocation is MLflow's TraceLocation: an experiment, the only kind mlship keeps.
type traceLocation struct {
	Type             string `json:"type,omitempty"`
	MlflowExperiment *struct {
		ExperimentID idString `json:"experiment_id"`
	} `json:"mlflow_experiment,omitempty"`
}

func (l traceLocation) experimentID() string {
	if l.MlflowExperiment == nil {
		return ""
	}
	return string(l.MlflowExperiment.ExperimentID)
}

func experimentLocation(id string) traceLocation {
	l := traceLocation{Type: "MLFLOW_EXPERIMENT"}
	l.MlflowExperiment = &struct {
		ExperimentID idString `json:"experiment_id"`
	}{idString(id)}
	return l
}

// traceInfoV3 is MLflow's TraceInfoV3 in protobuf's JSON: times as RFC 3339 strings,
// durations as "1.500s".
type traceInfoV3 struct {
	TraceID           string                       `json:"trace_id"`
	ClientRequestID   string                       `json:"client_request_id,omitempty"`
	TraceLocation     traceLocation                `json:"trace_location"`
	RequestPreview    string                       `json:"request_preview,omitempty"`
	ResponsePreview   string                       `json:"response_preview,omitempty"`
	RequestTime       string                       `json:"request_time,omitempty"`
	ExecutionDuration string                       `json:"execution_duration,omitempty"`
	State             string                       `json:"state,omitempty"`
	TraceMetadata     map[string]string            `json:"trace_metadata,omitempty"`
	Tags              map[string]string            `json:"tags,omitempty"`
	Assessments       []map[string]json.RawMessage `json:"assessments,omitempty"`
}

type traceJSON struct {
	TraceInfo *traceInfoV3      `json:"trace_info"`
	Spans     []json.RawMessage `json:"spans"`
}

func infoToWire(in *traces.Info) *traceInfoV3 {
	out := &traceInfoV3{TraceID: in.TraceID, ClientRequestID: in.ClientRequestID, TraceLocation: experimentLocation(in.ExperimentID),
		RequestPreview: in.RequestPreview, ResponsePreview: in.ResponsePreview, State: in.State,
		RequestTime:   time.UnixMilli(in.RequestTime).UTC().Format("2006-01-02T15:04:05.000Z"),
		TraceMetadata: in.Metadata, Tags: in.Tags}
	if in.ExecutionDuration != nil {
		d := *in.ExecutionDuration
		out.ExecutionDuration = fmt.Sprintf("%d.%03ds", d/1000, d%1000)
	}
	for _, as := range in.Assessments {
		out.Assessments = append(out.Assessments, as.Body)
	}
	return out
}

func wireToInfo(w *traceInfoV3) (traces.Info, error) {
	in := traces.Info{TraceID: w.TraceID, ExperimentID: w.TraceLocation.experimentID(), ClientRequestID: w.ClientRequestID,
		State: w.State, RequestPreview: w.RequestPreview, ResponsePreview: w.ResponsePreview,
		Metadata: w.TraceMetadata, Tags: w.Tags}
	if w.RequestTime != "" {
		t, err := time.Parse(time.RFC3339Nano, w.RequestTime)
		if err != nil {
			return in, fault.Invalidf("Invalid value '%s' for 'request_time': expected an RFC 3339 timestamp", clipMsg(w.RequestTime))
		}
		in.RequestTime = t.UnixMilli()
	}
	if w.ExecutionDuration != "" {
		d, err := time.ParseDuration(w.ExecutionDuration)
		if err != nil || !strings.HasSuffix(w.ExecutionDuration, "s") || d < 0 {
			return in, fault.Invalidf("Invalid value '%s' for 'execution_duration': expected seconds such as '1.5s'", clipMsg(w.ExecutionDuration))
		}
		ms := d.Milliseconds()
		in.ExecutionDuration = &ms
	}
	return in, nil
}

func clipMsg(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}

// traceResponse is the answer of StartTraceV3 and GetTraceInfoV3.
type traceResponse struct {
	Trace traceJSON `json:"trace"`
}

func (a *API) startTraceV3(r *http.Request, w *traceInfoV3) (any, error) {
	in, err := wireToInfo(w)
	if err != nil {
		return nil, err
	}
	info, err := a.opts.Traces.StartTrace(r.Context(), in)
	if err != nil {
		return nil, err
	}
	return traceResponse{traceJSON{TraceInfo: infoToWire(info), Spans: []json.RawMessage{}}}, nil
}

func (a *API) getTraceInfoV3(w http.ResponseWriter, r *http.Request) (any, error) {
	info, err := a.opts.Traces.GetInfo(r.Context(), r.PathValue("trace_id"))
	if err != nil {
		return nil, err
	}
	return traceResponse{traceJSON{TraceInfo: infoToWire(info), Spans: []json.RawMessage{}}}, nil
}

func (a *API) getTrace(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		TraceID string `json:"trace_id"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.TraceID == "" {
		return nil, fault.Missing("trace_id")
	}
	out, err := a.fullTraces(r, []string{req.TraceID})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fault.NotFoundf("Trace with ID '%s' not found.", clipMsg(req.TraceID))
	}
	return traceResponse{out[0]}, nil
}

// maxBatchGet caps the traces of one batchGet: MLflow's client asks for 10 at a time.
const maxBatchGet = 100

func (a *API) batchGetTraces(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		TraceIDs []string `json:"trace_ids"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if len(req.TraceIDs) > maxBatchGet {
		return nil, fault.Invalidf("At most %d traces may be fetched at once; got %d", maxBatchGet, len(req.TraceIDs))
	}
	out, err := a.fullTraces(r, req.TraceIDs)
	if err != nil {
		return nil, err
	}
	return map[string]any{"traces": out}, nil
}

// fullTraces returns the traces that exist among ids with their spans: those the
// server keeps, or those the client uploaded as the trace's traces.json artifact.
func (a *API) fullTraces(r *http.Request, ids []string) ([]traceJSON, error) {
	infos, err := a.opts.Traces.GetInfos(r.Context(), ids)
	if err != nil {
		return nil, err
	}
	spans, err := a.opts.Traces.Spans(r.Context(), ids)
	if err != nil {
		return nil, err
	}
	out := make([]traceJSON, 0, len(infos))
	marshal := protojson.MarshalOptions{UseProtoNames: true}
	for _, in := range infos {
		t := traceJSON{TraceInfo: infoToWire(in), Spans: make([]json.RawMessage, 0, len(spans[in.TraceID]))}
		for _, b := range spans[in.TraceID] {
			var sp tracepb.Span
			if err := pbproto.Unmarshal(b, &sp); err != nil {
				return nil, fmt.Errorf("stored span of trace %s: %w", in.TraceID, err)
			}
			j, err := marshal.Marshal(&sp)
			if err != nil {
				return nil, err
			}
			t.Spans = append(t.Spans, j)
		}
		if len(spans[in.TraceID]) == 0 {
			uploaded, err := a.artifactSpans(r.Context(), in)
			if err != nil {
				// The client reads traces.json itself when the answer has no spans.
				a.logger.WarnContext(r.Context(), "trace spans in traces.json not served", "trace_id", in.TraceID, "err", err)
			}
			for _, sp := range uploaded {
				j, err := marshal.Marshal(sp)
				if err != nil {
					return nil, err
				}
				t.Spans = append(t.Spans, j)
			}
		}
		out = append(out, t)
	}
	return out, nil
}

func (a *API) batchGetTraceInfos(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		TraceIDs []string `json:"trace_ids"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if len(req.TraceIDs) > traces.MaxSearchResults {
		return nil, fault.Invalidf("At most %d trace infos may be fetched at once; got %d", traces.MaxSearchResults, len(req.TraceIDs))
	}
	infos, err := a.opts.Traces.GetInfos(r.Context(), req.TraceIDs)
	if err != nil {
		return nil, err
	}
	out := make([]*traceInfoV3, len(infos))
	for i, in := range infos {
		out[i] = infoToWire(in)
	}
	return map[string]any{"trace_infos": out}, nil
}

func (a *API) searchTraces(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		Locations     []traceLocation `json:"locations"`
		ExperimentIDs []string        `json:"experiment_ids"`
		Filter        string          `json:"filter"`
		MaxResults    *mjson.Int64    `json:"max_results"`
		OrderBy       []string        `json:"order_by"`
		PageToken     string          `json:"page_token"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	exps := req.ExperimentIDs
	for _, l := range req.Locations {
		id := l.experimentID()
		if id == "" {
			return nil, fault.Invalidf("Only traces in experiments are kept here: every location must be an MLFLOW_EXPERIMENT with an experiment_id")
		}
		exps = append(exps, id)
	}
	if len(exps) == 0 {
		return nil, fault.Invalidf("At least one experiment must be given in 'locations'")
	}
	infos, next, err := a.opts.Traces.Search(r.Context(), traces.SearchQuery{ExperimentIDs: a.readableExperiments(r.Context(), exps),
		Filter: req.Filter, OrderBy: req.OrderBy, MaxResults: orDefault(req.MaxResults, 0), PageToken: req.PageToken})
	if err != nil {
		return nil, err
	}
	out := make([]*traceInfoV3, len(infos))
	for i, in := range infos {
		out[i] = infoToWire(in)
	}
	resp := map[string]any{"traces": out}
	if next != "" {
		resp["next_page_token"] = next
	}
	return resp, nil
}

// traceFilterCorrelation answers CalculateTraceFilterCorrelation: how two filters go
// together over the traces of the experiments the caller may read.
func (a *API) traceFilterCorrelation(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		ExperimentIDs []string `json:"experiment_ids"`
		Filter1       *string  `json:"filter_string1"`
		Filter2       *string  `json:"filter_string2"`
		BaseFilter    string   `json:"base_filter"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	switch {
	case len(req.ExperimentIDs) == 0:
		return nil, fault.Missing("experiment_ids")
	case req.Filter1 == nil:
		return nil, fault.Missing("filter_string1")
	case req.Filter2 == nil:
		return nil, fault.Missing("filter_string2")
	}
	c, err := a.opts.Traces.FilterCorrelation(r.Context(), a.readableExperiments(r.Context(), req.ExperimentIDs),
		*req.Filter1, *req.Filter2, req.BaseFilter)
	if err != nil {
		return nil, err
	}
	resp := map[string]any{"filter1_count": c.Filter1, "filter2_count": c.Filter2, "joint_count": c.Joint, "total_count": c.Total}
	if !math.IsNaN(c.NPMI) {
		resp["npmi"] = c.NPMI
	}
	if !math.IsNaN(c.NPMISmoothed) {
		resp["npmi_smoothed"] = c.NPMISmoothed
	}
	return resp, nil
}

// queryTraceMetrics answers QueryTraceMetrics over the experiments the caller may read.
func (a *API) queryTraceMetrics(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		ExperimentIDs []string `json:"experiment_ids"`
		ViewType      string   `json:"view_type"`
		MetricName    string   `json:"metric_name"`
		Aggregations  []struct {
			AggregationType string   `json:"aggregation_type"`
			PercentileValue *float64 `json:"percentile_value"`
		} `json:"aggregations"`
		Dimensions          []string     `json:"dimensions"`
		Filters             []string     `json:"filters"`
		TimeIntervalSeconds *mjson.Int64 `json:"time_interval_seconds"`
		StartTimeMs         *mjson.Int64 `json:"start_time_ms"`
		EndTimeMs           *mjson.Int64 `json:"end_time_ms"`
		MaxResults          *mjson.Int64 `json:"max_results"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	switch {
	case len(req.ExperimentIDs) == 0:
		return nil, fault.Missing("experiment_ids")
	case req.ViewType == "":
		return nil, fault.Missing("view_type")
	case req.MetricName == "":
		return nil, fault.Missing("metric_name")
	}
	mq := traces.MetricsQuery{ExperimentIDs: a.readableExperiments(r.Context(), req.ExperimentIDs), View: req.ViewType,
		Metric: req.MetricName, Dimensions: req.Dimensions, Filters: req.Filters,
		TimeIntervalSeconds: int64(orDefault(req.TimeIntervalSeconds, 0)), MaxResults: orDefault(req.MaxResults, 0)}
	for _, ag := range req.Aggregations {
		agg := traces.Aggregation{Type: ag.AggregationType}
		switch {
		case ag.AggregationType == "PERCENTILE" && ag.PercentileValue == nil:
			return nil, fault.Invalidf("Percentile value is required for PERCENTILE aggregation")
		case ag.AggregationType != "PERCENTILE" && ag.PercentileValue != nil:
			return nil, fault.Invalidf("Percentile value is only allowed for PERCENTILE aggregation type, got %s", clipMsg(ag.AggregationType))
		case ag.PercentileValue != nil:
			agg.Percentile = *ag.PercentileValue
		}
		mq.Aggregations = append(mq.Aggregations, agg)
	}
	if req.StartTimeMs != nil {
		v := int64(*req.StartTimeMs)
		mq.StartTimeMs = &v
	}
	if req.EndTimeMs != nil {
		v := int64(*req.EndTimeMs)
		mq.EndTimeMs = &v
	}
	points, err := a.opts.Traces.QueryMetrics(r.Context(), mq)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, len(points))
	for i, p := range points {
		out[i] = map[string]any{"metric_name": p.Metric, "dimensions": p.Dimensions, "values": p.Values}
	}
	return map[string]any{"data_points": out}, nil
}

func (a *API) deleteTraces(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		ExperimentID       idString     `json:"experiment_id"`
		MaxTimestampMillis *mjson.Int64 `json:"max_timestamp_millis"`
		MaxTraces          *mjson.Int64 `json:"max_traces"`
		RequestIDs         []string     `json:"request_ids"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	q := traces.DeleteQuery{ExperimentID: string(req.ExperimentID), TraceIDs: req.RequestIDs}
	if req.MaxTimestampMillis != nil {
		v := int64(*req.MaxTimestampMillis)
		q.MaxTimestampMs = &v
	}
	if req.MaxTraces != nil {
		v := int64(*req.MaxTraces)
		q.MaxTraces = &v
	}
	n, err := a.opts.Traces.Delete(r.Context(), q)
	if err != nil {
		return nil, err
	}
	return map[string]int{"traces_deleted": n}, nil
}

type traceTagRequest struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func (a *API) setTraceTag(w http.ResponseWriter, r *http.Request) (any, error) {
	var req traceTagRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return struct{}{}, a.opts.Traces.SetTag(r.Context(), r.PathValue("trace_id"), req.Key, req.Value)
}

func (a *API) deleteTraceTag(w http.ResponseWriter, r *http.Request) (any, error) {
	var req traceTagRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.Key == "" { // MLflow's client sends DELETE's fields in the query string
		req.Key = r.URL.Query().Get("key")
	}
	return struct{}{}, a.opts.Traces.DeleteTag(r.Context(), r.PathValue("trace_id"), req.Key)
}

func (a *API) linkTracesToRun(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		TraceIDs []string `json:"trace_ids"`
		RunID    string   `json:"run_id"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return struct{}{}, a.opts.Traces.LinkToRun(r.Context(), req.RunID, req.TraceIDs)
}

func (a *API) linkPromptsToTrace(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		TraceID        string `json:"trace_id"`
		PromptVersions []struct {
			Name    string   `json:"name"`
			Version idString `json:"version"`
		} `json:"prompt_versions"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.TraceID == "" {
		return nil, fault.Missing("trace_id")
	}
	versions := make([]traces.PromptVersion, len(req.PromptVersions))
	for i, v := range req.PromptVersions {
		versions[i] = traces.PromptVersion{Name: v.Name, Version: string(v.Version)}
	}
	return struct{}{}, a.opts.Traces.LinkPrompts(r.Context(), req.TraceID, versions)
}

type assessmentResponse struct {
	Assessment map[string]json.RawMessage `json:"assessment"`
}

func (a *API) createAssessment(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		Assessment map[string]json.RawMessage `json:"assessment"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.Assessment == nil {
		return nil, fault.Missing("assessment")
	}
	as, err := a.opts.Traces.CreateAssessment(r.Context(), r.PathValue("trace_id"), req.Assessment)
	if err != nil {
		return nil, err
	}
	return assessmentResponse{as.Body}, nil
}

func (a *API) getAssessment(w http.ResponseWriter, r *http.Request) (any, error) {
	as, err := a.opts.Traces.GetAssessment(r.Context(), r.PathValue("trace_id"), r.PathValue("assessment_id"))
	if err != nil {
		return nil, err
	}
	return assessmentResponse{as.Body}, nil
}

func (a *API) updateAssessment(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		Assessment map[string]json.RawMessage `json:"assessment"`
		UpdateMask string                     `json:"update_mask"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	var paths []string
	if req.UpdateMask != "" {
		paths = strings.Split(req.UpdateMask, ",")
	}
	as, err := a.opts.Traces.UpdateAssessment(r.Context(), r.PathValue("trace_id"), r.PathValue("assessment_id"), req.Assessment, paths)
	if err != nil {
		return nil, err
	}
	return assessmentResponse{as.Body}, nil
}

func (a *API) deleteAssessment(w http.ResponseWriter, r *http.Request) (any, error) {
	return struct{}{}, a.opts.Traces.DeleteAssessment(r.Context(), r.PathValue("trace_id"), r.PathValue("assessment_id"))
}
