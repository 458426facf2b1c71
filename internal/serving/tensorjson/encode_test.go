package tensorjson

import (
	"encoding/json"
	"math"
	"strconv"
	"testing"

	"github.com/mlship/mlship/internal/runtime"
)

func TestAppendFloat(t *testing.T) {
	cases := []struct {
		f       float64
		bitSize int
		want    string // as Python's repr writes float(f)
	}{
		{1, 64, "1.0"},
		{0.1, 64, "0.1"},
		{-2.5, 64, "-2.5"},
		{0, 64, "0.0"},
		{math.Copysign(0, -1), 64, "-0.0"},
		{1e-4, 64, "0.0001"},
		{0.00012, 64, "0.00012"},
		{1e-5, 64, "1e-05"},
		{1.5e-7, 64, "1.5e-07"},
		{123.456, 64, "123.456"},
		{1e15, 64, "1000000000000000.0"},
		{9999999999999998, 64, "9999999999999998.0"},
		{1e16, 64, "1e+16"},
		{1.2345678901234568e17, 64, "1.2345678901234568e+17"},
		{1e22, 64, "1e+22"},
		{5e-324, 64, "5e-324"},
		{math.MaxFloat64, 64, "1.7976931348623157e+308"},
		{math.NaN(), 64, "NaN"},
		{math.Inf(1), 64, "Infinity"},
		{math.Inf(-1), 64, "-Infinity"},
		{float64(float32(0.1)), 32, "0.1"},
		{float64(float32(1e-4)), 32, "0.0001"},
		{float64(float32(1e-5)), 32, "1e-05"},
		{16777216, 32, "16777216.0"},
		{float64(float32(1e16)), 32, "1e+16"},
		{math.MaxFloat32, 32, "3.4028235e+38"},
	}
	for _, tc := range cases {
		if got := string(AppendFloat(nil, tc.f, tc.bitSize)); got != tc.want {
			t.Errorf("AppendFloat(%v, %d) = %s, want %s", tc.f, tc.bitSize, got, tc.want)
		}
	}
}

// TestAppendFloatRoundTrips checks values across the whole range read back exactly.
func TestAppendFloatRoundTrips(t *testing.T) {
	for e := -330; e <= 310; e++ {
		for _, m := range []float64{1, 1.5, 3.3333333333333335, 9.999999999999998} {
			f := m * math.Pow(10, float64(e))
			s := string(AppendFloat(nil, f, 64))
			if g, err := strconv.ParseFloat(s, 64); err != nil && !math.IsInf(f, 0) || g != f {
				t.Fatalf("%v written as %s reads back as %v (%v)", f, s, g, err)
			}
			f32 := float64(float32(f))
			s = string(AppendFloat(nil, f32, 32))
			if g, err := strconv.ParseFloat(s, 32); err != nil && !math.IsInf(f32, 0) || g != f32 {
				t.Fatalf("float32 %v written as %s reads back as %v (%v)", f32, s, g, err)
			}
		}
	}
}

