package drift

import "math"

// The distribution of the two-sided one-sample Kolmogorov-Smirnov statistic
// D_n, as scipy.stats.kstwo computes it: Simard and L'Ecuyer's choice of
// method by n and n·d² ("Computing the Two-Sided Kolmogorov-Smirnov
// Distribution", 2011) between the Durbin matrix (as evaluated by Marsaglia,
// Tsang and Wang 2003), Pomeranz's recursion (1974), the Pelz-Good asymptotic
// series (1976) and twice the one-sided Smirnov tail. ks_2samp's asymptotic
// p-value is kstwo.sf(d, round(n1·n2/(n1+n2))).

const (
	scaleExp   = 128
	scaleUp    = 0x1p128
	scaleDown  = 0x1p-128
	minLogProb = -708.3964185322641
)

// kolmogorovSF returns P(D_n >= d) (scipy.stats.kstwo.sf(d, n)).
func kolmogorovSF(n int, d float64) float64 {
	if d >= 1 {
		return 0
	}
	if d <= 0 {
		return 1
	}
	nf := float64(n)
	t := nf * d
	if t <= 1 { // Ruben and Gambino: 1/2n <= d <= 1/n
		if t <= 0.5 {
			return 1
		}
		return clip01(1 - rubenGambinoCDF(n, t))
	}
	if t >= nf-1 {
		return clip01(2 * math.Pow(1-d, nf))
	}
	if d >= 0.5 {
		return clip01(2 * smirnovSF(n, d))
	}
	nxx := t * d
	if n <= 140 {
		switch {
		case nxx <= 0.754693:
			return clip01(1 - durbinCDF(n, d))
		case nxx <= 4:
			return clip01(1 - pomeranzCDF(n, d))
		}
		return clip01(2 * smirnovSF(n, d))
	}
	switch {
	case nxx >= 370:
		return 0
	case nxx >= 2.2:
		return clip01(2 * smirnovSF(n, d))
	case n <= 100000 && nf*math.Pow(d, 1.5) <= 1.4:
		return clip01(1 - durbinCDF(n, d))
	}
	return clip01(1 - pelzGoodCDF(n, d))
}

func clip01(p float64) float64 { return math.Min(math.Max(p, 0), 1) }

// rubenGambinoCDF is P(D_n <= t/n) = n!/n^n (2t-1)^n for 1/2 < t <= 1.
func rubenGambinoCDF(n int, t float64) float64 {
	if n <= 140 {
		p := 1.0
		inv := 1.0 / float64(n)
		for i := 1; i <= n; i++ {
			p *= float64(i) * inv * (2*t - 1)
		}
		return p
	}
	return math.Exp(logFactorialOverPower(n) + float64(n)*math.Log(2*t-1))
}

// logFactorialOverPower is log(n!/n^n) by Stirling's series, with n·log(n)
// taken out first to avoid cancellation.
func logFactorialOverPower(n int) float64 {
	coeffs := [...]float64{
		-2.955065359477124183e-2, 6.4102564102564102564e-3,
		-1.9175269175269175269e-3, 8.4175084175084175084e-4,
		-5.952380952380952381e-4, 7.9365079365079365079e-4,
		-2.7777777777777777778e-3, 8.3333333333333333333e-2,
	}
	nf := float64(n)
	rn := 1 / nf
	x := rn / nf
	poly := 0.0
	for _, c := range coeffs {
		poly = poly*x + c
	}
	return math.Log(nf)/2 - nf + math.Log(2*math.Pi)/2 + rn*poly
}

// durbinCDF is P(D_n <= d) from Durbin's matrix: with d = (k-h)/n, the k-th
// diagonal element of H^n scaled by n!/n^n, H being an m×m matrix, m = 2k-1.
// Powers are taken by squaring, with exponents kept aside against overflow.
func durbinCDF(n int, d float64) float64 {
	nd := float64(n) * d
	if nd <= 0.5 {
		return 0
	}
	k := int(math.Ceil(nd))
	h := float64(k) - nd
	m := 2*k - 1
	H := durbinMatrix(m, h)
	power := identity(m)
	expnt, hExpnt := 0, 0
	for nn := n; nn > 0; nn /= 2 {
		if nn%2 == 1 {
			power = matMul(power, H, m)
			expnt += hExpnt
		}
		H = matMul(H, H, m)
		hExpnt *= 2
		if math.Abs(H[(k-1)*m+k-1]) > scaleUp {
			for i := range H {
				H[i] *= scaleDown
			}
			hExpnt += scaleExp
		}
	}
	p := power[(k-1)*m+k-1]
	for i := 1; i <= n; i++ {
		p = float64(i) * p / float64(n)
		if math.Abs(p) < scaleDown {
			p *= scaleUp
			expnt -= scaleExp
		}
	}
	return clip01(math.Ldexp(p, expnt))
}

func durbinMatrix(m int, h float64) []float64 {
	v := make([]float64, m)
	w := make([]float64, m)
	fac := 1.0
	for j := 1; j <= m; j++ {
		w[j-1] = fac
		fac /= float64(j)
		v[j-1] = (1 - math.Pow(h, float64(j))) * fac
	}
	tt := math.Pow(math.Max(2*h-1, 0), float64(m)) - 2*math.Pow(h, float64(m))
	v[m-1] = (1 + tt) * fac
	H := make([]float64, m*m)
	for i := 1; i < m; i++ {
		for r := i - 1; r < m; r++ {
			H[r*m+i] = w[r-i+1]
		}
	}
	for r := range m {
		H[r*m] = v[r]
		H[(m-1)*m+r] = v[m-1-r]
	}
	return H
}

func identity(m int) []float64 {
	out := make([]float64, m*m)
	for i := range m {
		out[i*m+i] = 1
	}
	return out
}

func matMul(a, b []float64, m int) []float64 {
	out := make([]float64, m*m)
	for i := range m {
		row := out[i*m : (i+1)*m]
		for k := range m {
			aik := a[i*m+k]
			if aik == 0 {
				continue
			}
			for j, bkj := range b[k*m : (k+1)*m] {
				row[j] += aik * bkj
			}
		}
	}
	return out
}
