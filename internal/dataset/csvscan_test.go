package dataset

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// stdCSVReader reads CSV through encoding/csv, with a guard in front of it
// that bounds how much of one record is buffered. It is the reference the
// package's CSV reader is held to: the same records, the same errors.
type stdCSVReader struct {
	opts  ReadOptions
	csv   *csv.Reader
	names []string
	rows  int
}

func newStdCSVReader(r io.Reader, o ReadOptions) (*stdCSVReader, error) {
	cr := csv.NewReader(newRecordGuard(r, o.MaxRecordBytes))
	cr.Comma = o.Comma
	cr.ReuseRecord = true
	c := &stdCSVReader{opts: o, csv: cr}
	if err := c.readHeader(); err != nil {
		return nil, err
	}
	c.rows = o.batchRows(len(c.names))
	return c, nil
}

func (c *stdCSVReader) readHeader() error {
	rec, err := c.csv.Read()
	if errors.Is(err, io.EOF) {
		return &InputError{Err: fmt.Errorf("%w: no header row", ErrEmpty)}
	}
	if err != nil {
		return c.wrapErr(err, nil)
	}
	if len(rec) > c.opts.MaxColumns {
		return lineError(1, "", ErrTooManyColumns, "%d columns, at most %d", len(rec), c.opts.MaxColumns)
	}
	seen := make(map[string]bool, len(rec))
	for i, name := range rec {
		if err := c.checkField(name, 1, ""); err != nil {
			return err
		}
		if name == "" {
			name = unnamedColumn(i)
		}
		if seen[name] {
			return lineError(1, name, ErrDuplicateColumn, "")
		}
		seen[name] = true
		c.names = append(c.names, name)
	}
	return nil
}

func (c *stdCSVReader) Read(b *Batch) error {
	b.reset(c.names)
	for b.Rows < c.rows && b.textBytes < maxBatchTextBytes {
		rec, err := c.csv.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return c.wrapErr(err, rec)
		}
		line, _ := c.csv.FieldPos(0)
		if b.Rows == 0 {
			b.FirstLine = int64(line)
		}
		for j, field := range rec {
			if err := c.checkField(field, int64(line), c.names[j]); err != nil {
				return err
			}
			b.Columns[j].appendRaw([]byte(field))
			b.textBytes += len(field)
		}
		b.Rows++
	}
	if b.Rows == 0 {
		return io.EOF
	}
	return nil
}

func (c *stdCSVReader) checkField(field string, line int64, column string) error {
	if len(field) > c.opts.MaxFieldBytes {
		return lineError(line, column, ErrFieldTooLarge, "%d bytes, at most %d", len(field), c.opts.MaxFieldBytes)
	}
	if !utf8.ValidString(field) {
		return lineError(line, column, ErrInvalidUTF8, "")
	}
	return nil
}

func (c *stdCSVReader) wrapErr(err error, rec []string) error {
	var tooLarge *recordTooLargeError
	if errors.As(err, &tooLarge) {
		return lineError(tooLarge.line, "", ErrRecordTooLarge, "more than %d bytes", tooLarge.limit)
	}
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return err
	}
	if errors.Is(pe.Err, csv.ErrFieldCount) {
		return lineError(int64(pe.StartLine), "", ErrRagged, "%d fields in the row, %d in the header", len(rec), len(c.names))
	}
	if errors.Is(pe.Err, csv.ErrQuote) {
		return quoteError(int64(pe.StartLine), int64(pe.Line), pe.Column)
	}
	return lineError(int64(pe.Line), "", ErrMalformed, "%v (column %d)", pe.Err, pe.Column)
}

// recordGuard follows quoting (a '"' toggles it) to see where records end,
// and fails once a record grows past the limit. It drops a leading UTF-8
// byte-order mark.
type recordGuard struct {
	r        *bufio.Reader
	limit    int
	inQuotes bool
	length   int
	line     int64
	lines    int64
	err      error
}

type recordTooLargeError struct {
	line  int64
	limit int
}

func (e *recordTooLargeError) Error() string {
	return fmt.Sprintf("line %d: record longer than %d bytes", e.line, e.limit)
}

func newRecordGuard(r io.Reader, limit int) *recordGuard {
	br := bufio.NewReaderSize(r, 64<<10)
	if bom, err := br.Peek(3); err == nil && bytes.Equal(bom, []byte("\xEF\xBB\xBF")) {
		_, _ = br.Discard(3)
	}
	return &recordGuard{r: br, limit: limit, line: 1}
}

