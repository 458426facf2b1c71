package dataset

import (
	"cmp"
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

// hashNumber is xxHash64 (seed 0) of the 9 bytes tag, then v's bits in
// little-endian order, written out for that one length: the general
// xxhash.Sum64 costs more than the rest of counting a number. A test holds it
// to xxhash.Sum64.
func hashNumber(k ValueKind, v float64) uint64 {
	tag := uint64('n')
	if k == ValueBool {
		tag = 'b'
	}
	bits := math.Float64bits(canonicalZero(v))
	h := xxPrime5 + 9
	h ^= xxRound(tag | bits<<8)
	h = rotl(h, 27)*xxPrime1 + xxPrime4
	h ^= (bits >> 56) * xxPrime5
	h = rotl(h, 11) * xxPrime1
	h ^= h >> 33
	h *= xxPrime2
	h ^= h >> 29
	h *= xxPrime3
	h ^= h >> 32
	return h
}

// xxHash64's primes.
const (
	xxPrime1 uint64 = 11400714785074694791
	xxPrime2 uint64 = 14029467366897019727
	xxPrime3 uint64 = 1609587929392839161
	xxPrime4 uint64 = 9650029242287828579
	xxPrime5 uint64 = 2870177450012600261
)

func xxRound(lane uint64) uint64 { return rotl(lane*xxPrime2, 31) * xxPrime1 }

func rotl(x uint64, r uint) uint64 { return x<<r | x>>(64-r) }

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
