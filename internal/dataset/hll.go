package dataset

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
)

// hllPrecision is log2 of the number of HyperLogLog registers: 4096 registers
// of one byte give a relative standard error of about 1.04/sqrt(4096) = 1.6%.
const hllPrecision = 12

// HLL is a HyperLogLog distinct-count sketch over 64-bit hashes (Flajolet et
// al. 2007), estimated with Ertl's improved estimator ("New cardinality
// estimation algorithms for HyperLogLog sketches", 2017), which needs no bias
// tables and is accurate from small to large counts. Two sketches merge by
// taking the larger register.
type HLL struct {
	p         uint8
	registers []uint8
}

// NewHLL returns an empty sketch with 2^12 registers.
func NewHLL() *HLL {
	return &HLL{p: hllPrecision, registers: make([]uint8, 1<<hllPrecision)}
}

// Add records a 64-bit hash of a value.
func (h *HLL) Add(hash uint64) {
	idx := hash >> (64 - h.p)
	rest := hash<<h.p | 1<<(h.p-1) // the guard bit caps the rank at 64-p+1
	rank := uint8(bits.LeadingZeros64(rest)) + 1
	if rank > h.registers[idx] {
		h.registers[idx] = rank
	}
}

// Merge folds o into h.
func (h *HLL) Merge(o *HLL) {
	for i, r := range o.registers {
		if r > h.registers[i] {
			h.registers[i] = r
		}
	}
}

// Clone returns an independent copy.
func (h *HLL) Clone() *HLL {
	return &HLL{p: h.p, registers: append([]uint8(nil), h.registers...)}
}

// Estimate returns the estimated number of distinct hashes added.
func (h *HLL) Estimate() float64 {
	m := float64(len(h.registers))
	q := 64 - int(h.p)
	counts := make([]float64, q+2)
	for _, r := range h.registers {
		counts[r]++
	}
	z := m * hllTau(1-counts[q+1]/m)
	for k := q; k >= 1; k-- {
		z = 0.5 * (z + counts[k])
	}
	z += m * hllSigma(counts[0]/m)
	return m * m / (2 * math.Ln2) / z
}

func hllSigma(x float64) float64 {
	if x == 1 {
		return math.Inf(1)
	}
	y, z := 1.0, x
	for {
		x *= x
		prev := z
		z += x * y
		y += y
		if z == prev {
			return z
		}
	}
}

func hllTau(x float64) float64 {
	if x == 0 || x == 1 {
		return 0
	}
	y, z := 1.0, 1-x
	for {
		x = math.Sqrt(x)
		prev := z
		y *= 0.5
		z -= (1 - x) * (1 - x) * y
		if z == prev {
			return z / 3
		}
	}
}

type hllJSON struct {
	P         uint8  `json:"p"`
	Registers string `json:"registers"`
}

// MarshalJSON writes the registers as base64.
func (h *HLL) MarshalJSON() ([]byte, error) {
	return json.Marshal(hllJSON{P: h.p, Registers: base64.StdEncoding.EncodeToString(h.registers)})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (h *HLL) UnmarshalJSON(data []byte) error {
	var dec hllJSON
	if err := json.Unmarshal(data, &dec); err != nil {
		return err
	}
	regs, err := base64.StdEncoding.DecodeString(dec.Registers)
	if err != nil || dec.P != hllPrecision || len(regs) != 1<<hllPrecision {
		return fmt.Errorf("%w: hyperloglog with p=%d and %d registers", ErrBadProfileFormat, dec.P, len(regs))
	}
	for _, r := range regs {
		if int(r) > 64-hllPrecision+1 {
			return fmt.Errorf("%w: hyperloglog register %d out of range", ErrBadProfileFormat, r)
		}
	}
	*h = HLL{p: dec.P, registers: regs}
	return nil
}
