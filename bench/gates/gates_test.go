package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"flag"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/mlship/mlship/bench/internal/benchkit/benchtest"
)

func render(t *testing.T, seed uint64, rows int64) []byte {
	t.Helper()
	return benchtest.Render(t, func(w io.Writer) (int64, error) { return writeRows(w, seed, rows) })
}

// Figures from different runs must be measured on the same data.
func TestGeneratorIsDeterministic(t *testing.T) {
	a, b := render(t, seedBench, 3000), render(t, seedBench, 3000)
	if !bytes.Equal(a, b) {
		t.Fatal("two renderings of the same file differ")
	}
	if bytes.Equal(render(t, seedTrain, 3000), a) {
		t.Fatal("the training rows are the benchmark rows")
	}
	// A shorter file is a prefix of a longer one: --rows does not change the rows.
	if short := render(t, seedBench, 1000); !bytes.HasPrefix(a, short) {
		t.Fatal("the first 1000 rows depend on --rows")
	}
}

// A change to the generator changes the data every published figure was measured on;
// this pins it. Update the sums only on purpose, and say so in bench/README.md.
func TestGeneratorGolden(t *testing.T) {
	tests := []struct {
		seed uint64
		want string
	}{
		{seedTrain, "6f9bb6022314e3f5d5aebbed85a6b379fa2f42f9151d21786d88533c97015365"},
		{seedBench, "91ceeac20f79dce7d4283b75b0efeff1dbb6b892187a94b3e8ff254b5ba3e716"},
	}
	for _, tt := range tests {
		if got := benchtest.SHA256(render(t, tt.seed, 1000)); got != tt.want {
			t.Errorf("seed %d: sha256 %s, want %s", tt.seed, got, tt.want)
		}
	}
}

func TestGeneratedCSVIsWellFormed(t *testing.T) {
	const rows = 5000
	records, err := csv.NewReader(bytes.NewReader(render(t, seedBench, rows))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != rows+1 {
		t.Fatalf("%d records, want %d", len(records), rows+1)
	}
	if got := strings.Join(records[0], ","); got != strings.Join(featureNames(), ",")+","+targetName {
		t.Fatalf("header %q", got)
	}
	ones := 0
	for i, rec := range records[1:] {
		for j, cell := range rec[:features] {
			if _, err := strconv.ParseFloat(cell, 64); err != nil {
				t.Fatalf("row %d, column %d: %q", i+1, j, cell)
			}
		}
		switch rec[features] {
		case "1":
			ones++
		case "0":
		default:
			t.Fatalf("row %d: target %q", i+1, rec[features])
		}
	}
	// Both classes well represented: accuracy and roc_auc mean something.
	if share := float64(ones) / rows; share < 0.3 || share > 0.7 {
		t.Fatalf("share of 1s %.3f", share)
	}
}

func TestCompareMetrics(t *testing.T) {
	base := map[string]float64{"example_count": 10, "true_positives": 3, "false_positives": 2, "true_negatives": 4, "false_negatives": 1}
	for i, name := range checkedMetrics {
		base[name] = 0.5 + float64(i)/100
	}
	with := func(name string, v float64) map[string]float64 {
		m := map[string]float64{}
		for k, x := range base {
			m[k] = x
		}
		if v != v { // NaN: leave the metric out
			delete(m, name)
		} else {
			m[name] = v
		}
		return m
	}
	nan := func() float64 { var z float64; return z / z }()
	tests := []struct {
		name   string
		mlflow map[string]float64
		ok     bool
	}{
		{"equal", with("f1_score", base["f1_score"]), true},
		{"within tolerance", with("log_loss", base["log_loss"]+5e-7), true},
		{"beyond tolerance", with("roc_auc", base["roc_auc"]+2e-6), false},
		{"a count differs", with("true_positives", 4), false},
		{"missing", with("log_loss", nan), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := compareMetrics(base, []*mlflowResult{{Config: configDefault, Metrics: tt.mlflow}}, 1e-6)
			if (c.err() == nil) != tt.ok {
				t.Fatalf("err %v, want ok %v", c.err(), tt.ok)
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	if _, err := parseFlags([]string{"--help"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil || cfg.rows != 1_000_000 || cfg.output != "table" {
		t.Fatalf("defaults: %+v, %v", cfg, err)
	}
	for _, args := range [][]string{{"--rows", "1"}, {"-o", "yaml"}, {"--tolerance", "-1"}, {"extra"}} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}