func (g *recordGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	if i := g.scan(p[:n]); i >= 0 {
		g.err = &recordTooLargeError{line: g.line, limit: g.limit}
		return i, g.err
	}
	return n, err
}

func (g *recordGuard) scan(chunk []byte) int {
	offset := 0
	for len(chunk) > 0 {
		run := chunk
		q := bytes.IndexByte(chunk, '"')
		if q >= 0 {
			run = chunk[:q]
		}
		if i := g.scanRun(run); i >= 0 {
			return offset + i
		}
		if q < 0 {
			return -1
		}
		g.inQuotes = !g.inQuotes
		g.length++
		if g.length > g.limit {
			return offset + q
		}
		offset += q + 1
		chunk = chunk[q+1:]
	}
	return -1
}

func (g *recordGuard) scanRun(run []byte) int {
	if g.inQuotes {
		g.lines += int64(bytes.Count(run, []byte{'\n'}))
		return g.grow(run, 0, len(run))
	}
	off := 0
	for {
		i := bytes.IndexByte(run[off:], '\n')
		if i < 0 {
			return g.grow(run, off, len(run)-off)
		}
		if g.length+i > g.limit {
			return off + max(g.limit-g.length, 0)
		}
		g.lines++
		g.line, g.length = g.lines+1, 0
		off += i + 1
	}
}

func (g *recordGuard) grow(run []byte, off, n int) int {
	g.length += n
	if g.length > g.limit {
		return max(len(run)-(g.length-g.limit), off)
	}
	return -1
}

// chunkReader hands out data a few bytes at a time and then fails with err.
type chunkReader struct {
	data  []byte
	chunk int
	err   error
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p[:min(len(p), r.chunk)], r.data)
	r.data = r.data[n:]
	return n, nil
}

var errInjected = errors.New("injected read error")

// csvCase is one way of reading an input: the options, the buffer the
// reader starts with, how the input arrives and how it ends.
type csvCase struct {
	opts    ReadOptions
	bufSize int
	chunk   int
	readErr error
}

// csvCaseOf derives a case from a fuzzer's selector.
func csvCaseOf(sel uint32) csvCase {
	commas := []rune{',', ';', '\t', '§', '€', '"', ' '}
	fieldLimits := []int{0, 3, 8, 40}
	recordLimits := []int{0, 5, 12, 64}
	bufSizes := []int{csvBufferSize, 16, 17, 40}
	chunks := []int{1 << 20, 1, 3, 7}
	pick := func(n int) int { v := int(sel % uint32(n)); sel /= uint32(n); return v }
	c := csvCase{
		opts: ReadOptions{
			Comma:          commas[pick(len(commas))],
			MaxFieldBytes:  fieldLimits[pick(len(fieldLimits))],
			MaxRecordBytes: recordLimits[pick(len(recordLimits))],
			MaxColumns:     8,
			BatchRows:      3,
		},
		bufSize: bufSizes[pick(len(bufSizes))],
		chunk:   chunks[pick(len(chunks))],
		readErr: io.EOF,
	}
	if pick(4) == 0 {
		c.readErr = errInjected
	}
	return c
}

// csvOutcome is everything observable from reading an input to its end.
type csvOutcome struct {
	columns []string
	batches []string // first line, rows and each row's fields
	err     string
	line    int64
	column  string
	kind    error
}

var csvSentinels = []error{ErrEmpty, ErrRagged, ErrFieldTooLarge, ErrRecordTooLarge, ErrInvalidUTF8,
	ErrMalformed, ErrTooManyColumns, ErrDuplicateColumn, errInjected}

func (o *csvOutcome) fail(err error) {
	o.err = err.Error()
	var ie *InputError
	if errors.As(err, &ie) {
		o.line, o.column = ie.Line, ie.Column
	}
	for _, s := range csvSentinels {
		if errors.Is(err, s) {
			o.kind = s
		}
	}
}

func (o *csvOutcome) add(b *Batch) {
	var sb strings.Builder
	fmt.Fprintf(&sb, "line %d, %d rows:", b.FirstLine, b.Rows)
	for i := range b.Rows {
		sb.WriteString("\n ")
		for j := range b.Names {
			fmt.Fprintf(&sb, " %q", b.Columns[j].Text(i))
		}
	}
	o.batches = append(o.batches, sb.String())
}

