package tensorjson

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
)

// Decode fills t.Data, or t.Strings for BYTES, from data: the tensor's elements as a
// JSON array, either flat or nested exactly as t.Shape spells it (a rank-0 tensor may
// also be a bare scalar). t.Name, t.Datatype and t.Shape must be set and valid.
//
// Elements must suit the datatype: true or false for BOOL; integers in range for the
// integer types (1.0 and 1e2 are integers; 1.5 is not); numbers in range for the float
// types, rounded to nearest (NaN, Infinity and -Infinity are allowed); strings for
// BYTES. BYTES elements alias the document when they hold no escapes.
func Decode(t *runtime.Tensor, data Value) error {
	n := runtime.Elements(t.Shape)
	if n < 0 {
		return fault.Invalidf("input %q: invalid shape %v", t.Name, t.Shape)
	}
	from, to, err := elementNodes(t, data, n)
	if err != nil {
		return err
	}
	d := elements{t: t, doc: data.d, from: from, to: to}
	switch dt := t.Datatype; {
	case dt == runtime.Bytes:
		return d.strings(int(n))
	case dt == runtime.Bool:
		return d.bools(int(n))
	case dt == runtime.FP64 || dt == runtime.FP32:
		return d.floats(int(n))
	case dt == runtime.FP16 || dt == runtime.BF16:
		return d.minifloats(int(n))
	case signedBits[dt] > 0:
		return d.signed(int(n), signedBits[dt])
	case unsignedBits[dt] > 0:
		return d.unsigned(int(n), unsignedBits[dt])
	}
	return fault.Invalidf("input %q: unknown datatype %q", t.Name, t.Datatype)
}

var (
	signedBits   = map[runtime.Datatype]int{runtime.Int8: 8, runtime.Int16: 16, runtime.Int32: 32, runtime.Int64: 64}
	unsignedBits = map[runtime.Datatype]int{runtime.Uint8: 8, runtime.Uint16: 16, runtime.Uint32: 32, runtime.Uint64: 64}
)

// elementNodes checks that data spells a tensor of t's shape with n elements, and
// returns the range of node indexes holding them: scalars in row-major order, with the
// arrays of a nested spelling in between.
func elementNodes(t *runtime.Tensor, data Value, n int64) (from, to int32, err error) {
	switch {
	case data.Kind() == Missing:
		return 0, 0, fault.Invalidf("input %q has no data", t.Name)
	case !data.IsContainer() && len(t.Shape) == 0:
		return data.i, data.i + 1, nil
	case data.Kind() != Array:
		return 0, 0, fault.Invalidf("input %q: data must be an array, not %s", t.Name, Describe(data))
	}
	from, to = data.i+1, data.node().next
	if data.Len() > 0 && data.d.nodes[from].kind == Array {
		return from, to, checkNesting(data, t.Shape, fmt.Sprintf("input %q", t.Name))
	}
	if int(to-from) != data.Len() {
		return 0, 0, fault.Invalidf("input %q: data mixes nested arrays and elements", t.Name)
	}
	if int64(data.Len()) != n {
		return 0, 0, fault.Invalidf("input %q: shape %v needs %d elements, data has %d", t.Name, t.Shape, n, data.Len())
	}
	return from, to, nil
}

// checkNesting checks that v is nested exactly as shape says: an array of shape[0]
// arrays of shape[1] ... of scalars.
func checkNesting(v Value, shape []int64, what string) error {
	return walkNesting(v, shape, shape, make([]int, 0, len(shape)+1), what)
}

// checkRowNesting checks that row i of a tensor of the given shape is nested as the
// shape says.
func checkRowNesting(row Value, i int, shape []int64, what string) error {
	return walkNesting(row, shape[1:], shape, append(make([]int, 0, len(shape)+1), i), what)
}

