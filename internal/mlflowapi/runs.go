package mlflowapi

import (
	"net/http"

	"github.com/mlship/mlship/internal/httpx"
	"github.com/mlship/mlship/internal/protojson"
	"github.com/mlship/mlship/internal/tracking"
)

// runRef names a run; clients send both run_id and the deprecated run_uuid.
type runRef struct {
	RunID   string `json:"run_id"`
	RunUUID string `json:"run_uuid"`
}

func (r runRef) id() string {
	if r.RunID != "" {
		return r.RunID
	}
	return r.RunUUID
}

type runResponse struct {
	Run *tracking.Run `json:"run"`
}

func (a *API) createRun(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		ExperimentID idString         `json:"experiment_id"`
		UserID       string           `json:"user_id"`
		RunName      string           `json:"run_name"`
		StartTime    *protojson.Int64 `json:"start_time"`
		Tags         []tracking.Tag   `json:"tags"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	in := tracking.CreateRunInput{ExperimentID: string(req.ExperimentID), UserID: req.UserID,
		RunName: req.RunName, Tags: req.Tags}
	if req.StartTime != nil {
		t := int64(*req.StartTime)
		in.StartTime = &t
	}
	run, err := a.tracking.CreateRun(r.Context(), in)
	if err != nil {
		return nil, err
	}
	return runResponse{run}, nil
}

func (a *API) getRun(w http.ResponseWriter, r *http.Request) (any, error) {
	var req runRef
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	run, err := a.tracking.GetRun(r.Context(), req.id())
	if err != nil {
		return nil, err
	}
	return runResponse{run}, nil
}

func (a *API) updateRun(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		runRef
		Status  runStatus        `json:"status"`
		EndTime *protojson.Int64 `json:"end_time"`
		RunName string           `json:"run_name"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	in := tracking.UpdateRunInput{RunID: req.id(), Status: string(req.Status), RunName: req.RunName}
	if req.EndTime != nil {
		t := int64(*req.EndTime)
		in.EndTime = &t
	}
	info, err := a.tracking.UpdateRun(r.Context(), in)
	if err != nil {
		return nil, err
	}
	return struct {
		RunInfo *tracking.RunInfo `json:"run_info"`
	}{info}, nil
}

func (a *API) deleteRun(w http.ResponseWriter, r *http.Request) (any, error) {
	var req runRef
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return httpx.Empty, a.tracking.DeleteRun(r.Context(), req.id())
}

func (a *API) restoreRun(w http.ResponseWriter, r *http.Request) (any, error) {
	var req runRef
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return httpx.Empty, a.tracking.RestoreRun(r.Context(), req.id())
}

func (a *API) searchRuns(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		ExperimentIDs idList           `json:"experiment_ids"`
		Filter        string           `json:"filter"`
		RunViewType   viewType         `json:"run_view_type"`
		MaxResults    *protojson.Int64 `json:"max_results"`
		OrderBy       []string         `json:"order_by"`
		PageToken     string           `json:"page_token"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	runs, next, err := a.tracking.SearchRuns(r.Context(), tracking.SearchRunsQuery{
		ExperimentIDs: a.readableExperiments(r.Context(), req.ExperimentIDs.strings()), Filter: req.Filter, ViewType: string(req.RunViewType),
		MaxResults: orDefault(req.MaxResults, tracking.DefaultSearchRunsResults), OrderBy: req.OrderBy, PageToken: req.PageToken,
	})
	if err != nil {
		return nil, err
	}
	return struct {
		Runs          []*tracking.Run `json:"runs,omitempty"`
		NextPageToken string          `json:"next_page_token,omitempty"`
	}{runs, next}, nil
}

// metricRequest is a Metric as clients send it: timestamp and step may be strings, and
// value is required.
type metricRequest struct {
	Key           string           `json:"key"`
	Value         *protojson.Float `json:"value"`
	Timestamp     *protojson.Int64 `json:"timestamp"`
	Step          protojson.Int64  `json:"step"`
	ModelID       string           `json:"model_id"`
	DatasetName   string           `json:"dataset_name"`
	DatasetDigest string           `json:"dataset_digest"`
}

func (m metricRequest) metric() (tracking.Metric, error) {
	if m.Value == nil {
		return tracking.Metric{}, tracking.Required("value", "")
	}
	if m.Timestamp == nil {
		return tracking.Metric{}, tracking.Required("timestamp", "")
	}
	return tracking.Metric{Key: m.Key, Value: *m.Value, Timestamp: int64(*m.Timestamp), Step: int64(m.Step),
		ModelID: m.ModelID, DatasetName: m.DatasetName, DatasetDigest: m.DatasetDigest}, nil
}

func (a *API) logMetric(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		runRef
		metricRequest
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := tracking.Required("key", req.Key); err != nil {
		return nil, err
	}
	m, err := req.metric()
	if err != nil {
		return nil, err
	}
	return httpx.Empty, a.tracking.LogMetric(r.Context(), req.id(), m)
}

func (a *API) logParam(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		runRef
		Key   string  `json:"key"`
		Value *string `json:"value"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.Value == nil {
		return nil, tracking.Required("value", "")
	}
	return httpx.Empty, a.tracking.LogParam(r.Context(), req.id(), tracking.Param{Key: req.Key, Value: *req.Value})
}

