// Package tensorjson owns the JSON of the inference protocols: a strict, bounded JSON
// parser that keeps the order of object keys and the text of numbers, the conversion of
// JSON arrays into runtime tensors (with a given datatype and shape, or with both
// inferred as numpy and pandas infer them), and the writing of tensor elements as JSON.
//
// The parser reads a whole document into a flat list of nodes, one per value, so that a
// numeric array of any length costs no allocation per element, and numbers are parsed
// from their own text with strconv, exactly. It accepts RFC 8259 JSON plus the literals
// NaN, Infinity and -Infinity, which Python's json module and Triton write for
// non-finite floats. Nesting is capped, so hostile input can neither exhaust the stack
// nor make the parser build deep structures.
package tensorjson

import (
	"math"
	"unicode/utf8"

	"github.com/mlship/mlship/internal/fault"
)

// MaxDepth is the deepest nesting of arrays and objects a document may have. A tensor
// needs one level per dimension plus three for the request around it.
const MaxDepth = 64

// Kind is the type of a JSON value.
type Kind uint8

// The kinds of JSON values. The zero Value has kind Missing: it stands for an absent
// member or element.
const (
	Missing Kind = iota
	Null
	False
	True
	Number
	String
	Array
	Object
)

var kindNames = [...]string{"missing", "null", "false", "true", "number", "string", "array", "object"}

func (k Kind) String() string { return kindNames[k] }

// node flags.
const (
	flagEscaped = 1 << iota // a string holds backslash escapes
	flagFloat               // a number has a fraction or an exponent, or is NaN or ±Infinity
)

// node is one value of a parsed document. Values are stored in document order, each
// container before its children, so that the scalars under a container are, in order,
// the row-major elements of the array it spells.
type node struct {
	kind  Kind
	flags uint8
	start int32 // offset of the value's text; for strings, just inside the opening quote
	// aux is, for scalars, the offset just past the value's text (for strings, the
	// closing quote); for containers, the number of elements or members.
	aux  int32
	next int32 // index of the first node after this value and its children
}

// Doc is a parsed JSON document.
type Doc struct {
	src   []byte
	nodes []node
}

// Root is the document's top-level value.
func (d *Doc) Root() Value { return Value{d: d, i: 0} }

// Parse parses src, which must hold exactly one JSON value with nesting at most
// MaxDepth. Errors are of kind fault.Invalid and give the byte offset of the problem.
func Parse(src []byte) (*Doc, error) {
	if len(src) > math.MaxInt32 {
		return nil, fault.New(fault.TooLarge, "JSON documents are limited to %d bytes", math.MaxInt32)
	}
	p := parser{src: src, nodes: make([]node, 0, len(src)/6+4)}
	if err := p.document(); err != nil {
		return nil, err
	}
	return &Doc{src: src, nodes: p.nodes}, nil
}

type parser struct {
	src   []byte
	pos   int
	nodes []node
	open  [MaxDepth]int32 // the containers being filled, innermost last
	depth int
}

func (p *parser) errorf(format string, args ...any) error {
	return fault.Invalidf("invalid JSON at offset %d: "+format, append([]any{p.pos}, args...)...)
}

func (p *parser) unexpected() error {
	if p.pos >= len(p.src) {
		return p.errorf("unexpected end of input")
	}
	c := p.src[p.pos]
	if c < 0x20 || c >= 0x7f {
		return p.errorf("unexpected byte 0x%02x", c)
	}
	return p.errorf("unexpected character %q", c)
}

