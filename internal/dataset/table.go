package dataset

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"strconv"
)

// Table is a dataset held in memory column by column, for exact statistics on
// data small enough to load (see ReadTable).
type Table struct {
	Rows    int
	Columns []*Column
}

// Column is one column of a Table.
type Column struct {
	Field
	// Floats holds boolean (0 or 1), integer and float columns, one value per
	// row, NaN where the value is missing.
	Floats []float64
	// Strings holds string columns, one value per row; Missing marks the
	// missing ones (nil when none is).
	Strings []string
	Missing []bool
}

// Len returns the number of rows.
func (c *Column) Len() int {
	if c.Type == TypeString {
		return len(c.Strings)
	}
	return len(c.Floats)
}

// Column returns the named column, or nil.
func (t *Table) Column(name string) *Column {
	for _, c := range t.Columns {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Schema returns the table's schema.
func (t *Table) Schema() Schema {
	s := Schema{Fields: make([]Field, len(t.Columns))}
	for i, c := range t.Columns {
		s.Fields[i] = c.Field
	}
	return s
}

// NewTable assembles columns of equal length into a table.
func NewTable(columns ...*Column) (*Table, error) {
	t := &Table{Columns: columns}
	for i, c := range columns {
		if i == 0 {
			t.Rows = c.Len()
		} else if c.Len() != t.Rows {
			return nil, fmt.Errorf("%w: column %q has %d rows, %q has %d", ErrRagged, c.Name, c.Len(), columns[0].Name, t.Rows)
		}
	}
	return t, nil
}

// FloatColumn returns a float column; NaN marks missing values.
func FloatColumn(name string, values []float64) *Column {
	return numberColumn(name, TypeFloat, values)
}

// IntColumn returns an integer column; NaN marks missing values.
func IntColumn(name string, values []float64) *Column {
	return numberColumn(name, TypeInteger, values)
}

// BoolColumn returns a boolean column.
func BoolColumn(name string, values []bool) *Column {
	f := make([]float64, len(values))
	for i, b := range values {
		f[i] = boolNumber(b)
	}
	return numberColumn(name, TypeBoolean, f)
}

func numberColumn(name string, t Type, values []float64) *Column {
	c := &Column{Field: Field{Name: name, Type: t}, Floats: values}
	c.settle()
	return c
}

// StringColumn returns a string column; missing may be nil.
func StringColumn(name string, values []string, missing []bool) *Column {
	c := &Column{Field: Field{Name: name, Type: TypeString}, Strings: values, Missing: missing}
	c.settle()
	return c
}

// settle fills in nullability and kind from the values.
func (c *Column) settle() {
	count, nulls, distinct := c.counts()
	c.Nullable = nulls > 0
	c.Kind = InferKind(c.Type, count, nulls, distinct)
}

// counts returns the column's non-null and null counts and as much of its
// distinct count as the kind needs: exact for strings, up to
// IntegerCategoryLimit+1 for integers, none for other types.
func (c *Column) counts() (count, nulls, distinct int64) {
	if c.Type == TypeString {
		seen := make(map[string]struct{})
		for i, s := range c.Strings {
			if c.Missing != nil && c.Missing[i] {
				nulls++
				continue
			}
			count++
			seen[s] = struct{}{}
		}
		return count, nulls, int64(len(seen))
	}
	seen := make(map[float64]struct{}, IntegerCategoryLimit+1)
	for _, v := range c.Floats {
		if math.IsNaN(v) {
			nulls++
			continue
		}
		count++
		if c.Type == TypeInteger && len(seen) <= IntegerCategoryLimit {
			seen[v] = struct{}{}
		}
	}
	return count, nulls, int64(len(seen))
}

// ReadTable loads everything r yields into memory, with the schema inference
// of the profiler. It fails with ErrTooManyRows beyond maxRows rows (no limit
// when maxRows <= 0).
func ReadTable(ctx context.Context, r Reader, maxRows int) (*Table, error) {
	tb := &tableBuilder{maxRows: maxRows, byName: map[string]int{}}
	if maxRows > 0 && maxRows <= maxPreallocRows {
		tb.capacity = maxRows // callers that know the row count pass it: no regrowing
	}
	err := readAll(ctx, r, func(b *Batch, _ int64) error { return tb.add(b) })
	if err != nil {
		return nil, err
	}
	return tb.table(), nil
}

// maxPreallocRows bounds the rows ReadTable reserves room for up front.
const maxPreallocRows = 1 << 22

type tableBuilder struct {
	maxRows  int
	capacity int // rows to reserve per column
	rows     int
	cols     []*columnBuilder
	byName   map[string]int
}

type columnBuilder struct {
	name        string
	flags       typeFlags
	kinds       []CellKind
	nums        []float64
	strs        []string // one per row from spelledFrom, once the column is a string column
	spelledFrom int
	intern      map[string]string
}

func (tb *tableBuilder) add(b *Batch) error {
	if tb.maxRows > 0 && tb.rows+b.Rows > tb.maxRows {
		return fmt.Errorf("%w: more than %d rows", ErrTooManyRows, tb.maxRows)
	}
	cols := make([]*columnBuilder, len(b.Columns))
	for j := range b.Columns {
		cols[j] = tb.column(b.Names[j])
	}
	parallelFor(len(cols), runtime.GOMAXPROCS(0), func(j int) {
		cols[j].add(&b.Columns[j], b.Rows)
	})
	tb.rows += b.Rows
	return nil
}

// column returns the named column's builder; a new one holds nulls for the
// rows already read.
func (tb *tableBuilder) column(name string) *columnBuilder {
	if i, ok := tb.byName[name]; ok {
		return tb.cols[i]
	}
	c := &columnBuilder{name: name, intern: map[string]string{},
		kinds: make([]CellKind, 0, tb.capacity), nums: make([]float64, 0, tb.capacity)}
	for range tb.rows {
		c.kinds = append(c.kinds, CellNull)
		c.nums = append(c.nums, math.NaN())
	}
	tb.byName[name] = len(tb.cols)
	tb.cols = append(tb.cols, c)
	return c
}

// add appends a batch. Once the column is a string column, every value is
// kept as the input spelled it, as pandas keeps "1" and "1.0" apart in an
// object column; values of earlier batches, read while the column held only
// numbers or booleans, take their canonical spelling.
func (c *columnBuilder) add(col *BatchColumn, rows int) {
	kinds, values := col.Cells()
	for _, k := range kinds[:rows] {
		c.flags = c.flags.see(k)
	}
	if c.strs == nil && c.flags.Type() == TypeString {
		c.spelledFrom = len(c.kinds)
		c.strs = make([]string, len(c.kinds), cap(c.kinds))
	}
	for i := range rows {
		k := kinds[i]
		c.kinds = append(c.kinds, k)
		c.nums = append(c.nums, values[i])
		if c.strs != nil {
			s := ""
			if k != CellNull {
				s = c.internText(CellText(col, i, k, values[i]))
			}
			c.strs = append(c.strs, s)
		}
	}
}

// CellText returns the text of a batch's cell as the input spelled it (CSV),
// or the value's canonical spelling when the input gave a typed value (JSON,
// Parquet).
func CellText(col *BatchColumn, i int, k CellKind, v float64) []byte {
	if t := col.Text(i); len(t) > 0 || k == CellString {
		return t
	}
	switch k {
	case CellBool:
		return []byte(BoolValue(v != 0).String())
	case CellInt:
		return strconv.AppendFloat(nil, v, 'f', -1, 64)
	}
	return []byte(NumberValue(v).String())
}

func (c *columnBuilder) internText(b []byte) string {
	if s, ok := c.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(c.intern) < DefaultExactDistinct {
		c.intern[s] = s
	}
	return s
}

func (tb *tableBuilder) table() *Table {
	t := &Table{Rows: tb.rows, Columns: make([]*Column, len(tb.cols))}
	parallelFor(len(tb.cols), runtime.GOMAXPROCS(0), func(j int) {
		t.Columns[j] = tb.cols[j].column()
	})
	return t
}

func (c *columnBuilder) column() *Column {
	typ := c.flags.Type()
	out := &Column{Field: Field{Name: c.name, Type: typ}}
	if typ != TypeString {
		out.Floats = c.nums
		out.settle()
		return out
	}
	out.Strings = make([]string, len(c.kinds))
	for i, k := range c.kinds {
		switch {
		case k == CellNull:
		case k == CellString || i >= c.spelledFrom:
			out.Strings[i] = c.strs[i]
			continue
		}
		switch k {
		case CellNull:
			if out.Missing == nil {
				out.Missing = make([]bool, len(c.kinds))
			}
			out.Missing[i] = true
		case CellBool:
			out.Strings[i] = BoolValue(c.nums[i] != 0).String()
		case CellInt:
			out.Strings[i] = strconv.FormatFloat(c.nums[i], 'f', -1, 64)
		default:
			out.Strings[i] = NumberValue(c.nums[i]).String()
		}
	}
	out.settle()
	return out
}
