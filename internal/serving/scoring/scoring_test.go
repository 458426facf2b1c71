package scoring

import (
	"errors"
	"math"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/httpx"
	"github.com/mlship/mlship/internal/runtime"
)

// wantError checks that err is a client error with the given status, MLflow error code
// and message fragment.
func wantError(t *testing.T, err error, status int, code, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("succeeded, want %d %q", status, want)
	}
	gotStatus, gotCode := http.StatusBadRequest, ""
	var ce *httpx.CodedError
	if errors.As(err, &ce) {
		gotCode = ce.Code
		if ce.Status != 0 {
			gotStatus = ce.Status
		}
	}
	if !errors.Is(err, fault.Invalid) || gotStatus != status || gotCode != code || !strings.Contains(fault.Message(err), want) {
		t.Errorf("error %v (status %d, code %q)\nwant status %d, code %q, message containing %q", err, gotStatus, gotCode, status, code, want)
	}
}

func TestContentTypes(t *testing.T) {
	ok := []string{"application/json", "application/json; charset=utf-8", "Application/JSON;charset=\"UTF-8\"", "application/json;", "text/csv", "text/csv; charset=utf-8", "application/csv"}
	for _, ct := range ok {
		body := `{"inputs": [1]}`
		if !strings.Contains(ct, "json") && !strings.Contains(ct, "JSON") {
			body = "a\n1\n"
		}
		if _, err := DecodeInvocation(ct, []byte(body)); err != nil {
			t.Errorf("%q: %v", ct, err)
		}
	}
	bad := []struct{ ct, want string }{
		{"application/python-pickle", "This predictor only supports the following content types: Types: ['text/csv', 'application/json', 'application/csv']. Got 'application/python-pickle'."},
		{"", "Got ''."},
		{"application/x-parquet", "This predictor only supports"},
		{"application/json; charset=latin-1", "The scoring server only supports UTF-8"},
		{"text/csv; charset=utf-16", "The scoring server only supports UTF-8"},
		{"application/json; format=pandas-split", "Unrecognized content type parameters: format. IMPORTANT: The MLflow Model scoring protocol has changed"},
		{"application/json; orient=records; charset=utf-8", "Unrecognized content type parameters: orient."},
	}
	for _, tc := range bad {
		_, err := DecodeInvocation(tc.ct, []byte(`{"inputs": [1]}`))
		wantError(t, err, http.StatusUnsupportedMediaType, "BAD_REQUEST", tc.want)
	}
}

func TestDecodeInvocationJSON(t *testing.T) {
	cases := []struct {
		name string
		body string
		want runtime.Request
	}{{
		name: "split keeps column order",
		body: `{"dataframe_split": {"columns": ["z", "a"], "data": [[1, "x"], [2, "y"]], "index": [5, 6]}}`,
		want: runtime.Request{Layout: runtime.LayoutColumns, Inputs: []runtime.Tensor{
			runtime.NewInt64("z", []int64{2}, []int64{1, 2}), runtime.NewStrings("a", []int64{2}, []string{"x", "y"})}},
	}, {
		name: "records, first-seen columns, missing is NaN",
		body: `{"dataframe_records": [{"b": 1}, {"a": 2.5, "b": 3}]}`,
		want: runtime.Request{Layout: runtime.LayoutColumns, Inputs: []runtime.Tensor{
			runtime.NewInt64("b", []int64{2}, []int64{1, 3}), runtime.NewFloat64("a", []int64{2}, []float64{math.NaN(), 2.5})}},
	}, {
		name: "instances rows",
		body: `{"instances": [[1, 2.5], [3, 4]]}`,
		want: runtime.Request{Layout: runtime.LayoutTensors, Inputs: []runtime.Tensor{
			runtime.NewFloat64("", []int64{2, 2}, []float64{1, 2.5, 3, 4})}},
	}, {
		name: "instances records",
		body: `{"instances": [{"a": 1, "b": [1, 2]}, {"a": 2, "b": [3, 4]}]}`,
		want: runtime.Request{Layout: runtime.LayoutTensors, Inputs: []runtime.Tensor{
			runtime.NewInt64("a", []int64{2}, []int64{1, 2}), runtime.NewInt64("b", []int64{2, 2}, []int64{1, 2, 3, 4})}},
	}, {
		name: "inputs dict and params",
		body: `{"params": {"top_k": 3, "temperature": 0.5, "tags": ["a"]}, "inputs": {"x": [[1, 2]], "s": "q"}}`,
		want: runtime.Request{Layout: runtime.LayoutTensors, Inputs: []runtime.Tensor{
			runtime.NewInt64("x", []int64{1, 2}, []int64{1, 2}), runtime.NewStrings("s", []int64{}, []string{"q"})},
			Params: map[string]any{"top_k": int64(3), "temperature": 0.5, "tags": []any{"a"}}},
	}, {
		name: "params null",
		body: `{"inputs": [true], "params": null}`,
		want: runtime.Request{Layout: runtime.LayoutTensors, Inputs: []runtime.Tensor{
			{Name: "", Datatype: runtime.Bool, Shape: []int64{1}, Data: []byte{1}}}},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeInvocation("application/json", []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			assertRequest(t, got, &tc.want)
		})
	}
}

