package drift

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/dataset"
)

func TestDefaultMethod(t *testing.T) {
	tests := []struct {
		kind     dataset.Kind
		rows     int64
		distinct int64
		want     Method
	}{
		{dataset.KindNumerical, 1000, 6, MethodKS},
		{dataset.KindNumerical, 1000, 5, MethodChiSquare},
		{dataset.KindNumerical, 1000, 3, MethodChiSquare},
		{dataset.KindNumerical, 1000, 2, MethodZ},
		{dataset.KindCategorical, 1000, 3, MethodChiSquare},
		{dataset.KindCategorical, 10, 2, MethodZ},
		{dataset.KindCategorical, 10, 1, MethodZ},
		{dataset.KindNumerical, 1001, 6, MethodWasserstein},
		{dataset.KindNumerical, 1001, 5, MethodJensenShannon},
		{dataset.KindCategorical, 1001, 500, MethodJensenShannon},
	}
	for _, tt := range tests {
		if got := DefaultMethod(tt.kind, tt.rows, tt.distinct); got != tt.want {
			t.Errorf("DefaultMethod(%s, %d, %d) = %s, want %s", tt.kind, tt.rows, tt.distinct, got, tt.want)
		}
	}
}

func TestDriftRules(t *testing.T) {
	tests := []struct {
		m         Method
		score     float64
		threshold float64
		want      bool
	}{
		{MethodKS, 0.05, 0.05, true}, {MethodChiSquare, 0.05, 0.05, false}, {MethodZ, 0.049, 0.05, true},
		{MethodWasserstein, 0.1, 0.1, true}, {MethodPSI, 0.0999, 0.1, false}, {MethodKS, math.NaN(), 0.05, false},
	}
	for _, tt := range tests {
		if got := tt.m.Drifted(tt.score, tt.threshold); got != tt.want {
			t.Errorf("%s.Drifted(%v, %v) = %v", tt.m, tt.score, tt.threshold, got)
		}
	}
}

func TestZTestAndChiSquareEdgeCases(t *testing.T) {
	one := []dataset.Value{dataset.StringValue("a")}
	if _, p := zTest(one, []float64{10}, []float64{5}, 10, 5); p != 1 {
		t.Errorf("one shared value: p = %v", p)
	}
	// a category only the current data has: infinite statistic, p = 0
	if stat, p := chiSquare([]float64{5, 5, 0}, []float64{3, 3, 4}, 10, 10); !math.IsInf(stat, 1) || p != 0 {
		t.Errorf("chisquare = %v, %v", stat, p)
	}
	if _, p := chiSquare([]float64{5}, []float64{5}, 5, 5); !math.IsNaN(p) {
		t.Errorf("one category: p = %v, want NaN as scipy", p)
	}
}

func table(t *testing.T, cols ...*dataset.Column) *dataset.Table {
	t.Helper()
	tbl, err := dataset.NewTable(cols...)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func normals(rng *rand.Rand, n int, mean float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = rng.NormFloat64() + mean
	}
	return out
}

func TestOptionsAndSkips(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	ids := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = prefix + strings.Repeat("x", i%50) + string(rune('a'+i%26)) + string(rune('A'+i/26%26))
		}
		return out
	}
	ref := table(t, dataset.FloatColumn("x", normals(rng, 500, 0)), dataset.StringColumn("id", ids("r", 500), nil),
		dataset.FloatColumn("gone", normals(rng, 500, 0)), dataset.FloatColumn("blank", normals(rng, 500, 0)))
	blank := make([]float64, 300)
	for i := range blank {
		blank[i] = math.NaN()
	}
	cur := table(t, dataset.FloatColumn("x", normals(rng, 300, 1)), dataset.StringColumn("id", ids("c", 300), nil),
		dataset.FloatColumn("blank", blank))

	r, err := Compare(context.Background(), ref, cur, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Results) != 2 || len(r.Skipped) != 2 || !r.DatasetDrift {
		t.Fatalf("results %d, skipped %+v, dataset drift %v", len(r.Results), r.Skipped, r.DatasetDrift)
	}
	if id, _ := r.Result("id"); id.Kind != dataset.KindText || id.Method != MethodTextPerc {
		t.Errorf("id: %s column tested with %s, want text content drift", id.Kind, id.Method)
	}

	opts := &Options{Kinds: map[string]dataset.Kind{"id": dataset.KindCategorical}, Columns: []string{"x", "id"},
		NumMethod: MethodPSI, Threshold: Threshold(0.2), PerColumnThreshold: map[string]float64{"x": 0.3}, DriftShare: 0.9}
	r, err = Compare(context.Background(), ref, cur, opts)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := r.Result("x")
	id, _ := r.Result("id")
	if x.Method != MethodPSI || x.Threshold != 0.3 || id.Method != MethodChiSquare || id.Threshold != 0.2 || r.DriftShare != 0.9 || !r.DatasetDrift {
		t.Errorf("x: %s at %v; id: %s at %v; dataset drift %v", x.Method, x.Threshold, id.Method, id.Threshold, r.DatasetDrift)
	}

	for _, bad := range []*Options{
		{CatMethod: MethodKS, Kinds: opts.Kinds},
		{PerColumnMethod: map[string]Method{"x": MethodZ}},
		{Method: "t_test"},
		{Columns: []string{"nope"}},
		{DriftShare: 1.5},
	} {
		if _, err := Compare(context.Background(), ref, cur, bad); err == nil {
			t.Errorf("options %+v accepted", bad)
		}
	}
	_, err = Compare(context.Background(), ref, cur, &Options{PerColumnMethod: map[string]Method{"x": MethodZ}})
	if !errors.Is(err, ErrMethodKind) {
		t.Errorf("error %v", err)
	}
}

