package dataset

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// referenceCell classifies a trimmed numeric spelling with strconv alone.
func referenceCell(s string) (CellKind, float64, bool) {
	if isInteger(s) {
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			return CellInt, float64(v), true
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return CellString, 0, false
	}
	return CellFloat, v, true
}

func checkDecimalFast(t *testing.T, s string) bool {
	t.Helper()
	k, v, ok := parseDecimalFast(s)
	if !ok {
		return false
	}
	rk, rv, rok := referenceCell(s)
	if !rok || k != rk || math.Float64bits(v) != math.Float64bits(rv) {
		t.Fatalf("parseDecimalFast(%q) = %v, %v (bits %#x); strconv gives %v, %v (bits %#x, ok %v)",
			s, k, v, math.Float64bits(v), rk, rv, math.Float64bits(rv), rok)
	}
	return true
}

func TestParseDecimalFast(t *testing.T) {
	fast := []string{
		"0", "-0", "+0", "42", "-12", "+7", "007", "123456789012345678", "-123456789012345678",
		"0.0", "-0.0", "-12.345", "3.14159", "1.", "-1.", ".5", "-.5", "+.25", "0.1", "0.3",
		"9007199254740.992", "900719925474099.2", "0.000000000000000001", "1234567890.123456",
		"2.225073858507201", "0.000000000000000000", "100.000", "-9999999999999.99",
	}
	for _, s := range fast {
		if !checkDecimalFast(t, s) {
			t.Errorf("parseDecimalFast(%q) took the general path", s)
		}
	}
	slow := []string{
		"", "-", "+", ".", "-.", "1.2.3", "1e5", "1E-3", "inf", "-Infinity", "0x1p3", "1_000",
		"1234567890123456789", "9007199254740993.0", "9007199254740992.0", "1234567890.1234567",
		"2.2250738585072014", "0.000000000000000000001", "12345678901234567890.5",
		"0.00000000000000000000001", "0.0000000000000000000000", " 1", "1 ", "--1", "1-",
	}
	for _, s := range slow {
		if _, _, ok := parseDecimalFast(s); ok {
			t.Errorf("parseDecimalFast(%q) took the fast path", s)
		}
	}
}

func TestParseDecimalFastRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	n := 200_000
	if testing.Short() {
		n = 20_000
	}
	var b strings.Builder
	hits := 0
	for range n {
		b.Reset()
		switch rng.IntN(3) {
		case 0:
			b.WriteByte('-')
		case 1:
			if rng.IntN(4) == 0 {
				b.WriteByte('+')
			}
		}
		intDigits, fracDigits := rng.IntN(12), rng.IntN(14)
		for range intDigits {
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
		if rng.IntN(5) != 0 {
			b.WriteByte('.')
			for range fracDigits {
				b.WriteByte(byte('0' + rng.IntN(10)))
			}
		}
		if checkDecimalFast(t, b.String()) {
			hits++
		}
		// Formatted random doubles exercise the boundary of exact conversion.
		x := rng.NormFloat64() * math.Pow(10, float64(rng.IntN(12)-4))
		if checkDecimalFast(t, strconv.FormatFloat(x, 'f', rng.IntN(16), 64)) {
			hits++
		}
	}
	if hits < n/2 {
		t.Fatalf("only %d of %d spellings took the fast path", hits, 2*n)
	}
}
