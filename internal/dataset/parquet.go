package dataset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"
)

// parquetReader reads the top-level columns of a Parquet file (through
// parquet-go) row group by row group, all columns in lockstep, one page of
// each in memory. Dates, times and timestamps become ISO 8601 strings,
// decimals stored as integers become floats; nested, repeated, INT96 and
// other exotic columns are refused with ErrUnsupported.
type parquetReader struct {
	file    *parquet.File
	size    int64
	names   []string
	convs   []pqConv
	rows    int
	group   int   // current row group
	left    int64 // rows left in it
	cursors []*pqCursor
	row     int64 // rows read so far
}

type pqKind uint8

const (
	pqBool pqKind = iota
	pqInt
	pqUint
	pqFloat
	pqDecimal
	pqString
	pqDate
	pqTimestamp
	pqTime
	pqUUID
)

type pqConv struct {
	kind  pqKind
	scale float64       // decimals: 10^scale
	unit  time.Duration // timestamps and times
}

func newParquetReader(r io.ReaderAt, size int64, o ReadOptions) (*parquetReader, error) {
	f, err := parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, &InputError{Err: fmt.Errorf("%w: %v", ErrMalformed, err)}
	}
	p := &parquetReader{file: f, size: size, group: -1}
	fields := f.Schema().Fields()
	if len(fields) > o.MaxColumns {
		return nil, &InputError{Err: fmt.Errorf("%w: %d columns, at most %d", ErrTooManyColumns, len(fields), o.MaxColumns)}
	}
	for _, field := range fields {
		conv, err := parquetConverter(field)
		if err != nil {
			return nil, &InputError{Column: field.Name(), Err: err}
		}
		p.names = append(p.names, field.Name())
		p.convs = append(p.convs, conv)
	}
	p.rows = o.batchRows(len(p.names))
	return p, nil
}

func parquetConverter(field parquet.Field) (pqConv, error) {
	if !field.Leaf() || field.Repeated() {
		return pqConv{}, fmt.Errorf("%w: nested or repeated column", ErrUnsupported)
	}
	t := field.Type()
	var logical format.LogicalTypeValue
	if lt := t.LogicalType(); lt != nil {
		logical = lt.Value
	}
	var converted deprecated.ConvertedType = -1
	if ct := t.ConvertedType(); ct != nil {
		converted = *ct
	}
	switch t.Kind() {
	case parquet.Boolean:
		return pqConv{kind: pqBool}, nil
	case parquet.Int32, parquet.Int64:
		return integerConverter(logical, converted)
	case parquet.Float, parquet.Double:
		return pqConv{kind: pqFloat}, nil
	case parquet.ByteArray:
		if _, ok := logical.(*format.DecimalType); ok || converted == deprecated.Decimal {
			break
		}
		return pqConv{kind: pqString}, nil
	case parquet.FixedLenByteArray:
		if _, ok := logical.(*format.UUIDType); ok {
			return pqConv{kind: pqUUID}, nil
		}
	}
	return pqConv{}, fmt.Errorf("%w: parquet type %s", ErrUnsupported, t)
}

func integerConverter(logical format.LogicalTypeValue, converted deprecated.ConvertedType) (pqConv, error) {
	switch lt := logical.(type) {
	case *format.DateType:
		return pqConv{kind: pqDate}, nil
	case *format.TimestampType:
		return pqConv{kind: pqTimestamp, unit: timeUnit(lt.Unit)}, nil
	case *format.TimeType:
		return pqConv{kind: pqTime, unit: timeUnit(lt.Unit)}, nil
	case *format.DecimalType:
		return pqConv{kind: pqDecimal, scale: math.Pow(10, float64(lt.Scale))}, nil
	case *format.IntType:
		if !lt.IsSigned {
			return pqConv{kind: pqUint}, nil
		}
	}
	switch converted {
	case deprecated.Date:
		return pqConv{kind: pqDate}, nil
	case deprecated.TimestampMillis:
		return pqConv{kind: pqTimestamp, unit: time.Millisecond}, nil
	case deprecated.TimestampMicros:
		return pqConv{kind: pqTimestamp, unit: time.Microsecond}, nil
	case deprecated.Uint32, deprecated.Uint64:
		return pqConv{kind: pqUint}, nil
	case deprecated.Decimal:
		return pqConv{}, fmt.Errorf("%w: decimal without a scale", ErrUnsupported)
	}
	return pqConv{kind: pqInt}, nil
}

func timeUnit(u format.TimeUnit) time.Duration {
	switch u.Value.(type) {
	case *format.MilliSeconds:
		return time.Millisecond
	case *format.MicroSeconds:
		return time.Microsecond
	}
	return time.Nanosecond
}

func (p *parquetReader) Columns() []string { return p.names }
func (p *parquetReader) Close() error      { return p.closeCursors() }

// BytesRead estimates progress from the share of rows read.
func (p *parquetReader) BytesRead() int64 {
	total := p.file.NumRows()
	if total == 0 {
		return p.size
	}
	return int64(float64(p.size) * float64(p.row) / float64(total))
}

