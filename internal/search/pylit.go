package search

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mlship/mlship/internal/fault"
)

// MLflow hands parts of a filter or order_by clause to Python itself: an IN list goes
// through ast.literal_eval, an order_by clause through shlex.split, a quoted version
// number through int(). This file reproduces the subset of each that a valid input uses.

func illFormedList() error {
	return fault.Invalidf("While parsing a list in the query, expected a non-empty list of " +
		"string values, but got ill-formed list.")
}

// evalStringList evaluates src, the text "( ... )" of an IN list, as ast.literal_eval
// does, and accepts it when the result is a non-empty tuple of strings or a single
// string. Adjacent literals concatenate ('a' 'b' is "ab") and escapes are Python's.
// Triple-quoted strings and \N{...} escapes, which a list of ids never needs, are
// rejected.
func evalStringList(src string) ([]string, error) {
	r := pyReader{s: src[1 : len(src)-1]}
	var items []string
	for r.skipSpace(); !r.done(); r.skipSpace() {
		item, ok := r.concatenated()
		if !ok {
			return nil, illFormedList()
		}
		items = append(items, item)
		if r.skipSpace(); !r.done() && !r.eat(',') {
			return nil, illFormedList()
		}
	}
	if len(items) == 0 {
		return nil, fault.Invalidf("While parsing a list in the query, expected a non-empty " +
			"list of string values, but got empty list")
	}
	return items, nil
}

type pyReader struct {
	s   string
	pos int
	b   strings.Builder
}

func (r *pyReader) done() bool { return r.pos >= len(r.s) }

func (r *pyReader) eat(c byte) bool {
	if !r.done() && r.s[r.pos] == c {
		r.pos++
		return true
	}
	return false
}

// skipSpace skips what Python's tokenizer treats as blank inside brackets.
func (r *pyReader) skipSpace() {
	for !r.done() && strings.IndexByte(" \t\f\n\r", r.s[r.pos]) >= 0 {
		r.pos++
	}
}

func (r *pyReader) atQuote() bool {
	return !r.done() && (r.s[r.pos] == '\'' || r.s[r.pos] == '"')
}

// concatenated reads one or more adjacent string literals.
func (r *pyReader) concatenated() (string, bool) {
	r.b.Reset()
	for {
		if !r.literal() {
			return "", false
		}
		mark := r.pos
		if r.skipSpace(); !r.atQuote() {
			r.pos = mark
			return r.b.String(), true
		}
	}
}

// literal reads one string literal into r.b.
func (r *pyReader) literal() bool {
	if !r.atQuote() {
		return false
	}
	q := r.s[r.pos]
	if strings.HasPrefix(r.s[r.pos:], strings.Repeat(string(q), 3)) {
		return false
	}
	for r.pos++; !r.done(); {
		switch c := r.s[r.pos]; {
		case c == q:
			r.pos++
			return true
		case c == '\n' || c == '\r' || c == 0:
			return false
		case c == '\\':
			if !r.escape() {
				return false
			}
		default:
			_, size := utf8.DecodeRuneInString(r.s[r.pos:])
			r.b.WriteString(r.s[r.pos : r.pos+size])
			r.pos += size
		}
	}
	return false
}

var simpleEscapes = map[byte]string{
	'\\': `\`, '\'': "'", '"': `"`, 'a': "\a", 'b': "\b", 'f': "\f",
	'n': "\n", 'r': "\r", 't': "\t", 'v': "\v", '\n': "",
}

// escape reads the escape sequence at r.pos, a backslash.
func (r *pyReader) escape() bool {
	r.pos++
	if r.done() {
		return false
	}
	c := r.s[r.pos]
	if s, ok := simpleEscapes[c]; ok {
		r.b.WriteString(s)
		r.pos++
		return true
	}
	switch c {
	case '\r': // a line continuation
		r.pos++
		r.eat('\n')
		return true
	case 'x':
		return r.codePoint(2, 16)
	case 'u':
		return r.codePoint(4, 16)
	case 'U':
		return r.codePoint(8, 16)
	case 'N':
		return false
	}
	if c >= '0' && c <= '7' {
		r.pos--
		return r.codePoint(-3, 8)
	}
	r.b.WriteByte('\\') // an unknown escape keeps its backslash
	return true
}

