// Package oip speaks the Open Inference Protocol (KServe v2) over REST, with Triton's
// binary tensor data extension, which the Python tritonclient uses by default and
// perf_analyzer needs. It turns inference request bodies into runtime requests and
// runtime responses into bodies, and defines the bodies of the metadata, model config
// and error answers. It holds no HTTP: the serving handlers call it with the body and
// the Inference-Header-Content-Length header.
//
// Binary tensor data: when the header is present, the body is that many bytes of JSON
// followed by the raw bytes of the inputs whose parameters carry binary_data_size, in
// the order of the inputs. Elements are little-endian; BOOL takes one byte (0 or 1);
// each BYTES element is a 4-byte little-endian length and then its bytes. Outputs are
// sent the same way when the request asks (binary_data on a requested output, or
// binary_data_output on the request).
package oip

import (
	"time"

	"github.com/mlship/mlship/internal/runtime"
)

// HeaderJSONLength is the header that gives the length of the JSON part of a body that
// carries binary tensor data.
const HeaderJSONLength = "Inference-Header-Content-Length"

// InferRequest is a decoded inference request.
type InferRequest struct {
	// ID is the request's id, echoed in the response; "" when it has none.
	ID string
	// Parameters are the request's parameters, as JSON values (see
	// tensorjson.Value.Interface); nil when it has none.
	Parameters map[string]any
	// Request holds the inputs, as named tensors (LayoutTensors), in request order.
	// Their data may alias the body the request was decoded from.
	Request runtime.Request
	// Outputs are the outputs the client asked for, in its order; empty means all.
	Outputs []RequestedOutput
	// BinaryOutput is the request's binary_data_output parameter: whether outputs
	// that do not say otherwise are sent as binary data.
	BinaryOutput bool

	timeout time.Duration
}

// Timeout is the request's timeout parameter (Triton's, in microseconds): how long
// the client will wait for the prediction; 0 when it does not say.
func (r *InferRequest) Timeout() time.Duration { return r.timeout }

// RequestedOutput is one output a client asked for.
type RequestedOutput struct {
	Name string
	// Binary is whether to send it as binary data: its own binary_data parameter, or
	// else the request's binary_data_output.
	Binary bool
}
