package search

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The lexer reproduces the part of sqlparse's lexer (sqlparse/keywords.py, SQL_REGEX) that
// an MLflow filter can use: the same rules, tried in the same order, with the same Python
// regex semantics (Unicode \w, \s and \d, IGNORECASE folding, backtracking lookaheads).
// Every other construct sqlparse knows (comments, placeholders, operators, brackets, hex
// numbers, ...) becomes tokOther, which no filter may contain: it always makes MLflow's
// parser fail too, so its exact extent does not matter.

type tokKind int

const (
	tokSpace   tokKind = iota // one whitespace character, or \r\n
	tokWord                   // a name: sqlparse Token.Name from a word
	tokFunc                   // a word directly followed by "(": sqlparse groups it as a function
	tokKeyword                // a keyword that matters here (AND, OR, NOT, IN, IS, NULL, ...)
	tokOrder                  // ASC or DESC, optionally followed by NULLS FIRST|LAST
	tokQuoted                 // a `backtick quoted` name
	tokSingle                 // a 'single quoted' string
	tokDouble                 // a "double quoted" string (sqlparse: String.Symbol, an identifier)
	tokInt                    // an integer literal, possibly negative
	tokFloat                  // a float literal, possibly negative
	tokDot
	tokComma
	tokLParen
	tokRParen
	tokCompare // a run of <>=~! or LIKE, ILIKE, RLIKE, REGEXP (with NOT)
	tokOther   // anything else
)

type token struct {
	kind tokKind
	text string
	pos  int // byte offset in the source
}

func (t token) end() int { return t.pos + len(t.text) }

// maxTokens is sqlparse's MAX_GROUPING_TOKENS: longer statements fail to parse.
const maxTokens = 10000

// keywords are the sqlparse keywords that can stand where a filter expects a name. Other
// keywords only appear where any word is an error, so they are lexed as plain words.
var keywords = map[string]bool{
	"AND": true, "OR": true, "NOT": true, "IN": true, "IS": true, "NULL": true,
	"PARAMETER": true, "PARAMETERS": true, "SELECT": true, "WHERE": true,
	"TRUE": true, "FALSE": true, "BETWEEN": true, "EXISTS": true,
}

// lex splits src into tokens. It stops early with ok=false when src has more tokens than
// sqlparse accepts.
func lex(src string) (toks []token, ok bool) {
	l := lexer{src: src}
	for l.pos < len(src) {
		if len(l.toks) == maxTokens {
			return nil, false
		}
		l.next()
	}
	return l.toks, true
}

type lexer struct {
	src  string
	pos  int
	toks []token
}

func (l *lexer) emit(kind tokKind, n int) {
	l.toks = append(l.toks, token{kind: kind, text: l.src[l.pos : l.pos+n], pos: l.pos})
	l.pos += n
}

func (l *lexer) rest() string { return l.src[l.pos:] }

func (l *lexer) next() {
	r, size := utf8.DecodeRuneInString(l.rest())
	switch {
	case isPySpace(r):
		l.space(size)
	case r == '-':
		l.minus()
	case r == '\'':
		l.quoted(tokSingle, true)
	case r == '"':
		l.quoted(tokDouble, true)
	case r == '`':
		l.quoted(tokQuoted, false)
	case r == '.':
		l.dot()
	case strings.ContainsRune("<>=~!", r):
		l.emit(tokCompare, len(l.rest())-len(strings.TrimLeft(l.rest(), "<>=~!")))
	case isPyWord(r):
		l.word()
	default:
		l.emit(punctuation(r), size)
	}
}

func punctuation(r rune) tokKind {
	switch r {
	case '(':
		return tokLParen
	case ')':
		return tokRParen
	case ',':
		return tokComma
	}
	return tokOther
}

func (l *lexer) space(size int) {
	if strings.HasPrefix(l.rest(), "\r\n") {
		size = 2
	}
	l.emit(tokSpace, size)
}

