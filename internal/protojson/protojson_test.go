package protojson

import (
	"encoding/json"
	"math"
	"testing"
)

func TestFloatRoundTrip(t *testing.T) {
	for _, v := range []float64{0, -1.5, 1e308, 5e-324, math.NaN(), math.Inf(1), math.Inf(-1)} {
		b, err := json.Marshal(Float(v))
		if err != nil {
			t.Fatal(err)
		}
		var got Float
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if g := float64(got); !(g == v || math.IsNaN(g) && math.IsNaN(v)) {
			t.Fatalf("%v -> %s -> %v", v, b, g)
		}
	}
}

func TestFloatDecode(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{`1`, 1, true}, {`"2.5"`, 2.5, true}, {`-3e2`, -300, true}, {`"NaN"`, math.NaN(), true},
		{`"Infinity"`, math.Inf(1), true}, {`"-Infinity"`, math.Inf(-1), true},
		{`true`, 0, false}, {`null`, 0, false}, {`"abc"`, 0, false}, {`[1]`, 0, false}, {`{}`, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			var f Float
			err := json.Unmarshal([]byte(tc.in), &f)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && !(float64(f) == tc.want || math.IsNaN(tc.want) && math.IsNaN(float64(f))) {
				t.Fatalf("got %v, want %v", f, tc.want)
			}
		})
	}
}

func TestInt64Decode(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{`5`, 5, true}, {`"5"`, 5, true}, {`5.0`, 5, true}, {`-9223372036854775808`, math.MinInt64, true},
		{`"1700000000000"`, 1700000000000, true},
		{`5.5`, 0, false}, {`true`, 0, false}, {`"x"`, 0, false}, {`null`, 0, false}, {`1e30`, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			var n Int64
			err := json.Unmarshal([]byte(tc.in), &n)
			if (err == nil) != tc.ok || (tc.ok && int64(n) != tc.want) {
				t.Fatalf("got %d, %v; want %d ok=%v", n, err, tc.want, tc.ok)
			}
		})
	}
}
