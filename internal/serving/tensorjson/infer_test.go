package tensorjson

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
)

func TestInfer(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		src  string
		want runtime.Tensor
	}{
		{`[1, 2, 3]`, runtime.NewInt64("x", []int64{3}, []int64{1, 2, 3})},
		{`[[1, 2], [3, 4]]`, runtime.NewInt64("x", []int64{2, 2}, []int64{1, 2, 3, 4})},
		{`[1, 2.5]`, runtime.NewFloat64("x", []int64{2}, []float64{1, 2.5})},
		{`[1, 1e2]`, runtime.NewFloat64("x", []int64{2}, []float64{1, 100})},
		{`[9223372036854775808]`, runtime.NewFloat64("x", []int64{1}, []float64{9223372036854775808})},
		{`[1, null]`, runtime.NewFloat64("x", []int64{2}, []float64{1, nan})},
		{`[null]`, runtime.NewFloat64("x", []int64{1}, []float64{nan})},
		{`[[NaN], [1e400]]`, runtime.NewFloat64("x", []int64{2, 1}, []float64{nan, math.Inf(1)})},
		{`[]`, runtime.NewFloat64("x", []int64{0}, []float64{})},
		{`[[], []]`, runtime.NewFloat64("x", []int64{2, 0}, []float64{})},
		{`5`, runtime.NewInt64("x", []int64{}, []int64{5})},
		{`"s"`, runtime.NewStrings("x", []int64{}, []string{"s"})},
		{`[["a", "b"]]`, runtime.NewStrings("x", []int64{1, 2}, []string{"a", "b"})},
		{`[true, false]`, runtime.Tensor{Name: "x", Datatype: runtime.Bool, Shape: []int64{2}, Data: []byte{1, 0}}},
	}
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			got, err := Infer("x", mustParse(t, tc.src).Root())
			if err != nil {
				t.Fatal(err)
			}
			assertTensor(t, got, tc.want)
		})
	}
}

func assertTensor(t *testing.T, got, want runtime.Tensor) {
	t.Helper()
	if got.Name != want.Name || got.Datatype != want.Datatype || !reflect.DeepEqual(got.Shape, want.Shape) {
		t.Fatalf("got %s %s %v, want %s %s %v", got.Name, got.Datatype, got.Shape, want.Name, want.Datatype, want.Shape)
	}
	if want.Datatype == runtime.Bytes {
		if !reflect.DeepEqual(got.Strings, want.Strings) {
			t.Errorf("got %q, want %q", got.Strings, want.Strings)
		}
		return
	}
	for i := range runtime.Elements(want.Shape) {
		g, w := got.Float64At(int(i)), want.Float64At(int(i))
		if g != w && !(math.IsNaN(g) && math.IsNaN(w)) {
			t.Errorf("element %d = %v, want %v", i, g, w)
		}
	}
	if len(got.Data) != len(want.Data) {
		t.Errorf("got %d bytes, want %d", len(got.Data), len(want.Data))
	}
}

func TestInferErrors(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"x", `[[1, 2], [3]]`, `input "x": data[1] has 1 elements where shape [2 2] needs 2`},
		{"", `[[1, 2], 3]`, "the input: data[1] is 3 where shape [2 2] needs an array"},
		{"x", `[1, [2]]`, "data[1] is an array, nested deeper than shape [2]"},
		{"x", `[1, "a"]`, `input "x" mixes strings and numbers`},
		{"x", `["a", null]`, "mixes strings and nulls"},
		{"x", `[true, 1]`, "mixes booleans and numbers"},
		{"x", `[true, null]`, "mixes booleans and nulls"},
		{"x", `[{"a": 1}]`, "holds an object"},
		{"x", `{"a": 1}`, "holds an object"},
	}
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			_, err := Infer(tc.name, mustParse(t, tc.src).Root())
			if !errors.Is(err, fault.Invalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Infer: %v\nwant an Invalid error containing %q", err, tc.want)
			}
		})
	}
}

func TestColumn(t *testing.T) {
	root := mustParse(t, `[1, null, 2.5, "a", [1], true]`).Root()
	var v []Value
	for e := range root.Elems() {
		v = append(v, e)
	}
	got, err := Column("c", []Value{v[0], {}, v[1], v[2]})
	if err != nil {
		t.Fatal(err)
	}
	assertTensor(t, got, runtime.NewFloat64("c", []int64{4}, []float64{1, math.NaN(), math.NaN(), 2.5}))
	if _, err := Column("c", []Value{v[0], v[4]}); err == nil || !strings.Contains(err.Error(), `column "c", row 1: an array where a column needs`) {
		t.Errorf("array cell: %v", err)
	}
	if _, err := Column("c", []Value{v[3], v[5]}); err == nil || !strings.Contains(err.Error(), `column "c" mixes strings and booleans`) {
		t.Errorf("mixed column: %v", err)
	}
}
