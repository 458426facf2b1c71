package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"flag"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/mlship/mlship/bench/internal/benchkit/benchtest"
)

func render(t *testing.T, s schema, file int, rows int64) []byte {
	t.Helper()
	return benchtest.Render(t, func(w io.Writer) (int64, error) { return s.writeRows(w, file, rows) })
}

// The files must come out the same on every run and machine, whatever the number of
// goroutines that render them: figures from different runs compare the same data.
func TestGeneratorIsDeterministic(t *testing.T) {
	s := newSchema(50)
	const rows = 3*blockRows + 17 // several blocks and a partial one
	want := render(t, s, fileCurrent, rows)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	if got := render(t, s, fileCurrent, rows); !bytes.Equal(got, want) {
		t.Fatal("the current file differs between GOMAXPROCS 1 and the default")
	}
	runtime.GOMAXPROCS(4)
	if got := render(t, s, fileCurrent, rows); !bytes.Equal(got, want) {
		t.Fatal("the current file differs between GOMAXPROCS 4 and the default")
	}
}

// A change to the generator changes the data every published figure was measured on;
// this pins it. Update the sums only on purpose, and say so in bench/README.md.
func TestGeneratorGolden(t *testing.T) {
	s := newSchema(50)
	tests := []struct {
		file int
		want string
	}{
		{fileReference, "199152812be429c2752c8459d4af9085eaa23c7ee173fe25818f535134611b00"},
		{fileCurrent, "ec5afb1a719401ed38915a8ae81c4d38e14035ad46f406cd9e7e5102a84c9008"},
	}
	for _, tt := range tests {
		if got := benchtest.SHA256(render(t, s, tt.file, 1000)); got != tt.want {
			t.Errorf("file %d: sha256 %s, want %s", tt.file, got, tt.want)
		}
	}
}

func TestGeneratedCSVIsWellFormed(t *testing.T) {
	s := newSchema(50)
	data := render(t, s, fileReference, 2000)
	records, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 2001 {
		t.Fatalf("%d records, want a header and 2000 rows", len(records))
	}
	for k, c := range s.Columns {
		if records[0][k] != c.Name {
			t.Errorf("header column %d is %q, want %q", k, records[0][k], c.Name)
		}
	}
	// Every column holds values of its family; the missing-value column has some empty
	// cells, no other column has any.
	for k, c := range s.Columns {
		empty := 0
		for _, r := range records[1:] {
			if r[k] == "" {
				empty++
			}
		}
		if (c.Family == famNormalMissing) != (empty > 0) {
			t.Errorf("%s (%s): %d empty cells", c.Name, familyNames[c.Family], empty)
		}
	}
}

func TestSchemaLayout(t *testing.T) {
	tests := []struct {
		cols, numeric, categorical, drifted int
	}{
		{50, 35, 15, 13},
		{10, 7, 3, 2},
		{2, 1, 1, 2},
	}
	for _, tt := range tests {
		s := newSchema(tt.cols)
		var numeric, categorical int
		names := map[string]bool{}
		for _, c := range s.Columns {
			if c.Family >= famLabel {
				categorical++
			} else {
				numeric++
			}
			if names[c.Name] {
				t.Errorf("cols %d: column %s twice", tt.cols, c.Name)
			}
			names[c.Name] = true
		}
		if numeric != tt.numeric || categorical != tt.categorical || len(s.Drifted()) != tt.drifted {
			t.Errorf("newSchema(%d): %d numeric, %d categorical, %d drifted; want %d, %d, %d",
				tt.cols, numeric, categorical, len(s.Drifted()), tt.numeric, tt.categorical, tt.drifted)
		}
	}
}

// Columns without a shift draw the same values in the current file as they would in
// the reference from the same stream; shifted columns do not.
func TestOnlyShiftedColumnsChange(t *testing.T) {
	for _, c := range newSchema(50).Columns {
		same := true
		for seed := range uint64(200) {
			ref := c.appendCell(nil, rand.New(rand.NewPCG(seed, 7)), false)
			cur := c.appendCell(nil, rand.New(rand.NewPCG(seed, 7)), true)
			same = same && bytes.Equal(ref, cur)
		}
		if same != (c.Shift == shiftNone) {
			t.Errorf("%s (shift %d, %s): current equals reference: %v", c.Name, c.Shift, c.Desc, same)
		}
	}
}

