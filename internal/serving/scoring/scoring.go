// Package scoring speaks MLflow's scoring protocol (POST /invocations, as
// `mlflow models serve` answers it) and KServe's v1 protocol (POST
// /v1/models/{name}:predict). It decodes their bodies into runtime requests and encodes
// runtime responses as their predictions; it holds no HTTP.
//
// The inputs carry no datatypes, so they are inferred as pandas and numpy infer them
// (see tensorjson). What MLflow hands a model as a DataFrame (dataframe_split,
// dataframe_records, CSV) becomes one column of shape [rows] per column, in order
// (LayoutColumns); what it hands over as an array (inputs, instances) becomes one
// unnamed tensor, and a dict of arrays (inputs as a dictionary, instances as records)
// one tensor per name (LayoutTensors).
package scoring

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/httpx"
	"github.com/mlship/mlship/internal/runtime"
	"github.com/mlship/mlship/internal/serving/tensorjson"
)

// The content types /invocations accepts. MLflow's code checks text/csv and its
// documentation says application/csv: both are CSV.
const (
	contentTypeJSON   = "application/json"
	contentTypeCSV    = "text/csv"
	contentTypeAltCSV = "application/csv"
)

// MLflow's input formats, and the key of the inference params.
const (
	formatSplit     = "dataframe_split"
	formatRecords   = "dataframe_records"
	formatInstances = "instances"
	formatInputs    = "inputs"
	paramsKey       = "params"
)

// MLflow's messages, from mlflow/pyfunc/scoring_server. MLflow prints its set of
// formats in an order that changes with Python's string hashing; this is one of them.
const (
	requiredInputFormat = "The input must be a JSON dictionary with exactly one of the input fields " +
		"{'dataframe_split', 'dataframe_records', 'instances', 'inputs'}"
	protocolChangeInfo = "IMPORTANT: The MLflow Model scoring protocol has changed in MLflow version 2.0. If you are" +
		" seeing this error, you are likely using an outdated scoring request format. To resolve the" +
		" error, either update your request format or adjust your MLflow Model's requirements file to" +
		" specify an older version of MLflow (for example, change the 'mlflow' requirement specifier" +
		" to 'mlflow==1.30.0'). If you are making a request using the MLflow client" +
		" (e.g. via `mlflow.pyfunc.spark_udf()`), upgrade your MLflow client to a version >= 2.0 in" +
		" order to use the new request format. For more information about the updated MLflow" +
		" Model scoring protocol in MLflow 2.0, see" +
		" https://mlflow.org/docs/latest/models.html#deploy-mlflow-models."
)

// badRequest is a client mistake as MLflow reports it: error code BAD_REQUEST, 400.
func badRequest(format string, args ...any) error {
	return &httpx.CodedError{Code: "BAD_REQUEST", Err: fault.Invalidf(format, args...)}
}

// invalidInput is MLflow's MlflowInvalidInputException: a BAD_REQUEST whose message
// starts "Invalid input.".
func invalidInput(format string, args ...any) error {
	return badRequest("Invalid input. "+format, args...)
}

// unsupportedMediaType is MLflow's answer to a content type it does not read: 415.
func unsupportedMediaType(format string, args ...any) error {
	return &httpx.CodedError{Code: "BAD_REQUEST", Status: http.StatusUnsupportedMediaType, Err: fault.Invalidf(format, args...)}
}

// DecodeInvocation decodes the body of POST /invocations, as MLflow's scoring server
// reads it: JSON (a dictionary with exactly one of dataframe_split, dataframe_records,
// instances and inputs, and optional params) or CSV with a header row.
//
// Errors carry MLflow's error code BAD_REQUEST (an httpx.CodedError around a
// fault.Invalid) and, where MLflow's fit, MLflow's messages; a content type other than
// JSON or CSV, or a charset other than UTF-8, has status 415. Strings in the request's
// tensors may alias body, which the caller must leave untouched while it is in use.
// CSV columns are inferred; DecodeInvocationAs types them by a signature.
func DecodeInvocation(contentType string, body []byte) (*runtime.Request, error) {
	return DecodeInvocationAs(contentType, body, func() ColumnTypes { return ColumnTypes{} })
}

