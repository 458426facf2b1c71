package mlflowapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/protojson"
	"github.com/mlship/mlship/internal/tracking"
)

// decode reads a request message into dst the way MLflow's server does: from the query
// string on GET (repeated keys make lists), from a JSON body otherwise. An empty body
// is {}, unknown fields are ignored, and a JSON string holding JSON is decoded again.
func decode(r *http.Request, dst any) error {
	if r.Method == http.MethodGet {
		return decodeQuery(r, dst)
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		if err := requireJSON(r); err != nil {
			return err
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err
		}
		return fault.Wrap(fault.Invalid, err, "could not read the request body")
	}
	return decodeJSON(body, dst)
}

// requireJSON refuses a POST or PUT whose content type is not JSON.
func requireJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return fault.Invalidf("Bad Request. Content-Type must be 'application/json'; got '%s'.", ct)
	}
	return nil
}

func decodeJSON(body []byte, dst any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	if body[0] == '"' {
		var inner string
		if err := json.Unmarshal(body, &inner); err != nil {
			return malformed(err)
		}
		body = []byte(inner)
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return malformed(err)
	}
	return nil
}

// malformed turns a JSON decoding error into a client error naming the field.
func malformed(err error) error {
	if fault.KindOf(err) != fault.Internal {
		return err // a field's own decoder said what is wrong
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fault.Invalidf("Invalid value for parameter '%s' supplied: expected %s", te.Field, te.Type)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fault.Invalidf("Malformed request: invalid JSON at offset %d: %v", se.Offset, err)
	}
	return fault.Invalidf("Malformed request: %v", err)
}

// decodeQuery rebuilds a JSON object from query parameters, using dst's fields to tell
// lists from single values, and decodes it into dst. Typed fields (protojson.Int64,
// enums) parse their strings themselves; booleans are true or false in any case.
func decodeQuery(r *http.Request, dst any) error {
	query, err := parseQuery(r)
	if err != nil {
		return err
	}
	kinds := fieldKinds(reflect.TypeOf(dst).Elem())
	obj := make(map[string]any)
	for key, values := range query {
		switch kinds[key] {
		case reflect.Slice:
			obj[key] = values
		case reflect.Bool:
			b, err := strconv.ParseBool(strings.ToLower(values[0]))
			if err != nil {
				return fault.Invalidf("Invalid value '%s' for parameter '%s': expected true or false", values[0], key)
			}
			obj[key] = b
		default:
			obj[key] = values[0]
		}
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return fault.Invalidf("Malformed query string")
	}
	return decodeJSON(b, dst)
}

var fieldKindCache sync.Map // reflect.Type -> map[string]reflect.Kind

// fieldKinds maps the JSON names of t's fields to their kinds.
func fieldKinds(t reflect.Type) map[string]reflect.Kind {
	if m, ok := fieldKindCache.Load(t); ok {
		return m.(map[string]reflect.Kind)
	}
	m := map[string]reflect.Kind{}
	for f := range t.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" {
			m[name] = f.Type.Kind()
		}
	}
	fieldKindCache.Store(t, m)
	return m
}

// enum decodes a protobuf enum given by name or by number. names[i] is number i+1.
func decodeEnum(b []byte, names []string, what string) (string, error) {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		for _, n := range names {
			if strings.EqualFold(n, s) {
				return n, nil
			}
		}
		if n, err := strconv.Atoi(s); err == nil && n >= 1 && n <= len(names) {
			return names[n-1], nil
		}
		return "", fmt.Errorf("invalid %s %q", what, s)
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil || n < 1 || n > len(names) {
		return "", fmt.Errorf("invalid %s %s", what, b)
	}
	return names[n-1], nil
}

// idString is an id that old clients send as a number: MLflow coerces it to a string.
type idString string

func (s *idString) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err == nil {
		*s = idString(str)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("expected a string id, got %s", b)
	}
	*s = idString(n.String())
	return nil
}

// MaxListIDs caps a list of ids in one request (experiment_ids of a search, run_ids).
// MLflow sets no cap of its own, but its SQL store fails past the database's limit of
// bind variables (32766 on SQLite); the cap leaves room below it for a filter's values
// and keeps a request's memory small: a list longer than this is refused while it is
// read, before its ids are allocated.
const MaxListIDs = 20_000

// idList is a list of ids, refused while decoding when longer than MaxListIDs.
type idList []idString

func (l *idList) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
			*l = nil
			return nil
		}
		return fmt.Errorf("expected a list of ids, got %.40s", b)
	}
	out := idList{}
	for dec.More() {
		if len(out) == MaxListIDs {
			return fault.Invalidf("A list of ids can hold at most %d ids; this one holds more. Split the request.", MaxListIDs)
		}
		var id idString
		if err := dec.Decode(&id); err != nil {
			return err
		}
		out = append(out, id)
	}
	*l = out
	return nil
}

// batchList is a list of a log-batch request. It is decoded only when it is no longer
// than a whole batch may be; a longer one is only counted, for the size check to refuse
// it, so that a body of a million metrics costs no memory beyond its own bytes.
type batchList[T any] struct {
	items []T
	n     int
}

func (l *batchList[T]) UnmarshalJSON(b []byte) error {
	n, err := countElements(b)
	if err != nil || n > tracking.MaxBatchEntities {
		l.n = n
		return err
	}
	if err := json.Unmarshal(b, &l.items); err != nil {
		return err
	}
	l.n = len(l.items)
	return nil
}

// countElements counts the elements of the JSON list b without decoding them. b must be
// valid JSON, as json.Unmarshal has checked before it hands a value to a decoder.
func countElements(b []byte) (int, error) {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return 0, nil
	}
	if len(b) < 2 || b[0] != '[' {
		return 0, fmt.Errorf("expected a list, got %.40s", b)
	}
	n, depth, inString, escaped, empty := 0, 0, false, false, true
	for _, c := range b[1 : len(b)-1] {
		switch {
		case inString:
			escaped, inString = !escaped && c == '\\', inString && (escaped || c != '"')
		case c == '"':
			inString, empty = true, false
		case c == '[' || c == '{':
			depth, empty = depth+1, false
		case c == ']' || c == '}':
			depth--
		case c == ',' && depth == 0:
			n++
		case c != ' ' && c != '\t' && c != '\n' && c != '\r':
			empty = false
		}
	}
	if empty {
		return 0, nil
	}
	return n + 1, nil
}

// strings returns the ids as strings.
func (l idList) strings() []string {
	out := make([]string, len(l))
	for i, id := range l {
		out[i] = string(id)
	}
	return out
}

// orDefault returns an optional integer field's value, or def when it was not sent.
func orDefault(n *protojson.Int64, def int) int {
	if n == nil {
		return def
	}
	return int(*n)
}

// parseQuery parses the query string, refusing one that does not parse whole (Go drops
// a pair holding a ';' and carries on, which would hide a smuggled parameter).
func parseQuery(r *http.Request) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fault.Invalidf("Invalid query string: %v", err)
	}
	return q, nil
}
