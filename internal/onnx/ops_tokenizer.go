package onnx

import (
	"fmt"
	"regexp"
	"unicode/utf8"
)

func init() {
	register("com.microsoft", newTokenizer, "Tokenizer")
}

// tokenizer is onnxruntime's Tokenizer (com.microsoft): it splits each string of a [C] or
// [N, C] tensor into tokens, by separator expressions or by a token expression, and pads
// the rows to the longest with pad_value. Expressions are RE2, matched leftmost-longest as
// onnxruntime matches them.
type tokenizer struct {
	mark       bool
	pad        string
	minChars   int
	chars      bool             // one token per character
	separators []*contextRegexp // applied in turn, each to the pieces the previous left
	tokens     *contextRegexp
}

// contextRegexp searches a string from an offset, seeing the text before the offset as a
// regexp engine started there would (for \b and ^): re at the start, re behind one
// consumed character elsewhere.
type contextRegexp struct {
	re, behind *regexp.Regexp
}

func compileContext(expr string) (*contextRegexp, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	behind, err := regexp.Compile(`(?s:.)(` + expr + `)`)
	if err != nil {
		return nil, err
	}
	re.Longest()
	behind.Longest()
	return &contextRegexp{re: re, behind: behind}, nil
}

// find returns the leftmost-longest match in s at or after from.
func (c *contextRegexp) find(s string, from int) (lo, hi int, ok bool) {
	if from == 0 {
		m := c.re.FindStringIndex(s)
		if m == nil {
			return 0, 0, false
		}
		return m[0], m[1], true
	}
	_, w := utf8.DecodeLastRuneInString(s[:from])
	base := from - w
	m := c.behind.FindStringSubmatchIndex(s[base:])
	if m == nil {
		return 0, 0, false
	}
	return base + m[2], base + m[3], true
}

func newTokenizer(n *nodeCtx) (kernel, error) {
	a := n.attrs
	t := &tokenizer{mark: a.int("mark", 0) != 0, pad: a.str("pad_value", ""), minChars: int(a.int("mincharnum", 0))}
	if !a.has("mark") || !a.has("pad_value") || !a.has("mincharnum") || t.minChars < 1 {
		return nil, fmt.Errorf("%w: Tokenizer needs mark, pad_value and a positive mincharnum", ErrInvalidModel)
	}
	seps, expr := a.strs("separators"), a.str("tokenexp", "")
	switch {
	case a.has("separators") && len(seps) == 0:
		return nil, fmt.Errorf("%w: Tokenizer separators is empty", ErrInvalidModel)
	case len(seps) == 1 && seps[0] == "", len(seps) == 0 && expr == ".":
		t.chars = true
	case len(seps) == 0 && expr == "":
		return nil, fmt.Errorf("%w: Tokenizer needs separators or tokenexp", ErrInvalidModel)
	}
	if t.chars && t.minChars > 1 {
		return nil, fmt.Errorf("%w: Tokenizer mincharnum %d with one token per character", ErrInvalidModel, t.minChars)
	}
	if t.chars {
		return t, nil
	}
	for _, s := range seps {
		re, err := compileContext(s)
		if err != nil {
			return nil, fmt.Errorf("%w: Tokenizer separator %q: %v", ErrUnsupported, s, err)
		}
		t.separators = append(t.separators, re)
	}
	if len(seps) == 0 {
		re, err := compileContext(expr)
		if err != nil {
			return nil, fmt.Errorf("%w: Tokenizer tokenexp %q: %v", ErrUnsupported, expr, err)
		}
		t.tokens = re
	}
	return t, nil
}