// TestProfilesApproximateData: on data too large for the sketches to hold,
// profiles give the verdicts and nearly the scores of the data itself.
func TestProfilesApproximateData(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	n := 50_000
	cats := func(shift int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = string(rune('a' + (rng.IntN(8)+shift*rng.IntN(2))%12))
		}
		return out
	}
	ref := table(t, dataset.FloatColumn("same", normals(rng, n, 0)), dataset.FloatColumn("moved", normals(rng, n, 0)),
		dataset.StringColumn("cat", cats(0), nil), dataset.FloatColumn("psi", normals(rng, n, 0)))
	cur := table(t, dataset.FloatColumn("same", normals(rng, n, 0)), dataset.FloatColumn("moved", normals(rng, n, 0.3)),
		dataset.StringColumn("cat", cats(3), nil), dataset.FloatColumn("psi", normals(rng, n, 0.5)))
	opts := &Options{PerColumnMethod: map[string]Method{"psi": MethodPSI}}
	exact, err := Compare(context.Background(), ref, cur, opts)
	if err != nil {
		t.Fatal(err)
	}
	approx, err := CompareProfiles(context.Background(), profileOf(t, ref), profileOf(t, cur), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range exact.Results {
		a, _ := approx.Result(e.Name)
		t.Logf("%s: %s exact %.5f, from profiles %.5f (approximate %v)", e.Name, e.Method, e.Score.V, a.Score.V, a.Approximate)
		if a.Method != e.Method || a.Drifted != e.Drifted || math.Abs(a.Score.V-e.Score.V) > 0.02*math.Max(1, e.Score.V) {
			t.Errorf("%s: profiles say %s %v drifted=%v, data %s %v drifted=%v", e.Name, a.Method, a.Score.V, a.Drifted, e.Method, e.Score.V, e.Drifted)
		}
	}
}

func profileOf(t *testing.T, tbl *dataset.Table) *dataset.Profile {
	t.Helper()
	p := dataset.NewProfiler(nil)
	for _, c := range tbl.Columns {
		if c.Type == dataset.TypeString {
			p.AddStrings(c.Name, c.Strings)
		} else {
			p.AddFloats(c.Name, c.Floats)
		}
	}
	return p.Profile()
}

func TestReportJSON(t *testing.T) {
	r := sampleReport(t)
	r.Results[1].Statistic = num(math.Inf(1))
	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if back.Results[0].Score.V != r.Results[0].Score.V || !math.IsNaN(back.Results[1].Statistic.V) || back.DatasetDrift != r.DatasetDrift {
		t.Errorf("round trip: %+v", back.Results)
	}
	if !strings.Contains(string(raw), `"statistic":null`) {
		t.Error("an infinite statistic should encode as null")
	}
}

// TestBooleansMeetNumbers: a feature that was true/false in training and
// arrives as 0/1 is compared value for value.
func TestBooleansMeetNumbers(t *testing.T) {
	flags := make([]bool, 300)
	nums := make([]float64, 300)
	for i := range flags {
		flags[i] = i%3 == 0
		nums[i] = float64(boolInt(i%3 == 0))
	}
	ref, cur := table(t, dataset.BoolColumn("f", flags)), table(t, dataset.IntColumn("f", nums))
	r, err := Compare(context.Background(), ref, cur, nil)
	if err != nil {
		t.Fatal(err)
	}
	pr := dataset.NewProfiler(nil)
	pr.AddBools("f", flags)
	pc := dataset.NewProfiler(nil)
	pc.AddFloats("f", nums)
	rp, err := CompareProfiles(context.Background(), pr.Profile(), pc.Profile(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, rep := range []*Report{r, rp} {
		if f, _ := rep.Result("f"); f.Method != MethodZ || f.Score.V != 1 || f.Drifted {
			t.Errorf("%s: %s = %v, drifted %v", rep.Source, f.Method, f.Score.V, f.Drifted)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