// minus handles "-": a comment, a negative number or an operator.
func (l *lexer) minus() {
	if strings.HasPrefix(l.rest(), "--") {
		l.emit(tokOther, len(l.rest())) // a comment: the rest is never valid anyway
		return
	}
	if kind, n := lexNumber(l.rest()); n > 0 {
		l.emit(kind, n)
		return
	}
	l.emit(tokOther, 1)
}

func (l *lexer) quoted(kind tokKind, backslash bool) {
	if n := quotedLen(l.rest(), backslash); n > 0 {
		l.emit(kind, n)
		return
	}
	l.emit(tokOther, 1) // an unterminated quote: sqlparse's Error token
}

// quotedLen returns the length of the quoted string at the start of s, or 0. sqlparse
// matches a string with a regular expression: the quote, then any number of doubled
// quotes, backslash-escaped quotes (not for backticks) or other characters, then the
// quote. quotedLen gives the match Python's backtracking finds: it reads doubled and
// escaped quotes as part of the string, and when that leads to the end of s without a
// closing quote it falls back to the last such quote as the closing one.
func quotedLen(s string, backslash bool) int {
	q := s[0]
	fallback := 0
	for i := 1; i < len(s); i++ {
		switch {
		case s[i] == q && i+1 < len(s) && s[i+1] == q:
			fallback = i + 1
			i++
		case s[i] == q:
			return i + 1
		case backslash && s[i] == '\\' && i+1 < len(s) && s[i+1] == q:
			fallback = i + 2
			i++
		}
	}
	return fallback
}

func (l *lexer) dot() {
	if kind, n := lexNumber(l.rest()); n > 0 {
		l.emit(kind, n)
		return
	}
	l.emit(tokDot, 1)
}

// word lexes a token that starts with a word character, trying sqlparse's rules in order.
func (l *lexer) word() {
	s := l.rest()
	if kw := inKeyword(s); kw != "" {
		l.emit(kindOfKeyword(kw), len(kw))
		return
	}
	r, _ := utf8.DecodeRuneInString(s)
	if isAlphaStart(r) {
		if kind, n := l.name(s); n > 0 {
			l.emit(kind, n)
			return
		}
	}
	if kind, n := lexNumber(s); n > 0 {
		l.emit(kind, n)
		return
	}
	if kind, n := multiWord(s); n > 0 {
		l.emit(kind, n)
		return
	}
	n := len(s) - len(strings.TrimLeftFunc(s, isKeywordRune))
	if keywords[strings.ToUpper(s[:n])] {
		l.emit(tokKeyword, n)
		return
	}
	l.emit(tokWord, n)
}

// isKeywordRune matches [$#\w], the rest of a word sqlparse looks up as a keyword.
func isKeywordRune(r rune) bool { return isPyWord(r) || r == '$' || r == '#' }

func kindOfKeyword(kw string) tokKind {
	if foldEqual(kw, "IN") {
		return tokKeyword
	}
	return tokOther // CASE, VALUES, USING, FROM, AS: never valid in a filter
}

// name applies the three context rules that make a word a name: it is followed by a dot,
// preceded by a dot, or followed by "(" (then sqlparse makes it a function name).
func (l *lexer) name(s string) (tokKind, int) {
	n := wordLen(s)
	after := strings.TrimLeftFunc(s[n:], isPySpace)
	if strings.HasPrefix(after, ".") && !startsWithDigit(after[1:]) {
		return tokWord, n
	}
	if l.pos > 0 && l.src[l.pos-1] == '.' {
		return tokWord, n
	}
	if strings.HasPrefix(s[n:], "(") {
		return tokFunc, n
	}
	return 0, 0
}

