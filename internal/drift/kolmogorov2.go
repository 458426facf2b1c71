package drift

import "math"

// pomeranzCDF is P(D_n <= d) by Pomeranz's recursion: rows of a matrix,
// each the convolution of the previous one with (almost) Poisson
// probabilities; only a band of each row is non-zero and only two rows are
// kept.
func pomeranzCDF(n int, d float64) float64 {
	t := float64(n) * d
	ll := int(math.Floor(t))
	f := t - float64(ll)
	g := math.Min(f, 1-f)
	ceilf, roundf := 0, 0
	if f > 0 {
		ceilf = 1
	}
	if f > 0.5 {
		roundf = 1
	}
	npwrs := 2 * (ll + 1)
	gpow := poissonish(npwrs, g/float64(n))
	twogpow := poissonish(npwrs, 2*g/float64(n))
	onem2gpow := poissonish(npwrs, (1-2*g)/float64(n))

	v0 := make([]float64, npwrs)
	v1 := make([]float64, npwrs)
	v1[0] = 1
	v0s, v1s := 0, 0
	expnt := 0
	band := pomeranzBand{n: n, ll: ll, ceilf: ceilf, roundf: roundf}
	j1, j2 := band.at(0)
	conv := make([]float64, 2*npwrs)
	for i := 1; i < 2*n+2; i++ {
		k1 := j1
		v0, v1 = v1, v0
		v0s, v1s = v1s, v0s
		clear(v1)
		j1, j2 = band.at(i)
		pwrs := onem2gpow
		switch {
		case i == 1 || i == 2*n+1:
			pwrs = gpow
		case i%2 == 1:
			pwrs = twogpow
		}
		ln2 := j2 - k1 + 1
		if ln2 <= 0 {
			continue
		}
		convolve(conv, v0, k1-v0s, ln2, pwrs)
		copy(v1[:j2-j1+1], conv[j1-k1:])
		expnt += rescaleUp(v1)
		v1s = v0s + j1 - k1
	}
	return clip01(timesFactorial(v1[n-v1s], n, expnt))
}

// timesFactorial returns x·n!·2^expnt, rescaling as it goes against overflow.
func timesFactorial(x float64, n, expnt int) float64 {
	for m := 1; m <= n; m++ {
		if math.Abs(x) > scaleUp {
			x *= scaleDown
			expnt += scaleExp
		}
		x *= float64(m)
	}
	return math.Ldexp(x, expnt)
}

// poissonish returns x^m/m! for m < count.
func poissonish(count int, x float64) []float64 {
	out := make([]float64, count)
	out[0] = 1
	for m := 1; m < count; m++ {
		out[m] = out[m-1] * x / float64(m)
	}
	return out
}

// convolve writes into dst the full convolution of src[from:from+ln] (zeros
// beyond src) with pwrs[:ln].
func convolve(dst, src []float64, from, ln int, pwrs []float64) {
	clear(dst)
	for a := range ln {
		if from+a >= len(src) || from+a < 0 {
			continue
		}
		x := src[from+a]
		if x == 0 {
			continue
		}
		for b := range ln {
			dst[a+b] += x * pwrs[b]
		}
	}
}

// rescaleUp multiplies a row whose values all underflow towards zero by 2^128
// and returns the exponent to take back.
func rescaleUp(row []float64) int {
	top := math.Inf(-1)
	for _, x := range row {
		top = math.Max(top, x)
	}
	if top <= 0 || top >= scaleDown {
		return 0
	}
	for k := range row {
		row[k] *= scaleUp
	}
	return -scaleExp
}

// pomeranzBand gives the non-zero band [j1, j2] of row i.
type pomeranzBand struct{ n, ll, ceilf, roundf int }

func (b pomeranzBand) at(i int) (int, int) {
	var j1, j2 int
	switch half, odd := (i+1)/2, (i+1)%2 == 0; {
	case i == 0:
		j1, j2 = -b.ll-b.ceilf-1, b.ll+b.ceilf-1
	case odd && half == b.n+1:
		j1, j2 = b.n-b.ll-b.ceilf-1, b.n+b.ll+b.ceilf-1
	case odd:
		j1, j2 = half-1-b.ll-b.roundf-1, half+b.ll-1+b.ceilf-1
	default:
		j1, j2 = half-1-b.ll-1, half+b.ll+b.roundf-1
	}
	return max(j1+2, 0), min(j2, b.n)
}

