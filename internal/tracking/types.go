// Package tracking owns experiments, runs and everything a run logs: metrics and their
// histories, params, tags and the datasets a run consumed. It enforces MLflow's rules
// (validation limits, immutable params, latest-metric semantics, lifecycle stages) and
// its search grammar, over the metadata store. It knows nothing of HTTP.
//
// Entities carry MLflow's JSON field names, since MLflow's data model is the product's.
package tracking

import "github.com/mlship/mlship/internal/protojson"

// Lifecycle stages of experiments and runs.
const (
	StageActive  = "active"
	StageDeleted = "deleted"
)

// Run statuses, as MLflow names them.
const (
	StatusRunning   = "RUNNING"
	StatusScheduled = "SCHEDULED"
	StatusFinished  = "FINISHED"
	StatusFailed    = "FAILED"
	StatusKilled    = "KILLED"
)

// RunStatuses lists the valid statuses in MLflow's enum order (RUNNING = 1).
var RunStatuses = []string{StatusRunning, StatusScheduled, StatusFinished, StatusFailed, StatusKilled}

// View types of searches (MLflow's ViewType enum, ACTIVE_ONLY = 1).
const (
	ViewActiveOnly  = "ACTIVE_ONLY"
	ViewDeletedOnly = "DELETED_ONLY"
	ViewAll         = "ALL"
)

// ViewTypes lists the view types in enum order.
var ViewTypes = []string{ViewActiveOnly, ViewDeletedOnly, ViewAll}

// Tag is a key and a value attached to an experiment or a run.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Param is an immutable key and value logged to a run.
type Param struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Experiment groups runs.
type Experiment struct {
	ExperimentID     string `json:"experiment_id"`
	Name             string `json:"name"`
	ArtifactLocation string `json:"artifact_location"`
	LifecycleStage   string `json:"lifecycle_stage"`
	LastUpdateTime   int64  `json:"last_update_time"`
	CreationTime     int64  `json:"creation_time"`
	Tags             []Tag  `json:"tags,omitempty"`
}

// Metric is one logged point of a metric.
type Metric struct {
	Key           string          `json:"key"`
	Value         protojson.Float `json:"value"`
	Timestamp     int64           `json:"timestamp"`
	Step          int64           `json:"step"`
	DatasetName   string          `json:"dataset_name,omitempty"`
	DatasetDigest string          `json:"dataset_digest,omitempty"`
	ModelID       string          `json:"model_id,omitempty"`
	RunID         string          `json:"run_id,omitempty"`
}

// RunInfo is a run's own attributes.
type RunInfo struct {
	RunID          string `json:"run_id"`
	RunUUID        string `json:"run_uuid"`
	RunName        string `json:"run_name"`
	ExperimentID   string `json:"experiment_id"`
	UserID         string `json:"user_id"`
	Status         string `json:"status"`
	StartTime      *int64 `json:"start_time,omitempty"`
	EndTime        *int64 `json:"end_time,omitempty"`
	ArtifactURI    string `json:"artifact_uri"`
	LifecycleStage string `json:"lifecycle_stage"`
}

// RunData is what a run logged: its latest metrics, params and tags.
type RunData struct {
	Metrics []Metric `json:"metrics,omitempty"`
	Params  []Param  `json:"params,omitempty"`
	Tags    []Tag    `json:"tags,omitempty"`
}

// Dataset describes a dataset by name, digest and source.
type Dataset struct {
	Name       string `json:"name"`
	Digest     string `json:"digest"`
	SourceType string `json:"source_type"`
	Source     string `json:"source"`
	Schema     string `json:"schema,omitempty"`
	Profile    string `json:"profile,omitempty"`
}

// DatasetInput is a dataset a run used, with tags such as its context ("training").
type DatasetInput struct {
	Tags    []Tag   `json:"tags,omitempty"`
	Dataset Dataset `json:"dataset"`
}

// ModelInput is a logged model a run used.
type ModelInput struct {
	ModelID string `json:"model_id"`
}

// RunInputs is what a run consumed.
type RunInputs struct {
	DatasetInputs []DatasetInput `json:"dataset_inputs,omitempty"`
	ModelInputs   []ModelInput   `json:"model_inputs,omitempty"`
}

// RunOutputs is what a run produced.
type RunOutputs struct {
	ModelOutputs []ModelOutput `json:"model_outputs,omitempty"`
}

// Run is a run with everything it logged.
type Run struct {
	Info    RunInfo     `json:"info"`
	Data    RunData     `json:"data"`
	Inputs  RunInputs   `json:"inputs"`
	Outputs *RunOutputs `json:"outputs,omitempty"`
}
