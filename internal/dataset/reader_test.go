package dataset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
)

func readString(t *testing.T, format Format, data string, opts *ReadOptions) (*Table, error) {
	t.Helper()
	r, err := Open(strings.NewReader(data), format, opts)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return ReadTable(context.Background(), r, 0)
}

func TestReadCSVTypes(t *testing.T) {
	data := "\xEF\xBB\xBFid,price,flag,city,mixed,empty,,score\n" +
		"1,2.5,True,Paris,1,,a,7\n" +
		"2,NA,false,\"New York, NY\",x,,b,\n" +
		"3,inf,TRUE,\"He said \"\"hi\"\"\",2.5,,c,9\n" +
		"4,-1e3,False,\"two\nlines\",,,d,10\n"
	tbl, err := readString(t, FormatCSV, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name     string
		typ      Type
		kind     Kind
		nullable bool
	}{
		{"id", TypeInteger, KindCategorical, false},
		{"price", TypeFloat, KindNumerical, true},
		{"flag", TypeBoolean, KindCategorical, false},
		{"city", TypeString, KindText, false},
		{"mixed", TypeString, KindText, true},
		{"empty", TypeNull, KindUnknown, true},
		{"Unnamed: 6", TypeString, KindText, false},
		{"score", TypeInteger, KindNumerical, true}, // an integer column with missing values is float in pandas
	}
	if tbl.Rows != 4 || len(tbl.Columns) != len(want) {
		t.Fatalf("read %d rows, %d columns", tbl.Rows, len(tbl.Columns))
	}
	for i, w := range want {
		f := tbl.Columns[i].Field
		if f.Name != w.name || f.Type != w.typ || f.Kind != w.kind || f.Nullable != w.nullable {
			t.Errorf("column %d = %+v, want %+v", i, f, w)
		}
	}
	if got := tbl.Column("city").Strings; got[1] != "New York, NY" || got[2] != `He said "hi"` || got[3] != "two\nlines" {
		t.Errorf("city = %q", got)
	}
	if got := tbl.Column("mixed").Strings; got[0] != "1" || got[1] != "x" || got[2] != "2.5" || !tbl.Column("mixed").Missing[3] {
		t.Errorf("mixed = %q (missing %v)", got, tbl.Column("mixed").Missing)
	}
	price := tbl.Column("price").Floats
	if price[0] != 2.5 || !math.IsNaN(price[1]) || !math.IsInf(price[2], 1) || price[3] != -1000 {
		t.Errorf("price = %v", price)
	}
}

func TestParseCell(t *testing.T) {
	tests := []struct {
		in   string
		kind CellKind
		v    float64
	}{
		{"", CellNull, 0}, {"NaN", CellNull, 0}, {"null", CellNull, 0}, {"#N/A N/A", CellNull, 0},
		{"True", CellBool, 1}, {"false", CellBool, 0}, {"tRUE", CellString, 0},
		{"42", CellInt, 42}, {"-7", CellInt, -7}, {"+3", CellInt, 3}, {" 5 ", CellInt, 5},
		{"99999999999999999999", CellFloat, 1e20}, {"1.5", CellFloat, 1.5}, {".5", CellFloat, 0.5},
		{"1e-3", CellFloat, 0.001}, {"-inf", CellFloat, math.Inf(-1)}, {"Infinity", CellFloat, math.Inf(1)},
		{"0x10", CellString, 0}, {"1_000", CellString, 0}, {"12abc", CellString, 0}, {"-", CellString, 0},
		{"nan", CellNull, 0}, {"1e400", CellFloat, math.Inf(1)},
	}
	for _, tt := range tests {
		k, v := parseCell(tt.in)
		if k != tt.kind || (k != CellString && k != CellNull && v != tt.v) {
			t.Errorf("parseCell(%q) = %v, %v; want %v, %v", tt.in, k, v, tt.kind, tt.v)
		}
	}
}

