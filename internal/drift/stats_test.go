package drift

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"testing"
)

// golden holds scipy's and numpy's answers, written by testdata/gen_golden.py.
type golden struct {
	KS []struct {
		A, B      sequence
		Statistic float64
		PValue    float64
	} `json:"ks_2samp"`
	KSTwo []struct {
		N  int
		D  float64
		SF float64
	} `json:"kstwo_sf"`
	Chi2 []struct {
		DF, X, SF float64
	} `json:"chi2_sf"`
	ChiSquare []struct {
		Ref, Cur          []float64
		Statistic, PValue float64
	} `json:"chisquare"`
	Distances []struct {
		A, B          []float64
		Wasserstein   float64
		P, Q          []float64
		QFilled       []float64 `json:"q_filled"`
		JensenShannon float64
		Entropy       float64
	} `json:"distances"`
	Sturges []struct {
		Data            []float64
		Integer         bool
		Edges           []float64
		CountsFirstHalf []float64 `json:"counts_first_half"`
	} `json:"sturges"`
	Normal []struct{ Z, CDF float64 } `json:"normal_cdf"`
}

// sequence is gen_golden.py's deterministic sequence, rebuilt bit for bit.
type sequence struct {
	N       int
	Mult    float64
	Offset  float64
	Scale   float64
	Shift   float64
	Integer bool
}

func (s sequence) values() []float64 {
	out := make([]float64, s.N)
	for i := range out {
		v := math.Mod(float64(i)*s.Mult+s.Offset, 1)*s.Scale + s.Shift
		if s.Integer {
			v = math.Floor(v)
		}
		out[i] = v
	}
	return out
}

func loadGolden(t *testing.T) golden {
	t.Helper()
	raw, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// close reports whether got matches want to an absolute 1e-12 or a relative
// tol.
func closeTo(got, want, tol float64) bool {
	if math.IsNaN(want) || math.IsInf(want, 0) {
		return got == want || (math.IsNaN(got) && math.IsNaN(want))
	}
	return math.Abs(got-want) <= 1e-12+tol*math.Abs(want)
}

func TestKSTwoSampleMatchesScipy(t *testing.T) {
	for i, c := range loadGolden(t).KS {
		t.Run(fmt.Sprintf("%d_%dx%d", i, c.A.N, c.B.N), func(t *testing.T) {
			a, b := exactSample(c.A.values()), exactSample(c.B.values())
			p, d := ksPValue(ksStatistic(a, b), a.n, b.n)
			if !closeTo(d, c.Statistic, 1e-12) || !closeTo(p, c.PValue, 1e-9) {
				t.Errorf("ks_2samp = (%v, %v), scipy (%v, %v)", d, p, c.Statistic, c.PValue)
			}
		})
	}
}

func TestKolmogorovSFMatchesScipy(t *testing.T) {
	for _, c := range loadGolden(t).KSTwo {
		got := kolmogorovSF(c.N, c.D)
		// scipy's Smirnov tail runs in double-double arithmetic: agree to
		// 1e-10 relative, or absolutely where the tail underflows.
		if !closeTo(got, c.SF, 1e-10) && math.Abs(got-c.SF) > 1e-300 {
			t.Errorf("kstwo.sf(%v, %d) = %v, scipy %v", c.D, c.N, got, c.SF)
		}
	}
}

func TestChi2SFMatchesScipy(t *testing.T) {
	for _, c := range loadGolden(t).Chi2 {
		if got := chi2SF(c.DF, c.X); !closeTo(got, c.SF, 1e-10) && math.Abs(got-c.SF) > 1e-300 {
			t.Errorf("chdtrc(%v, %v) = %v, scipy %v", c.DF, c.X, got, c.SF)
		}
	}
}

func TestChiSquareMatchesScipy(t *testing.T) {
	for _, c := range loadGolden(t).ChiSquare {
		stat, p := chiSquare(c.Ref, c.Cur, int64(sum(c.Ref)), int64(sum(c.Cur)))
		if !closeTo(stat, c.Statistic, 1e-12) || !closeTo(p, c.PValue, 1e-10) {
			t.Errorf("chisquare = (%v, %v), scipy (%v, %v)", stat, p, c.Statistic, c.PValue)
		}
	}
}

func TestDistancesMatchScipy(t *testing.T) {
	for i, c := range loadGolden(t).Distances {
		a, b := exactSample(c.A), exactSample(c.B)
		if got := wasserstein(a, b); !closeTo(got, c.Wasserstein, 1e-12) {
			t.Errorf("%d: wasserstein_distance = %v, scipy %v", i, got, c.Wasserstein)
		}
		if got := jensenShannon(c.P, c.Q); !closeTo(got, c.JensenShannon, 1e-12) {
			t.Errorf("%d: jensenshannon = %v, scipy %v", i, got, c.JensenShannon)
		}
		if got := klDiv(c.P, c.QFilled); !closeTo(got, c.Entropy, 1e-12) {
			t.Errorf("%d: entropy = %v, scipy %v", i, got, c.Entropy)
		}
	}
}

func TestSturgesMatchesNumpy(t *testing.T) {
	for i, c := range loadGolden(t).Sturges {
		s := exactSample(c.Data)
		edges := sturgesEdges(s.values[0], s.values[len(s.values)-1], s.n, c.Integer)
		if len(edges) != len(c.Edges) {
			t.Fatalf("%d: %d edges, numpy %d", i, len(edges), len(c.Edges))
		}
		for j := range edges {
			if edges[j] != c.Edges[j] {
				t.Errorf("%d: edge %d = %v, numpy %v", i, j, edges[j], c.Edges[j])
			}
		}
		half := exactSample(c.Data[:len(c.Data)/2])
		counts := half.binCounts(edges)
		for j := range counts {
			if counts[j] != c.CountsFirstHalf[j] {
				t.Errorf("%d: bin %d holds %v, numpy %v", i, j, counts[j], c.CountsFirstHalf[j])
			}
		}
	}
}

func TestNormalCDFMatchesScipy(t *testing.T) {
	for _, c := range loadGolden(t).Normal {
		if got := normalCDF(c.Z); !closeTo(got, c.CDF, 1e-14) && math.Abs(got-c.CDF) > 1e-300 {
			t.Errorf("norm.cdf(%v) = %v, scipy %v", c.Z, got, c.CDF)
		}
	}
}