func TestWriteBytesEndsAtFirstRowPastSize(t *testing.T) {
	s := newSchema(10)
	for _, size := range []int64{1, 5000, 3 * blockRows * 40} {
		var buf bytes.Buffer
		n, err := s.writeBytes(&buf, fileRegister, size)
		if err != nil {
			t.Fatal(err)
		}
		data := buf.Bytes()
		if n != int64(len(data)) || n < size || data[len(data)-1] != '\n' {
			t.Fatalf("size %d: wrote %d bytes (reported %d), last byte %q", size, len(data), n, data[len(data)-1])
		}
		// Without its last row the file is shorter than size: it stops at the first
		// row boundary at or past it.
		lastRow := bytes.LastIndexByte(data[:len(data)-1], '\n') + 1
		if int64(lastRow) >= size && lastRow > len(s.header()) {
			t.Errorf("size %d: the file goes on past the row that reached it (%d bytes before the last row)", size, lastRow)
		}
		if !bytes.HasPrefix(data, s.header()) {
			t.Errorf("size %d: no header", size)
		}
	}
}

func TestCutAfter(t *testing.T) {
	data := []byte("ab\ncde\nf\n")
	tests := []struct {
		need int64
		want int
	}{{0, 0}, {1, 3}, {3, 3}, {4, 7}, {7, 7}, {8, 9}, {9, 9}}
	for _, tt := range tests {
		if got := cutAfter(data, tt.need); got != tt.want {
			t.Errorf("cutAfter(%d) = %d, want %d", tt.need, got, tt.want)
		}
	}
}

func score(v float64) *float64 { return &v }

func TestParseDriftReport(t *testing.T) {
	data := []byte(`{"source": "datasets", "reference_rows": 10, "current_rows": 12, "number_of_drifted_columns": 1,
		"dataset_drift": false, "columns": [
		{"name": "a", "kind": "numerical", "method": "wasserstein", "score": 0.5, "threshold": 0.1, "drifted": true,
		 "histogram": {"edges": [0, 1], "reference": [1], "current": [1]}},
		{"name": "b", "kind": "categorical", "method": "jensenshannon", "score": null, "threshold": 0.1, "drifted": false}],
		"skipped": [{"name": "t", "reason": "text"}]}`)
	r, err := parseDriftReport(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Columns) != 2 || *r.Columns[0].Score != 0.5 || r.Columns[1].Score != nil || len(r.Skipped) != 1 {
		t.Errorf("parsed %+v", r)
	}
	if got := r.drifted(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("drifted() = %v", got)
	}
	for _, bad := range []string{`{"columns": []}`, `not json`, `{"columns": [{"name": 1}]}`} {
		if _, err := parseDriftReport([]byte(bad)); err == nil {
			t.Errorf("parseDriftReport(%s): no error", bad)
		}
	}
}

func TestParseEvidentlyResult(t *testing.T) {
	data := []byte(`{"evidently_version": "0.7.23", "steps": {"report": {"seconds": 2.5, "cpu_seconds": 2.4,
		"peak_rss_bytes": 1024, "peak_is_step_only": true}}, "peak_rss_bytes": 2048,
		"columns": {"b": {"method": "jensenshannon", "threshold": 0.1, "score": 0.2, "drifted": true, "kind": "categorical"},
		            "a": {"method": "wasserstein", "threshold": 0.1, "score": 0.01, "drifted": false, "kind": "numerical"}}}`)
	r, err := parseEvidentlyResult(data)
	if err != nil {
		t.Fatal(err)
	}
	if r.Steps["report"].Seconds != 2.5 || r.PeakRSS != 2048 || !slices.Equal(r.drifted(), []string{"b"}) {
		t.Errorf("parsed %+v", r)
	}
	if _, err := parseEvidentlyResult([]byte(`{"columns": {}}`)); err == nil {
		t.Error("no columns: no error")
	}
}

func TestCheckVerdicts(t *testing.T) {
	ev := func(cols map[string]evidentlyColumn) *evidentlyResult { return &evidentlyResult{Columns: cols} }
	ml := func(cols ...driftColumn) *driftReport { return &driftReport{Columns: cols} }
	tests := []struct {
		name          string
		ev            *evidentlyResult
		ml            *driftReport
		agree         bool
		atThreshold   []string
		injectedMatch bool
	}{
		{
			name: "same verdicts",
			ev: ev(map[string]evidentlyColumn{"a": {Method: "wasserstein", Score: 0.5, Threshold: 0.1, Drifted: true},
				"b": {Method: "jensenshannon", Score: 0.01, Threshold: 0.1}}),
			ml:    ml(driftColumn{Name: "a", Method: "wasserstein", Score: score(0.5), Threshold: 0.1, Drifted: true}, driftColumn{Name: "b", Method: "jensenshannon", Score: score(0.01), Threshold: 0.1}),
			agree: true, injectedMatch: true,
		},
		{
			name:  "mlship flags a column Evidently does not",
			ev:    ev(map[string]evidentlyColumn{"a": {Method: "wasserstein", Score: 0.5, Threshold: 0.1, Drifted: true}, "b": {Method: "wasserstein", Score: 0.05, Threshold: 0.1}}),
			ml:    ml(driftColumn{Name: "a", Method: "wasserstein", Score: score(0.5), Threshold: 0.1, Drifted: true}, driftColumn{Name: "b", Method: "wasserstein", Score: score(0.15), Threshold: 0.1, Drifted: true}),
			agree: false,
		},
		{
			name:        "a tie at the threshold",
			ev:          ev(map[string]evidentlyColumn{"a": {Method: "wasserstein", Score: 0.5, Threshold: 0.1, Drifted: true}, "b": {Method: "wasserstein", Score: 0.1, Threshold: 0.1, Drifted: true}}),
			ml:          ml(driftColumn{Name: "a", Method: "wasserstein", Score: score(0.5), Threshold: 0.1, Drifted: true}, driftColumn{Name: "b", Method: "wasserstein", Score: score(0.1 - 1e-17), Threshold: 0.1}),
			agree:       true,
			atThreshold: []string{"b"},
		},
		{
			name:  "a column only one tool compared",
			ev:    ev(map[string]evidentlyColumn{"a": {Method: "wasserstein", Score: 0.5, Threshold: 0.1, Drifted: true}, "c": {Method: "jensenshannon", Score: 0.5, Threshold: 0.1, Drifted: true}}),
			ml:    ml(driftColumn{Name: "a", Method: "wasserstein", Score: score(0.5), Threshold: 0.1, Drifted: true}),
			agree: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := checkVerdicts(tt.ev, tt.ml, []string{"a"})
			if v.Agree != tt.agree || !slices.Equal(v.AtThreshold, tt.atThreshold) || v.InjectedMatch != tt.injectedMatch {
				t.Errorf("checkVerdicts() = %+v", v)
			}
		})
	}
}