func TestReaderErrors(t *testing.T) {
	small := &ReadOptions{MaxFieldBytes: 16, MaxRecordBytes: 64}
	tests := []struct {
		name   string
		format Format
		data   string
		opts   *ReadOptions
		want   error
		line   int64
	}{
		{"csv empty", FormatCSV, "", nil, ErrEmpty, 0},
		{"csv ragged", FormatCSV, "a,b\n1,2\n3,4\n5\n", nil, ErrRagged, 4},
		{"csv ragged after multiline field", FormatCSV, "a,b\n\"x\ny\",2\n3,4,5\n", nil, ErrRagged, 4},
		{"csv bare quote", FormatCSV, "a,b\n1,x\"y\n", nil, ErrMalformed, 2},
		{"csv unterminated quote", FormatCSV, "a,b\n1,2\n3,\"oops\n", nil, ErrMalformed, 3},
		{"csv unterminated quote told where it opened", FormatCSV, "a,b\n1,2\n3,\"oops\n4,5\n6,7\n", nil, ErrMalformed, 3},
		{"csv field too large", FormatCSV, "a,b\n1,2\n3,0123456789abcdefXYZ\n", small, ErrFieldTooLarge, 3},
		{"csv runaway quoted field", FormatCSV, "a,b\n1,2\n3,\"" + strings.Repeat("x\n", 100), small, ErrRecordTooLarge, 3},
		{"csv invalid utf-8", FormatCSV, "a,b\n1,2\n3,\xff\xfe\n", nil, ErrInvalidUTF8, 3},
		{"csv duplicate column", FormatCSV, "a,b,a\n1,2,3\n", nil, ErrDuplicateColumn, 1},
		{"csv too many columns", FormatCSV, "a,b,c\n1,2,3\n", &ReadOptions{MaxColumns: 2}, ErrTooManyColumns, 1},
		{"jsonl empty", FormatJSONLines, "\n\n", nil, ErrEmpty, 0},
		{"jsonl malformed", FormatJSONLines, "{\"a\":1}\n{\"a\":2,}\n", nil, ErrMalformed, 2},
		{"jsonl not an object", FormatJSONLines, "{\"a\":1}\n\n[1,2]\n", nil, ErrMalformed, 3},
		{"jsonl trailing data", FormatJSONLines, "{\"a\":1} {\"a\":2}\n", nil, ErrMalformed, 1},
		{"jsonl duplicate key", FormatJSONLines, "{\"a\":1,\"a\":2}\n", nil, ErrMalformed, 1},
		{"jsonl invalid utf-8", FormatJSONLines, "{\"a\":\"\xff\"}\n", nil, ErrInvalidUTF8, 1},
		{"jsonl field too large", FormatJSONLines, "{\"a\":1}\n{\"a\":\"0123456789abcdefXYZ\"}\n", small, ErrFieldTooLarge, 2},
		{"jsonl line too large", FormatJSONLines, "{\"a\":1}\n{\"a\":\"" + strings.Repeat("x", 100) + "\"}\n", small, ErrRecordTooLarge, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readString(t, tt.format, tt.data, tt.opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			var ie *InputError
			if !errors.As(err, &ie) || ie.Line != tt.line {
				t.Fatalf("error %v: want it at line %d", err, tt.line)
			}
		})
	}
}

func TestHeaderOnlyCSVHasNoRows(t *testing.T) {
	tbl, err := readString(t, FormatCSV, "a,b\n", nil)
	if err != nil || tbl.Rows != 0 || len(tbl.Columns) != 0 {
		t.Fatalf("got %+v, %v", tbl, err)
	}
	r, _ := Open(strings.NewReader("a,b\n"), FormatCSV, nil)
	if got := r.Columns(); len(got) != 2 {
		t.Errorf("columns %v", got)
	}
	if err := r.Read(context.Background(), new(Batch)); !errors.Is(err, io.EOF) {
		t.Errorf("read = %v, want EOF", err)
	}
}

func TestReadJSONLines(t *testing.T) {
	data := `{"a": 1, "b": "x", "c": true}
{"a": 2.5, "c": false, "d": {"k": [1, 2]}}

{"b": "y", "a": null, "e": 12345678901234567890}
`
	tbl, err := readString(t, FormatJSONLines, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"a", "b", "c", "d", "e"}
	types := []Type{TypeFloat, TypeString, TypeBoolean, TypeString, TypeFloat}
	for i, c := range tbl.Columns {
		if c.Name != names[i] || c.Type != types[i] {
			t.Errorf("column %d = %s %s, want %s %s", i, c.Name, c.Type, names[i], types[i])
		}
	}
	if tbl.Rows != 3 {
		t.Fatalf("rows = %d", tbl.Rows)
	}
	if a := tbl.Column("a").Floats; a[0] != 1 || a[1] != 2.5 || !math.IsNaN(a[2]) {
		t.Errorf("a = %v", a)
	}
	d := tbl.Column("d")
	if !d.Missing[0] || d.Strings[1] != `{"k": [1, 2]}` || !d.Missing[2] {
		t.Errorf("d = %q %v", d.Strings, d.Missing)
	}
}

