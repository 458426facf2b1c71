package dataset

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"
)

// jsonLinesReader reads one JSON object per line. Keys become columns in the
// order they first appear; a row that lacks a key holds null there. Strings,
// numbers, booleans and null map to cells of those types; a nested object or
// array is kept as its JSON text, a string. Blank lines are skipped.
type jsonLinesReader struct {
	opts  ReadOptions
	count *countingReader
	br    *bufio.Reader
	line  int64
	buf   []byte
	names []string
	index map[string]int
	stamp []int64 // per column: the last row that set it
	rowNo int64
	rows  int
}

func newJSONLinesReader(r io.Reader, o ReadOptions) *jsonLinesReader {
	count := &countingReader{r: r}
	return &jsonLinesReader{
		opts:  o,
		count: count,
		br:    bufio.NewReaderSize(count, 64<<10),
		index: map[string]int{},
		rows:  o.batchRows(64),
	}
}

func (j *jsonLinesReader) Columns() []string { return j.names }
func (j *jsonLinesReader) BytesRead() int64  { return j.count.n }
func (j *jsonLinesReader) Close() error      { return nil }

func (j *jsonLinesReader) Read(ctx context.Context, b *Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.reset(j.names)
	for b.Rows < j.rows && b.textBytes < maxBatchTextBytes {
		line, err := j.nextLine()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if b.Rows == 0 {
			b.FirstLine = j.line
		}
		if err := j.appendRow(b, line); err != nil {
			return err
		}
	}
	if b.Rows == 0 {
		if j.rowNo == 0 {
			return &InputError{Err: fmt.Errorf("%w: no rows", ErrEmpty)}
		}
		return io.EOF
	}
	return nil
}

// nextLine returns the next non-blank line, without its line ending.
func (j *jsonLinesReader) nextLine() ([]byte, error) {
	for {
		j.buf = j.buf[:0]
		for {
			chunk, err := j.br.ReadSlice('\n')
			j.buf = append(j.buf, chunk...)
			if len(j.buf) > j.opts.MaxRecordBytes {
				return nil, lineError(j.line+1, "", ErrRecordTooLarge, "more than %d bytes", j.opts.MaxRecordBytes)
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err != nil && (!errors.Is(err, io.EOF) || len(j.buf) == 0) {
				return nil, err
			}
			break
		}
		j.line++
		if j.line == 1 {
			j.buf = bytes.TrimPrefix(j.buf, []byte("\xEF\xBB\xBF"))
		}
		line := bytes.TrimSpace(j.buf)
		if len(line) > 0 {
			return line, nil
		}
	}
}

func (j *jsonLinesReader) appendRow(b *Batch, line []byte) error {
	if !utf8.Valid(line) {
		return lineError(j.line, "", ErrInvalidUTF8, "")
	}
	j.rowNo++
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return lineError(j.line, "", ErrMalformed, "want a JSON object")
	}
	for dec.More() {
		if err := j.appendField(b, dec); err != nil {
			return err
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return lineError(j.line, "", ErrMalformed, "unterminated JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return lineError(j.line, "", ErrMalformed, "data after the JSON object")
	}
	for i := range j.names {
		if j.stamp[i] != j.rowNo {
			b.Columns[i].appendNull()
		}
	}
	b.Rows++
	return nil
}

func (j *jsonLinesReader) appendField(b *Batch, dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return lineError(j.line, "", ErrMalformed, "%v", err)
	}
	name, _ := tok.(string)
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return lineError(j.line, name, ErrMalformed, "%v", err)
	}
	col, err := j.column(b, name)
	if err != nil {
		return err
	}
	if len(raw) > j.opts.MaxFieldBytes {
		return lineError(j.line, name, ErrFieldTooLarge, "%d bytes, at most %d", len(raw), j.opts.MaxFieldBytes)
	}
	return j.appendValue(b, &b.Columns[col], name, raw)
}

// column returns the index of the named column, adding it when new.
func (j *jsonLinesReader) column(b *Batch, name string) (int, error) {
	i, ok := j.index[name]
	if !ok {
		if len(j.names) >= j.opts.MaxColumns {
			return 0, lineError(j.line, name, ErrTooManyColumns, "at most %d", j.opts.MaxColumns)
		}
		i = len(j.names)
		j.index[name] = i
		j.names = append(j.names, name)
		j.stamp = append(j.stamp, 0)
		b.Names = j.names
		b.ensureColumns(len(j.names))
	}
	if j.stamp[i] == j.rowNo {
		return 0, lineError(j.line, name, ErrMalformed, "duplicate key")
	}
	j.stamp[i] = j.rowNo
	return i, nil
}

func (j *jsonLinesReader) appendValue(b *Batch, c *BatchColumn, name string, raw json.RawMessage) error {
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return lineError(j.line, name, ErrMalformed, "%v", err)
		}
		c.appendText(s)
		b.textBytes += len(s)
	case 't', 'f':
		c.appendNumber(CellBool, boolNumber(raw[0] == 't'))
	case 'n':
		c.appendNull()
	case '{', '[':
		c.appendText(string(raw))
		b.textBytes += len(raw)
	default:
		c.appendNumber(jsonNumber(string(raw)))
	}
	return nil
}

// jsonNumber classifies a JSON number: integer when written without a
// fraction or exponent and within 64 bits.
func jsonNumber(s string) (CellKind, float64) {
	if isInteger(s) {
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			return CellInt, float64(v)
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil && !isRangeErr(err) {
		return CellFloat, math.NaN()
	}
	return CellFloat, v
}

func boolNumber(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