func (t *tokenizer) run(in []Value) ([]Value, error) {
	x, err := tensorArg(in, 0)
	if err != nil {
		return nil, err
	}
	src := Data[string](x)
	if src == nil || len(x.Shape) < 1 || len(x.Shape) > 2 {
		return nil, fmt.Errorf("%w: Tokenizer takes strings of shape [C] or [N, C], got %s%v", ErrInvalidInput, x.Type(), x.Shape)
	}
	if len(src) == 0 {
		shape := []int64{0}
		if len(x.Shape) == 2 {
			shape = []int64{x.Shape[0], 0}
		}
		return one(NewTensor(shape, []string{})), nil
	}
	rows := make([][]string, len(src))
	longest := 0
	for i, s := range src {
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("%w: Tokenizer input is not valid UTF-8", ErrInvalidInput)
		}
		if rows[i], err = t.split(s); err != nil {
			return nil, err
		}
		longest = max(longest, len(rows[i]))
	}
	shape := append(append([]int64{}, x.Shape...), 0)
	if longest == 0 {
		return one(NewTensor(shape, []string{})), nil
	}
	width := longest
	if t.mark {
		width += 2
	}
	shape[len(shape)-1] = int64(width)
	if n, ok := numElements(shape); !ok || n > MaxElements {
		return nil, fmt.Errorf("%w: Tokenizer output %v is too large", ErrInvalidInput, shape)
	}
	out := make([]string, 0, len(src)*width)
	for _, row := range rows {
		if t.mark {
			out = append(out, "\x02")
		}
		out = append(out, row...)
		if t.mark {
			out = append(out, "\x03")
		}
		for range longest - len(row) {
			out = append(out, t.pad)
		}
	}
	return one(NewTensor(shape, out)), nil
}

func (t *tokenizer) split(s string) ([]string, error) {
	switch {
	case t.chars:
		var out []string
		for i, r := range s {
			out = append(out, s[i:i+utf8.RuneLen(r)])
		}
		return out, nil
	case t.tokens != nil:
		return t.matchTokens(s)
	}
	row := []string{s}
	for _, sep := range t.separators {
		var next []string
		for _, piece := range row {
			next = t.splitOn(sep, piece, next)
		}
		row = next
	}
	return row, nil
}

// rescanLimit caps the bytes of short matches a string's tokenization searches again
// (the search resumes inside each): a long run of one short token would otherwise cost
// the square of its length.
const rescanLimit = 1 << 24

// matchTokens collects the matches of the token expression long enough to keep; after a
// short one the search goes on one character after its start.
func (t *tokenizer) matchTokens(s string) ([]string, error) {
	var out []string
	rescanned := 0
	for from := 0; from <= len(s); {
		lo, hi, ok := t.tokens.find(s, from)
		if !ok {
			break
		}
		if utf8.RuneCountInString(s[lo:hi]) >= t.minChars {
			out = append(out, s[lo:hi])
			from = hi
			if hi > lo {
				continue
			}
		}
		if rescanned += hi - lo; rescanned > rescanLimit {
			return nil, fmt.Errorf("%w: Tokenizer: a string of %d bytes holds too many tokens shorter than mincharnum (%d)", ErrInvalidInput, len(s), t.minChars)
		}
		from = lo + runeWidth(s, lo)
	}
	return out, nil
}

// splitOn appends the pieces of text between the separator's matches that are long enough.
func (t *tokenizer) splitOn(sep *contextRegexp, text string, out []string) []string {
	from := 0
	for from <= len(text) {
		lo, hi, ok := sep.find(text, from)
		if !ok {
			break
		}
		if utf8.RuneCountInString(text[from:lo]) >= t.minChars {
			out = append(out, text[from:lo])
		}
		if hi > lo {
			from = hi
		} else {
			from = lo + runeWidth(text, lo)
		}
	}
	if from < len(text) && utf8.RuneCountInString(text[from:]) >= t.minChars {
		out = append(out, text[from:])
	}
	return out
}

// runeWidth is the width of the character at i, 1 at the end of s.
func runeWidth(s string, i int) int {
	if i >= len(s) {
		return 1
	}
	_, w := utf8.DecodeRuneInString(s[i:])
	return w
}