func (p *parquetReader) Read(ctx context.Context, b *Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.reset(p.names)
	for p.left == 0 {
		if err := p.nextGroup(); err != nil {
			return err
		}
	}
	n := int(min(int64(p.rows), p.left))
	b.FirstLine = p.row + 1
	for j, cur := range p.cursors {
		if err := cur.read(n, func(v parquet.Value, i int) error {
			return p.convs[j].append(&b.Columns[j], v, p.row+int64(i)+1, p.names[j])
		}); err != nil {
			return err
		}
	}
	b.Rows = n
	p.left -= int64(n)
	p.row += int64(n)
	return nil
}

func (p *parquetReader) nextGroup() error {
	if err := p.closeCursors(); err != nil {
		return err
	}
	groups := p.file.RowGroups()
	p.group++
	if p.group >= len(groups) {
		return io.EOF
	}
	rg := groups[p.group]
	p.left = rg.NumRows()
	p.cursors = p.cursors[:0]
	for _, chunk := range rg.ColumnChunks() {
		p.cursors = append(p.cursors, &pqCursor{pages: chunk.Pages(), buf: make([]parquet.Value, 0, 1024)})
	}
	return nil
}

func (p *parquetReader) closeCursors() error {
	var errs []error
	for _, c := range p.cursors {
		errs = append(errs, c.close())
	}
	p.cursors = p.cursors[:0]
	return errors.Join(errs...)
}

// pqCursor walks the pages of one column chunk.
type pqCursor struct {
	pages  parquet.Pages
	page   parquet.Page
	values parquet.ValueReader
	buf    []parquet.Value
}

// read hands the next n values to fn.
func (c *pqCursor) read(n int, fn func(v parquet.Value, i int) error) error {
	for i := 0; i < n; {
		if c.values == nil {
			if err := c.nextPage(); err != nil {
				return err
			}
		}
		buf := c.buf[:min(cap(c.buf), n-i)]
		got, err := c.values.ReadValues(buf)
		for _, v := range buf[:got] {
			if ferr := fn(v, i); ferr != nil {
				return ferr
			}
			i++
		}
		if errors.Is(err, io.EOF) {
			c.releasePage()
		} else if err != nil {
			return &InputError{Err: fmt.Errorf("%w: %v", ErrMalformed, err)}
		}
	}
	return nil
}

func (c *pqCursor) nextPage() error {
	page, err := c.pages.ReadPage()
	if errors.Is(err, io.EOF) {
		return &InputError{Err: fmt.Errorf("%w: column chunk ends before its row group", ErrMalformed)}
	}
	if err != nil {
		return &InputError{Err: fmt.Errorf("%w: %v", ErrMalformed, err)}
	}
	c.page, c.values = page, page.Values()
	return nil
}

func (c *pqCursor) releasePage() {
	if c.page != nil {
		parquet.Release(c.page)
	}
	c.page, c.values = nil, nil
}

func (c *pqCursor) close() error {
	c.releasePage()
	return c.pages.Close()
}

func (conv pqConv) append(c *BatchColumn, v parquet.Value, row int64, name string) error {
	if v.IsNull() {
		c.appendNull()
		return nil
	}
	switch conv.kind {
	case pqBool:
		c.appendNumber(CellBool, boolNumber(v.Boolean()))
	case pqInt:
		c.appendNumber(CellInt, float64(v.Int64()))
	case pqUint:
		if v.Kind() == parquet.Int32 {
			c.appendNumber(CellInt, float64(v.Uint32()))
		} else {
			c.appendNumber(CellInt, float64(v.Uint64()))
		}
	case pqFloat:
		if v.Kind() == parquet.Float {
			appendFloat(c, float64(v.Float()))
		} else {
			appendFloat(c, v.Double())
		}
	case pqDecimal:
		appendFloat(c, float64(v.Int64())/conv.scale)
	case pqString:
		b := v.ByteArray()
		if !utf8.Valid(b) {
			return rowError(row, name, ErrInvalidUTF8, "")
		}
		c.appendText(string(b))
	default:
		c.appendText(conv.format(v))
	}
	return nil
}

func appendFloat(c *BatchColumn, f float64) {
	if math.IsNaN(f) {
		c.appendNull()
		return
	}
	c.appendNumber(CellFloat, f)
}

func (conv pqConv) format(v parquet.Value) string {
	switch conv.kind {
	case pqDate:
		return time.Unix(int64(v.Int32())*86400, 0).UTC().Format(time.DateOnly)
	case pqTimestamp:
		return time.Unix(0, 0).Add(time.Duration(v.Int64()) * conv.unit).UTC().Format(time.RFC3339Nano)
	case pqTime:
		return time.Unix(0, 0).Add(time.Duration(v.Int64()) * conv.unit).UTC().Format("15:04:05.999999999")
	case pqUUID:
		b := v.ByteArray()
		return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:8], b[8:10], b[10:12], b[12:16])
	}
	return v.String()
}
