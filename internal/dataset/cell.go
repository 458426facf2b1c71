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
