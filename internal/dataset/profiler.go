package dataset

import (
	"context"
	"math"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"
)

// ProfileOptions tune the sketches; the zero value gives the defaults.
type ProfileOptions struct {
	QuantileK     int // accuracy of the quantile sketch; DefaultKLLK when 0
	ExactDistinct int // distinct values counted exactly; DefaultExactDistinct when 0
	TopCapacity   int // counters of the frequent-items sketch; DefaultTopCapacity when 0
	Workers       int // columns profiled in parallel; GOMAXPROCS when 0
	// RejectMixed makes ProfileReader fail, naming the line, at the first value
	// whose type disagrees with the values before it in its column (a word among
	// numbers, a number among words). Without it the column becomes a string column.
	RejectMixed bool
}

func (o *ProfileOptions) withDefaults() ProfileOptions {
	var d ProfileOptions
	if o != nil {
		d = *o
	}
	if d.QuantileK <= 0 {
		d.QuantileK = DefaultKLLK
	}
	if d.ExactDistinct <= 0 {
		d.ExactDistinct = DefaultExactDistinct
	}
	if d.TopCapacity <= 0 {
		d.TopCapacity = DefaultTopCapacity
	}
	if d.Workers <= 0 {
		d.Workers = runtime.GOMAXPROCS(0)
	}
	return d
}

// Profiler builds a [Profile] from batches of a reader or from columns handed
// over by a caller (the serving payload log adds each window's tensors with
// AddFloats and friends), so files and live traffic are profiled by the same
// code. A Profiler is not safe for concurrent use; AddBatch spreads the
// columns of a batch over several goroutines itself.
type Profiler struct {
	opts   ProfileOptions
	rows   int64
	cols   []*columnProfiler
	byName map[string]int
}

// NewProfiler returns an empty profiler.
func NewProfiler(opts *ProfileOptions) *Profiler {
	return &Profiler{opts: opts.withDefaults(), byName: map[string]int{}}
}

type columnProfiler struct {
	ColumnProfile
	scratch []float64
	mixed   *InputError // the first value of another type, under RejectMixed
}

func (p *Profiler) column(name string) *columnProfiler {
	if i, ok := p.byName[name]; ok {
		return p.cols[i]
	}
	c := &columnProfiler{ColumnProfile: ColumnProfile{
		Name:   name,
		kll:    NewKLL(p.opts.QuantileK),
		values: newValueCounter(p.opts.ExactDistinct, p.opts.TopCapacity),
	}}
	p.byName[name] = len(p.cols)
	p.cols = append(p.cols, c)
	return c
}

// AddBatch folds a batch in, its columns in parallel.
func (p *Profiler) AddBatch(b *Batch) {
	cols := make([]*columnProfiler, len(b.Columns))
	for i := range b.Columns {
		cols[i] = p.column(b.Names[i])
	}
	parallelFor(len(cols), p.opts.Workers, func(i int) {
		cols[i].addBatchColumn(&b.Columns[i], b.Rows, b.FirstLine, p.opts.RejectMixed)
	})
	p.rows += int64(b.Rows)
}

// mixed returns the first value of another type in a column, under RejectMixed.
func (p *Profiler) mixed() error {
	var first *InputError
	for _, c := range p.cols {
		if c.mixed != nil && (first == nil || c.mixed.Line < first.Line) {
			first = c.mixed
		}
	}
	if first == nil {
		return nil
	}
	return first
}

func (c *columnProfiler) addBatchColumn(col *BatchColumn, rows int, firstLine int64, rejectMixed bool) {
	kinds, values := col.Cells()
	if c.addNumericBatch(kinds[:rows], values[:rows]) {
		return
	}
	nums := c.scratch[:0]
	spelled := c.stringBatch(kinds[:rows], rejectMixed)
	for i := range rows {
		k := kinds[i]
		if rejectMixed && c.mixed == nil && k != CellNull && c.flags.conflicts(k) {
			c.mixed = &InputError{Line: firstLine + int64(i), Column: c.Name, Err: mixedError(c.flags, k, col, i)}
		}
		c.flags = c.flags.see(k)
		switch {
		case k == CellNull:
			c.Nulls++
			continue
		case k == CellString || spelled:
			text := CellText(col, i, k, values[i])
			c.values.addString(text)
			c.texts.add(text)
		case k == CellBool:
			c.values.addBool(values[i] != 0)
		default:
			v := values[i]
			if math.IsInf(v, 0) {
				c.Infinite++
			} else {
				nums = append(nums, v)
			}
		}
		c.Count++
	}
	c.addNumbers(nums)
	c.scratch = nums
}

// stringBatch reports whether the column is a string column once the batch
// is in: its numbers and booleans are then counted as the input spelled
// them, as pandas keeps "1" and "1.0" apart in an object column. Those of
// earlier batches, counted as values, take their canonical spelling when the
// counts are read (see ColumnProfile.ValueCounts).
func (c *columnProfiler) stringBatch(kinds []CellKind, rejectMixed bool) bool {
	if rejectMixed {
		return false
	}
	f := c.flags
	for _, k := range kinds {
		f = f.see(k)
	}
	return f.Type() == TypeString
}

