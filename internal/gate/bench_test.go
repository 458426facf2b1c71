package gate

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The evaluation of a 1,000,000-row benchmark, once the model's outputs are
// in hand: accumulating the batches and computing the result (bench/gates
// measures the whole evaluation, model included).

const benchRows = 1_000_000

func benchClassification(b *testing.B, k int, average Average) {
	rng := rand.New(rand.NewPCG(1, 1))
	truth, pred := make([]int, benchRows), make([]int, benchRows)
	proba := make([]float64, 0, benchRows*k)
	for i := range benchRows {
		truth[i] = rng.IntN(k)
		row := softmax(rng, k, truth[i])
		pred[i] = argmax(row)
		proba = append(proba, row...)
	}
	classes := make([]string, k)
	for i := range classes {
		classes[i] = FormatValue(i)
	}
	spec := Spec{Task: TaskClassification, Classes: classes, Average: average}
	b.ReportAllocs()
	for b.Loop() {
		c, err := NewClassification(spec)
		if err != nil {
			b.Fatal(err)
		}
		for lo := 0; lo < benchRows; lo += 65536 {
			hi := min(lo+65536, benchRows)
			if err := c.Add(ClassificationBatch{Truth: truth[lo:hi], Pred: pred[lo:hi], Proba: proba[lo*k : hi*k]}); err != nil {
				b.Fatal(err)
			}
		}
		if r := c.Result(); math.IsNaN(r.Metrics[ROCAUC]) {
			b.Fatal("no AUC")
		}
	}
	b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func argmax(row []float64) int {
	best := 0
	for j, p := range row {
		if p > row[best] {
			best = j
		}
	}
	return best
}

func BenchmarkBinary1M(b *testing.B)       { benchClassification(b, 2, "") }
func BenchmarkMulticlass5x1M(b *testing.B) { benchClassification(b, 5, AverageMacro) }

func BenchmarkRegression1M(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	truth, pred := make([]float64, benchRows), make([]float64, benchRows)
	for i := range truth {
		truth[i] = 50 + 20*rng.NormFloat64()
		pred[i] = truth[i] + 4*rng.NormFloat64()
	}
	b.ReportAllocs()
	for b.Loop() {
		r, _ := NewRegression(Spec{Task: TaskRegression})
		if err := r.Add(RegressionBatch{Truth: truth, Pred: pred}); err != nil {
			b.Fatal(err)
		}
		r.Result()
	}
	b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