// inKeyword matches sqlparse's rule (CASE|IN|VALUES|USING|FROM|AS)\b, which comes before
// every name rule: "tags.in" is the name "tags", a dot and the keyword IN.
func inKeyword(s string) string {
	for _, kw := range []string{"CASE", "IN", "VALUES", "USING", "FROM", "AS"} {
		if n, ok := matchFold(s, kw); ok && wordBoundary(s[n:]) {
			return s[:n]
		}
	}
	return ""
}

// multiWord matches the multi-word rules that can start with a word a filter uses:
// ASC/DESC [NULLS FIRST|LAST], NOT NULL and the [NOT] LIKE/ILIKE/RLIKE/REGEXP operators.
func multiWord(s string) (tokKind, int) {
	if n := matchOrder(s); n > 0 {
		return tokOrder, n
	}
	not := 0
	if n, ok := matchFold(s, "NOT"); ok {
		if m := spaceLen(s[n:]); m > 0 {
			not = n + m
		}
	}
	if not > 0 {
		if n, ok := matchFold(s[not:], "NULL"); ok && wordBoundary(s[not+n:]) {
			return tokKeyword, not + n
		}
	}
	for _, start := range []int{not, 0} {
		for _, op := range []string{"LIKE", "ILIKE", "RLIKE", "REGEXP"} {
			if n, ok := matchFold(s[start:], op); ok && wordBoundary(s[start+n:]) {
				return tokCompare, start + n
			}
		}
	}
	return 0, 0
}

func matchOrder(s string) int {
	for _, dir := range []string{"ASC", "DESC"} {
		n, ok := matchFold(s, dir)
		if !ok {
			continue
		}
		if m := nullsLen(s[n:]); m > 0 {
			return n + m
		}
		if wordBoundary(s[n:]) {
			return n
		}
	}
	return 0
}

// nullsLen matches \s+NULLS\s+(FIRST|LAST)\b.
func nullsLen(s string) int {
	a := spaceLen(s)
	n, ok := matchFold(s[a:], "NULLS")
	if a == 0 || !ok {
		return 0
	}
	b := spaceLen(s[a+n:])
	if b == 0 {
		return 0
	}
	for _, w := range []string{"FIRST", "LAST"} {
		if m, ok := matchFold(s[a+n+b:], w); ok && wordBoundary(s[a+n+b+m:]) {
			return a + n + b + m
		}
	}
	return 0
}

// lexNumber applies sqlparse's number rules in order: hexadecimal, float with exponent,
// float, integer. The float and integer rules end with a lookahead (?![_A-ZÀ-Ü]) that
// Python satisfies by backtracking, so "12x" lexes as the integer "1" before "2x".
func lexNumber(s string) (tokKind, int) {
	sign := 0
	if strings.HasPrefix(s, "-") {
		sign = 1
	}
	body := s[sign:]
	if n := hexLen(body); n > 0 {
		return tokOther, sign + n
	}
	if n := exponentLen(body); n > 0 {
		return tokFloat, sign + n
	}
	if n := floatLen(body); n > 0 {
		return tokFloat, sign + n
	}
	if n := backtrack(body, digitLen(body), 1); n > 0 {
		return tokInt, sign + n
	}
	return 0, 0
}

// hexLen matches 0x[\dA-F]+.
func hexLen(s string) int {
	if len(s) < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') {
		return 0
	}
	n := len(s) - len(strings.TrimLeftFunc(s[2:], func(r rune) bool {
		return isPyDigit(r) || strings.ContainsRune("abcdefABCDEF", r)
	}))
	if n == 2 {
		return 0
	}
	return n
}

// exponentLen matches \d+(\.\d+)?E-?\d+.
func exponentLen(s string) int {
	n := digitLen(s)
	if n == 0 {
		return 0
	}
	if strings.HasPrefix(s[n:], ".") {
		if m := digitLen(s[n+1:]); m > 0 {
			if e := expPartLen(s[n+1+m:]); e > 0 {
				return n + 1 + m + e
			}
		}
	}
	if e := expPartLen(s[n:]); e > 0 {
		return n + e
	}
	return 0
}

