package oip

import (
	"github.com/mlship/mlship/internal/runtime"
)

// The extensions a server may list in its metadata.
const (
	ExtensionBinaryTensorData = "binary_tensor_data"
	ExtensionModelRepository  = "model_repository"
	ExtensionStatistics       = "statistics"
)

// ServerMetadata is the body of GET /v2.
type ServerMetadata struct {
	Name       string   `json:"name"`
	Version    string   `json:"version"`
	Extensions []string `json:"extensions"`
}

// NewServerMetadata describes a server. extensions lists the protocol extensions it
// serves (clients look there for features: perf_analyzer asks for statistics only when
// "statistics" is listed), so list only what the server answers.
func NewServerMetadata(name, version string, extensions []string) ServerMetadata {
	if extensions == nil {
		extensions = []string{}
	}
	return ServerMetadata{Name: name, Version: version, Extensions: extensions}
}

// TensorMetadata describes one input or output; -1 in Shape is a dimension of any size.
type TensorMetadata struct {
	Name     string           `json:"name"`
	Datatype runtime.Datatype `json:"datatype"`
	Shape    []int64          `json:"shape"`
}

// ModelMetadata is the body of GET /v2/models/{name}[/versions/{version}].
type ModelMetadata struct {
	Name     string           `json:"name"`
	Versions []string         `json:"versions,omitempty"`
	Platform string           `json:"platform"`
	Inputs   []TensorMetadata `json:"inputs"`
	Outputs  []TensorMetadata `json:"outputs"`
}

// NewModelMetadata describes a model from what it says about itself. A model that
// takes a table lists its columns as inputs; over this protocol each column is an input
// of shape [rows] or [rows, 1].
func NewModelMetadata(name string, versions []string, md runtime.Metadata) ModelMetadata {
	return ModelMetadata{
		Name: name, Versions: versions, Platform: md.Platform,
		Inputs: tensorMetadata(md.Inputs), Outputs: tensorMetadata(md.Outputs),
	}
}

func tensorMetadata(specs []runtime.TensorSpec) []TensorMetadata {
	out := make([]TensorMetadata, len(specs))
	for i, s := range specs {
		shape := s.Shape
		if shape == nil {
			shape = []int64{}
		}
		out[i] = TensorMetadata{Name: s.Name, Datatype: s.Datatype, Shape: shape}
	}
	return out
}

// ModelConfig is the body of GET /v2/models/{name}/config: the part of Triton's model
// configuration that clients read. perf_analyzer reads max_batch_size, the inputs'
// names and optional flags, the outputs' names and whether dynamic_batching is set;
// the shapes it sends come from the model metadata, less the first dimension when
// max_batch_size is above 0.
type ModelConfig struct {
	Name            string           `json:"name"`
	Platform        string           `json:"platform"`
	MaxBatchSize    int              `json:"max_batch_size"`
	Input           []ConfigTensor   `json:"input"`
	Output          []ConfigTensor   `json:"output"`
	DynamicBatching *DynamicBatching `json:"dynamic_batching,omitempty"`
}

// ConfigTensor is an input or output in a ModelConfig. DataType is Triton's name for
// the datatype ("TYPE_FP32"; BYTES is "TYPE_STRING"); Dims leave out the batch
// dimension when the model's max_batch_size is above 0.
type ConfigTensor struct {
	Name     string  `json:"name"`
	DataType string  `json:"data_type"`
	Dims     []int64 `json:"dims"`
	Optional bool    `json:"optional,omitempty"`
}

// DynamicBatching, present in a ModelConfig, says that the server batches requests
// together.
type DynamicBatching struct{}

// NewModelConfig builds the model config of a model. maxBatchSize is the most rows the
// server batches together for it, or 0 when it does not batch the model's requests.
// The config reports batching only when the model is also batchable and every input
// and output has a first dimension of any size (-1), which is then the batch
// dimension: max_batch_size is maxBatchSize, the dims leave that dimension out, and
// dynamic_batching is set. Otherwise max_batch_size is 0 and the dims are the shapes.
func NewModelConfig(name string, md runtime.Metadata, maxBatchSize int) ModelConfig {
	batch := maxBatchSize > 0 && md.Batchable && hasBatchDim(md.Inputs) && hasBatchDim(md.Outputs)
	c := ModelConfig{Name: name, Platform: md.Platform}
	if batch {
		c.MaxBatchSize = maxBatchSize
		c.DynamicBatching = &DynamicBatching{}
	}
	c.Input = configTensors(md.Inputs, batch)
	c.Output = configTensors(md.Outputs, batch)
	return c
}

func hasBatchDim(specs []runtime.TensorSpec) bool {
	for _, s := range specs {
		if len(s.Shape) == 0 || s.Shape[0] != -1 {
			return false
		}
	}
	return true
}

func configTensors(specs []runtime.TensorSpec, batch bool) []ConfigTensor {
	out := make([]ConfigTensor, len(specs))
	for i, s := range specs {
		dims := s.Shape
		if batch {
			dims = dims[1:]
		}
		out[i] = ConfigTensor{Name: s.Name, DataType: ConfigDataType(s.Datatype), Dims: append([]int64{}, dims...), Optional: s.Optional}
	}
	return out
}

// ConfigDataType is Triton's model-config name of a datatype: "TYPE_" and the
// datatype, except that BYTES is "TYPE_STRING".
func ConfigDataType(d runtime.Datatype) string {
	if d == runtime.Bytes {
		return "TYPE_STRING"
	}
	return "TYPE_" + string(d)
}

// ErrorBody is the body of every error answer of the protocol.
type ErrorBody struct {
	Error string `json:"error"`
}