func readCSVOutcome(data []byte, c csvCase) csvOutcome {
	var out csvOutcome
	o := c.opts.withDefaults()
	r, err := newCSVReaderSize(&chunkReader{data, c.chunk, c.readErr}, o, c.bufSize)
	if err != nil {
		out.fail(err)
		return out
	}
	out.columns = r.Columns()
	var b Batch
	for {
		err := r.Read(context.Background(), &b)
		if err == io.EOF {
			return out
		}
		if err != nil {
			out.fail(err)
			return out
		}
		out.add(&b)
	}
}

func readStdCSVOutcome(data []byte, c csvCase) csvOutcome {
	var out csvOutcome
	o := c.opts.withDefaults()
	r, err := newStdCSVReader(&chunkReader{data, c.chunk, c.readErr}, o)
	if err != nil {
		out.fail(err)
		return out
	}
	out.columns = r.names
	var b Batch
	for {
		err := r.Read(&b)
		if err == io.EOF {
			return out
		}
		if err != nil {
			out.fail(err)
			return out
		}
		out.add(&b)
	}
}

func checkCSVMatches(t *testing.T, data []byte, c csvCase) {
	t.Helper()
	got, want := readCSVOutcome(data, c), readStdCSVOutcome(data, c)
	if fmt.Sprint(got.columns) != fmt.Sprint(want.columns) || strings.Join(got.batches, "\n") != strings.Join(want.batches, "\n") ||
		got.err != want.err || got.line != want.line || got.column != want.column || got.kind != want.kind {
		t.Fatalf("input %q, case %+v:\ngot  %q\n%s\nerr %q (line %d, column %q)\nwant %q\n%s\nerr %q (line %d, column %q)",
			data, c, got.columns, strings.Join(got.batches, "\n"), got.err, got.line, got.column,
			want.columns, strings.Join(want.batches, "\n"), want.err, want.line, want.column)
	}
}

var csvEdgeCases = []string{
	"", "\n", "\r\n", "\r", "a", "a\n", "a\r", "a\r\n", "\xEF\xBB\xBF", "\xEF\xBB", "\xEF\xBB\xBFa,b\n1,2",
	"a,b\n1,2\n", "a,b\n1,2", "a,b\n1,2\r", "a,b\r\n1,2\r\n\r\n3,4\r\n", "a,b\n\n\n1,2\n\n", "a,b\n1\n", "a,b\n1,2,3\n",
	"a,b\n\"x\ny\",2\n3,4,5\n", "a,b\n1,x\"y\n", "a,b\n1,2\n3,\"oops\n", "a,b\n1,2\n3,\"oops", "a,b\n\"a\"\"b\",\"\"\n",
	"a,b\n\"a\"b,1\n", "a,b\n\"a\" ,1\n", "a,b\n\"a\"\r,1\n", "a,b\n\"x\r\ny\",2\r\n", "a\n\"x\n\r", "a\n\"x\n\n",
	"a\n\"\"\"\"\n", "\"a\nb\",c\n1,2\n", "a,b\n,\n", "a,b\n\"\",\"\"\n", "a;b\n1;2\n1,2;3\n", "a\tb\n1\t\"2\"\n",
	"a§b\n1§2\n\"x§\"§y\n", "a€b\n1€\xe2\x82\n", "a,b\n\xff,1\n", "a,b\n1,\xff\"\n", "a,b\n\"\xff\",1\n",
	"a,b\n0123456789abcdefXYZ,\xff\n", "a,b\n0123456789abcdefXYZ,1,2\n", "a,b,a\n1,2,3\n", "a,b\n\"" + strings.Repeat("x\n", 20),
	"a,b\n" + strings.Repeat("y", 30) + "\"\n", "a,b\n1,\"" + strings.Repeat("z", 30) + "\"\"q\"\n",
	"a,b\n\"12345678901\"\n", "a,b\n\"1234567890\"x\n", "a,b\n12345678901\n", "a,b\n\"123\n45678\"\n",
	"a,b\n\"123\r\n4567\"\n", "a,b\n1234567890\r\n", "a,b\n\"a\"\"\n\"\"b\",\"\n\"\n",
}

func TestCSVMatchesEncodingCSV(t *testing.T) {
	for _, data := range csvEdgeCases {
		for sel := uint32(0); sel < 7*4*4*4*4*4; sel += 11 { // a sample of the cases, all kinds of each
			checkCSVMatches(t, []byte(data), csvCaseOf(sel))
		}
	}
}

func FuzzCSVMatchesEncodingCSV(f *testing.F) {
	for i, data := range csvEdgeCases {
		f.Add([]byte(data), uint32(i*97))
	}
	f.Fuzz(func(t *testing.T, data []byte, sel uint32) {
		checkCSVMatches(t, data, csvCaseOf(sel))
	})
}
