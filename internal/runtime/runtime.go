// Package runtime defines the one interface behind which every model runtime sits: a
// runtime loads a model's files into a Model, and a Model turns a Request of named
// tensors into a Response. The serving layer (protocols, batching, routing) speaks only
// this interface; the runtimes are the process runtime (worker processes in the model's
// own language, in runtime/process) and the native ONNX engine.
package runtime

import (
	"context"
	"log/slog"
)

// Layout says how the tensors of a request relate to each other.
type Layout uint8

const (
	// LayoutTensors: the inputs are named tensors (Open Inference Protocol inputs,
	// MLflow's "inputs" and "instances").
	LayoutTensors Layout = iota
	// LayoutColumns: the inputs are the columns of one table, in order, each of shape
	// [rows] (MLflow's dataframe formats and CSV). A runtime that takes tables builds
	// one from them.
	LayoutColumns
)

func (l Layout) String() string {
	if l == LayoutColumns {
		return "columns"
	}
	return "tensors"
}

// Request is one prediction request, already decoded from its protocol.
type Request struct {
	Layout Layout
	Inputs []Tensor
	// Params are MLflow's inference params, passed to models that declare them.
	Params map[string]any
}

// Rows is the batch size of the request: the first dimension of its first input.
func (r *Request) Rows() int64 {
	if len(r.Inputs) == 0 {
		return 0
	}
	return r.Inputs[0].Rows()
}

// ResultKind is the shape of a model's own result, for protocols that mirror it:
// MLflow's /invocations writes a table as records and an array as a list.
type ResultKind string

const (
	ResultArray  ResultKind = "array"  // one tensor (numpy array, list)
	ResultTable  ResultKind = "table"  // the outputs are the columns of a table (DataFrame)
	ResultSeries ResultKind = "series" // one column (pandas Series)
	ResultDict   ResultKind = "dict"   // named tensors (a dict of arrays)
)

// Response is a model's answer to a Request.
type Response struct {
	Kind    ResultKind
	Outputs []Tensor
}

// TensorSpec describes one input or output: its name, datatype and shape, with -1 for
// a dimension of any size.
type TensorSpec struct {
	Name     string   `json:"name"`
	Datatype Datatype `json:"datatype"`
	Shape    []int64  `json:"shape"`
	Optional bool     `json:"optional,omitempty"`
}

// Metadata is what a loaded model says about itself.
type Metadata struct {
	// Platform names the model's format, as the Open Inference Protocol's model
	// metadata does: "mlflow_pyfunc", "r_rds", "onnx_onnxv1".
	Platform string
	Inputs   []TensorSpec
	Outputs  []TensorSpec
	// Columns is true when the model takes a table: Inputs are its columns.
	Columns bool
	// Batchable is true when the model's prediction for rows stacked together is the
	// predictions for each row stacked together, so that requests may be batched.
	Batchable bool
	// InFlight is how many requests each of the model's workers takes at once: a
	// process worker is sent its next request while it computes one. A batcher that
	// does not batch keeps that many going per worker. 0 means 1.
	InFlight int
	// Environment describes the environment the model runs in when the runtime built
	// one for it (a Python environment from the model's requirements); empty otherwise.
	Environment string
}

// Model is a loaded model. Predict is safe for concurrent use.
type Model interface {
	Metadata() Metadata
	// Predict runs one request. Errors of kind fault.Invalid are the client's (wrong
	// names, shapes or types); fault.Unavailable means the model cannot serve now
	// (a worker crashed and is being replaced); fault.DeadlineExceeded means ctx ended.
	Predict(ctx context.Context, req *Request) (*Response, error)
	// Close stops the model and releases everything it holds. In-flight predictions
	// fail with fault.Unavailable.
	Close() error
}

// Spec names the model to load.
type Spec struct {
	// Dir holds the model's files on local disk (an MLflow model directory, or a
	// directory with one model file).
	Dir string
	// Name and Version label the model in logs and metrics.
	Name, Version string
	Logger        *slog.Logger
}

// Runtime loads models of the formats it knows.
type Runtime interface {
	// Name is the runtime's name as deployments and flags give it: "python", "r",
	// "command", "onnx".
	Name() string
	// Load loads and warms up the model; it returns when the model can serve.
	Load(ctx context.Context, spec Spec) (Model, error)
}