// expPartLen matches E-?\d+.
func expPartLen(s string) int {
	if s == "" || (s[0] != 'e' && s[0] != 'E') {
		return 0
	}
	if strings.HasPrefix(s[1:], "-") {
		if m := digitLen(s[2:]); m > 0 {
			return 2 + m
		}
	}
	if m := digitLen(s[1:]); m > 0 {
		return 1 + m
	}
	return 0
}

// floatLen matches (\d+\.\d*|\.\d+)(?![_A-ZÀ-Ü]).
func floatLen(s string) int {
	if n := digitLen(s); n > 0 {
		if !strings.HasPrefix(s[n:], ".") {
			return 0
		}
		return backtrack(s, n+1+digitLen(s[n+1:]), n+1)
	}
	if strings.HasPrefix(s, ".") {
		return backtrack(s, 1+digitLen(s[1:]), 2)
	}
	return 0
}

// backtrack gives back trailing digits of s[:n], down to min bytes, until the character
// that follows is not one the lookahead (?![_A-ZÀ-Ü]) forbids. It returns 0 on failure.
func backtrack(s string, n, min int) int {
	for ; n >= min && n > 0; n = lastDigitStart(s, n) {
		r, _ := utf8.DecodeRuneInString(s[n:])
		if n == len(s) || !(r == '_' || isAlphaStart(r)) {
			return n
		}
		if !isPyDigitBefore(s, n) {
			return 0
		}
	}
	return 0
}

func isPyDigitBefore(s string, n int) bool {
	r, _ := utf8.DecodeLastRuneInString(s[:n])
	return isPyDigit(r)
}

func lastDigitStart(s string, n int) int {
	_, size := utf8.DecodeLastRuneInString(s[:n])
	return n - size
}

// Python's Unicode character classes, as re uses them.

func isPySpace(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) }

func isPyWord(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) }

func isPyDigit(r rune) bool { return unicode.Is(unicode.Nd, r) }

// isAlphaStart reports whether r matches [A-ZÀ-Ü] under Python's IGNORECASE.
func isAlphaStart(r rune) bool {
	switch {
	case r < 0x80:
		return (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z')
	case r >= 0xC0 && r <= 0xDC, r >= 0xE0 && r <= 0xFC && r != 0xF7:
		return true
	}
	return r == 0x130 || r == 0x131 || r == 0x17F || r == 0x212A || r == 0x212B
}

func wordLen(s string) int  { return len(s) - len(strings.TrimLeftFunc(s, isPyWord)) }
func digitLen(s string) int { return len(s) - len(strings.TrimLeftFunc(s, isPyDigit)) }
func spaceLen(s string) int { return len(s) - len(strings.TrimLeftFunc(s, isPySpace)) }

func startsWithDigit(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return s != "" && isPyDigit(r)
}

func wordBoundary(rest string) bool {
	r, _ := utf8.DecodeRuneInString(rest)
	return rest == "" || !isPyWord(r)
}

// matchFold reports whether s starts with the ASCII word w under Python's IGNORECASE,
// which also folds İ and ı to I, ſ to S and the Kelvin sign to K. It returns the length
// of the match in s.
func matchFold(s, w string) (int, bool) {
	n := 0
	for i := 0; i < len(w); i++ {
		r, size := utf8.DecodeRuneInString(s[n:])
		if n == len(s) || !foldsTo(r, w[i]) {
			return 0, false
		}
		n += size
	}
	return n, true
}

func foldsTo(r rune, upper byte) bool {
	switch {
	case r < 0x80:
		return unicode.ToUpper(r) == rune(upper)
	case r == 0x130 || r == 0x131:
		return upper == 'I'
	case r == 0x17F:
		return upper == 'S'
	case r == 0x212A:
		return upper == 'K'
	}
	return false
}

func foldEqual(s, w string) bool {
	n, ok := matchFold(s, w)
	return ok && n == len(s)
}
