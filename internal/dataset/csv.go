package dataset

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"unicode/utf8"
)

// csvReader reads CSV with a header row (RFC 4180 quoting). Fields go
// straight from the read buffer into the batch's text arenas; see csvScanner
// for how records are split and bounded.
type csvReader struct {
	opts  ReadOptions
	count *countingReader
	scan  *csvScanner
	names []string
	rows  int
}

func newCSVReader(r io.Reader, o ReadOptions) (*csvReader, error) {
	return newCSVReaderSize(r, o, csvBufferSize)
}

// newCSVReaderSize reads through a buffer of bufSize bytes to start with.
func newCSVReaderSize(r io.Reader, o ReadOptions, bufSize int) (*csvReader, error) {
	if !validComma(o.Comma) {
		return nil, errInvalidComma
	}
	count := &countingReader{r: r}
	c := &csvReader{opts: o, count: count, scan: newCSVScanner(count, o.Comma, o.MaxRecordBytes, bufSize)}
	if err := c.readHeader(); err != nil {
		return nil, err
	}
	c.rows = o.batchRows(len(c.names))
	return c, nil
}

func (c *csvReader) readHeader() error {
	line, quoted, err := c.scan.next()
	if err == io.EOF {
		return &InputError{Err: fmt.Errorf("%w: no header row", ErrEmpty)}
	}
	if err != nil {
		return err
	}
	if !quoted {
		c.scan.split(line)
	}
	n := c.scan.fieldCount()
	if n > c.opts.MaxColumns {
		return lineError(1, "", ErrTooManyColumns, "%d columns, at most %d", n, c.opts.MaxColumns)
	}
	seen := make(map[string]bool, n)
	for i := range n {
		field := c.scan.field(i)
		if err := c.checkField(field, 1, ""); err != nil {
			return err
		}
		name := string(field)
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
		line, quoted, err := c.scan.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if b.Rows == 0 {
			b.FirstLine = c.scan.recLine
		}
		if quoted {
			err = c.appendFields(b, c.scan.recLine)
		} else {
			err = c.appendLine(b, line, c.scan.recLine)
		}
		if err != nil {
			return err
		}
	}
	if b.Rows == 0 {
		return io.EOF
	}
	return nil
}

// appendLine appends a record read from a line without quotes. When the line
// is valid UTF-8 and no longer than a field may be, which is the common case,
// only the field count can be wrong, and the fields are appended as they are
// split.
func (c *csvReader) appendLine(b *Batch, line []byte, lineNo int64) error {
	if len(line) > c.opts.MaxFieldBytes || !utf8.Valid(line) {
		c.scan.split(line)
		return c.appendFields(b, lineNo)
	}
	comma := c.scan.comma
	n := splitInto(b.Columns[:len(c.names)], line, comma)
	if n != len(c.names) {
		return c.ragged(n, lineNo)
	}
	b.textBytes += len(line) - (n-1)*len(comma)
	b.Rows++
	return nil
}

// splitInto appends the fields of line to cols, one each, as far as there
// are columns, and returns the number of fields.
func splitInto(cols []BatchColumn, line, comma []byte) int {
	n := 0
	if len(comma) == 1 {
		// Fields are short: a loop beats a call to bytes.IndexByte each.
		sep, start := comma[0], 0
		for i, ch := range line {
			if ch == sep {
				if n < len(cols) {
					cols[n].appendRaw(line[start:i])
				}
				n, start = n+1, i+1
			}
		}
		line = line[start:]
	} else {
		for i := bytes.Index(line, comma); i >= 0; i = bytes.Index(line, comma) {
			if n < len(cols) {
				cols[n].appendRaw(line[:i])
			}
			n, line = n+1, line[i+len(comma):]
		}
	}
	if n < len(cols) {
		cols[n].appendRaw(line)
	}
	return n + 1
}

// appendFields appends the record held by the scanner, checking each field.
func (c *csvReader) appendFields(b *Batch, line int64) error {
	n := c.scan.fieldCount()
	if n != len(c.names) {
		return c.ragged(n, line)
	}
	for j := range n {
		field := c.scan.field(j)
		if err := c.checkField(field, line, c.names[j]); err != nil {
			return err
		}
		b.Columns[j].appendRaw(field)
		b.textBytes += len(field)
	}
	b.Rows++
	return nil
}

func (c *csvReader) ragged(fields int, line int64) error {
	return lineError(line, "", ErrRagged, "%d fields in the row, %d in the header", fields, len(c.names))
}

func (c *csvReader) checkField(field []byte, line int64, column string) error {
	if len(field) > c.opts.MaxFieldBytes {
		return lineError(line, column, ErrFieldTooLarge, "%d bytes, at most %d", len(field), c.opts.MaxFieldBytes)
	}
	if !utf8.Valid(field) {
		return lineError(line, column, ErrInvalidUTF8, "")
	}
	return nil
}

func indexComma(line, comma []byte) int {
	if len(comma) == 1 {
		return bytes.IndexByte(line, comma[0])
	}
	return bytes.Index(line, comma)
}
