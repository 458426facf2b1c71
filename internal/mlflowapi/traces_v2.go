package mlflowapi

import (
	"encoding/json"
	"net/http"

	"github.com/mlship/mlship/internal/fault"
	mjson "github.com/mlship/mlship/internal/protojson"
	"github.com/mlship/mlship/internal/traces"
)

// MLflow 2's trace routes, which MLflow 2 clients call (and MLflow 3's, when a v3 route
// is missing): a trace started and ended in two calls, its info in TraceInfo's older shape.

type keyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func pairs(kvs []keyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

func keyValues(m map[string]string) []keyValue {
	out := make([]keyValue, 0, len(m))
	for k, v := range m {
		out = append(out, keyValue{k, v})
	}
	return out
}

// traceInfoV2 is MLflow 2's TraceInfo.
type traceInfoV2 struct {
	RequestID       string     `json:"request_id"`
	ExperimentID    string     `json:"experiment_id"`
	TimestampMs     int64      `json:"timestamp_ms"`
	ExecutionTimeMs *int64     `json:"execution_time_ms,omitempty"`
	Status          string     `json:"status"`
	RequestMetadata []keyValue `json:"request_metadata"`
	Tags            []keyValue `json:"tags"`
}

func infoToV2(in *traces.Info) traceInfoV2 {
	return traceInfoV2{RequestID: in.TraceID, ExperimentID: in.ExperimentID, TimestampMs: in.RequestTime,
		ExecutionTimeMs: in.ExecutionDuration, Status: in.State, RequestMetadata: keyValues(in.Metadata), Tags: keyValues(in.Tags)}
}

// traceStatus is TraceStatus (v2) or TraceInfoV3.State, by name or number.
type traceStatus string

func (s *traceStatus) UnmarshalJSON(b []byte) error {
	v, err := decodeEnum(b, []string{traces.StateOK, traces.StateError, traces.StateInProgress}, "trace status")
	if err != nil {
		var name string
		if json.Unmarshal(b, &name) == nil && (name == "TRACE_STATUS_UNSPECIFIED" || name == "STATE_UNSPECIFIED") {
			*s = ""
			return nil
		}
		return fault.Invalidf("Invalid trace status %s: expected OK, ERROR or IN_PROGRESS", clipMsg(string(b)))
	}
	*s = traceStatus(v)
	return nil
}

// startTrace is POST traces: StartTraceV3 when the body holds a trace, MLflow 2's
// StartTrace otherwise.
func (a *API) startTrace(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		Trace *struct {
			TraceInfo *traceInfoV3 `json:"trace_info"`
		} `json:"trace"`
		ExperimentID    idString     `json:"experiment_id"`
		TimestampMs     *mjson.Int64 `json:"timestamp_ms"`
		RequestMetadata []keyValue   `json:"request_metadata"`
		Tags            []keyValue   `json:"tags"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.Trace != nil || req.ExperimentID == "" {
		if req.Trace == nil || req.Trace.TraceInfo == nil {
			return nil, fault.Missing("trace.trace_info")
		}
		return a.startTraceV3(r, req.Trace.TraceInfo)
	}
	in := traces.Info{TraceID: traces.NewRequestID(), ExperimentID: string(req.ExperimentID), RequestTime: int64(orDefault(req.TimestampMs, 0)),
		State: traces.StateInProgress, Metadata: pairs(req.RequestMetadata), Tags: pairs(req.Tags)}
	info, err := a.opts.Traces.StartTrace(r.Context(), in)
	if err != nil {
		return nil, err
	}
	return map[string]any{"trace_info": infoToV2(info)}, nil
}

// endTrace is MLflow 2's EndTrace.
func (a *API) endTrace(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		TimestampMs     *mjson.Int64 `json:"timestamp_ms"`
		Status          traceStatus  `json:"status"`
		RequestMetadata []keyValue   `json:"request_metadata"`
		Tags            []keyValue   `json:"tags"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.TimestampMs == nil {
		return nil, fault.Missing("timestamp_ms")
	}
	info, err := a.opts.Traces.EndTrace(r.Context(), r.PathValue("trace_id"), int64(*req.TimestampMs), string(req.Status),
		pairs(req.RequestMetadata), pairs(req.Tags))
	if err != nil {
		return nil, err
	}
	return map[string]any{"trace_info": infoToV2(info)}, nil
}

// getTraceInfoV2 is MLflow 2's GetTraceInfo.
func (a *API) getTraceInfoV2(w http.ResponseWriter, r *http.Request) (any, error) {
	info, err := a.opts.Traces.GetInfo(r.Context(), r.PathValue("trace_id"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"trace_info": infoToV2(info)}, nil
}

// searchTracesV2 is MLflow 2's SearchTraces: a GET with experiment_ids.
func (a *API) searchTracesV2(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		ExperimentIDs []string     `json:"experiment_ids"`
		Filter        string       `json:"filter"`
		MaxResults    *mjson.Int64 `json:"max_results"`
		OrderBy       []string     `json:"order_by"`
		PageToken     string       `json:"page_token"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if len(req.ExperimentIDs) == 0 {
		return nil, fault.Invalidf("At least one experiment must be given in 'experiment_ids'")
	}
	infos, next, err := a.opts.Traces.Search(r.Context(), traces.SearchQuery{ExperimentIDs: a.readableExperiments(r.Context(), req.ExperimentIDs),
		Filter: req.Filter, OrderBy: req.OrderBy, MaxResults: orDefault(req.MaxResults, 0), PageToken: req.PageToken})
	if err != nil {
		return nil, err
	}
	out := make([]traceInfoV2, len(infos))
	for i, in := range infos {
		out[i] = infoToV2(in)
	}
	resp := map[string]any{"traces": out}
	if next != "" {
		resp["next_page_token"] = next
	}
	return resp, nil
}
