package dataset

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/cespare/xxhash/v2"
)

// ValueKind is the type of a category value.
type ValueKind uint8

// Value kinds. Integers and floats are both numbers: 1 and 1.0 are the same
// value, as in pandas.
const (
	ValueNumber ValueKind = iota
	ValueBool
	ValueString
)

// Value is one distinct non-null value of a column, used as a category.
type Value struct {
	Kind ValueKind
	Num  float64 // ValueNumber; ValueBool: 0 or 1
	Str  string  // ValueString
}

// NumberValue, BoolValue and StringValue build values.
func NumberValue(v float64) Value { return Value{Kind: ValueNumber, Num: canonicalZero(v)} }

// BoolValue returns the value true or false.
func BoolValue(b bool) Value {
	if b {
		return Value{Kind: ValueBool, Num: 1}
	}
	return Value{Kind: ValueBool}
}

// StringValue returns a string value.
func StringValue(s string) Value { return Value{Kind: ValueString, Str: s} }

func canonicalZero(v float64) float64 {
	if v == 0 {
		return 0 // -0 and 0 are one value
	}
	return v
}

// String renders the value for people: numbers in their shortest exact form,
// booleans as True/False (pandas' spelling).
func (v Value) String() string {
	switch v.Kind {
	case ValueNumber:
		return strconv.FormatFloat(v.Num, 'g', -1, 64)
	case ValueBool:
		if v.Num != 0 {
			return "True"
		}
		return "False"
	}
	return v.Str
}

// Compare orders values: numbers (by value), then booleans (False first), then
// strings (bytewise, which is code point order, as Python sorts).
func (v Value) Compare(o Value) int {
	if c := cmp.Compare(v.Kind, o.Kind); c != 0 {
		return c
	}
	if v.Kind == ValueString {
		return cmp.Compare(v.Str, o.Str)
	}
	return cmp.Compare(v.Num, o.Num)
}

// Hash is a stable 64-bit hash of the value (xxHash64 of a tagged encoding);
// distinct counts hash values with it, so it must never change.
func (v Value) Hash() uint64 {
	if v.Kind == ValueString {
		return hashString(v.Str)
	}
	return hashNumber(v.Kind, v.Num)
}

func hashNumber(k ValueKind, v float64) uint64 {
	var buf [9]byte
	buf[0] = 'n'
	if k == ValueBool {
		buf[0] = 'b'
	}
	binary.LittleEndian.PutUint64(buf[1:], math.Float64bits(canonicalZero(v)))
	return xxhash.Sum64(buf[:])
}

func hashString(s string) uint64 {
	var d xxhash.Digest
	d.Reset()
	_, _ = d.Write([]byte{'s'})
	_, _ = d.WriteString(s)
	return d.Sum64()
}

func hashBytes(b []byte) uint64 {
	var d xxhash.Digest
	d.Reset()
	_, _ = d.Write([]byte{'s'})
	_, _ = d.Write(b)
	return d.Sum64()
}

// MarshalJSON writes the value as a JSON scalar of its own type.
func (v Value) MarshalJSON() ([]byte, error) {
	switch v.Kind {
	case ValueNumber:
		return json.Marshal(v.Num)
	case ValueBool:
		return json.Marshal(v.Num != 0)
	}
	return json.Marshal(v.Str)
}

// UnmarshalJSON reads a JSON number, boolean or string.
func (v *Value) UnmarshalJSON(data []byte) error {
	var raw any
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	switch x := raw.(type) {
	case float64:
		*v = NumberValue(x)
	case bool:
		*v = BoolValue(x)
	case string:
		*v = StringValue(x)
	default:
		return fmt.Errorf("%w: value %s", ErrBadProfileFormat, data)
	}
	return nil
}

// ValueCount is a value with the number of times it occurs.
type ValueCount struct {
	Value Value `json:"value"`
	Count int64 `json:"count"`
}

// MarshalJSON writes [value, count].
func (c ValueCount) MarshalJSON() ([]byte, error) {
	return json.Marshal([2]any{c.Value, c.Count})
}

// UnmarshalJSON reads [value, count].
func (c *ValueCount) UnmarshalJSON(data []byte) error {
	var pair []json.RawMessage
	if err := json.Unmarshal(data, &pair); err != nil {
		return err
	}
	if len(pair) != 2 {
		return fmt.Errorf("%w: value count %s", ErrBadProfileFormat, data)
	}
	if err := json.Unmarshal(pair[0], &c.Value); err != nil {
		return err
	}
	if err := json.Unmarshal(pair[1], &c.Count); err != nil || c.Count < 0 {
		return fmt.Errorf("%w: value count %s", ErrBadProfileFormat, data)
	}
	return nil
}