func TestAppendString(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain", `"plain"`},
		{`q"b\`, `"q\"b\\"`},
		{"a\nb\r\tc\x00\x1f", `"a\nb\r\tc\u0000\u001f"`},
		{"é😀", `"é😀"`},
		{"a\xffb", `"a\ufffdb"`},
		{"<&>", `"<&>"`},
	}
	for _, tc := range cases {
		got := AppendString(nil, []byte(tc.in))
		if string(got) != tc.want {
			t.Errorf("AppendString(%q) = %s, want %s", tc.in, got, tc.want)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("%s is not JSON: %v", got, err)
		}
	}
}

func TestAppendTensor(t *testing.T) {
	fp := runtime.NewFloat64("y", []int64{2, 3}, []float64{1, 2.5, -3, 0.1, 1e-7, 1e20})
	i8 := runtime.Tensor{Name: "i", Datatype: runtime.Int8, Shape: []int64{3}, Data: []byte{0xff, 0x7f, 0x80}}
	u16 := runtime.Tensor{Name: "u", Datatype: runtime.Uint16, Shape: []int64{1}, Data: []byte{0xff, 0xff}}
	i32 := runtime.Tensor{Name: "i", Datatype: runtime.Int32, Shape: []int64{1}, Data: []byte{0xfe, 0xff, 0xff, 0xff}}
	u32 := runtime.Tensor{Name: "u", Datatype: runtime.Uint32, Shape: []int64{1}, Data: []byte{0xff, 0xff, 0xff, 0xff}}
	u64 := runtime.Tensor{Name: "u", Datatype: runtime.Uint64, Shape: []int64{1}, Data: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	i16 := runtime.Tensor{Name: "i", Datatype: runtime.Int16, Shape: []int64{1}, Data: []byte{0x00, 0x80}}
	u8 := runtime.Tensor{Name: "u", Datatype: runtime.Uint8, Shape: []int64{1}, Data: []byte{200}}
	b := runtime.Tensor{Name: "b", Datatype: runtime.Bool, Shape: []int64{2}, Data: []byte{1, 0}}
	h := runtime.Tensor{Name: "h", Datatype: runtime.FP16, Shape: []int64{2}, Data: []byte{0x00, 0x3c, 0x66, 0x2e}}
	bf := runtime.Tensor{Name: "h", Datatype: runtime.BF16, Shape: []int64{1}, Data: []byte{0xc0, 0x3f}}
	f32 := runtime.Tensor{Name: "f", Datatype: runtime.FP32, Shape: []int64{1}, Data: []byte{0xcd, 0xcc, 0xcc, 0x3d}}
	s := runtime.NewStrings("s", []int64{2, 1}, []string{"a", "b\"c"})
	missing := runtime.Tensor{Name: "m", Datatype: runtime.Bytes, Shape: []int64{3}, Strings: [][]byte{[]byte("a"), nil, {}}}
	scalar := runtime.NewInt64("k", []int64{}, []int64{-7})
	empty := runtime.NewFloat64("e", []int64{2, 0}, nil)
	cases := []struct {
		name      string
		got, want string
	}{
		{"flat", string(AppendFlat(nil, &fp)), `[1.0,2.5,-3.0,0.1,1e-07,1e+20]`},
		{"nested", string(AppendNested(nil, &fp)), `[[1.0,2.5,-3.0],[0.1,1e-07,1e+20]]`},
		{"row", string(AppendRow(nil, &fp, 1)), `[0.1,1e-07,1e+20]`},
		{"int8", string(AppendFlat(nil, &i8)), `[-1,127,-128]`},
		{"uint8", string(AppendFlat(nil, &u8)), `[200]`},
		{"int16", string(AppendFlat(nil, &i16)), `[-32768]`},
		{"uint16", string(AppendFlat(nil, &u16)), `[65535]`},
		{"int32", string(AppendFlat(nil, &i32)), `[-2]`},
		{"uint32", string(AppendFlat(nil, &u32)), `[4294967295]`},
		{"uint64", string(AppendFlat(nil, &u64)), `[18446744073709551615]`},
		{"bool", string(AppendFlat(nil, &b)), `[true,false]`},
		{"fp16", string(AppendFlat(nil, &h)), `[1.0,0.099975586]`},
		{"bf16", string(AppendFlat(nil, &bf)), `[1.5]`},
		{"fp32", string(AppendFlat(nil, &f32)), `[0.1]`},
		{"bytes nested", string(AppendNested(nil, &s)), `[["a"],["b\"c"]]`},
		{"bytes row", string(AppendRow(nil, &s, 1)), `["b\"c"]`},
		{"missing string", string(AppendFlat(nil, &missing)), `["a",null,""]`},
		{"missing string in Python layout", string(Python.AppendFlat(nil, &missing)), `["a", null, ""]`},
		{"scalar", string(AppendNested(nil, &scalar)), `-7`},
		{"scalar flat", string(AppendFlat(nil, &scalar)), `[-7]`},
		{"empty", string(AppendNested(nil, &empty)), `[[],[]]`},
	}
	for _, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, tc.got, tc.want)
		}
	}
	col := runtime.NewInt64("c", []int64{3}, []int64{4, 5, 6})
	if got := string(AppendRow(nil, &col, 2)); got != "6" {
		t.Errorf("row of a column: %s", got)
	}
}

func TestCheckOutput(t *testing.T) {
	good := runtime.NewFloat64("y", []int64{2}, []float64{1, 2})
	if err := CheckOutput(&good); err != nil {
		t.Error(err)
	}
	bad := []runtime.Tensor{
		{Name: "y", Datatype: "X", Shape: []int64{1}},
		{Name: "y", Datatype: runtime.FP64, Shape: []int64{-1}},
		{Name: "y", Datatype: runtime.FP64, Shape: []int64{2}, Data: make([]byte, 8)},
		{Name: "y", Datatype: runtime.Bytes, Shape: []int64{2}, Strings: [][]byte{nil}},
	}
	for _, b := range bad {
		if err := CheckOutput(&b); err == nil {
			t.Errorf("CheckOutput(%+v) passed", b)
		}
	}
}