// codePoint reads the digits of a numeric escape after r.pos: exactly n of them, or up
// to -n when n is negative, and writes the character they name.
func (r *pyReader) codePoint(n, base int) bool {
	start := r.pos + 1
	end := start
	for end < len(r.s) && end-start < abs(n) && isDigitIn(r.s[end], base) {
		end++
	}
	if end == start || (n > 0 && end-start < n) {
		return false
	}
	v, err := strconv.ParseUint(r.s[start:end], base, 32)
	if err != nil || v > utf8.MaxRune || (v >= 0xD800 && v <= 0xDFFF) {
		return false
	}
	r.b.WriteRune(rune(v))
	r.pos = end
	return true
}

func isDigitIn(c byte, base int) bool {
	if base == 8 {
		return c >= '0' && c <= '7'
	}
	return strings.IndexByte("0123456789abcdefABCDEF", c) >= 0
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// shlexSplit is Python's shlex.split(s) (POSIX mode, no comments). ok is false where
// Python raises ValueError (an unclosed quote or a trailing backslash).
func shlexSplit(s string) (words []string, ok bool) {
	var sh shlexer
	for _, c := range s {
		sh.feed(c)
	}
	if sh.state == '\\' || sh.state == '\'' || sh.state == '"' {
		return nil, false
	}
	sh.endWord()
	return sh.words, true
}

type shlexer struct {
	words   []string
	word    strings.Builder
	inWord  bool // a word has started, possibly with an empty quoted part
	state   rune // ' ' between words, 'a' in a word, a quote char, or '\\'
	escaped rune // the state to return to after an escape
}

func (sh *shlexer) feed(c rune) {
	switch sh.state {
	case 0, ' ', 'a':
		sh.plain(c)
	case '\\':
		if sh.escaped == '"' && c != '\\' && c != '"' {
			sh.word.WriteRune('\\')
		}
		sh.word.WriteRune(c)
		sh.state = sh.escaped
	case '\'', '"':
		sh.quoted(c)
	}
}

func (sh *shlexer) plain(c rune) {
	switch {
	case strings.ContainsRune(" \t\r\n", c):
		sh.endWord()
		sh.state = ' '
	case c == '\\':
		sh.inWord, sh.escaped, sh.state = true, 'a', '\\'
	case c == '\'' || c == '"':
		sh.inWord, sh.state = true, c
	default:
		sh.inWord, sh.state = true, 'a'
		sh.word.WriteRune(c)
	}
}

func (sh *shlexer) quoted(c rune) {
	switch {
	case c == sh.state:
		sh.state = 'a'
	case c == '\\' && sh.state == '"':
		sh.escaped, sh.state = '"', '\\'
	default:
		sh.word.WriteRune(c)
	}
}

func (sh *shlexer) endWord() {
	if sh.inWord {
		sh.words = append(sh.words, sh.word.String())
	}
	sh.word.Reset()
	sh.inWord = false
}

// pyInt parses s as Python's int(s) does for ASCII input: surrounding whitespace, an
// optional sign, digits with single underscores between them.
func pyInt(s string) (float64, bool) {
	s = pyStrip(s)
	sign := ""
	if s != "" && (s[0] == '+' || s[0] == '-') {
		sign, s = s[:1], s[1:]
	}
	if s == "" || s[0] == '_' || s[len(s)-1] == '_' || strings.Contains(s, "__") {
		return 0, false
	}
	digits := strings.ReplaceAll(s, "_", "")
	if strings.TrimLeft(digits, "0123456789") != "" {
		return 0, false
	}
	v, err := strconv.ParseFloat(sign+digits, 64)
	return v, err == nil
}

// pyStrip is Python's str.strip().
func pyStrip(s string) string { return strings.TrimFunc(s, isPySpace) }
