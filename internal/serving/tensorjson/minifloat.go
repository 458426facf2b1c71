package tensorjson

import "math"

// minifloat is a binary floating-point format of 16 bits: IEEE 754 half precision, or
// bfloat16 (float32's exponent with a 7-bit fraction).
type minifloat struct {
	fracBits int // bits of the fraction
	emax     int // largest exponent, which is also the bias; the smallest is 1-emax
}

var (
	half     = minifloat{fracBits: 10, emax: 15}
	bfloat16 = minifloat{fracBits: 7, emax: 127}
)

// round rounds f to the nearest value of the format, ties to even, and returns its
// bits. overflow is true when a finite f rounds to infinity.
func (m minifloat) round(f float64) (bits uint16, overflow bool) {
	expMask := uint16(1<<(15-m.fracBits)-1) << m.fracBits
	var sign uint16
	if math.Signbit(f) {
		sign = 1 << 15
	}
	a := math.Abs(f)
	switch {
	case math.IsNaN(f):
		return sign | expMask | 1<<(m.fracBits-1), false
	case math.IsInf(f, 0):
		return sign | expMask, false
	case a == 0:
		return sign, false
	}
	emin := 1 - m.emax
	_, e := math.Frexp(a)
	e-- // a is in [2^e, 2^(e+1))
	if e < emin {
		// Subnormal: count units of 2^(emin-fracBits). Rounding up to 2^fracBits
		// units gives the smallest normal number, whose bits are the same count.
		units := math.RoundToEven(math.Ldexp(a, m.fracBits-emin))
		return sign | uint16(units), false
	}
	units := math.RoundToEven(math.Ldexp(a, m.fracBits-e)) // in [2^fracBits, 2^(fracBits+1)]
	if units == math.Ldexp(1, m.fracBits+1) {
		e++
		units /= 2
	}
	if e > m.emax {
		return sign | expMask, true
	}
	frac := uint16(units) - 1<<m.fracBits
	return sign | uint16(e+m.emax)<<m.fracBits | frac, false
}
