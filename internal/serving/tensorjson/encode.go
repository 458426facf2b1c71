package tensorjson

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/mlship/mlship/internal/runtime"
)

// CheckOutput reports whether a tensor a model returned is consistent: a known
// datatype, a valid shape, and as many elements as the shape needs. Its errors carry no
// fault kind: a model that answers with a broken tensor is the server's problem.
func CheckOutput(t *runtime.Tensor) error {
	if !t.Datatype.Valid() {
		return fmt.Errorf("model output %q has unknown datatype %q", t.Name, t.Datatype)
	}
	n := runtime.Elements(t.Shape)
	switch {
	case n < 0:
		return fmt.Errorf("model output %q has invalid shape %v", t.Name, t.Shape)
	case t.Datatype == runtime.Bytes && int64(len(t.Strings)) != n:
		return fmt.Errorf("model output %q: shape %v needs %d elements, it has %d", t.Name, t.Shape, n, len(t.Strings))
	case t.Datatype != runtime.Bytes && int64(len(t.Data)) != n*int64(t.Datatype.Size()):
		return fmt.Errorf("model output %q: shape %v needs %d bytes of %s, it has %d", t.Name, t.Shape, n*int64(t.Datatype.Size()), t.Datatype, len(t.Data))
	}
	return nil
}

// AppendFloat appends f as Python's repr writes a float, using the fewest digits that
// read back as the same float of bitSize bits (32 or 64): 1.0, 0.0001, 1e-05, 1e+16.
// (For bitSize 32 Python has no such writer; the layout is the same.)
// NaN and the infinities are written NaN, Infinity and -Infinity, as Python's json
// module and Triton write them; they are not RFC 8259 JSON.
func AppendFloat(dst []byte, f float64, bitSize int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	if a := math.Abs(f); a >= 1e-3 && a < 1e15 {
		return appendFixed(dst, f, bitSize)
	}
	// Python writes a float in positional notation when its decimal exponent is in
	// [-4, 16), which only the shortest digits tell exactly near the bounds.
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'e', -1, bitSize)
	exp := 0
	for i := len(dst) - 1; i > start; i-- {
		if dst[i] == 'e' {
			exp, _ = strconv.Atoi(string(dst[i+1:]))
			break
		}
	}
	if exp < -4 || exp >= 16 {
		return dst
	}
	return appendFixed(dst[:start], f, bitSize)
}

func appendFixed(dst []byte, f float64, bitSize int) []byte {
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', -1, bitSize)
	for _, c := range dst[start:] {
		if c == '.' {
			return dst
		}
	}
	return append(dst, ".0"...)
}

// AppendString appends s as a JSON string. Bytes that are not UTF-8 are written as
// U+FFFD, as encoding/json does.
func AppendString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = appendEscape(dst, c)
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendEscape(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\n':
		return append(dst, `\n`...)
	case '\r':
		return append(dst, `\r`...)
	case '\t':
		return append(dst, `\t`...)
	}
	const hex = "0123456789abcdef"
	return append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
}

// Layout is how tensors are written.
type Layout struct {
	// Spaced puts a space after each ',' and ':', as Python's json.dumps does.
	Spaced bool
	// Widened writes FP16, BF16 and FP32 elements with the digits of the float64 they
	// widen to, as Python writes what numpy's tolist() gives it, rather than with the
	// fewest digits of their own width: 0.10000000149011612 rather than 0.1.
	Widened bool
	// ASCII escapes every character outside printable ASCII in strings, as
	// json.dumps does by default: "\u00e9" for é.
	ASCII bool
}

var (
	// Compact is the layout of the Open Inference Protocol: no spaces, and floats
	// with the digits of their own width.
	Compact = Layout{}
	// Python is the layout of MLflow's scoring server: json.dumps of numpy's tolist().
	Python = Layout{Spaced: true, Widened: true, ASCII: true}
)

// AppendString appends s as a JSON string (see the package function AppendString).
func (l Layout) AppendString(dst, s []byte) []byte {
	if !l.ASCII {
		return AppendString(dst, s)
	}
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for len(s) > 0 {
		r, size := utf8.DecodeRune(s)
		s = s[size:]
		switch {
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r >= 0x20 && r < 0x7f:
			dst = append(dst, byte(r))
		case r == '\n':
			dst = append(dst, `\n`...)
		case r == '\r':
			dst = append(dst, `\r`...)
		case r == '\t':
			dst = append(dst, `\t`...)
		case r == '\b':
			dst = append(dst, `\b`...)
		case r == '\f':
			dst = append(dst, `\f`...)
		default:
			for _, u := range utf16.AppendRune(nil, r) {
				dst = append(dst, '\\', 'u', hex[u>>12], hex[u>>8&0xf], hex[u>>4&0xf], hex[u&0xf])
			}
		}
	}
	return append(dst, '"')
}

