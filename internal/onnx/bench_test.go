package onnx

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkTrees runs the benchmark models of bench/onnx at batch 1 and 1000:
//
//	go test ./internal/onnx -run X -bench Trees -cpuprofile cpu.prof
func BenchmarkTrees(b *testing.B) {
	for _, name := range []string{"bench_gradient_boosting", "bench_random_forest", "bench_xgboost"} {
		m := loadCorpus(b, name)
		for _, rows := range []int{1, 1000} {
			rng := rand.New(rand.NewPCG(7, 11))
			x := make([]float32, rows*20)
			for i := range x {
				x[i] = float32(rng.NormFloat64() * 2)
			}
			in := map[string]Value{"X": NewTensor([]int64{int64(rows), 20}, x)}
			b.Run(fmt.Sprintf("%s/batch%d", name, rows), func(b *testing.B) {
				for b.Loop() {
					if _, err := m.Run(in); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			})
		}
	}
}

// BenchmarkNeighboursAndText runs skl2onnx's k-nearest-neighbours (Scan over the 150
// training rows, TopK) and text (Tokenizer, TfIdfVectorizer) models at batch 1 and 100.
func BenchmarkNeighboursAndText(b *testing.B) {
	words := []string{"the cat sat", "Dogs bark at the quick brown fox", "a naïve éclair", "", "dog cat mat lazy"}
	for _, name := range []string{"knn_classifier", "knn_classifier_cdist", "text_tfidf_bigrams_logreg"} {
		m := loadCorpus(b, name)
		for _, rows := range []int{1, 100} {
			rng := rand.New(rand.NewPCG(7, 11))
			var in map[string]Value
			if name == "text_tfidf_bigrams_logreg" {
				x := make([]string, rows)
				for i := range x {
					x[i] = words[rng.IntN(len(words))] + " " + words[rng.IntN(len(words))]
				}
				in = map[string]Value{"text": NewTensor([]int64{int64(rows), 1}, x)}
			} else {
				x := make([]float32, rows*6)
				for i := range x {
					x[i] = float32(rng.NormFloat64() * 1.5)
				}
				in = map[string]Value{"X": NewTensor([]int64{int64(rows), 6}, x)}
			}
			b.Run(fmt.Sprintf("%s/batch%d", name, rows), func(b *testing.B) {
				for b.Loop() {
					if _, err := m.Run(in); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			})
		}
	}
}
