package drift

import (
	"math"
	"math/big"
)

// Text drift's classifier amplifies the last bit of its inputs, so the
// logarithms in the TF-IDF weights must be the ones numpy takes (glibc's,
// correctly rounded for all but a handful of inputs), not math.Log's, which
// can be an ulp off. roundedLog computes ln x to 200 bits and rounds once;
// the arguments (counts and ratios of document counts) repeat, so a
// vectorizer remembers them (logCache).

var (
	ln2 = mustFloat("0.69314718055994530941723212145817656807550013436025525412068000949339362196969471560586332699641868754200148102057068573368552023575813055703267075163507596193072757082837143519030703862389167347112335")
)

const logPrec = 200

func mustFloat(s string) *big.Float {
	f, _, err := big.ParseFloat(s, 10, logPrec, big.ToNearestEven)
	if err != nil {
		panic(err)
	}
	return f
}

// roundedLog returns the natural logarithm of x > 0 correctly rounded.
func roundedLog(x float64) float64 {
	if x <= 0 || math.IsInf(x, 0) || math.IsNaN(x) {
		return math.Log(x)
	}
	frac, exp := math.Frexp(x)
	if frac < math.Sqrt2/2 {
		frac, exp = frac*2, exp-1
	}
	// ln frac = 2 atanh(s), s = (frac-1)/(frac+1), |s| < 0.172
	f := new(big.Float).SetPrec(logPrec).SetFloat64(frac)
	one := new(big.Float).SetPrec(logPrec).SetInt64(1)
	s := new(big.Float).SetPrec(logPrec).Quo(new(big.Float).SetPrec(logPrec).Sub(f, one), new(big.Float).SetPrec(logPrec).Add(f, one))
	s2 := new(big.Float).SetPrec(logPrec).Mul(s, s)
	sum := new(big.Float).SetPrec(logPrec).Set(s)
	power := new(big.Float).SetPrec(logPrec).Set(s)
	term := new(big.Float).SetPrec(logPrec)
	for k := int64(3); ; k += 2 {
		power.Mul(power, s2)
		term.Quo(power, new(big.Float).SetPrec(logPrec).SetInt64(k))
		if term.Sign() == 0 || term.MantExp(nil)-sum.MantExp(nil) < -logPrec {
			break
		}
		sum.Add(sum, term)
	}
	sum.Mul(sum, new(big.Float).SetPrec(logPrec).SetInt64(2))
	sum.Add(sum, new(big.Float).SetPrec(logPrec).Mul(ln2, new(big.Float).SetPrec(logPrec).SetInt64(int64(exp))))
	v, _ := sum.Float64()
	return v
}

// logCache remembers roundedLog's results for one vectorizer.
type logCache map[float64]float64

func (c logCache) log(x float64) float64 {
	v, ok := c[x]
	if !ok {
		v = roundedLog(x)
		c[x] = v
	}
	return v
}