func assertRequest(t *testing.T, got, want *runtime.Request) {
	t.Helper()
	if got.Layout != want.Layout || len(got.Inputs) != len(want.Inputs) || !reflect.DeepEqual(got.Params, want.Params) {
		t.Fatalf("got %s with %d inputs, params %v; want %s with %d, params %v", got.Layout, len(got.Inputs), got.Params, want.Layout, len(want.Inputs), want.Params)
	}
	for i := range want.Inputs {
		g, w := &got.Inputs[i], &want.Inputs[i]
		if g.Name != w.Name || g.Datatype != w.Datatype || !reflect.DeepEqual(g.Shape, w.Shape) || !sameStrings(g.Strings, w.Strings) {
			t.Errorf("input %d: got %s %s %v %q, want %s %s %v %q", i, g.Name, g.Datatype, g.Shape, g.Strings, w.Name, w.Datatype, w.Shape, w.Strings)
			continue
		}
		if err := g.Check(); err != nil {
			t.Error(err)
		}
		if w.Datatype == runtime.Bytes {
			continue
		}
		for k := range runtime.Elements(w.Shape) {
			a, b := g.Float64At(int(k)), w.Float64At(int(k))
			if a != b && !(math.IsNaN(a) && math.IsNaN(b)) {
				t.Errorf("input %q element %d = %v, want %v", g.Name, k, a, b)
			}
		}
	}
}

func sameStrings(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if string(a[i]) != string(b[i]) {
			return false
		}
	}
	return true
}

func TestDecodeInvocationErrors(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"deep", `{"inputs": ` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`, "Invalid input. Ensure that input is a valid JSON formatted string. Error: 'invalid JSON at offset 74: nesting deeper than 64 levels'"},
		{"trailing", `{"inputs": [1]} {}`, "unexpected data after the JSON value"},
		{"empty", ``, "unexpected end of input"},
		{"params list", `{"inputs": [1], "params": [1]}`, "Invalid input. params must be a dictionary, not list"},
		{"mixed column", `{"dataframe_split": {"columns": ["a"], "data": [[1], ["x"]]}}`, `Invalid input. column "a" mixes strings and numbers`},
		{"nested cell", `{"dataframe_records": [{"a": {"b": 1}}]}`, `column "a", row 0: an object where a column needs`},
		{"record not dict", `{"dataframe_records": [{"a": 1}, 2]}`, "Error: 'record 1 is int, not a dictionary'"},
		{"duplicate split column", `{"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}}`, `column "a" appears twice`},
		{"split columns not list", `{"dataframe_split": {"columns": "a", "data": [[1]]}}`, "columns must be a list of names, not str"},
		{"split data not list", `{"dataframe_split": {"data": {"a": 1}}}`, "data must be a list of rows, not dict"},
		{"split column name", `{"dataframe_split": {"columns": [1.5], "data": [[1]]}}`, "column names must be strings or integers, not float"},
		{"instances mixed", `{"instances": [{"a": 1}, [1]]}`, "instances[1] is not a dictionary"},
		{"inputs null", `{"inputs": null}`, "Invalid input. the input is null"},
		{"inputs object rows", `{"inputs": [{"a": 1}]}`, "the input holds an object"},
		{"inputs ragged dict", `{"inputs": {"x": [[1], [2, 3]]}}`, `input "x": data[1] has 2 elements where shape [2 1] needs 1`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeInvocation("application/json", []byte(tc.body))
			wantError(t, err, http.StatusBadRequest, "BAD_REQUEST", tc.want)
		})
	}
}

func TestDecodeCSV(t *testing.T) {
	got, err := DecodeInvocation("text/csv", []byte("\uFEFFid,score,ok,city,blank\r\n1,0.5,True,Paris,\r\n2,,false,\"Lyon, FR\",\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	assertRequest(t, got, &runtime.Request{Layout: runtime.LayoutColumns, Inputs: []runtime.Tensor{
		runtime.NewInt64("id", []int64{2}, []int64{1, 2}),
		runtime.NewFloat64("score", []int64{2}, []float64{0.5, math.NaN()}),
		{Name: "ok", Datatype: runtime.Bool, Shape: []int64{2}, Data: []byte{1, 0}},
		runtime.NewStrings("city", []int64{2}, []string{"Paris", "Lyon, FR"}),
		runtime.NewFloat64("blank", []int64{2}, []float64{math.NaN(), math.NaN()}),
	}})
}