func (a *API) setTag(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		runRef
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return httpx.Empty, a.tracking.SetTag(r.Context(), req.id(), tracking.Tag{Key: req.Key, Value: req.Value})
}

func (a *API) deleteTag(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		runRef
		Key string `json:"key"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return httpx.Empty, a.tracking.DeleteTag(r.Context(), req.id(), req.Key)
}

func (a *API) logBatch(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		runRef
		Metrics batchList[metricRequest]  `json:"metrics"`
		Params  batchList[tracking.Param] `json:"params"`
		Tags    batchList[tracking.Tag]   `json:"tags"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := tracking.CheckBatchSizes(req.Metrics.n, req.Params.n, req.Tags.n); err != nil {
		return nil, err
	}
	b := tracking.Batch{Params: req.Params.items, Tags: req.Tags.items, Metrics: make([]tracking.Metric, 0, req.Metrics.n)}
	for _, mr := range req.Metrics.items {
		m, err := mr.metric()
		if err != nil {
			return nil, err
		}
		b.Metrics = append(b.Metrics, m)
	}
	return httpx.Empty, a.tracking.LogBatch(r.Context(), req.id(), b)
}

func (a *API) logInputs(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		runRef
		Datasets []tracking.DatasetInput `json:"datasets"`
		Models   []tracking.ModelInput   `json:"models"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return httpx.Empty, a.tracking.LogInputs(r.Context(), req.id(), req.Datasets, req.Models)
}

func (a *API) getMetricHistory(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		runRef
		MetricKey  string          `json:"metric_key"`
		MaxResults protojson.Int64 `json:"max_results"`
		PageToken  string          `json:"page_token"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	ms, next, err := a.tracking.GetMetricHistory(r.Context(), req.id(), req.MetricKey, int(req.MaxResults), req.PageToken)
	if err != nil {
		return nil, err
	}
	return struct {
		Metrics       []tracking.Metric `json:"metrics,omitempty"`
		NextPageToken string            `json:"next_page_token,omitempty"`
	}{ms, next}, nil
}

func (a *API) getMetricHistoryBulkInterval(w http.ResponseWriter, r *http.Request) (any, error) {
	var req struct {
		RunIDs     idList           `json:"run_ids"`
		MetricKey  string           `json:"metric_key"`
		StartStep  *protojson.Int64 `json:"start_step"`
		EndStep    *protojson.Int64 `json:"end_step"`
		MaxResults *protojson.Int64 `json:"max_results"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	q := tracking.BulkIntervalQuery{RunIDs: req.RunIDs.strings(), Key: req.MetricKey, MaxResults: orDefault(req.MaxResults, tracking.MaxBulkIntervalPoints),
		StartStep: (*int64)(req.StartStep), EndStep: (*int64)(req.EndStep)}
	ms, err := a.tracking.GetMetricHistoryBulkInterval(r.Context(), q)
	if err != nil {
		return nil, err
	}
	return struct {
		Metrics []tracking.Metric `json:"metrics,omitempty"`
	}{ms}, nil
}