// walkNesting checks v against the dimensions dims of shape; path, the indexes that
// lead to v, names it in errors.
func walkNesting(v Value, dims, shape []int64, path []int, what string) error {
	if len(dims) == 0 {
		if v.IsContainer() {
			return fault.Invalidf("%s: data%s is %s, nested deeper than shape %v", what, indexPath(path), Describe(v), shape)
		}
		return nil
	}
	if v.Kind() != Array {
		return fault.Invalidf("%s: data%s is %s where shape %v needs an array", what, indexPath(path), Describe(v), shape)
	}
	if int64(v.Len()) != dims[0] {
		return fault.Invalidf("%s: data%s has %d elements where shape %v needs %d", what, indexPath(path), v.Len(), shape, dims[0])
	}
	k := 0
	for e := range v.Elems() {
		if len(dims) > 1 || e.IsContainer() {
			if err := walkNesting(e, dims[1:], shape, append(path, k), what); err != nil {
				return err
			}
		}
		k++
	}
	return nil
}

func indexPath(path []int) string {
	var b strings.Builder
	for _, i := range path {
		fmt.Fprintf(&b, "[%d]", i)
	}
	return b.String()
}

// Describe names a value for an error message: a number as written, a string quoted
// (cut at 32 bytes), otherwise its kind.
func Describe(v Value) string {
	switch v.Kind() {
	case Number:
		return string(v.Text())
	case String:
		s := v.Str()
		if len(s) > 32 {
			s = s[:32] + "..."
		}
		return "the string " + strconv.Quote(s)
	case Array:
		return "an array"
	case Object:
		return "an object"
	case Missing:
		return "missing"
	}
	return v.Kind().String()
}

// elements converts the scalar nodes from..to of a document into a tensor's elements.
type elements struct {
	t        *runtime.Tensor
	doc      *Doc
	from, to int32
}

// each calls fn for every scalar node in order, with its element index.
func (d *elements) each(fn func(k int, nd *node) error) error {
	k := 0
	nodes := d.doc.nodes
	for i := d.from; i < d.to; i++ {
		nd := &nodes[i]
		if nd.kind == Array {
			continue
		}
		if err := fn(k, nd); err != nil {
			return err
		}
		k++
	}
	return nil
}

func (d *elements) text(nd *node) []byte { return d.doc.src[nd.start:nd.aux] }

// value is the Value of a scalar node, whose next node is the one after it.
func (d *elements) value(nd *node) Value { return Value{d: d.doc, i: nd.next - 1} }

func (d *elements) errorf(k int, nd *node, problem string) error {
	return fault.Invalidf("input %q: element %d: %s %s", d.t.Name, k, Describe(d.value(nd)), problem)
}

func (d *elements) strings(n int) error {
	out := make([][]byte, n)
	err := d.each(func(k int, nd *node) error {
		if nd.kind != String {
			return d.errorf(k, nd, "is not a string; BYTES elements must be strings")
		}
		out[k] = d.value(nd).Bytes()
		return nil
	})
	d.t.Strings = out
	return err
}

func (d *elements) bools(n int) error {
	out := make([]byte, n)
	err := d.each(func(k int, nd *node) error {
		switch nd.kind {
		case True:
			out[k] = 1
		case False:
		default:
			return d.errorf(k, nd, "is not a boolean; BOOL elements must be true or false")
		}
		return nil
	})
	d.t.Data = out
	return err
}

// number returns the text of a number node, or an error naming what it is instead.
func (d *elements) number(k int, nd *node) ([]byte, error) {
	if nd.kind != Number {
		return nil, d.errorf(k, nd, fmt.Sprintf("is not a number; %s elements must be numbers", d.t.Datatype))
	}
	return d.text(nd), nil
}

func (d *elements) floats(n int) error {
	bits, size := 64, 8
	if d.t.Datatype == runtime.FP32 {
		bits, size = 32, 4
	}
	out := make([]byte, n*size)
	err := d.each(func(k int, nd *node) error {
		text, err := d.number(k, nd)
		if err != nil {
			return err
		}
		f, err := strconv.ParseFloat(string(text), bits)
		if err != nil {
			return d.errorf(k, nd, "is out of range for "+string(d.t.Datatype))
		}
		if bits == 32 {
			binary.LittleEndian.PutUint32(out[4*k:], math.Float32bits(float32(f)))
		} else {
			binary.LittleEndian.PutUint64(out[8*k:], math.Float64bits(f))
		}
		return nil
	})
	d.t.Data = out
	return err
}