func TestBatchesStayWithinBounds(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("x,y\n")
	for i := range 1000 {
		sb.WriteString(strings.Repeat("v", i%7))
		sb.WriteString(",1\n")
	}
	r, err := Open(strings.NewReader(sb.String()), FormatCSV, &ReadOptions{BatchRows: 64})
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	rows := 0
	for {
		err := r.Read(context.Background(), &b)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if b.Rows > 64 || b.FirstLine != int64(rows+2) {
			t.Fatalf("batch of %d rows from line %d after %d rows", b.Rows, b.FirstLine, rows)
		}
		for i := range b.Columns {
			c := &b.Columns[i]
			kinds, nums := c.Cells()
			if len(kinds) != b.Rows || len(nums) != b.Rows || c.Len() != b.Rows {
				t.Fatal("column length differs from the batch's rows")
			}
		}
		rows += b.Rows
	}
	if rows != 1000 || r.BytesRead() != int64(sb.Len()) {
		t.Errorf("read %d rows, %d bytes", rows, r.BytesRead())
	}
}

func TestDetectFormat(t *testing.T) {
	for name, want := range map[string]Format{"a.csv": FormatCSV, "b.JSONL": FormatJSONLines, "c.ndjson": FormatJSONLines, "d.parquet": FormatParquet} {
		if got, err := DetectFormat(name); got != want || err != nil {
			t.Errorf("DetectFormat(%q) = %q, %v", name, got, err)
		}
	}
	if _, err := DetectFormat("e.xlsx"); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("xlsx: %v", err)
	}
	if f, err := ParseFormat("ndjson"); f != FormatJSONLines || err != nil {
		t.Errorf("ParseFormat = %q, %v", f, err)
	}
}

// TestAppendRawCopiesExactly: short fields are copied a word at a time, with
// whatever follows them; only the field may land in the column.
func TestAppendRawCopiesExactly(t *testing.T) {
	buf := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
	var c BatchColumn
	var want []string
	for start := range len(buf) {
		for end := start; end <= len(buf) && end-start <= 20; end++ {
			c.appendRaw(buf[start:end])
			want = append(want, string(buf[start:end]))
		}
	}
	for i, w := range want {
		if got := string(c.Text(i)); got != w {
			t.Fatalf("field %d = %q, want %q", i, got, w)
		}
	}
}

// TestStringColumnsKeepSpelling: in a column that mixes numbers and words,
// values stay the strings the file holds, as pandas keeps them in an object
// column: "1" and "1.0" are two values. A boolean column with missing values
// is of unknown kind, as Evidently leaves it.
func TestStringColumnsKeepSpelling(t *testing.T) {
	data := "code,flag\n1,True\n1.0,\nx,False\n01,True\n1,False\n"
	tbl, err := readString(t, FormatCSV, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := tbl.Column("code").Strings; strings.Join(got, " ") != "1 1.0 x 01 1" {
		t.Errorf("table: code = %q", got)
	}
	r, err := Open(strings.NewReader(data), FormatCSV, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, err := ProfileReader(context.Background(), r, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	counts, _ := p.Column("code").ValueCounts()
	var got []string
	for _, vc := range counts {
		got = append(got, fmt.Sprintf("%s:%d", vc.Value, vc.Count))
	}
	if strings.Join(got, " ") != "01:1 1:2 1.0:1 x:1" {
		t.Errorf("profile: code counts = %v", got)
	}
	for _, f := range []Field{tbl.Column("flag").Field, p.Column("flag").Field()} {
		if f.Type != TypeBoolean || f.Kind != KindUnknown {
			t.Errorf("flag = %+v, want a boolean of unknown kind", f)
		}
	}
}
