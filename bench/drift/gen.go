package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
)

// The generator writes the benchmark's CSV files: a reference table, a current table
// drawn from the same distributions except for a known shift in some columns, and a
// bigger file of reference rows for the registration figure. Everything is a function
// of the seed, the file and the row block, so the files are byte for byte the same on
// every run and whatever the number of goroutines that write them.

// family is the distribution of a generated column.
type family int

const (
	famNormal        family = iota // float, 4 decimals
	famLogNormal                   // float, 2 decimals, skewed
	famUniformInt                  // integer in [0, 100000): numerical (many distinct values)
	famExponential                 // float, 3 decimals
	famNormalMissing               // float, 3 decimals, 2% empty cells
	famLabel                       // string category, 3 to 60 categories, Zipf-like
	famSmallInt                    // integer 1 to 5: categorical (at most 10 distinct values)
	famBool                        // True / False: categorical
)

var familyNames = map[family]string{
	famNormal: "normal", famLogNormal: "lognormal", famUniformInt: "uniform int", famExponential: "exponential",
	famNormalMissing: "normal, 2% missing", famLabel: "labels", famSmallInt: "int 1..5", famBool: "boolean",
}

// shift is what the current file changes in a column.
type shift int

const (
	shiftNone   shift = iota
	shiftDrift        // far past the drift threshold: both tools must flag it
	shiftSubtle       // a real but small change, well under the threshold: neither may flag it
)

// column is one generated column.
type column struct {
	Name   string
	Family family
	Shift  shift
	Desc   string // the shift, in words

	mean, sd   float64   // normal families; the exponential's scale is mean
	labels     []string  // famLabel, famSmallInt
	cdf        []float64 // reference category probabilities, cumulative
	move       float64   // share of current values moved to the target category
	target     string    // the category they move to
	trueShare  float64   // famBool: share of True in the reference
	trueShift  float64   // famBool: share of True in the current data
	numScale   float64   // numeric shifts: multiply (1 = none)
	numOffset  float64   // numeric shifts: add
	numDecimal int
}

// labelCounts are the category counts of the label columns, in turn.
var labelCounts = []int{3, 6, 12, 25, 48, 60, 8, 16, 32, 4}

// schema is the generated table: its columns and which of them the current file shifts.
type schema struct {
	Columns []*column
}

// newSchema lays out cols columns: 70% numeric (rounded), the rest categorical. A
// quarter of the numeric columns and a third of the categorical ones drift; the next
// two numeric columns and the next categorical one get a subtle shift.
func newSchema(cols int) schema {
	nNum := int(math.Round(float64(cols) * 0.7))
	if cols > 1 {
		nNum = min(max(nNum, 1), cols-1)
	}
	nCat := cols - nNum
	var s schema
	driftNum, driftCat := max(1, nNum/4), max(1, (nCat+2)/3)
	for i := range nNum {
		s.Columns = append(s.Columns, numericColumn(i, shiftFor(i, driftNum, 2)))
	}
	for j := range nCat {
		s.Columns = append(s.Columns, categoricalColumn(j, shiftFor(j, driftCat, 1)))
	}
	return s
}

func shiftFor(i, drift, subtle int) shift {
	switch {
	case i < drift:
		return shiftDrift
	case i < drift+subtle:
		return shiftSubtle
	}
	return shiftNone
}

func numericColumn(i int, sh shift) *column {
	c := &column{Name: fmt.Sprintf("num_%02d", i), Family: family(i % 5), Shift: sh, numScale: 1}
	switch c.Family {
	case famNormal, famNormalMissing:
		c.mean, c.sd, c.numDecimal = float64(10*(i%7)), float64(1+i%4), 4
		if c.Family == famNormalMissing {
			c.numDecimal = 3
		}
	case famLogNormal:
		c.mean, c.sd, c.numDecimal = 3, 0.5, 2
	case famUniformInt:
		c.mean, c.sd = 50000, 100000/math.Sqrt(12)
	case famExponential:
		c.mean, c.numDecimal = float64(1+i%3), 3
	}
	c.setNumericShift(i)
	return c
}

