package tensorjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mlship/mlship/internal/fault"
)

func mustParse(t testing.TB, src string) *Doc {
	t.Helper()
	d, err := Parse([]byte(src))
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	return d
}

func TestParseValues(t *testing.T) {
	cases := []struct {
		src  string
		want any
	}{
		{`null`, nil},
		{` true `, true},
		{`false`, false},
		{`0`, int64(0)},
		{`-0`, int64(0)},
		{`12`, int64(12)},
		{`-9223372036854775808`, int64(math.MinInt64)},
		{`9223372036854775808`, 9223372036854775808.0},
		{`1.5`, 1.5},
		{`1e2`, 100.0},
		{`1E-2`, 0.01},
		{`-1.25e+3`, -1250.0},
		{`1e400`, math.Inf(1)},
		{`"a\"b\\c\/d\b\f\n\r\t"`, "a\"b\\c/d\b\f\n\r\t"},
		{`"\u00e9\u20AC"`, "é€"},
		{`"\ud83d\ude00"`, "😀"},
		{`"\ud83d"`, "\ufffd"},
		{`"\ud83dx"`, "\ufffdx"},
		{`"\ude00\ud83d\ude00"`, "\ufffd😀"},
		{`"héllo"`, "héllo"},
		{`[]`, []any{}},
		{`{}`, map[string]any{}},
		{`[1, [2, [3]], {"a": [true, null]}]`, []any{int64(1), []any{int64(2), []any{int64(3)}}, map[string]any{"a": []any{true, nil}}}},
		{`{"a": 1, "a": 2}`, map[string]any{"a": int64(2)}},
		{"\t[\r\n1 ,2 ]\n", []any{int64(1), int64(2)}},
	}
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			got := mustParse(t, tc.src).Root().Interface()
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestParseNonFinite(t *testing.T) {
	got := mustParse(t, `[NaN, Infinity, -Infinity]`).Root().Interface().([]any)
	if f := got[0].(float64); !math.IsNaN(f) {
		t.Errorf("NaN read as %v", f)
	}
	if got[1] != math.Inf(1) || got[2] != math.Inf(-1) {
		t.Errorf("infinities read as %v, %v", got[1], got[2])
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{``, "unexpected end of input"},
		{`   `, "unexpected end of input"},
		{`[1,]`, "unexpected character ']'"},
		{`[1 2]`, "expected ',' or ']'"},
		{`{"a" 1}`, "expected ':'"},
		{`{"a":1,}`, "expected a string key"},
		{`{1:2}`, "expected a string key"},
		{`[1}`, "expected ',' or ']'"},
		{`{"a":1]`, "expected ',' or '}'"},
		{`[`, "unexpected end of input"},
		{`{"a":`, "unexpected end of input"},
		{`"abc`, "unterminated string"},
		{`"a\x"`, "invalid escape"},
		{`"a\u12"`, "invalid escape"},
		{"\"a\nb\"", "control character"},
		{"\"a\xffb\"", "invalid UTF-8"},
		{`01`, "unexpected data after the JSON value"},
		{`1.`, "invalid number"},
		{`.5`, "unexpected character '.'"},
		{`-`, "invalid number"},
		{`1e`, "invalid number"},
		{`1e+`, "invalid number"},
		{`+1`, "unexpected character '+'"},
		{`nul`, "invalid literal"},
		{`nan`, "invalid literal"},
		{`Inf`, "invalid literal"},
		{`-Inf`, "invalid literal"},
		{`tru`, "invalid literal"},
		{`[1] x`, "unexpected data after the JSON value"},
		{`{} {}`, "unexpected data after the JSON value"},
		{"\x00", "unexpected byte 0x00"},
		{strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), "nesting deeper than 64"},
		{strings.Repeat(`{"a":`, MaxDepth+1), "nesting deeper than 64"},
		{strings.Repeat("[", 1_000_000), "nesting deeper than 64"},
	}
	for _, tc := range cases {
		name := tc.src
		if len(name) > 20 {
			name = name[:20]
		}
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src))
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want %q", tc.src, tc.want)
			}
			if !errors.Is(err, fault.Invalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse: %v, want an Invalid error containing %q", err, tc.want)
			}
		})
	}
}

