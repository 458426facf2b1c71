package drift

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mlship/mlship/internal/dataset"
)

// benchTables builds reference and current tables of rows × (numeric +
// categorical) columns, the current one shifted in a few columns: the shape
// of bench/drift's comparison with Evidently.
func benchTables(rows, numeric, categorical int) (ref, cur *dataset.Table) {
	build := func(seed uint64, shift float64) *dataset.Table {
		rng := rand.New(rand.NewPCG(seed, 1))
		var cols []*dataset.Column
		for j := range numeric {
			vals := make([]float64, rows)
			for i := range vals {
				vals[i] = rng.NormFloat64()*float64(j+1) + float64(j)
				if j < 3 {
					vals[i] += shift
				}
			}
			cols = append(cols, dataset.FloatColumn(fmt.Sprintf("num_%d", j), vals))
		}
		labels := make([]string, 200)
		for i := range labels {
			labels[i] = fmt.Sprintf("category-%03d", i)
		}
		for j := range categorical {
			vals := make([]string, rows)
			width := 3 + j*8
			for i := range vals {
				k := rng.IntN(width)
				if j < 2 && shift != 0 && rng.IntN(4) == 0 {
					k = width - 1
				}
				vals[i] = labels[k]
			}
			cols = append(cols, dataset.StringColumn(fmt.Sprintf("cat_%d", j), vals, nil))
		}
		tbl, _ := dataset.NewTable(cols...)
		return tbl
	}
	return build(1, 0), build(2, 0.5)
}

func BenchmarkCompare1Mx50(b *testing.B) {
	ref, cur := benchTables(1_000_000, 25, 25)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Compare(context.Background(), ref, cur, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProfileAndCompare1Mx50(b *testing.B) {
	ref, cur := benchTables(1_000_000, 25, 25)
	b.ResetTimer()
	for b.Loop() {
		pr, pc := profileTable(ref), profileTable(cur)
		if _, err := CompareProfiles(context.Background(), pr, pc, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// profileTable profiles a table column by column, in parallel.
func profileTable(tbl *dataset.Table) *dataset.Profile {
	profiles := make([]*dataset.Profile, len(tbl.Columns))
	done := make(chan struct{})
	sem := make(chan struct{}, 2)
	for i, c := range tbl.Columns {
		go func() {
			sem <- struct{}{}
			defer func() { <-sem; done <- struct{}{} }()
			p := dataset.NewProfiler(&dataset.ProfileOptions{Workers: 1})
			if c.Type == dataset.TypeString {
				p.AddStrings(c.Name, c.Strings)
			} else {
				p.AddFloats(c.Name, c.Floats)
			}
			profiles[i] = p.Profile()
		}()
	}
	for range tbl.Columns {
		<-done
	}
	out := &dataset.Profile{Rows: int64(tbl.Rows)}
	for _, p := range profiles {
		out.Columns = append(out.Columns, p.Columns...)
	}
	return out
}