// pelzGoodCDF is the Pelz-Good approximation of P(D_n <= d): Li-Chien and
// Korolyuk's expansion K0(z) + K1(z)/√n + K2(z)/n + K3(z)/n^1.5 (z = d√n),
// with each term rewritten through Jacobi theta functions for small z.
func pelzGoodCDF(n int, d float64) float64 {
	if d <= 0 {
		return 0
	}
	if d >= 1 {
		return 1
	}
	z := math.Sqrt(float64(n)) * d
	z2, z3, z4, z6 := z*z, z*z*z, z*z*z*z, math.Pow(z, 6)
	pi2, pi4, pi6 := math.Pi*math.Pi, math.Pow(math.Pi, 4), math.Pow(math.Pi, 6)
	qlog := -pi2 / 8 / z2
	if qlog < minLogProb {
		return 0
	}
	q := math.Exp(qlog)
	k1a, k1b := -z2, pi2/4
	k2a, k2b, k2c := 6*z6+2*z4, (2*z4-5*z2)*pi2/4, pi4*(1-2*z2)/16
	k3d, k3c := pi6*(5-30*z2)/64, pi4*(-60*z2+212*z4)/16
	k3b, k3a := pi2*(135*z4-96*z6)/4, -30*z6-90*math.Pow(z, 8)

	var k [4]float64
	maxk := int(math.Ceil(16 * z / math.Pi))
	for kk := maxk; kk > 0; kk-- {
		m := float64(2*kk - 1)
		m2, m4, m6 := m*m, math.Pow(m, 4), math.Pow(m, 6)
		qpower := math.Pow(q, float64(8*kk))
		coeffs := [4]float64{1, k1a + k1b*m2, k2a + k2b*m2 + k2c*m4, k3a + k3b*m2 + k3c*m4 + k3d*m6}
		for i := range k {
			k[i] = k[i]*qpower + coeffs[i]
		}
	}
	denoms := [4]float64{z, 6 * z4, 72 * math.Pow(z, 7), 6480 * math.Pow(z, 10)}
	for i := range k {
		k[i] = k[i] * q * math.Sqrt(2*math.Pi) / denoms[i]
	}
	q = math.Exp(-pi2 / 2 / z2)
	var k2extra, k3extra float64
	sqrt3z := math.Sqrt(3) * z
	for kk := maxk; kk > 0; kk-- {
		ks := float64(kk)
		qp := math.Pow(q, ks*ks)
		k2extra += ks * ks * qp
		kspi := math.Pi * ks
		k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ks * ks * qp
	}
	k[2] += k2extra * pi2 * math.Sqrt(2*math.Pi) / (-36 * z3)
	k[3] += k3extra * pi2 * math.Sqrt(2*math.Pi) / (216 * z6)
	sum := 0.0
	for i := range k {
		sum += k[i] / math.Pow(float64(n), float64(i)/2)
	}
	return sum
}

// smirnovSF is the one-sided Smirnov tail P(D_n^+ >= d) (scipy.special.smirnov),
// from Birnbaum and Tingey's sum of positive terms
//
//	d · Σ_{v=0}^{⌊n(1-d)⌋} C(n,v) (d+v/n)^(v-1) (1-d-v/n)^(n-v),
//
// evaluated in logarithms. kolmogorovSF only asks for it where the tail is
// small, where this sum is accurate.
func smirnovSF(n int, d float64) float64 {
	nf := float64(n)
	switch {
	case d <= 0:
		return 1
	case d >= 1:
		return 0
	case n == 1:
		return 1 - d
	case -2*nf*d*d < minLogProb:
		return 0
	}
	nd := nf * d
	if math.Floor(nd) == 0 || nd == 1 {
		return 1 - d*math.Pow(1+d, nf-1)
	}
	if math.Floor(nd) >= nf-1 {
		return math.Pow(1-d, nf)
	}
	if n > 1_000_000 {
		logp := -math.Pow(6*nd+1, 2) / 18 / nf
		if logp < -math.Ln2 {
			return math.Exp(logp)
		}
		return 1 + math.Expm1(logp)
	}
	return d * birnbaumTingeySum(n, d)
}

func birnbaumTingeySum(n int, d float64) float64 {
	nf := float64(n)
	lgn, _ := math.Lgamma(nf + 1)
	var logs []float64
	top := math.Inf(-1)
	for v := 0; ; v++ {
		vf := float64(v)
		rest := 1 - d - vf/nf
		if rest <= 0 {
			break
		}
		lgv, _ := math.Lgamma(vf + 1)
		lgr, _ := math.Lgamma(nf - vf + 1)
		l := lgn - lgv - lgr + (vf-1)*math.Log(d+vf/nf) + (nf-vf)*math.Log1p(-(d+vf/nf))
		logs = append(logs, l)
		top = math.Max(top, l)
	}
	sum := 0.0
	for _, l := range logs {
		sum += math.Exp(l - top)
	}
	return sum * math.Exp(top)
}
