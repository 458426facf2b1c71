package drift

import "math"

// chi2SF is the chi-squared survival function with df degrees of freedom
// (scipy.special.chdtrc): the regularized upper incomplete gamma function
// Q(df/2, x/2). It is NaN for df <= 0, as scipy's is.
func chi2SF(df, x float64) float64 {
	if df <= 0 || math.IsNaN(x) {
		return math.NaN()
	}
	if x <= 0 {
		return 1
	}
	return gammaQ(df/2, x/2)
}

// gammaQ is the regularized upper incomplete gamma function Q(a, x) =
// Γ(a, x)/Γ(a): the power series of P = 1 - Q below x < a+1, Legendre's
// continued fraction (evaluated with Lentz's method) above, where Q is small
// and must keep its relative accuracy.
func gammaQ(a, x float64) float64 {
	switch {
	case math.IsInf(x, 1):
		return 0
	case x < a+1:
		return 1 - gammaSeries(a, x)
	}
	return gammaFraction(a, x)
}

// gammaPrefix is x^a e^-x / Γ(a), in logarithms.
func gammaPrefix(a, x float64) float64 {
	lg, _ := math.Lgamma(a)
	return math.Exp(a*math.Log(x) - x - lg)
}

func gammaSeries(a, x float64) float64 {
	ap, term := a, 1/a
	sum := term
	for range 100000 {
		ap++
		term *= x / ap
		sum += term
		if math.Abs(term) < math.Abs(sum)*1e-17 {
			break
		}
	}
	return sum * gammaPrefix(a, x)
}

func gammaFraction(a, x float64) float64 {
	const tiny = 1e-300
	b := x + 1 - a
	c := 1 / tiny
	d := 1 / b
	h := d
	for i := 1; i < 100000; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-16 {
			break
		}
	}
	return h * gammaPrefix(a, x)
}

// normalCDF is the standard normal CDF (scipy.stats.norm.cdf).
func normalCDF(z float64) float64 {
	return 0.5 * math.Erfc(-z/math.Sqrt2)
}
