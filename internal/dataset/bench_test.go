package dataset

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"testing"
)

func generatedCSV(size int64) []byte {
	var buf bytes.Buffer
	_, _ = io.Copy(&buf, &csvGenerator{size: size, rng: rand.New(rand.NewPCG(9, 9))})
	return buf.Bytes()
}

// benchCSVSize is about 100 MB of numeric and categorical columns.
const benchCSVSize = 100 << 20

func BenchmarkProfileCSV(b *testing.B) {
	data := generatedCSV(benchCSVSize)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r, err := Open(bytes.NewReader(data), FormatCSV, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ProfileReader(context.Background(), r, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadCSV(b *testing.B) {
	data := generatedCSV(benchCSVSize)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r, err := Open(bytes.NewReader(data), FormatCSV, nil)
		if err != nil {
			b.Fatal(err)
		}
		var batch Batch
		for r.Read(context.Background(), &batch) == nil {
		}
	}
}

func BenchmarkKLLUpdate(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	vals := make([]float64, 1<<20)
	for i := range vals {
		vals[i] = rng.NormFloat64()
	}
	b.SetBytes(8 << 20)
	for b.Loop() {
		s := NewKLL(0)
		s.UpdateMany(vals)
	}
}