// setNumericShift picks the change: for drift, half a standard deviation or more
// (Evidently's normed Wasserstein distance 0.3 to 0.7, threshold 0.1); for a subtle
// shift, 0.02 of a standard deviation or less.
func (c *column) setNumericShift(i int) {
	switch {
	case c.Shift == shiftNone:
		return
	case c.Shift == shiftSubtle && (c.Family == famLogNormal || c.Family == famExponential):
		c.numScale, c.Desc = 1.02, "x1.02"
	case c.Shift == shiftSubtle:
		c.numOffset, c.Desc = 0.02*c.sd, "+0.02 sd"
	case c.Family == famLogNormal:
		c.numScale, c.Desc = 1.3, "x1.3"
	case c.Family == famExponential:
		c.numScale, c.Desc = 1/0.6, "mean /0.6"
	case c.Family == famUniformInt:
		c.numOffset, c.Desc = 15000, "+15000 (0.52 sd)"
	case i%2 == 1 && c.Family == famNormal:
		c.numScale, c.Desc = 1.6, "sd x1.6"
	default:
		c.numOffset, c.Desc = 0.5*c.sd, "+0.5 sd"
	}
}

func categoricalColumn(j int, sh shift) *column {
	c := &column{Name: fmt.Sprintf("cat_%02d", j), Shift: sh}
	switch j % 5 {
	case 3:
		c.Family = famSmallInt
		c.labels = []string{"1", "2", "3", "4", "5"}
	case 4:
		c.Family, c.trueShare = famBool, 0.3
		c.trueShift = c.trueShare
	default:
		c.Family = famLabel
		n := labelCounts[(j/5*3+j%5)%len(labelCounts)]
		for k := range n {
			c.labels = append(c.labels, fmt.Sprintf("c%02d_%02d", j, k))
		}
	}
	if c.labels != nil {
		c.cdf = zipfCDF(len(c.labels))
		c.target = c.labels[len(c.labels)-1]
	}
	c.setCategoricalShift(j)
	return c
}

// setCategoricalShift: for drift, a third of the values move to the rarest category,
// a new category or the other boolean (Jensen-Shannon distance 0.16 to 0.36, threshold
// 0.1); for a subtle shift, 2% of them (0.01 to 0.06).
func (c *column) setCategoricalShift(j int) {
	switch {
	case c.Shift == shiftNone:
	case c.Family == famBool && c.Shift == shiftDrift:
		c.trueShift, c.Desc = 0.6, "True 30% -> 60%"
	case c.Family == famBool:
		c.trueShift, c.Desc = 0.31, "True 30% -> 31%"
	case c.Shift == shiftSubtle:
		c.move, c.Desc = 0.02, "2% -> "+c.target
	case j == 1:
		c.move, c.target, c.Desc = 0.2, fmt.Sprintf("c%02d_new", j), fmt.Sprintf("20%% -> new category c%02d_new", j)
	default:
		c.move, c.Desc = 0.35, "35% -> "+c.target
	}
}

// zipfCDF is the cumulative distribution with weights 1/k^0.8.
func zipfCDF(n int) []float64 {
	cdf := make([]float64, n)
	var sum float64
	for k := range n {
		sum += math.Pow(float64(k+1), -0.8)
		cdf[k] = sum
	}
	for k := range cdf {
		cdf[k] /= sum
	}
	cdf[n-1] = 1
	return cdf
}

// Drifted lists the columns the current file shifts past the threshold.
func (s schema) Drifted() []string {
	var out []string
	for _, c := range s.Columns {
		if c.Shift == shiftDrift {
			out = append(out, c.Name)
		}
	}
	return out
}

// appendCell writes one value of the column; current applies the column's shift.
func (c *column) appendCell(b []byte, rng *rand.Rand, current bool) []byte {
	switch c.Family {
	case famLabel, famSmallInt:
		if current && c.move > 0 && rng.Float64() < c.move {
			return append(b, c.target...)
		}
		return append(b, c.labels[pick(c.cdf, rng.Float64())]...)
	case famBool:
		p := c.trueShare
		if current {
			p = c.trueShift
		}
		if rng.Float64() < p {
			return append(b, "True"...)
		}
		return append(b, "False"...)
	case famNormalMissing:
		if rng.Float64() < 0.02 {
			return b
		}
	}
	x := c.draw(rng)
	if current {
		x = c.shifted(x)
	}
	if c.Family == famUniformInt {
		return strconv.AppendInt(b, int64(math.Floor(x)), 10)
	}
	return strconv.AppendFloat(b, x, 'f', c.numDecimal, 64)
}

