// Package protojson holds the scalar encodings of protobuf's JSON mapping as MLflow speaks
// it: doubles that may be "NaN" or "Infinity", and int64s that clients send as numbers or
// as strings. Messages themselves are plain Go structs with JSON tags.
package protojson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Float is a double: a JSON number, or one of the strings "NaN", "Infinity", "-Infinity".
type Float float64

// MarshalJSON writes non-finite values as protobuf's JSON strings.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Infinity"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON accepts a number or a string holding one; booleans and other values fail.
func (f *Float) UnmarshalJSON(b []byte) error {
	s, quoted, err := scalar(b)
	if err != nil {
		return err
	}
	switch s {
	case "NaN":
		*f = Float(math.NaN())
		return nil
	case "Infinity":
		*f = Float(math.Inf(1))
		return nil
	case "-Infinity":
		*f = Float(math.Inf(-1))
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || (!quoted && (math.IsInf(v, 0) || math.IsNaN(v))) {
		return fmt.Errorf("%s is not a number", b)
	}
	*f = Float(v)
	return nil
}

// Int64 is an int64 that decodes from a JSON number or a string holding one, and
// encodes as a number.
type Int64 int64

// UnmarshalJSON accepts 5, "5" and 5.0, and rejects 5.5, booleans and other values.
func (n *Int64) UnmarshalJSON(b []byte) error {
	s, _, err := scalar(b)
	if err != nil {
		return err
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		*n = Int64(v)
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v != math.Trunc(v) || math.Abs(v) >= 1<<63 {
		return fmt.Errorf("%s is not an integer", b)
	}
	*n = Int64(v)
	return nil
}

// scalar returns the text of a JSON number or string, and whether it was quoted.
func scalar(b []byte) (string, bool, error) {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return "", false, err
		}
		return s, true, nil
	}
	if len(b) == 0 || !(b[0] == '-' || (b[0] >= '0' && b[0] <= '9')) {
		return "", false, fmt.Errorf("%s is not a number", b)
	}
	return string(b), false, nil
}
