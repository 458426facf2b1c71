package mlflowapi

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/httpx"
)

// OpenTelemetry ingest: OTLP/HTTP export requests of spans, as MLflow's server takes
// them at /v1/traces, into the experiment the x-mlflow-experiment-id header names.
const (
	OTLPTracesPath   = "/v1/traces"
	experimentHeader = "X-Mlflow-Experiment-Id"
	runHeader        = "X-Mlflow-Run-Id"
)

// otlpBody is what /v1/traces reads: OTLP's protobuf and JSON encodings.
var otlpBody = httpx.Accepts("application/x-protobuf", "application/json").RefusedWith(http.StatusBadRequest, "INVALID_PARAMETER_VALUE")

// registerOTLP mounts the ingest route.
func (a *API) registerOTLP(rt *httpx.Router) {
	h := a.checkObjects("POST", OTLPTracesPath, httpx.LimitBody(a.opts.MaxBodyBytes, httpx.Handle(a.logger, a.exportTraces)))
	rt.Handle(httpx.Route{Method: "POST", Path: OTLPTracesPath, Body: otlpBody, Access: writeAccess, Handler: h})
}

// exportTraces stores an ExportTraceServiceRequest's spans, all or none, and answers
// an empty ExportTraceServiceResponse in the request's encoding.
func (a *API) exportTraces(w http.ResponseWriter, r *http.Request) (any, error) {
	exp := r.Header.Get(experimentHeader)
	if exp == "" {
		return nil, fault.Invalidf("Missing header %s: it names the experiment the spans go to", experimentHeader)
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	body, err := a.readOTLPBody(r)
	if err != nil {
		return nil, err
	}
	var data tracepb.TracesData // the same message as ExportTraceServiceRequest on the wire
	if mt == "application/json" {
		err = decodeOTLPJSON(body, &data)
	} else if err = proto.Unmarshal(body, &data); err != nil {
		err = fault.Invalidf("Invalid OpenTelemetry request: the body is not an OTLP protobuf ExportTraceServiceRequest: %v", err)
	}
	if err != nil {
		return nil, err
	}
	var encoded []byte // the spans' bytes are stored as they came
	if mt != "application/json" {
		encoded = body
	}
	if _, err := a.opts.Traces.IngestEncodedSpans(r.Context(), exp, r.Header.Get(runHeader), &data, encoded); err != nil {
		return nil, err
	}
	if mt == "application/json" {
		return struct{}{}, nil
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
	return nil, nil
}

// readOTLPBody reads the body, decompressing gzip or deflate, within the body limit
// whatever the compression.
func (a *API) readOTLPBody(r *http.Request) ([]byte, error) {
	var src io.Reader = r.Body
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, fault.Invalidf("Failed to decompress the gzip body: %v", err)
		}
		src = zr
	case "deflate":
		zr, err := zlib.NewReader(r.Body)
		if err != nil {
			return nil, fault.Invalidf("Failed to decompress the deflate body: %v", err)
		}
		src = zr
	default:
		return nil, fault.Invalidf("Unsupported Content-Encoding '%s': send gzip, deflate or none", clipMsg(enc))
	}
	body, err := io.ReadAll(io.LimitReader(src, a.opts.MaxBodyBytes+1))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, fault.New(fault.TooLarge, "The OpenTelemetry request is over %d bytes; send smaller batches", a.opts.MaxBodyBytes)
	case err != nil:
		return nil, fault.Invalidf("Failed to read the body: %v", err)
	case int64(len(body)) > a.opts.MaxBodyBytes:
		return nil, fault.New(fault.TooLarge, "The OpenTelemetry request is over %d bytes once decompressed; send smaller batches", a.opts.MaxBodyBytes)
	}
	return body, nil
}

// decodeOTLPJSON reads OTLP's JSON encoding, whose ids are hex (protobuf's own JSON
// mapping, which protojson reads, has them in base64).
func decodeOTLPJSON(body []byte, data *tracepb.TracesData) error {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return fault.Invalidf("Invalid OpenTelemetry request: the body is not JSON: %v", err)
	}
	if err := hexIDsToBase64(doc); err != nil {
		return err
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return fault.Invalidf("Invalid OpenTelemetry request: %v", err)
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, data); err != nil {
		return fault.Invalidf("Invalid OpenTelemetry request: %v", err)
	}
	return nil
}

var hexIDFields = []string{"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"}

func hexIDsToBase64(doc map[string]any) error {
	for _, rs := range list(doc, "resourceSpans", "resource_spans") {
		for _, ss := range list(rs, "scopeSpans", "scope_spans") {
			for _, sp := range list(ss, "spans") {
				if err := convertIDs(sp); err != nil {
					return err
				}
				for _, link := range list(sp, "links") {
					if err := convertIDs(link); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

func convertIDs(obj map[string]any) error {
	for _, f := range hexIDFields {
		s, ok := obj[f].(string)
		if !ok || s == "" {
			continue
		}
		b, err := hex.DecodeString(s)
		if err != nil {
			return fault.Invalidf("Invalid OpenTelemetry request: %s '%s' is not hexadecimal", f, clipMsg(s))
		}
		obj[f] = base64.StdEncoding.EncodeToString(b)
	}
	return nil
}

// list returns the objects of the first of keys that holds a JSON array.
func list(obj map[string]any, keys ...string) []map[string]any {
	for _, k := range keys {
		arr, ok := obj[k].([]any)
		if !ok {
			continue
		}
		out := make([]map[string]any, 0, len(arr))
		for _, v := range arr {
			if m, ok := v.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}