// shifted applies the column's shift to a drawn value: about the mean for the normal
// families, about zero for the others (all positive).
func (c *column) shifted(x float64) float64 {
	// The float64 conversions keep architectures that fuse multiply-adds (arm64)
	// writing the same digits as amd64.
	if c.Family == famNormal || c.Family == famNormalMissing {
		return c.mean + float64((x-c.mean)*c.numScale) + c.numOffset
	}
	return float64(x*c.numScale) + c.numOffset
}

func (c *column) draw(rng *rand.Rand) float64 {
	switch c.Family {
	case famLogNormal:
		return math.Exp(c.mean + float64(c.sd*rng.NormFloat64()))
	case famUniformInt:
		return float64(rng.IntN(100000))
	case famExponential:
		return c.mean * rng.ExpFloat64()
	}
	return c.mean + float64(c.sd*rng.NormFloat64())
}

// pick returns the category of a uniform draw u from a cumulative distribution.
func pick(cdf []float64, u float64) int {
	for k, p := range cdf {
		if u < p {
			return k
		}
	}
	return len(cdf) - 1
}

// The files the generator writes; each has its own random stream.
const (
	fileReference = 1
	fileCurrent   = 2
	fileRegister  = 3
)

// blockRows is the number of rows drawn from one random stream: the unit of parallel
// generation.
const blockRows = 4096

// generatorSeed makes every file reproducible.
const generatorSeed = 0x6d6c73686970

// block renders n rows of block blockNo of a file (rows blockNo*blockRows on). Its
// random stream depends on the file and the block number only.
func (s schema) block(file, blockNo, n int) []byte {
	rng := rand.New(rand.NewPCG(generatorSeed, uint64(file)<<40|uint64(blockNo)))
	current := file == fileCurrent
	b := make([]byte, 0, n*len(s.Columns)*8)
	for range n {
		for k, c := range s.Columns {
			if k > 0 {
				b = append(b, ',')
			}
			b = c.appendCell(b, rng, current)
		}
		b = append(b, '\n')
	}
	return b
}

func (s schema) header() []byte {
	var b []byte
	for k, c := range s.Columns {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, c.Name...)
	}
	return append(b, '\n')
}

// writeRows writes the header and rows rows of a file to w, and returns the bytes
// written.
func (s schema) writeRows(w io.Writer, file int, rows int64) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	written, _ := bw.Write(s.header())
	n := int64(written)
	err := s.renderBlocks(file, rows, func(data []byte) (bool, error) {
		m, err := bw.Write(data)
		n += int64(m)
		return true, err
	})
	if err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// writeBytes writes the header and whole rows of a file until at least size bytes are
// written: the file ends at the first row boundary at or past size.
func (s schema) writeBytes(w io.Writer, file int, size int64) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	written, _ := bw.Write(s.header())
	n := int64(written)
	err := s.renderBlocks(file, math.MaxInt64, func(data []byte) (bool, error) {
		if n+int64(len(data)) > size {
			data = data[:cutAfter(data, size-n)]
		}
		m, err := bw.Write(data)
		n += int64(m)
		return n < size, err
	})
	if err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// cutAfter returns the length of data up to the end of the row that holds byte
// need-1: whole rows covering at least need bytes.
func cutAfter(data []byte, need int64) int {
	if need <= 0 {
		return 0
	}
	if i := bytes.IndexByte(data[need-1:], '\n'); i >= 0 {
		return int(need) + i
	}
	return len(data)
}

// renderBlocks renders the blocks of a file's first rows rows on every CPU and hands
// them to emit in order, until emit says stop or fails.
func (s schema) renderBlocks(file int, rows int64, emit func([]byte) (bool, error)) error {
	workers := max(1, runtime.GOMAXPROCS(0))
	queue := make(chan chan []byte, workers)
	stop := make(chan struct{})
	go func() {
		defer close(queue)
		for blockNo := 0; int64(blockNo)*blockRows < rows; blockNo++ {
			n := int(min(blockRows, rows-int64(blockNo)*blockRows))
			ch := make(chan []byte, 1)
			select {
			case queue <- ch:
			case <-stop:
				return
			}
			go func() { ch <- s.block(file, blockNo, n) }()
		}
	}()
	defer func() {
		close(stop)
		for ch := range queue { // let the renderers already started finish
			<-ch
		}
	}()
	for ch := range queue {
		more, err := emit(<-ch)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// writeFile writes a file with writeRows (rows > 0) or writeBytes into path.
func (s schema) writeFile(path string, file int, rows, size int64) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	var n int64
	if rows > 0 {
		n, err = s.writeRows(f, file, rows)
	} else {
		n, err = s.writeBytes(f, file, size)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}
