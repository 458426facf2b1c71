package search

import (
	"fmt"
	"regexp"
	"testing"
)

// TestQuotedLenMatchesRegexp checks quotedLen against sqlparse's regular expressions,
// which Go's regexp matches with the same leftmost-first preference as Python's, on
// every string of up to 9 characters over the alphabet that matters.
func TestQuotedLenMatchesRegexp(t *testing.T) {
	tests := []struct {
		quote     byte
		backslash bool
		re        *regexp.Regexp
	}{
		{'\'', true, regexp.MustCompile(`^'(?:''|\\'|[^'])*'`)},
		{'"', true, regexp.MustCompile(`^"(?:""|\\"|[^"])*"`)},
		{'`', false, regexp.MustCompile("^`(?:``|[^`])*`")},
	}
	for _, tc := range tests {
		alphabet := []byte{tc.quote, '\\', 'a'}
		var walk func(s []byte)
		walk = func(s []byte) {
			want := 0
			if loc := tc.re.FindIndex(s); loc != nil {
				want = loc[1]
			}
			if got := quotedLen(string(s), tc.backslash); got != want {
				t.Fatalf("quotedLen(%q) = %d, want %d", s, got, want)
			}
			if len(s) == 9 {
				return
			}
			for _, c := range alphabet {
				walk(append(s, c))
			}
		}
		walk([]byte{tc.quote})
	}
}

func TestLexNumbers(t *testing.T) {
	// sqlparse's number rules end with a lookahead that Python satisfies by giving back
	// digits: "12x" is the integer 1, "1.5x" the float "1.".
	tests := []struct {
		in   string
		want string
	}{
		{"1", "int 1"},
		{"-1", "int -1"},
		{"12x", "int 1, word 2x"},
		{"1x", "word 1x"},
		{"1.5", "float 1.5"},
		{"1.5x", "float 1., word 5x"},
		{"1.x", "int 1, dot ., word x"},
		{".5", "float .5"},
		{".5x", "dot ., word 5x"},
		{".55x", "float .5, word 5x"},
		{"-.5", "float -.5"},
		{"5.", "float 5."},
		{"1e5", "float 1e5"},
		{"1E-5", "float 1E-5"},
		{"1.5e3x", "float 1.5e3, word x"},
		{"1e", "word 1e"},
		{"0x1Fg", "other 0x1F, word g"},
		{"1ж", "int 1, word ж"},
		{"1é", "word 1é"},
		{"a.1b", "word a, dot ., word 1b"},
		{"a.12b", "word a, float .1, word 2b"},
		{"and", "keyword and"},
		{"and(", "func and, ( ("},
		{"in(", "keyword in, ( ("},
		{"ın", "keyword ın"},
		{"tags.in", "word tags, dot ., keyword in"},
		{"tags.as", "word tags, dot ., other as"},
		{"tags.and", "word tags, dot ., word and"},
		{"desc", "order desc"},
		{"DESC NULLS LAST", "order DESC NULLS LAST"},
		{"not like", "compare not like"},
		{"parameter.1", "keyword parameter, float .1"},
		{"_a$b", "word _a$b"},
		{"--x", "other --x"},
	}
	for _, tc := range tests {
		toks, _ := lex(tc.in)
		if got := describe(toks); got != tc.want {
			t.Errorf("lex(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func describe(toks []token) string {
	names := map[tokKind]string{
		tokWord: "word", tokFunc: "func", tokKeyword: "keyword", tokOrder: "order", tokInt: "int",
		tokFloat: "float", tokDot: "dot", tokLParen: "(", tokCompare: "compare", tokOther: "other",
	}
	s := ""
	for i, t := range toks {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %s", names[t.kind], t.text)
	}
	return s
}