// Comma appends the separator between elements.
func (l Layout) Comma(dst []byte) []byte {
	if l.Spaced {
		return append(dst, ", "...)
	}
	return append(dst, ',')
}

// Colon appends the separator between a key and its value.
func (l Layout) Colon(dst []byte) []byte {
	if l.Spaced {
		return append(dst, ": "...)
	}
	return append(dst, ':')
}

// AppendElement appends element i of t in the Compact layout.
func AppendElement(dst []byte, t *runtime.Tensor, i int) []byte {
	return Compact.AppendElement(dst, t, i)
}

// AppendFlat appends t's elements as one flat JSON array, in the Compact layout.
func AppendFlat(dst []byte, t *runtime.Tensor) []byte { return Compact.AppendFlat(dst, t) }

// AppendNested appends t as nested arrays (see Layout.AppendNested), in the Compact
// layout.
func AppendNested(dst []byte, t *runtime.Tensor) []byte { return Compact.AppendNested(dst, t) }

// AppendRow appends row r of t (see Layout.AppendRow), in the Compact layout.
func AppendRow(dst []byte, t *runtime.Tensor, r int) []byte { return Compact.AppendRow(dst, t, r) }

// AppendElement appends element i of t: true or false for BOOL, an integer for the
// integer types, a float (see AppendFloat) for the float types, a string for BYTES.
func (l Layout) AppendElement(dst []byte, t *runtime.Tensor, i int) []byte {
	d, le := t.Data, binary.LittleEndian
	switch t.Datatype {
	case runtime.Bool:
		return strconv.AppendBool(dst, d[i] != 0)
	case runtime.Uint8:
		return strconv.AppendUint(dst, uint64(d[i]), 10)
	case runtime.Uint16:
		return strconv.AppendUint(dst, uint64(le.Uint16(d[2*i:])), 10)
	case runtime.Uint32:
		return strconv.AppendUint(dst, uint64(le.Uint32(d[4*i:])), 10)
	case runtime.Uint64:
		return strconv.AppendUint(dst, le.Uint64(d[8*i:]), 10)
	case runtime.Int8:
		return strconv.AppendInt(dst, int64(int8(d[i])), 10)
	case runtime.Int16:
		return strconv.AppendInt(dst, int64(int16(le.Uint16(d[2*i:]))), 10)
	case runtime.Int32:
		return strconv.AppendInt(dst, int64(int32(le.Uint32(d[4*i:]))), 10)
	case runtime.Int64:
		return strconv.AppendInt(dst, int64(le.Uint64(d[8*i:])), 10)
	case runtime.FP64:
		return AppendFloat(dst, math.Float64frombits(le.Uint64(d[8*i:])), 64)
	case runtime.FP32, runtime.FP16, runtime.BF16:
		if l.Widened {
			return AppendFloat(dst, t.Float64At(i), 64)
		}
		return AppendFloat(dst, t.Float64At(i), 32)
	case runtime.Bytes:
		if t.Strings[i] == nil {
			return append(dst, "null"...)
		}
		return l.AppendString(dst, t.Strings[i])
	}
	return append(dst, "null"...)
}

// AppendFlat appends t's elements as one flat JSON array.
func (l Layout) AppendFlat(dst []byte, t *runtime.Tensor) []byte {
	n := int(runtime.Elements(t.Shape))
	dst = append(dst, '[')
	for i := range n {
		if i > 0 {
			dst = l.Comma(dst)
		}
		dst = l.AppendElement(dst, t, i)
	}
	return append(dst, ']')
}

// AppendNested appends t as numpy's tolist() spells it: nested arrays, one level per
// dimension, or a bare element for a tensor of rank 0.
func (l Layout) AppendNested(dst []byte, t *runtime.Tensor) []byte {
	dst, _ = l.appendNested(dst, t, t.Shape, 0)
	return dst
}

// AppendRow appends row r of t (its elements [r, ...]) as AppendNested would: a bare
// element when t has rank 1.
func (l Layout) AppendRow(dst []byte, t *runtime.Tensor, r int) []byte {
	inner := t.Shape[1:]
	dst, _ = l.appendNested(dst, t, inner, r*int(runtime.Elements(inner)))
	return dst
}

func (l Layout) appendNested(dst []byte, t *runtime.Tensor, dims []int64, k int) ([]byte, int) {
	if len(dims) == 0 {
		return l.AppendElement(dst, t, k), k + 1
	}
	dst = append(dst, '[')
	for j := range dims[0] {
		if j > 0 {
			dst = l.Comma(dst)
		}
		dst, k = l.appendNested(dst, t, dims[1:], k)
	}
	return append(dst, ']'), k
}