func TestParseMaxDepth(t *testing.T) {
	src := strings.Repeat("[", MaxDepth) + "1" + strings.Repeat("]", MaxDepth)
	v := mustParse(t, src).Root()
	for range MaxDepth {
		if v.Kind() != Array || v.Len() != 1 {
			t.Fatalf("got %v of length %d", v.Kind(), v.Len())
		}
		for e := range v.Elems() {
			v = e
		}
	}
	if n, ok := v.Int64(); !ok || n != 1 {
		t.Errorf("innermost value %v", v.Interface())
	}
}

func TestValueAccessors(t *testing.T) {
	root := mustParse(t, `{"b\u0061": [1, 2.5, "x"], "c": {"d": null}, "e": "q\""}`).Root()
	if root.Kind() != Object || root.Len() != 3 {
		t.Fatalf("root %v len %d", root.Kind(), root.Len())
	}
	var keys []string
	for k, v := range root.Members() {
		keys = append(keys, k.Str())
		switch {
		case k.Is("ba"):
			if v.Len() != 3 || v.IsInteger() {
				t.Errorf("ba: len %d", v.Len())
			}
		case k.Is("e"):
			if !v.Is(`q"`) || string(v.Text()) != `q\"` || string(v.Bytes()) != `q"` {
				t.Errorf("e: %q %q", v.Text(), v.Bytes())
			}
		}
	}
	if !reflect.DeepEqual(keys, []string{"ba", "c", "e"}) {
		t.Errorf("keys %v", keys)
	}
	var zero Value
	if zero.Kind() != Missing || zero.Len() != 0 || zero.Text() != nil || zero.Interface() != nil {
		t.Error("the zero Value is not Missing")
	}
	for range zero.Elems() {
		t.Error("the zero Value has elements")
	}
}

// FuzzParse holds the parser to encoding/json: both accept the same documents, except
// that this parser also takes NaN and ±Infinity and refuses deep nesting and invalid
// UTF-8, and both read them as the same values.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5,-3e4,"x\u00e9",true,false,null]}`, `[[1],[2]]`, `"\ud83d\ude00"`, `NaN`, `[-Infinity]`, `0`, `{"a":{"b":{}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		d, err := Parse(src)
		valid := json.Valid(src)
		if err != nil {
			if valid && utf8.Valid(src) && !tooDeep(src) {
				t.Fatalf("Parse(%q): %v; encoding/json accepts it", src, err)
			}
			return
		}
		if !valid {
			if !bytes.Contains(src, []byte("NaN")) && !bytes.Contains(src, []byte("Infinity")) {
				t.Fatalf("Parse(%q) succeeded; encoding/json refuses it", src)
			}
			return
		}
		var want any
		dec := json.NewDecoder(bytes.NewReader(src))
		dec.UseNumber()
		if err := dec.Decode(&want); err != nil {
			t.Fatal(err)
		}
		if !sameJSON(d.Root().Interface(), want) {
			t.Fatalf("Parse(%q) = %#v, encoding/json reads %#v", src, d.Root().Interface(), want)
		}
	})
}

func tooDeep(src []byte) bool {
	depth, inString := 0, false
	for i := 0; i < len(src); i++ {
		switch c := src[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case !inString && (c == '[' || c == '{'):
			depth++
			if depth > MaxDepth {
				return true
			}
		case !inString && (c == ']' || c == '}'):
			depth--
		}
	}
	return false
}

func sameJSON(got, want any) bool {
	switch w := want.(type) {
	case json.Number:
		switch g := got.(type) {
		case int64:
			n, err := strconv.ParseInt(w.String(), 10, 64)
			return err == nil && n == g
		case float64:
			f, _ := strconv.ParseFloat(w.String(), 64)
			return f == g
		}
		return false
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !sameJSON(g[i], w[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for k, v := range w {
			if !sameJSON(g[k], v) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(got, want)
}
