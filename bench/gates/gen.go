package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
)

// The generator writes the benchmark's CSV files: features numbered x00..x19 and a
// 0/1 target drawn from a logistic model of them, with interactions and a squared
// term so that a tree ensemble has something to learn. Everything is a function of
// the seed, so a file is byte for byte the same on every run and machine.

const (
	features    = 20
	targetName  = "target"
	trainRows   = 20_000
	seedTrain   = 1            // the rows the model is fitted on
	seedBench   = 2            // the benchmark rows: drawn apart from the training rows
	decimals    = 5            // every feature is written with 5 decimals
	generatorID = 0x6761746573 // "gates": the PCG stream
)

// featureNames are the columns before the target, in file order.
func featureNames() []string {
	names := make([]string, features)
	for j := range names {
		names[j] = fmt.Sprintf("x%02d", j)
	}
	return names
}

// weights of the features in the target's logit: a few strong, most weak.
var weights = [features]float64{1.2, -0.9, 0.7, 0.5, -0.4, 0.3, 0.25, -0.2, 0.15, 0.1,
	0.08, -0.06, 0.05, 0.04, -0.03, 0.02, 0.01, 0, 0, 0}

// writeRows writes the header and rows to w, and returns the bytes written.
func writeRows(w io.Writer, seed uint64, rows int64) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	rng := rand.New(rand.NewPCG(seed, generatorID))
	var n int64
	buf := make([]byte, 0, 512)
	for _, name := range featureNames() {
		buf = append(buf, name...)
		buf = append(buf, ',')
	}
	buf = append(buf, targetName+"\n"...)
	var x [features]float64
	for i := int64(-1); i < rows; i++ {
		if i >= 0 {
			buf = appendRow(buf[:0], rng, &x)
		}
		m, err := bw.Write(buf)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, bw.Flush()
}

// appendRow draws one row: features on a few scales (the file's value, rounded to
// its decimals, is what the target is drawn from), then the target.
func appendRow(buf []byte, rng *rand.Rand, x *[features]float64) []byte {
	logit := -0.2
	for j := range x {
		v := rng.NormFloat64()
		switch j % 4 {
		case 1:
			v = 3*v + 10 // shifted and wider
		case 2:
			v = rng.Float64()*2 - 1 // uniform
		case 3:
			v = math.Exp(0.5*v) - 1 // skewed
		}
		v = round(v)
		x[j] = v
		buf = strconv.AppendFloat(buf, v, 'f', decimals, 64)
		buf = append(buf, ',')
	}
	for j, w := range weights {
		z := x[j]
		if j%4 == 1 {
			z = (z - 10) / 3
		}
		logit += w * z
	}
	logit += 0.8*x[0]*x[2] - 0.5*x[3]*x[3] + 0.6*math.Sin(2*x[4])
	y := byte('0')
	if rng.Float64() < 1/(1+math.Exp(-logit)) {
		y = '1'
	}
	return append(buf, y, '\n')
}

func round(v float64) float64 {
	const scale = 1e5 // 10^decimals
	return math.Round(v*scale) / scale
}

// writeFile writes a generated file and returns its size.
func writeFile(path string, seed uint64, rows int64) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	n, err := writeRows(f, seed, rows)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}