// addNumericBatch adds a batch that holds only numbers and missing values to a
// column that has held nothing else, the common case, and reports whether it
// did; otherwise it leaves the batch to the general loop. No value can then
// disagree with the column's type.
func (c *columnProfiler) addNumericBatch(kinds []CellKind, values []float64) bool {
	if c.flags&^(sawInt|sawFloat) != 0 {
		return false
	}
	var seen uint8
	for _, k := range kinds {
		seen |= 1 << k
	}
	if seen&^(1<<CellNull|1<<CellInt|1<<CellFloat) != 0 {
		return false
	}
	if seen&(1<<CellInt) != 0 {
		c.flags |= sawInt
	}
	if seen&(1<<CellFloat) != 0 {
		c.flags |= sawFloat
	}
	nums, nulls := values, 0
	if seen != 1<<CellInt && seen != 1<<CellFloat && seen != 1<<CellInt|1<<CellFloat || hasInf(values) {
		nums = c.scratch[:0]
		for i, v := range values {
			switch {
			case kinds[i] == CellNull:
				nulls++
			case math.IsInf(v, 0):
				c.Infinite++
			default:
				nums = append(nums, v)
			}
		}
		c.scratch = nums
	}
	c.Nulls += int64(nulls)
	c.Count += int64(len(values) - nulls)
	c.addNumbers(nums)
	return true
}

func hasInf(values []float64) bool {
	for _, v := range values {
		if math.IsInf(v, 0) {
			return true
		}
	}
	return false
}

// addNumbers adds finite numbers to the statistics and value counts.
func (c *columnProfiler) addNumbers(nums []float64) {
	c.values.addNumbers(nums)
	c.numbers.addChunk(nums)
	c.kll.UpdateMany(nums)
}

// AddFloats adds float values to the named column; NaN is a missing value.
func (p *Profiler) AddFloats(name string, values []float64) {
	p.addNumbers(name, values, CellFloat)
}

// AddInts adds integer values to the named column.
func (p *Profiler) AddInts(name string, values []int64) {
	c := p.column(name)
	nums := c.scratch[:0]
	for _, v := range values {
		nums = append(nums, float64(v))
	}
	c.scratch = nums
	p.addNumbers(name, nums, CellInt)
}

func (p *Profiler) addNumbers(name string, values []float64, kind CellKind) {
	c := p.column(name)
	finite := make([]float64, 0, len(values))
	for _, v := range values {
		switch {
		case math.IsNaN(v):
			c.Nulls++
			continue
		case math.IsInf(v, 0):
			c.Infinite++
		default:
			finite = append(finite, v)
		}
		c.flags = c.flags.see(kind)
		c.Count++
	}
	c.addNumbers(finite)
	p.grow(c)
}

// AddStrings adds string values to the named column.
func (p *Profiler) AddStrings(name string, values []string) {
	c := p.column(name)
	for _, s := range values {
		b := unsafe.Slice(unsafe.StringData(s), len(s)) // read, never kept
		c.values.addString(b)
		c.texts.add(b)
	}
	if len(values) > 0 {
		c.flags = c.flags.see(CellString)
	}
	c.Count += int64(len(values))
	p.grow(c)
}

// AddBools adds boolean values to the named column.
func (p *Profiler) AddBools(name string, values []bool) {
	c := p.column(name)
	for _, b := range values {
		c.values.addBool(b)
	}
	if len(values) > 0 {
		c.flags = c.flags.see(CellBool)
	}
	c.Count += int64(len(values))
	p.grow(c)
}

// AddNulls adds n missing values to the named column.
func (p *Profiler) AddNulls(name string, n int) {
	c := p.column(name)
	c.Nulls += int64(n)
	p.grow(c)
}

// grow keeps the row count at the length of the longest column.
func (p *Profiler) grow(c *columnProfiler) {
	p.rows = max(p.rows, c.Count+c.Nulls)
}

// Profile returns the profile of everything added so far. The profiler can
// go on; the profile is an independent copy. Columns shorter than the longest
// one are padded with missing values.
func (p *Profiler) Profile() *Profile {
	out := &Profile{Rows: p.rows, Columns: make([]*ColumnProfile, len(p.cols))}
	for i, c := range p.cols {
		col := c.ColumnProfile.clone()
		col.Nulls += p.rows - (col.Count + col.Nulls)
		col.settle()
		out.Columns[i] = col
	}
	return out
}

// ProfileReader profiles everything r yields. progress, when not nil, is
// called after each batch with the number of input bytes read so far.
func ProfileReader(ctx context.Context, r Reader, opts *ProfileOptions, progress func(bytesRead int64)) (*Profile, error) {
	p := NewProfiler(opts)
	if err := p.addReader(ctx, r, progress); err != nil {
		return nil, err
	}
	return p.Profile(), nil
}

// readAll reads r to the end, reading the next batch while fn handles the
// current one.
func readAll(ctx context.Context, r Reader, fn func(b *Batch, bytesRead int64) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	free := make(chan *Batch, 2)
	free <- new(Batch)
	free <- new(Batch)
	full := make(chan filledBatch)
	errc := make(chan error, 1)
	go func() {
		defer close(full)
		errc <- fillBatches(ctx, r, free, full)
	}()
	for f := range full {
		if err := fn(f.batch, f.bytesRead); err != nil {
			cancel()
			for range full {
			}
			return err
		}
		free <- f.batch
	}
	if err := <-errc; !isEOF(err) {
		return err
	}
	return nil
}

type filledBatch struct {
	batch     *Batch
	bytesRead int64
}

// fillBatches reads into the free batches and hands them over full, until the
// reader fails or reaches the end (io.EOF).
func fillBatches(ctx context.Context, r Reader, free <-chan *Batch, full chan<- filledBatch) error {
	for {
		var b *Batch
		select {
		case b = <-free:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := r.Read(ctx, b); err != nil {
			return err
		}
		select {
		case full <- filledBatch{b, r.BytesRead()}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// parallelFor calls fn(0..n-1) on up to workers goroutines.
func parallelFor(n, workers int, fn func(i int)) {
	workers = min(workers, n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

// uniqueName returns pandas' name for an unnamed column.
func unnamedColumn(i int) string { return "Unnamed: " + strconv.Itoa(i) }