// DecodeInvocationAs is DecodeInvocation for a model whose input signature gives CSV
// columns their types, as MLflow reads CSV with the signature's types: a string
// column of zip codes stays strings, leading zeros and all. types is called only for
// a CSV body.
func DecodeInvocationAs(contentType string, body []byte, types func() ColumnTypes) (*runtime.Request, error) {
	mime, err := parseContentType(contentType)
	if err != nil {
		return nil, err
	}
	if mime == contentTypeJSON {
		return decodeInvocationJSON(body)
	}
	return decodeCSV(body, types())
}

// parseContentType checks a Content-Type as MLflow does: the only parameter allowed is
// charset, which must be UTF-8. Unlike MLflow, names are matched without regard to case.
func parseContentType(contentType string) (string, error) {
	parts := strings.Split(contentType, ";")
	mime := strings.ToLower(strings.TrimSpace(parts[0]))
	var unexpected []string
	for _, p := range parts[1:] {
		key, value, _ := strings.Cut(strings.TrimSpace(p), "=")
		key = strings.ToLower(strings.TrimSpace(key))
		switch {
		case key == "" && value == "":
		case key == "charset":
			if cs := strings.ToLower(strings.Trim(strings.TrimSpace(value), `"`)); cs != "utf-8" {
				return "", unsupportedMediaType("The scoring server only supports UTF-8")
			}
		default:
			unexpected = append(unexpected, key)
		}
	}
	if len(unexpected) > 0 {
		return "", unsupportedMediaType("Unrecognized content type parameters: %s. %s", strings.Join(unexpected, ", "), protocolChangeInfo)
	}
	switch mime {
	case contentTypeJSON:
		return mime, nil
	case contentTypeCSV, contentTypeAltCSV:
		return contentTypeCSV, nil
	}
	return "", unsupportedMediaType("This predictor only supports the following content types: Types: ['%s', '%s', '%s']. Got '%s'.",
		contentTypeCSV, contentTypeJSON, contentTypeAltCSV, contentType)
}

func decodeInvocationJSON(body []byte) (*runtime.Request, error) {
	doc, err := tensorjson.Parse(body)
	if err != nil {
		return nil, invalidInput("Ensure that input is a valid JSON formatted string. Error: '%s'", fault.Message(err))
	}
	root := doc.Root()
	switch root.Kind() {
	case tensorjson.Object:
	case tensorjson.Array:
		return nil, invalidInput("%s. Received a list.", requiredInputFormat)
	default:
		return nil, invalidInput("%s. Received unexpected input type '<class '%s'>.", requiredInputFormat, pythonType(root))
	}
	var formats []string // the formats present, in order
	var data, params tensorjson.Value
	for k, v := range root.Members() {
		switch name := k.Str(); name {
		case formatSplit, formatRecords, formatInstances, formatInputs:
			if !slices.Contains(formats, name) {
				formats = append(formats, name)
			}
			data = v
		case paramsKey:
			params = v
		}
	}
	if len(formats) != 1 {
		return nil, badRequest("%s. Received dictionary with input fields: %s. %s", requiredInputFormat, pythonList(formats), protocolChangeInfo)
	}
	req, err := decodeFormat(formats[0], data)
	if err != nil {
		return nil, err
	}
	if req.Params, err = decodeParams(params); err != nil {
		return nil, err
	}
	return req, nil
}

func decodeFormat(format string, data tensorjson.Value) (*runtime.Request, error) {
	switch format {
	case formatSplit:
		return decodeSplit(data)
	case formatRecords:
		return decodeRecords(data)
	}
	req, err := decodeTFServing(data, format == formatInstances)
	if err != nil {
		return nil, invalidInput("%s", fault.Message(err))
	}
	return req, nil
}

func decodeParams(v tensorjson.Value) (map[string]any, error) {
	switch v.Kind() {
	case tensorjson.Missing, tensorjson.Null:
		return nil, nil
	case tensorjson.Object:
		return v.Interface().(map[string]any), nil
	}
	return nil, invalidInput("params must be a dictionary, not %s", pythonType(v))
}

// pythonType is the name of the Python type json.loads gives a value.
func pythonType(v tensorjson.Value) string {
	switch v.Kind() {
	case tensorjson.Null, tensorjson.Missing:
		return "NoneType"
	case tensorjson.True, tensorjson.False:
		return "bool"
	case tensorjson.String:
		return "str"
	case tensorjson.Array:
		return "list"
	case tensorjson.Object:
		return "dict"
	}
	if v.IsInteger() {
		return "int"
	}
	return "float"
}

// pythonList writes a list of strings as Python's repr does.
func pythonList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = fmt.Sprintf("'%s'", s)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}