func (p *parser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// document parses one value and then requires the end of the input. It loops instead
// of recursing: each turn parses a scalar or opens a container; after a scalar or an
// empty container, afterValue closes the containers that end there and moves to the
// next element or member of the innermost one still open.
func (p *parser) document() error {
	for {
		p.skipSpace()
		descend, err := p.value()
		if err != nil {
			return err
		}
		if descend {
			continue
		}
		more, err := p.afterValue()
		if err != nil || !more {
			return err
		}
	}
}

// value parses the scalar at p.pos, or opens the container there; descend reports that
// an element or member value of a non-empty container comes next.
func (p *parser) value() (descend bool, err error) {
	if p.pos >= len(p.src) {
		return false, p.unexpected()
	}
	switch c := p.src[p.pos]; {
	case c == '{' || c == '[':
		return p.openContainer(c)
	case c == '"':
		return false, p.str()
	case c == 't':
		return false, p.literal("true", True, 0)
	case c == 'f':
		return false, p.literal("false", False, 0)
	case c == 'n':
		return false, p.literal("null", Null, 0)
	case c == 'N':
		return false, p.literal("NaN", Number, flagFloat)
	case c == 'I':
		return false, p.literal("Infinity", Number, flagFloat)
	case c == '-' && p.pos+1 < len(p.src) && p.src[p.pos+1] == 'I':
		return false, p.literal("-Infinity", Number, flagFloat)
	case c == '-' || (c >= '0' && c <= '9'):
		return false, p.number()
	}
	return false, p.unexpected()
}

// add appends a node. A container's elements or members are counted as its first one
// and its commas are met.
func (p *parser) add(n node) {
	n.next = int32(len(p.nodes)) + 1
	p.nodes = append(p.nodes, n)
}

func (p *parser) literal(text string, k Kind, flags uint8) error {
	end := p.pos + len(text)
	if end > len(p.src) || string(p.src[p.pos:end]) != text {
		return p.errorf("invalid literal")
	}
	p.add(node{kind: k, flags: flags, start: int32(p.pos), aux: int32(end)})
	p.pos = end
	return nil
}

func (p *parser) openContainer(c byte) (descend bool, err error) {
	if p.depth == MaxDepth {
		return false, p.errorf("nesting deeper than %d levels", MaxDepth)
	}
	k := Array
	if c == '{' {
		k = Object
	}
	p.add(node{kind: k, start: int32(p.pos)})
	p.open[p.depth] = int32(len(p.nodes) - 1)
	p.depth++
	p.pos++
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == closerOf(k) {
		return false, nil // afterValue closes it
	}
	p.nodes[len(p.nodes)-1].aux = 1
	if k == Object {
		return true, p.key()
	}
	return true, nil
}

func closerOf(k Kind) byte {
	if k == Object {
		return '}'
	}
	return ']'
}

// key parses an object member's key and the colon after it.
func (p *parser) key() error {
	if p.pos >= len(p.src) {
		return p.unexpected()
	}
	if p.src[p.pos] != '"' {
		return p.errorf("expected a string key, found %q", p.src[p.pos])
	}
	if err := p.str(); err != nil {
		return err
	}
	p.skipSpace()
	if p.pos >= len(p.src) || p.src[p.pos] != ':' {
		return p.errorf("expected ':' after an object key")
	}
	p.pos++
	return nil
}

// afterValue closes the containers that end after the value just parsed and, if one is
// still open, moves past the comma (and, in an object, the next key) to the next value.
// It reports whether the document continues.
func (p *parser) afterValue() (more bool, err error) {
	for {
		p.skipSpace()
		if p.depth == 0 {
			if p.pos != len(p.src) {
				return false, p.errorf("unexpected data after the JSON value")
			}
			return false, nil
		}
		top := p.open[p.depth-1]
		k := p.nodes[top].kind
		if p.pos >= len(p.src) {
			return false, p.unexpected()
		}
		switch p.src[p.pos] {
		case closerOf(k):
			p.pos++
			p.nodes[top].next = int32(len(p.nodes))
			p.depth--
			continue
		case ',':
			p.pos++
			p.nodes[top].aux++
			if k == Object {
				p.skipSpace()
				return true, p.key()
			}
			return true, nil
		}
		return false, p.errorf("expected ',' or '%c'", closerOf(k))
	}
}

// str parses a string, checking its escapes and its UTF-8.
func (p *parser) str() error {
	start := p.pos + 1
	var flags uint8
	ascii := true
	i := start
	for {
		if i >= len(p.src) {
			p.pos = i
			return p.errorf("unterminated string")
		}
		c := p.src[i]
		switch {
		case c == '"':
			if !ascii && !utf8.Valid(p.src[start:i]) {
				p.pos = start
				return p.errorf("invalid UTF-8 in string")
			}
			p.add(node{kind: String, flags: flags, start: int32(start), aux: int32(i)})
			p.pos = i + 1
			return nil
		case c == '\\':
			n, ok := escapeLength(p.src[i:])
			if !ok {
				p.pos = i
				return p.errorf("invalid escape in string")
			}
			flags = flagEscaped
			i += n
		case c < 0x20:
			p.pos = i
			return p.errorf("control character in string")
		default:
			if c >= 0x80 {
				ascii = false
			}
			i++
		}
	}
}

// escapeLength is the length of the escape sequence at the start of s.
func escapeLength(s []byte) (int, bool) {
	if len(s) < 2 {
		return 0, false
	}
	switch s[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, true
	case 'u':
		if len(s) < 6 {
			return 0, false
		}
		for _, c := range s[2:6] {
			if hexValue(c) < 0 {
				return 0, false
			}
		}
		return 6, true
	}
	return 0, false
}

func hexValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// number parses a number as RFC 8259 spells it: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *parser) number() error {
	s, i := p.src, p.pos
	var flags uint8
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		i = digits(s, i)
	default:
		return p.errorf("invalid number")
	}
	if i < len(s) && s[i] == '.' {
		j := digits(s, i+1)
		if j == i+1 {
			return p.errorf("invalid number")
		}
		i, flags = j, flagFloat
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := digits(s, i)
		if j == i {
			return p.errorf("invalid number")
		}
		i, flags = j, flagFloat
	}
	p.add(node{kind: Number, flags: flags, start: int32(p.pos), aux: int32(i)})
	p.pos = i
	return nil
}

func digits(s []byte, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}
