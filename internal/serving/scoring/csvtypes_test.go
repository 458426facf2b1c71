package scoring

import (
	"math"
	"net/http"
	"testing"

	"github.com/mlship/mlship/internal/runtime"
)

func columnsOf(types map[string]runtime.Datatype) func() ColumnTypes {
	return func() ColumnTypes { return ColumnTypes{Named: types} }
}

func TestDecodeCSVTypedBySignature(t *testing.T) {
	sig := map[string]runtime.Datatype{"zip": runtime.Bytes, "n": runtime.Int32, "income": runtime.FP32,
		"owner": runtime.Bool, "id": runtime.Int64, "score": runtime.FP64}
	body := "zip,n,income,owner,id,score,extra\n02139,1,50000.5,True,7,1,01\n00501,-2,NA,0,1.0,,x\n"
	got, err := DecodeInvocationAs("text/csv", []byte(body), columnsOf(sig))
	if err != nil {
		t.Fatal(err)
	}
	f32 := func(v ...float32) []byte {
		b := make([]byte, 0, 4*len(v))
		for _, x := range v {
			u := math.Float32bits(x)
			b = append(b, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
		}
		return b
	}
	assertRequest(t, got, &runtime.Request{Layout: runtime.LayoutColumns, Inputs: []runtime.Tensor{
		runtime.NewStrings("zip", []int64{2}, []string{"02139", "00501"}),
		{Name: "n", Datatype: runtime.Int32, Shape: []int64{2}, Data: []byte{1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff}},
		{Name: "income", Datatype: runtime.FP32, Shape: []int64{2}, Data: f32(50000.5, float32(math.NaN()))},
		{Name: "owner", Datatype: runtime.Bool, Shape: []int64{2}, Data: []byte{1, 0}},
		runtime.NewInt64("id", []int64{2}, []int64{7, 1}),
		runtime.NewFloat64("score", []int64{2}, []float64{1, math.NaN()}),
		runtime.NewStrings("extra", []int64{2}, []string{"01", "x"}), // not in the signature: inferred
	}})
}

func TestDecodeCSVWithoutSignatureInfers(t *testing.T) {
	for _, types := range []func() ColumnTypes{nil, columnsOf(nil), columnsOf(map[string]runtime.Datatype{"other": runtime.Bytes})} {
		var got *runtime.Request
		var err error
		if types == nil {
			got, err = DecodeInvocation("text/csv", []byte("zip\n02139\n"))
		} else {
			got, err = DecodeInvocationAs("text/csv", []byte("zip\n02139\n"), types)
		}
		if err != nil {
			t.Fatal(err)
		}
		if d := got.Inputs[0].Datatype; d != runtime.Int64 {
			t.Errorf("zip inferred as %s, want INT64", d)
		}
	}
}

func TestDecodeCSVTypedErrors(t *testing.T) {
	sig := columnsOf(map[string]runtime.Datatype{"a": runtime.Int64, "b": runtime.Int8, "c": runtime.Bool,
		"d": runtime.FP64, "e": runtime.Uint16})
	cases := []struct{ name, body, want string }{
		{"not an integer", "a\n1\nx\n", `row 2, column "a": "x" is not an integer; the model's signature makes the column INT64`},
		{"fraction for an integer", "a\n1.5\n", `row 1, column "a": "1.5" is not an integer`},
		{"missing integer", "a\n1\n\n2\nNA\n", `row 3, column "a": a missing value, which an integer column cannot hold`},
		{"out of range", "b\n127\n128\n", `row 2, column "b": 128 is out of the range of INT8`},
		{"below range", "b\n-129\n", `row 1, column "b": -129 is out of the range of INT8`},
		{"negative unsigned", "e\n-1\n", `row 1, column "e": -1 is out of the range of UINT16`},
		{"huge", "a\n1e30\n", `row 1, column "a": 1e30 is out of the range of INT64`},
		{"not a boolean", "c\nyes\n", `row 1, column "c": "yes" is not a boolean (True, False, 1 or 0)`},
		{"missing boolean", "c\nTrue\nNA\n", `row 2, column "c": a missing value, which a boolean column cannot hold`},
		{"not a number", "d\n1\nabc\n", `row 2, column "d": "abc" is not a number; the model's signature makes the column FP64`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeInvocationAs("text/csv", []byte(tc.body), sig)
			wantError(t, err, http.StatusBadRequest, "BAD_REQUEST", "Failed to parse input as a Pandas DataFrame.")
			wantError(t, err, http.StatusBadRequest, "BAD_REQUEST", tc.want)
		})
	}
}