func TestCSVColumnTypes(t *testing.T) {
	cases := []struct {
		fields []string
		want   runtime.Datatype
	}{
		{[]string{"1", "-2", "+3", " 4 "}, runtime.Int64},
		{[]string{"1", "2.5"}, runtime.FP64},
		{[]string{"1", "NA", "nan", "", "N/A", "null", "None"}, runtime.FP64},
		{[]string{"1e5", ".5", "5.", "-inf", "Infinity"}, runtime.FP64},
		{[]string{"9223372036854775808"}, runtime.FP64},
		{[]string{"True", "FALSE", "true"}, runtime.Bool},
		{[]string{"True", ""}, runtime.Bytes},
		{[]string{"1", "x"}, runtime.Bytes},
		{[]string{"0x10"}, runtime.Bytes},
		{[]string{"1_000"}, runtime.Bytes},
		{[]string{"--1"}, runtime.Bytes},
		{[]string{"1e"}, runtime.Bytes},
		{[]string{"."}, runtime.Bytes},
		{[]string{"nan "}, runtime.Bytes},
		{nil, runtime.FP64},
	}
	for _, tc := range cases {
		col := csvColumn("c", tc.fields)
		if col.Datatype != tc.want {
			t.Errorf("%q: %s, want %s", tc.fields, col.Datatype, tc.want)
		}
		if err := col.Check(); err != nil {
			t.Errorf("%q: %v", tc.fields, err)
		}
	}
}

func TestDecodeCSVErrors(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"empty", "", "Error: 'No columns to parse from file'"},
		{"long row", "a,b\n1,2\n3,4,5\n", "Error: 'Error tokenizing data. Expected 2 fields in line 3, saw 3'"},
		{"short row", "a,b\n1,2\n\n3\n", "Expected 2 fields in line 4, saw 1"},
		{"bare quote", "a,b\n1,x\"y\n", "parse error on line 2, column 4: bare \" in non-quoted-field"},
		{"unterminated quote", "a\n\"abc\n", "extraneous or missing \" in quoted-field"},
		{"not UTF-8", "a\n\xff\n", "Error: 'the body is not UTF-8'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeInvocation("text/csv", []byte(tc.body))
			wantError(t, err, http.StatusBadRequest, "BAD_REQUEST", "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid CSV-formatted Pandas DataFrame produced using the `pandas.DataFrame.to_csv()` method.")
			wantError(t, err, http.StatusBadRequest, "BAD_REQUEST", tc.want)
		})
	}
}

func TestDecodeV1(t *testing.T) {
	cases := []struct {
		name string
		body string
		want runtime.Request
	}{{
		name: "instances",
		body: `{"instances": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]}`,
		want: runtime.Request{Layout: runtime.LayoutTensors, Inputs: []runtime.Tensor{
			runtime.NewFloat64("", []int64{2, 4}, []float64{6.8, 2.8, 4.8, 1.4, 6.0, 3.4, 4.5, 1.6})}},
	}, {
		name: "instances records",
		body: `{"instances": [{"age": 31, "city": "Paris"}, {"age": 42, "city": "Lyon"}]}`,
		want: runtime.Request{Layout: runtime.LayoutTensors, Inputs: []runtime.Tensor{
			runtime.NewInt64("age", []int64{2}, []int64{31, 42}), runtime.NewStrings("city", []int64{2}, []string{"Paris", "Lyon"})}},
	}, {
		name: "inputs list",
		body: `{"inputs": [1, 2]}`,
		want: runtime.Request{Layout: runtime.LayoutTensors, Inputs: []runtime.Tensor{runtime.NewInt64("", []int64{2}, []int64{1, 2})}},
	}, {
		name: "inputs dict",
		body: `{"inputs": {"a": [1.5], "a": [2.5], "b": [true]}}`,
		want: runtime.Request{Layout: runtime.LayoutTensors, Inputs: []runtime.Tensor{
			runtime.NewFloat64("a", []int64{1}, []float64{2.5}), {Name: "b", Datatype: runtime.Bool, Shape: []int64{1}, Data: []byte{1}}}},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeV1([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			assertRequest(t, got, &tc.want)
		})
	}
}

func TestDecodeV1Errors(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"not JSON", `{`, "invalid JSON at offset 1"},
		{"list", `[1]`, `the request must be a JSON object with "instances" or "inputs"`},
		{"neither", `{"data": [1]}`, `the request must have "instances" or "inputs"`},
		{"both", `{"instances": [1], "inputs": [1]}`, "not both"},
		{"instances not list", `{"instances": {"a": [1]}}`, `"instances" must be a list`},
		{"ragged", `{"instances": [[1, 2], [3]]}`, "the input: data[1] has 1 elements where shape [2 2] needs 2"},
		{"uneven records", `{"instances": [{"a": 1, "b": 1}, {"a": 2}]}`, "The length of values for each input/column name are not the same"},
		{"mixed", `{"instances": [1, "a"]}`, "mixes strings and numbers"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeV1([]byte(tc.body))
			var ce *httpx.CodedError
			if !errors.Is(err, fault.Invalid) || errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("DecodeV1: %v\nwant a plain Invalid error containing %q", err, tc.want)
			}
		})
	}
}