func TestMaxScoreDiff(t *testing.T) {
	a := &driftReport{Columns: []driftColumn{{Name: "x", Method: "ks", Score: score(0.5)}, {Name: "y", Method: "ks", Score: score(0.2)},
		{Name: "z", Method: "psi", Score: score(9)}}}
	b := &driftReport{Columns: []driftColumn{{Name: "x", Method: "ks", Score: score(0.45)}, {Name: "y", Method: "ks", Score: score(0.3)},
		{Name: "z", Method: "ks", Score: score(0)}}}
	if d, c := maxScoreDiff(a, b); c != "y" || d < 0.0999 || d > 0.1001 {
		t.Errorf("maxScoreDiff() = %v, %q; want 0.1, y", d, c)
	}
}

func TestFitSize(t *testing.T) {
	tests := []struct {
		want, avail, got int64
	}{
		{2 << 30, 100 << 30, 2 << 30},
		{2 << 30, 7 << 30, 2 << 30},
		{2 << 30, 4 << 30, 1 << 30},
		{2 << 30, 1<<30 + 3*minRegSize - 1, 0},
	}
	for _, tt := range tests {
		if got := fitSize(tt.want, tt.avail); got != tt.got {
			t.Errorf("fitSize(%d, %d) = %d, want %d", tt.want, tt.avail, got, tt.got)
		}
	}
}

func TestRegOrder(t *testing.T) {
	want := []string{toolMlship, toolDVC, toolDVC, toolMlship, toolMlship, toolDVC}
	if got := regOrder(3); !slices.Equal(got, want) {
		t.Errorf("regOrder(3) = %v, want %v", got, want)
	}
}

func TestDVCFileMD5(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.csv.dvc")
	body := "outs:\n- md5: 76c095fe0bae3a755e40f54814058069\n  size: 200000000\n  hash: md5\n  path: data.csv\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := dvcFileMD5(path); got != "76c095fe0bae3a755e40f54814058069" {
		t.Errorf("dvcFileMD5() = %q", got)
	}
	if got := dvcFileMD5(filepath.Join(t.TempDir(), "missing.dvc")); got != "" {
		t.Errorf("dvcFileMD5(missing) = %q", got)
	}
}

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.rows != 1_000_000 || cfg.cols != 50 || cfg.regSize != 2<<30 || !slices.Equal(cfg.only, allParts) ||
		!filepath.IsAbs(cfg.mlshipBin) || !strings.HasSuffix(cfg.evidentlyPython, ".venv-bench-drift/bin/python") {
		t.Errorf("defaults: %+v", cfg)
	}
	cfg, err = parseFlags([]string{"--only", "register", "--reg-size", "512MiB", "--rows", "1000", "-o", "json"}, io.Discard)
	if err != nil || !slices.Equal(cfg.only, []string{partRegister}) || cfg.regSize != 512<<20 || cfg.rows != 1000 || cfg.output != "json" {
		t.Errorf("parsed %+v, %v", cfg, err)
	}
	for _, bad := range [][]string{{"--only", "nope"}, {"--only", ""}, {"--rows", "0"}, {"--cols", "1"}, {"--reg-size", "1MiB"},
		{"-o", "xml"}, {"--reg-runs", "0"}, {"extra"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q): no error", bad)
		}
	}
	if _, err := parseFlags([]string{"--help"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v", err)
	}
}