func TestTypedIntegerBounds(t *testing.T) {
	cases := []struct {
		d     runtime.Datatype
		field string
		want  float64
	}{
		{runtime.Int64, "-9223372036854775808", math.MinInt64},
		{runtime.Int64, "9223372036854775807", math.MaxInt64},
		{runtime.Uint64, "18446744073709551615", math.MaxUint64},
		{runtime.Int32, " +42 ", 42},
		{runtime.Int16, "1e3", 1000},
		{runtime.Uint8, "255", 255},
		{runtime.Int8, "-0", 0},
	}
	for _, tc := range cases {
		col, err := typedColumn("c", tc.d, []string{tc.field})
		if err != nil {
			t.Errorf("%s %q: %v", tc.d, tc.field, err)
			continue
		}
		if got := col.Float64At(0); got != tc.want || col.Check() != nil {
			t.Errorf("%s %q = %v, want %v", tc.d, tc.field, got, tc.want)
		}
	}
}

func TestColumnTypesOf(t *testing.T) {
	col := func(name string, d runtime.Datatype, shape ...int64) runtime.TensorSpec {
		return runtime.TensorSpec{Name: name, Datatype: d, Shape: shape}
	}
	cases := []struct {
		name string
		meta runtime.Metadata
		want ColumnTypes
	}{
		{"column signature", runtime.Metadata{Columns: true, Inputs: []runtime.TensorSpec{col("zip", runtime.Bytes, -1), col("age", runtime.Int64, -1)}},
			ColumnTypes{Named: map[string]runtime.Datatype{"zip": runtime.Bytes, "age": runtime.Int64}}},
		{"an ONNX input per column", runtime.Metadata{Inputs: []runtime.TensorSpec{col("zip", runtime.Bytes, -1, 1), col("x", runtime.FP32, -1, 1)}},
			ColumnTypes{Named: map[string]runtime.Datatype{"zip": runtime.Bytes, "x": runtime.FP32}}},
		{"one table of strings", runtime.Metadata{Inputs: []runtime.TensorSpec{col("X", runtime.Bytes, -1, 3)}},
			ColumnTypes{Rest: runtime.Bytes}},
		{"one table of numbers", runtime.Metadata{Inputs: []runtime.TensorSpec{col("X", runtime.FP32, -1, 4)}}, ColumnTypes{}},
		{"no signature", runtime.Metadata{Platform: "mlflow_pyfunc", Inputs: []runtime.TensorSpec{col("input", runtime.FP64, -1, -1)}}, ColumnTypes{}},
		{"an image", runtime.Metadata{Inputs: []runtime.TensorSpec{col("image", runtime.FP32, -1, 2, 2)}}, ColumnTypes{}},
		{"nothing loaded", runtime.Metadata{}, ColumnTypes{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ColumnTypesOf(tc.meta)
			if got.Rest != tc.want.Rest || len(got.Named) != len(tc.want.Named) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for k, v := range tc.want.Named {
				if got.Named[k] != v {
					t.Errorf("column %q: %s, want %s", k, got.Named[k], v)
				}
			}
		})
	}
}

// FuzzDecodeCSVTyped reads CSV against a signature of every type CSV can carry: a
// field either parses as its column's type or is refused, never mistaken.
func FuzzDecodeCSVTyped(f *testing.F) {
	for _, s := range []string{
		"s,i,f,b,u\n02139,1,1.5,True,7\n,NA,,0,255\n",
		"s,i,f,b,u\n1,1e3,inf,false,-1\n",
		"u,i\n256,9223372036854775808\n",
	} {
		f.Add([]byte(s))
	}
	sig := columnsOf(map[string]runtime.Datatype{"s": runtime.Bytes, "i": runtime.Int64, "f": runtime.FP32,
		"b": runtime.Bool, "u": runtime.Uint8})
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeInvocationAs("text/csv", body, sig)
		if err != nil {
			return
		}
		checkDecoded(t, req)
		want := sig().Named
		for _, in := range req.Inputs {
			if d, ok := want[in.Name]; ok && in.Datatype != d {
				t.Fatalf("column %q decoded as %s, its signature says %s", in.Name, in.Datatype, d)
			}
		}
	})
}
