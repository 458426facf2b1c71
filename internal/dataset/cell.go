package dataset

import (
	"math"
	"strconv"
)

// isNullToken reports whether s is one of the spellings pandas' read_csv
// reads as missing by default (pandas._libs.parsers.STR_NA_VALUES).
func isNullToken(s string) bool {
	switch s {
	case "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
		"<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null":
		return true
	}
	return false
}

// parseCell classifies one CSV field as pandas' read_csv would: a missing
// value, a boolean (True/TRUE/true, False/FALSE/false), an integer, a float
// (including inf and Infinity) or a string. NaN is a missing value.
func parseCell(raw string) (CellKind, float64) {
	// Plain numbers, most cells of most files, are neither null tokens, booleans
	// nor padded with spaces, so they may skip those checks.
	if k, v, ok := parseDecimalFast(raw); ok {
		return k, v
	}
	if len(raw) <= 8 && isNullToken(raw) {
		return CellNull, 0
	}
	switch raw {
	case "True", "TRUE", "true":
		return CellBool, 1
	case "False", "FALSE", "false":
		return CellBool, 0
	}
	s := trimSpace(raw)
	if len(s) == 0 || !numberStart(s[0]) {
		return CellString, 0
	}
	if k, v, ok := parseDecimalFast(s); ok {
		return k, v
	}
	if isInteger(s) {
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			return CellInt, float64(v)
		}
	}
	if !plainFloat(s) {
		return CellString, 0
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil && !isRangeErr(err) {
		return CellString, 0
	}
	if math.IsNaN(v) {
		return CellNull, 0
	}
	return CellFloat, v
}

// pow10Exact holds the powers of ten that float64 represents exactly.
var pow10Exact = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseDecimalFast reads the common plain spellings of numbers, an optional
// sign then digits with at most one '.', giving the same result as
// strconv.ParseInt (integers) or strconv.ParseFloat (decimals). A decimal is
// read only when its digits form an integer m <= 2^53 and it has at most 22
// fractional digits: then m and 10^frac are exact float64 values and one
// correctly rounded division yields the correctly rounded result (Clinger's
// fast path). Anything else reports ok=false for the general path.
func parseDecimalFast(s string) (kind CellKind, v float64, ok bool) {
	if len(s) == 0 {
		return 0, 0, false
	}
	i, neg := 0, false
	switch s[0] {
	case '-':
		neg, i = true, 1
	case '+':
		i = 1
	}
	var m uint64
	start := i
	for ; i < len(s) && s[i]-'0' <= 9; i++ {
		m = m*10 + uint64(s[i]-'0')
	}
	intEnd, dot := i, i < len(s) && s[i] == '.'
	if dot {
		for i++; i < len(s) && s[i]-'0' <= 9; i++ {
			m = m*10 + uint64(s[i]-'0')
		}
	}
	frac := 0
	if dot {
		frac = i - intEnd - 1
	}
	digits := intEnd - start + frac
	// More than 19 digits may have overflowed m: the general path reads them.
	if i != len(s) || digits == 0 || digits > 19 {
		return 0, 0, false
	}
	if !dot {
		if digits > 18 {
			return 0, 0, false
		}
		n := int64(m)
		if neg {
			n = -n
		}
		return CellInt, float64(n), true
	}
	if m > 1<<53 || frac >= len(pow10Exact) {
		return 0, 0, false
	}
	v = float64(m) / pow10Exact[frac]
	if neg {
		v = -v
	}
	return CellFloat, v, true
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func trimSpace(b string) string {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func numberStart(c byte) bool {
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'i' || c == 'I'
}

// isInteger reports whether s is an optional sign followed by decimal digits.
func isInteger(s string) bool {
	if s[0] == '-' || s[0] == '+' {
		s = s[1:]
	}
	if len(s) == 0 {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// plainFloat rejects the spellings strconv accepts but pandas does not:
// hexadecimal floats and digit separators.
func plainFloat(s string) bool {
	for _, c := range []byte(s) {
		if c == '_' || c == 'x' || c == 'X' || c == 'p' || c == 'P' {
			return false
		}
	}
	return true
}
