package dataset

import (
	"encoding/binary"
	"math"
	"slices"
	"unsafe"
)

// CellKind is the type of one cell as read.
type CellKind uint8

// Cell kinds.
const (
	CellNull CellKind = iota
	CellBool
	CellInt
	CellFloat
	CellString
)

// Batch is a chunk of rows in column-major form, filled by [Reader.Read]. A
// reader reuses a batch's memory on the next Read into it: copy what must
// outlive it.
type Batch struct {
	Names     []string // column names, shared with the reader: do not modify
	Rows      int
	FirstLine int64 // line (CSV, JSON lines) or row (Parquet) of the first row, 1-based
	Columns   []BatchColumn

	textBytes int // bytes held in all columns' text arenas
}

// BatchColumn holds one column of a batch. CSV readers store the fields'
// text and leave classifying it to the consumer (in parallel, a column per
// goroutine); Cells does it on first use.
type BatchColumn struct {
	kinds []CellKind // one per row
	nums  []float64  // one per row: the value of bool (0 or 1), integer and float cells
	text  []byte     // cells' bytes, back to back
	ends  []uint32   // one per row: end of the row's bytes in text
	raw   bool       // text not classified yet
}

// Len returns the number of rows.
func (c *BatchColumn) Len() int { return len(c.ends) }

// Cells returns each row's kind and, for bool (0 or 1), integer and float
// cells, its value. The slices alias the batch's memory.
func (c *BatchColumn) Cells() (kinds []CellKind, nums []float64) {
	if c.raw {
		c.classify()
	}
	return c.kinds, c.nums
}

// Text returns the bytes of row i, a CellString cell. The slice aliases the
// batch's memory.
func (c *BatchColumn) Text(i int) []byte {
	start := uint32(0)
	if i > 0 {
		start = c.ends[i-1]
	}
	return c.text[start:c.ends[i]]
}

// classify parses the text of every row as a CSV field.
func (c *BatchColumn) classify() {
	c.raw = false
	n := len(c.ends)
	c.kinds, c.nums = slices.Grow(c.kinds[:0], n)[:n], slices.Grow(c.nums[:0], n)[:n]
	kinds, nums, text := c.kinds, c.nums, c.text
	start := uint32(0)
	for i, end := range c.ends {
		k, v := parseCell(unsafeString(text[start:end]))
		if k == CellString || k == CellNull {
			v = math.NaN()
		}
		kinds[i], nums[i] = k, v
		start = end
	}
}

// reset empties the batch for n columns, keeping its memory.
func (b *Batch) reset(names []string) {
	b.Names = names
	b.Rows = 0
	b.textBytes = 0
	b.ensureColumns(len(names))
	for i := range b.Columns {
		c := &b.Columns[i]
		c.kinds, c.nums, c.text, c.ends, c.raw = c.kinds[:0], c.nums[:0], c.text[:0], c.ends[:0], false
	}
}

// ensureColumns grows the batch to n columns; new columns hold nulls for the
// rows already in the batch.
func (b *Batch) ensureColumns(n int) {
	for len(b.Columns) < n {
		b.Columns = append(b.Columns, BatchColumn{})
		c := &b.Columns[len(b.Columns)-1]
		for range b.Rows {
			c.appendNull()
		}
	}
}

func (c *BatchColumn) appendNull() {
	c.kinds = append(c.kinds, CellNull)
	c.nums = append(c.nums, math.NaN())
	c.ends = append(c.ends, uint32(len(c.text)))
}

func (c *BatchColumn) appendNumber(k CellKind, v float64) {
	c.kinds = append(c.kinds, k)
	c.nums = append(c.nums, v)
	c.ends = append(c.ends, uint32(len(c.text)))
}

func (c *BatchColumn) appendText(s string) {
	c.kinds = append(c.kinds, CellString)
	c.nums = append(c.nums, math.NaN())
	c.text = append(c.text, s...)
	c.ends = append(c.ends, uint32(len(c.text)))
}

// appendRaw appends a CSV field to classify later.
func (c *BatchColumn) appendRaw(field []byte) {
	c.raw = true
	n := len(c.text)
	if len(field) <= 16 && cap(field) >= 16 && cap(c.text)-n >= 16 {
		// Most fields are short: two word moves, whatever follows the field
		// in its buffer landing past the end of text, beat a call to memmove.
		dst := c.text[n : n+16 : n+16]
		src := field[:16:16]
		binary.LittleEndian.PutUint64(dst, binary.LittleEndian.Uint64(src))
		binary.LittleEndian.PutUint64(dst[8:], binary.LittleEndian.Uint64(src[8:]))
		c.text = c.text[:n+len(field)]
	} else {
		c.text = append(c.text, field...)
	}
	c.ends = append(c.ends, uint32(len(c.text)))
}

// unsafeString views b as a string without copying; the string must not
// outlive b's next modification.
func unsafeString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
