package scoring

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mlship/mlship/internal/runtime"
)

// decodeCSV reads a CSV table as pandas.read_csv does: the first row names the
// columns (an empty name becomes "Unnamed: i", a repeated one "name.1"), blank lines
// are skipped, a column the signature types is parsed as that type (see typedColumn)
// and any other column's type is inferred (see csvColumn). Unlike pandas, a row with
// fewer fields than the header is an error, as is one with more.
func decodeCSV(body []byte, types ColumnTypes) (*runtime.Request, error) {
	if !utf8.Valid(body) {
		return nil, csvError("the body is not UTF-8")
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\uFEFF"))))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err == io.EOF {
		return nil, csvError("No columns to parse from file")
	}
	if err != nil {
		return nil, csvError(err.Error())
	}
	names := columnNames(header)
	fields := make([][]string, len(names))
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(err.Error())
		}
		if len(rec) != len(names) {
			line, _ := r.FieldPos(0)
			return nil, csvError(fmt.Sprintf("Error tokenizing data. Expected %d fields in line %d, saw %d", len(names), line, len(rec)))
		}
		for c, f := range rec {
			fields[c] = append(fields[c], f)
		}
	}
	req := &runtime.Request{Layout: runtime.LayoutColumns, Inputs: make([]runtime.Tensor, len(names))}
	for c, name := range names {
		d := types.typeOf(name)
		if d == "" {
			req.Inputs[c] = csvColumn(name, fields[c])
			continue
		}
		col, err := typedColumn(name, d, fields[c])
		if err != nil {
			return nil, err
		}
		req.Inputs[c] = col
	}
	return req, nil
}

func csvError(msg string) error {
	return badRequest("Failed to parse input as a Pandas DataFrame. Ensure that the input is"+
		" a valid CSV-formatted Pandas DataFrame produced using the"+
		" `pandas.DataFrame.to_csv()` method. Error: '%s'", msg)
}

// columnNames names the columns as pandas does from a header row.
func columnNames(header []string) []string {
	names := make([]string, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		name := h
		if name == "" {
			name = "Unnamed: " + strconv.Itoa(i)
		}
		for k := 1; seen[name]; k++ {
			name = h + "." + strconv.Itoa(k)
		}
		seen[name] = true
		names[i] = name
	}
	return names
}

// naValues are the fields pandas.read_csv reads as missing by default.
var naValues = map[string]bool{
	"": true, "#N/A": true, "#N/A N/A": true, "#NA": true, "-1.#IND": true, "-1.#QNAN": true,
	"-NaN": true, "-nan": true, "1.#IND": true, "1.#QNAN": true, "<NA>": true, "N/A": true,
	"NA": true, "NULL": true, "NaN": true, "None": true, "n/a": true, "nan": true, "null": true,
}

var csvBools = map[string]bool{"True": true, "TRUE": true, "true": true, "False": false, "FALSE": false, "false": false}

// csvColumn builds a column from its fields, with the type pandas.read_csv infers:
// INT64 when every field is an integer that fits; FP64 when every field is a number or
// missing (missing fields, such as empty ones and NA, become NaN); BOOL when every
// field is True or False; otherwise BYTES, with every field as written (a tensor of
// strings cannot hold pandas' NaN, so missing strings stay as their text). A column
// without rows is FP64.
func csvColumn(name string, fields []string) runtime.Tensor {
	allInt, allNumeric, allBool := len(fields) > 0, true, len(fields) > 0
	for _, f := range fields {
		if naValues[f] {
			allInt, allBool = false, false
			continue
		}
		s := strings.TrimSpace(f)
		if allInt {
			_, err := strconv.ParseInt(s, 10, 64)
			allInt = err == nil
		}
		if allNumeric && !isDecimal(s) {
			allNumeric = false
		}
		if _, ok := csvBools[s]; allBool && !ok {
			allBool = false
		}
		if !allInt && !allNumeric && !allBool {
			break
		}
	}
	t := runtime.Tensor{Name: name, Shape: []int64{int64(len(fields))}}
	switch {
	case allInt:
		t.Datatype, t.Data = runtime.Int64, make([]byte, 8*len(fields))
		for i, f := range fields {
			n, _ := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
			binary.LittleEndian.PutUint64(t.Data[8*i:], uint64(n))
		}
	case allNumeric:
		t.Datatype, t.Data = runtime.FP64, make([]byte, 8*len(fields))
		for i, f := range fields {
			v := math.NaN()
			if !naValues[f] {
				v, _ = strconv.ParseFloat(strings.TrimSpace(f), 64)
			}
			binary.LittleEndian.PutUint64(t.Data[8*i:], math.Float64bits(v))
		}
	case allBool:
		t.Datatype, t.Data = runtime.Bool, make([]byte, len(fields))
		for i, f := range fields {
			if csvBools[strings.TrimSpace(f)] {
				t.Data[i] = 1
			}
		}
	default:
		t.Datatype, t.Strings = runtime.Bytes, make([][]byte, len(fields))
		for i, f := range fields {
			t.Strings[i] = []byte(f)
		}
	}
	return t
}

// isDecimal reports whether s is a decimal number as pandas reads one: an optional
// sign, digits with an optional point (at least one digit), an optional exponent; or
// inf, infinity, with any case and an optional sign.
func isDecimal(s string) bool {
	t := strings.TrimLeft(s, "+-")
	if len(s)-len(t) > 1 {
		return false
	}
	if l := strings.ToLower(t); l == "inf" || l == "infinity" {
		return true
	}
	i, digits := 0, 0
	for ; i < len(t) && isDigit(t[i]); i++ {
		digits++
	}
	if i < len(t) && t[i] == '.' {
		for i++; i < len(t) && isDigit(t[i]); i++ {
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(t) && (t[i] == 'e' || t[i] == 'E') {
		i++
		if i < len(t) && (t[i] == '+' || t[i] == '-') {
			i++
		}
		start := i
		for ; i < len(t) && isDigit(t[i]); i++ {
		}
		if i == start {
			return false
		}
	}
	return i == len(t)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