func (d *elements) minifloats(n int) error {
	format := half
	if d.t.Datatype == runtime.BF16 {
		format = bfloat16
	}
	out := make([]byte, 2*n)
	err := d.each(func(k int, nd *node) error {
		text, err := d.number(k, nd)
		if err != nil {
			return err
		}
		f, err := strconv.ParseFloat(string(text), 64)
		bits, overflow := format.round(f)
		if err != nil || overflow {
			return d.errorf(k, nd, "is out of range for "+string(d.t.Datatype))
		}
		binary.LittleEndian.PutUint16(out[2*k:], bits)
		return nil
	})
	d.t.Data = out
	return err
}

func (d *elements) signed(n, bits int) error {
	out := make([]byte, n*bits/8)
	err := d.each(func(k int, nd *node) error {
		text, err := d.number(k, nd)
		if err != nil {
			return err
		}
		v, problem := parseSigned(text, nd.flags&flagFloat != 0, bits)
		if problem != ok {
			return d.errorf(k, nd, problem.message(d.t.Datatype))
		}
		putInteger(out, k, bits, uint64(v))
		return nil
	})
	d.t.Data = out
	return err
}

func (d *elements) unsigned(n, bits int) error {
	out := make([]byte, n*bits/8)
	err := d.each(func(k int, nd *node) error {
		text, err := d.number(k, nd)
		if err != nil {
			return err
		}
		v, problem := parseUnsigned(text, nd.flags&flagFloat != 0, bits)
		if problem != ok {
			return d.errorf(k, nd, problem.message(d.t.Datatype))
		}
		putInteger(out, k, bits, v)
		return nil
	})
	d.t.Data = out
	return err
}

func putInteger(out []byte, k, bits int, v uint64) {
	switch bits {
	case 8:
		out[k] = byte(v)
	case 16:
		binary.LittleEndian.PutUint16(out[2*k:], uint16(v))
	case 32:
		binary.LittleEndian.PutUint32(out[4*k:], uint32(v))
	default:
		binary.LittleEndian.PutUint64(out[8*k:], v)
	}
}

// intProblem is what is wrong with a number read as an integer.
type intProblem uint8

const (
	ok intProblem = iota
	notInteger
	outOfRange
)

func (p intProblem) message(dt runtime.Datatype) string {
	if p == notInteger {
		return fmt.Sprintf("is not an integer; %s elements must be integers", dt)
	}
	return fmt.Sprintf("is out of range for %s", dt)
}

// parseSigned reads a number as a signed integer of the given size. Numbers written
// with a fraction or an exponent are accepted when their value is an integer.
func parseSigned(text []byte, float bool, bits int) (int64, intProblem) {
	if !float {
		v, err := strconv.ParseInt(string(text), 10, bits)
		if err != nil {
			return 0, outOfRange
		}
		return v, ok
	}
	f, problem := integralFloat(text)
	if problem != ok {
		return 0, problem
	}
	limit := math.Ldexp(1, bits-1)
	if f < -limit || f >= limit {
		return 0, outOfRange
	}
	return int64(f), ok
}

// parseUnsigned reads a number as an unsigned integer of the given size, as
// parseSigned does.
func parseUnsigned(text []byte, float bool, bits int) (uint64, intProblem) {
	if !float {
		if text[0] == '-' {
			if v, err := strconv.ParseInt(string(text), 10, 64); err == nil && v == 0 {
				return 0, ok
			}
			return 0, outOfRange
		}
		v, err := strconv.ParseUint(string(text), 10, bits)
		if err != nil {
			return 0, outOfRange
		}
		return v, ok
	}
	f, problem := integralFloat(text)
	if problem != ok {
		return 0, problem
	}
	if f < 0 || f >= math.Ldexp(1, bits) {
		return 0, outOfRange
	}
	return uint64(f), ok
}

func integralFloat(text []byte) (float64, intProblem) {
	f, err := strconv.ParseFloat(string(text), 64)
	switch {
	case err != nil:
		return 0, outOfRange
	case math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f):
		return 0, notInteger
	}
	return f, ok
}
