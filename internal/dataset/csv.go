package dataset

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// csvReader reads CSV with a header row (RFC 4180 quoting) through
// encoding/csv. A guard in front of it bounds how much of one record is ever
// buffered, so a file with a runaway quoted field fails with the line number
// instead of eating memory.
type csvReader struct {
	opts  ReadOptions
	count *countingReader
	csv   *csv.Reader
	names []string
	rows  int
}

func newCSVReader(r io.Reader, o ReadOptions) (*csvReader, error) {
	count := &countingReader{r: r}
	guard := newRecordGuard(count, o.MaxRecordBytes)
	cr := csv.NewReader(guard)
	cr.Comma = o.Comma
	cr.ReuseRecord = true
	c := &csvReader{opts: o, count: count, csv: cr}
	if err := c.readHeader(); err != nil {
		return nil, err
	}
	c.rows = o.batchRows(len(c.names))
	return c, nil
}

func (c *csvReader) readHeader() error {
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

func (c *csvReader) Columns() []string { return c.names }
func (c *csvReader) BytesRead() int64  { return c.count.n }
func (c *csvReader) Close() error      { return nil }

func (c *csvReader) Read(ctx context.Context, b *Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
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
		if err := c.appendRecord(b, rec, int64(line)); err != nil {
			return err
		}
	}
	if b.Rows == 0 {
		return io.EOF
	}
	return nil
}

func (c *csvReader) appendRecord(b *Batch, rec []string, line int64) error {
	for j, field := range rec {
		if err := c.checkField(field, line, c.names[j]); err != nil {
			return err
		}
		b.Columns[j].appendRaw(field)
		b.textBytes += len(field)
	}
	b.Rows++
	return nil
}

func (c *csvReader) checkField(field string, line int64, column string) error {
	if len(field) > c.opts.MaxFieldBytes {
		return lineError(line, column, ErrFieldTooLarge, "%d bytes, at most %d", len(field), c.opts.MaxFieldBytes)
	}
	if !utf8.ValidString(field) {
		return lineError(line, column, ErrInvalidUTF8, "")
	}
	return nil
}

// wrapErr turns encoding/csv's errors into InputErrors with line numbers.
func (c *csvReader) wrapErr(err error, rec []string) error {
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
	return lineError(int64(pe.Line), "", ErrMalformed, "%v (column %d)", pe.Err, pe.Column)
}

// recordGuard sits between the input and encoding/csv. It follows quoting
// (a '"' toggles it; RFC 4180's doubled quotes toggle twice) to see where
// records end, and fails once a record grows past the limit. It also drops a
// leading UTF-8 byte-order mark.
type recordGuard struct {
	r        *bufio.Reader
	limit    int
	inQuotes bool
	length   int   // bytes of the current record so far
	line     int64 // line the current record started on
	lines    int64 // newlines seen
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

// scan follows quotes and newlines through chunk, a run between quotes at a
// time, and returns the offset at which a record outgrows the limit, or -1.
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

// scanRun handles a run without quotes.
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

// grow adds n bytes of run (from off) to the current record.
func (g *recordGuard) grow(run []byte, off, n int) int {
	g.length += n
	if g.length > g.limit {
		return max(len(run)-(g.length-g.limit), off)
	}
	return -1
}
