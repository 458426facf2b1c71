package tensorjson

import (
	"iter"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Value is one value of a parsed document. The zero Value has kind Missing.
type Value struct {
	d *Doc
	i int32
}

func (v Value) node() *node { return &v.d.nodes[v.i] }

// Kind is the value's kind; Missing for the zero Value.
func (v Value) Kind() Kind {
	if v.d == nil {
		return Missing
	}
	return v.node().kind
}

// Offset is the byte offset of the value in the document, for error messages.
func (v Value) Offset() int {
	if v.d == nil {
		return 0
	}
	return int(v.node().start)
}

// Len is the number of elements of an array or members of an object; 0 otherwise.
func (v Value) Len() int {
	if k := v.Kind(); k != Array && k != Object {
		return 0
	}
	return int(v.node().aux)
}

// IsContainer reports whether the value is an array or an object.
func (v Value) IsContainer() bool {
	k := v.Kind()
	return k == Array || k == Object
}

// IsInteger reports whether the value is a number written without a fraction or an
// exponent, which Python's json module reads as an int.
func (v Value) IsInteger() bool {
	return v.Kind() == Number && v.node().flags&flagFloat == 0
}

// Text is the source text of a scalar: a number as written, a string's contents
// without its quotes and with its escapes left in.
func (v Value) Text() []byte {
	if v.d == nil || v.IsContainer() {
		return nil
	}
	n := v.node()
	return v.d.src[n.start:n.aux]
}

// Elems yields the elements of an array.
func (v Value) Elems() iter.Seq[Value] {
	return func(yield func(Value) bool) {
		if v.Kind() != Array {
			return
		}
		j := v.i + 1
		for range v.node().aux {
			if !yield(Value{v.d, j}) {
				return
			}
			j = v.d.nodes[j].next
		}
	}
}

// Members yields the keys and values of an object, in document order. A key that
// appears twice is yielded twice.
func (v Value) Members() iter.Seq2[Value, Value] {
	return func(yield func(Value, Value) bool) {
		if v.Kind() != Object {
			return
		}
		j := v.i + 1
		for range v.node().aux {
			if !yield(Value{v.d, j}, Value{v.d, j + 1}) {
				return
			}
			j = v.d.nodes[j+1].next
		}
	}
}

// Bytes is the contents of a string with its escapes resolved. It aliases the
// document when the string has no escapes.
func (v Value) Bytes() []byte {
	if v.Kind() != String {
		return nil
	}
	t := v.Text()
	if v.node().flags&flagEscaped == 0 {
		return t
	}
	return unescape(make([]byte, 0, len(t)), t)
}

// Str is the contents of a string with its escapes resolved.
func (v Value) Str() string { return string(v.Bytes()) }

// Is reports whether the value is the string s.
func (v Value) Is(s string) bool {
	if v.Kind() != String {
		return false
	}
	if v.node().flags&flagEscaped == 0 {
		return string(v.Text()) == s
	}
	return string(v.Bytes()) == s
}

// unescape appends the contents of the escaped string s to dst. The parser has checked
// every escape; a \u escape of a lone surrogate becomes U+FFFD, as in encoding/json.
func unescape(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		if s[i+1] != 'u' {
			dst = append(dst, simpleEscapes[s[i+1]])
			i += 2
			continue
		}
		r := hex4(s[i+2:])
		i += 6
		if utf16.IsSurrogate(r) {
			r2 := rune(-1)
			if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
				r2 = hex4(s[i+2:])
			}
			if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
				r = dec
				i += 6
			} else {
				r = utf8.RuneError
			}
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

var simpleEscapes = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

func hex4(s []byte) rune {
	var r rune
	for _, c := range s[:4] {
		r = r<<4 | rune(hexValue(c))
	}
	return r
}

// Int64 is the value of an integer-looking number that fits in an int64.
func (v Value) Int64() (int64, bool) {
	if !v.IsInteger() {
		return 0, false
	}
	n, err := strconv.ParseInt(string(v.Text()), 10, 64)
	return n, err == nil
}

// Float64 is the value of a number as Python's float() reads it: rounded to the
// nearest float64, and ±Inf beyond the float64 range.
func (v Value) Float64() float64 {
	f, _ := strconv.ParseFloat(string(v.Text()), 64)
	return f
}

// Interface converts the value to plain Go values: nil, bool, int64 (for integers that
// fit), float64, string, []any and map[string]any (where a repeated key keeps its last
// value, as in Python).
func (v Value) Interface() any {
	switch v.Kind() {
	case True:
		return true
	case False:
		return false
	case Number:
		if n, ok := v.Int64(); ok {
			return n
		}
		return v.Float64()
	case String:
		return v.Str()
	case Array:
		out := make([]any, 0, v.Len())
		for e := range v.Elems() {
			out = append(out, e.Interface())
		}
		return out
	case Object:
		out := make(map[string]any, v.Len())
		for k, e := range v.Members() {
			out[k.Str()] = e.Interface()
		}
		return out
	}
	return nil
}
