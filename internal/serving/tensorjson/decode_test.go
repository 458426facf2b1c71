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

func decode(t *testing.T, dt runtime.Datatype, shape []int64, data string) (runtime.Tensor, error) {
	t.Helper()
	tensor := runtime.Tensor{Name: "x", Datatype: dt, Shape: shape}
	err := Decode(&tensor, mustParse(t, data).Root())
	return tensor, err
}

func TestDecode(t *testing.T) {
	cases := []struct {
		name  string
		dt    runtime.Datatype
		shape []int64
		data  string
		want  []float64 // compared through Float64At
	}{
		{"fp64 flat", runtime.FP64, []int64{2, 2}, `[1, 2.5, -3e2, 0.1]`, []float64{1, 2.5, -300, 0.1}},
		{"fp64 nested", runtime.FP64, []int64{2, 2}, `[[1, 2.5], [-3e2, 0.1]]`, []float64{1, 2.5, -300, 0.1}},
		{"fp64 rank 3", runtime.FP64, []int64{2, 1, 2}, `[[[1, 2]], [[3, 4]]]`, []float64{1, 2, 3, 4}},
		{"fp64 non-finite", runtime.FP64, []int64{3}, `[NaN, Infinity, -Infinity]`, []float64{math.NaN(), math.Inf(1), math.Inf(-1)}},
		{"fp32 rounds", runtime.FP32, []int64{2}, `[0.1, 16777217]`, []float64{float64(float32(0.1)), 16777216}},
		{"fp16", runtime.FP16, []int64{3}, `[1, 0.5, 65504]`, []float64{1, 0.5, 65504}},
		{"bf16", runtime.BF16, []int64{2}, `[1, 3.0e38]`, []float64{1, float64(math.Float32frombits(0x7f62 << 16))}},
		{"int8", runtime.Int8, []int64{3}, `[-128, 127, 0]`, []float64{-128, 127, 0}},
		{"int16", runtime.Int16, []int64{2}, `[-32768, 32767]`, []float64{-32768, 32767}},
		{"int32 integral floats", runtime.Int32, []int64{3}, `[1.0, 1e2, -2.0e0]`, []float64{1, 100, -2}},
		{"int64", runtime.Int64, []int64{2}, `[-9223372036854775808, 9223372036854775807]`, []float64{math.MinInt64, math.MaxInt64}},
		{"uint8", runtime.Uint8, []int64{3}, `[0, 255, -0]`, []float64{0, 255, 0}},
		{"uint16", runtime.Uint16, []int64{1}, `[65535]`, []float64{65535}},
		{"uint32", runtime.Uint32, []int64{1}, `[4294967295]`, []float64{4294967295}},
		{"uint64", runtime.Uint64, []int64{1}, `[18446744073709551615]`, []float64{18446744073709551615}},
		{"bool", runtime.Bool, []int64{3}, `[true, false, true]`, []float64{1, 0, 1}},
		{"scalar", runtime.FP64, []int64{}, `7`, []float64{7}},
		{"scalar in array", runtime.FP64, []int64{}, `[7]`, []float64{7}},
		{"empty", runtime.FP64, []int64{0, 3}, `[]`, []float64{}},
		{"empty nested", runtime.FP64, []int64{2, 0}, `[[], []]`, []float64{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decode(t, tc.dt, tc.shape, tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if err := got.Check(); err != nil {
				t.Fatal(err)
			}
			for i, w := range tc.want {
				g := got.Float64At(i)
				if g != w && !(math.IsNaN(g) && math.IsNaN(w)) {
					t.Errorf("element %d = %v, want %v", i, g, w)
				}
			}
		})
	}
}

func TestDecodeExactInt64(t *testing.T) {
	got, err := decode(t, runtime.Int64, []int64{2}, `[9007199254740993, -9007199254740993]`)
	if err != nil {
		t.Fatal(err)
	}
	want := runtime.NewInt64("x", []int64{2}, []int64{9007199254740993, -9007199254740993})
	if !reflect.DeepEqual(got.Data, want.Data) {
		t.Errorf("got %v, want %v", got.Data, want.Data)
	}
}

func TestDecodeBytes(t *testing.T) {
	got, err := decode(t, runtime.Bytes, []int64{3}, `["a", "\u00e9\n", ""]`)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{[]byte("a"), []byte("é\n"), []byte("")}
	if !reflect.DeepEqual(got.Strings, want) {
		t.Errorf("got %q, want %q", got.Strings, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name  string
		dt    runtime.Datatype
		shape []int64
		data  string
		want  string
	}{
		{"too few", runtime.FP64, []int64{2, 2}, `[1, 2, 3]`, `input "x": shape [2 2] needs 4 elements, data has 3`},
		{"too many", runtime.FP64, []int64{2}, `[1, 2, 3]`, "needs 2 elements, data has 3"},
		{"ragged", runtime.FP64, []int64{2, 2}, `[[1, 2], [3]]`, "data[1] has 1 elements where shape [2 2] needs 2"},
		{"nested wrong rows", runtime.FP64, []int64{3, 2}, `[[1, 2], [3, 4]]`, "data has 2 elements where shape [3 2] needs 3"},
		{"nested too deep", runtime.FP64, []int64{2}, `[[1], [2]]`, "data[0] is an array, nested deeper than shape [2]"},
		{"nested not deep enough", runtime.FP64, []int64{2, 1}, `[[1], 2]`, "data[1] is 2 where shape [2 1] needs an array"},
		{"flat with array", runtime.FP64, []int64{2}, `[1, [2]]`, "mixes nested arrays and elements"},
		{"object", runtime.FP64, []int64{1}, `{"a": 1}`, "data must be an array, not an object"},
		{"object element", runtime.FP64, []int64{1}, `[{"a": 1}]`, "mixes nested arrays and elements"},
		{"scalar for rank 1", runtime.FP64, []int64{1}, `1`, "data must be an array, not 1"},
		{"string for number", runtime.FP32, []int64{1}, `["1"]`, `element 0: the string "1" is not a number; FP32 elements must be numbers`},
		{"bool for number", runtime.Int32, []int64{1}, `[true]`, "element 0: true is not a number"},
		{"null for number", runtime.FP64, []int64{2}, `[1, null]`, "element 1: null is not a number"},
		{"fraction for int", runtime.Int32, []int64{2}, `[1, 1.5]`, "element 1: 1.5 is not an integer; INT32 elements must be integers"},
		{"NaN for int", runtime.Int64, []int64{1}, `[NaN]`, "NaN is not an integer"},
		{"int8 overflow", runtime.Int8, []int64{1}, `[128]`, "128 is out of range for INT8"},
		{"int8 underflow", runtime.Int8, []int64{1}, `[-129]`, "-129 is out of range for INT8"},
		{"int64 overflow", runtime.Int64, []int64{1}, `[9223372036854775808]`, "out of range for INT64"},
		{"int64 float overflow", runtime.Int64, []int64{1}, `[9.3e18]`, "out of range for INT64"},
		{"int huge exponent", runtime.Int64, []int64{1}, `[1e400]`, "out of range for INT64"},
		{"uint negative", runtime.Uint8, []int64{1}, `[-1]`, "-1 is out of range for UINT8"},
		{"uint negative float", runtime.Uint32, []int64{1}, `[-1.0]`, "out of range for UINT32"},
		{"uint8 overflow", runtime.Uint8, []int64{1}, `[256]`, "out of range for UINT8"},
		{"fp32 overflow", runtime.FP32, []int64{1}, `[1e39]`, "1e39 is out of range for FP32"},
		{"fp64 overflow", runtime.FP64, []int64{1}, `[1e309]`, "out of range for FP64"},
		{"fp16 overflow", runtime.FP16, []int64{1}, `[65520]`, "out of range for FP16"},
		{"bf16 overflow", runtime.BF16, []int64{1}, `[3.4e38]`, "out of range for BF16"},
		{"number for bool", runtime.Bool, []int64{1}, `[1]`, "element 0: 1 is not a boolean"},
		{"number for bytes", runtime.Bytes, []int64{1}, `[1]`, "1 is not a string; BYTES elements must be strings"},
		{"long string", runtime.FP64, []int64{1}, `["` + strings.Repeat("a", 100) + `"]`, `"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa..."`},
		{"bad shape", runtime.FP64, []int64{-1}, `[]`, "invalid shape [-1]"},
		{"unknown datatype", "FP8", []int64{1}, `[1]`, `unknown datatype "FP8"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decode(t, tc.dt, tc.shape, tc.data)
			if err == nil {
				t.Fatalf("Decode succeeded, want %q", tc.want)
			}
			if !errors.Is(err, fault.Invalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Decode: %v\nwant an Invalid error containing %q", err, tc.want)
			}
		})
	}
}

func TestDecodeMissing(t *testing.T) {
	tensor := runtime.Tensor{Name: "x", Datatype: runtime.FP64, Shape: []int64{1}}
	if err := Decode(&tensor, Value{}); err == nil || !strings.Contains(err.Error(), `input "x" has no data`) {
		t.Errorf("Decode(Missing): %v", err)
	}
}

// TestMinifloatRound checks the rounding to FP16 and BF16 against every value of the
// formats: each value reads back as itself, and a point halfway between two neighbours
// goes to the one with the even fraction.
func TestMinifloatRound(t *testing.T) {
	formats := []struct {
		name  string
		m     minifloat
		value func(bits uint16) float64
	}{
		{"fp16", half, func(b uint16) float64 { return halfValue(b) }},
		{"bf16", bfloat16, func(b uint16) float64 { return float64(math.Float32frombits(uint32(b) << 16)) }},
	}
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			for b := range uint32(1 << 15) {
				bits := uint16(b)
				v := f.value(bits)
				if math.IsNaN(v) {
					continue
				}
				if got, over := f.m.round(v); got != bits || over {
					t.Fatalf("round(%v) = %#04x (overflow %v), want %#04x", v, got, over, bits)
				}
				if got, _ := f.m.round(-v); got != bits|1<<15 {
					t.Fatalf("round(%v) = %#04x, want %#04x", -v, got, bits|1<<15)
				}
				next := f.value(bits + 1)
				if math.IsInf(v, 0) || math.IsNaN(next) {
					continue
				}
				mid := v + (next-v)/2
				if math.IsInf(next, 0) { // halfway to the next power of two
					mid = v + (v-f.value(bits-1))/2
				}
				want := bits
				if bits&1 == 1 {
					want = bits + 1
				}
				got, over := f.m.round(mid)
				if math.IsInf(next, 0) {
					if !over {
						t.Fatalf("round(%v), halfway to infinity, did not overflow", mid)
					}
					continue
				}
				if got != want {
					t.Fatalf("round(%v), halfway between %#04x and %#04x, = %#04x", mid, bits, bits+1, got)
				}
			}
		})
	}
	if got, _ := half.round(math.NaN()); got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
		t.Errorf("NaN rounds to %#04x", got)
	}
}

func halfValue(b uint16) float64 {
	tensor := runtime.Tensor{Datatype: runtime.FP16, Shape: []int64{1}, Data: []byte{byte(b), byte(b >> 8)}}
	return tensor.Float64At(0)
}
