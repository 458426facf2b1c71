// Command onnx benchmarks mlship's ONNX engine against onnxruntime's Python API in
// process, on one thread, with the same models and the same inputs: latency per row
// at batch 1, rows per second at batch 1000, load time and memory per loaded model.
//
//	go run ./bench/onnx [-python PATH] [-seconds 3]
//
// The Python needs onnxruntime and numpy (internal/onnx/testdata/gen/requirements.txt).
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mlship/mlship/internal/onnx"
)

var models = []string{"bench_gradient_boosting", "bench_random_forest", "bench_xgboost"}

const modelsDir = "internal/onnx/testdata/models"

type result struct {
	Model          string  `json:"model"`
	LoadMS         float64 `json:"load_ms"`
	RSSBytes       float64 `json:"rss_bytes"`
	Batch1USPerRow float64 `json:"batch1_us_per_row"`
	BatchRowsPerS  float64 `json:"batch_rows_per_s"`
	Version        string  `json:"version"`
}

func main() {
	python := flag.String("python", "", "Python with onnxruntime (default: $MLSHIP_ONNX_REFERENCE_PYTHON, .venv, .venv-onnxgen)")
	seconds := flag.Float64("seconds", 1, "time per measurement")
	rows := flag.Int("rows", 1000, "batch size of the throughput measurement")
	rounds := flag.Int("rounds", 5, "rounds, alternating the two engines; each figure is the best round's")
	flag.Parse()
	goruntime.GOMAXPROCS(1)
	if err := run(*python, *seconds, *rows, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "bench/onnx:", err)
		os.Exit(1)
	}
}

func run(python string, seconds float64, rows, rounds int) error {
	const features = 20
	x := inputs(rows, features)
	py := findPython(python)
	if py == "" {
		fmt.Fprintln(os.Stderr, "no Python with onnxruntime found: measuring mlship only")
	}
	ours, ort := map[string]result{}, map[string]result{}
	for round := range rounds {
		fmt.Fprintf(os.Stderr, "round %d of %d\n", round+1, rounds)
		if py != "" {
			res, err := runOnnxruntime(py, x, rows, features, seconds)
			if err != nil {
				return err
			}
			for name, r := range res {
				ort[name] = best(ort[name], r)
			}
		}
		for _, name := range models {
			r, err := benchEngine(filepath.Join(modelsDir, name+".onnx"), x, rows, features, seconds)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			ours[name] = best(ours[name], r)
		}
	}
	report(ours, ort, rows)
	return nil
}

// best keeps the best of two measurements of one model: the machine may be shared, and
// interference only ever makes a figure worse.
func best(a, b result) result {
	if a.Model == "" {
		return b
	}
	a.Batch1USPerRow = min(a.Batch1USPerRow, b.Batch1USPerRow)
	a.BatchRowsPerS = max(a.BatchRowsPerS, b.BatchRowsPerS)
	a.LoadMS = min(a.LoadMS, b.LoadMS)
	a.RSSBytes = min(a.RSSBytes, b.RSSBytes)
	return a
}

// inputs are standard normal features scaled as the corpus generator scales them.
func inputs(rows, features int) []float32 {
	rng := rand.New(rand.NewPCG(7, 11))
	x := make([]float32, rows*features)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 2)
	}
	return x
}

func findPython(flagValue string) string {
	for _, py := range []string{flagValue, os.Getenv("MLSHIP_ONNX_REFERENCE_PYTHON"), ".venv/bin/python", ".venv-onnxgen/bin/python"} {
		if py != "" && exec.Command(py, "-c", "import onnxruntime, numpy").Run() == nil {
			return py
		}
	}
	return ""
}

func runOnnxruntime(py string, x []float32, rows, features int, seconds float64) (map[string]result, error) {
	f, err := os.CreateTemp("", "onnx-bench-*.f32")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	if err := binary.Write(f, binary.LittleEndian, x); err != nil {
		return nil, err
	}
	f.Close()
	args := []string{"bench/onnx/ort_bench.py", f.Name(), fmt.Sprint(rows), fmt.Sprint(features), fmt.Sprint(seconds)}
	for _, m := range models {
		args = append(args, filepath.Join(modelsDir, m+".onnx"))
	}
	cmd := exec.Command(py, args...)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("ort_bench.py: %w", err)
	}
	res := map[string]result{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("ort_bench.py output %q: %w", sc.Text(), err)
		}
		res[strings.TrimSuffix(r.Model, ".onnx")] = r
	}
	return res, nil
}

func benchEngine(path string, x []float32, rows, features int, seconds float64) (result, error) {
	r := result{Model: strings.TrimSuffix(filepath.Base(path), ".onnx"), Version: "mlship"}
	data, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	const copies = 10
	var before, after goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&before)
	kept := make([]*onnx.Model, copies)
	start := time.Now()
	for i := range kept {
		if kept[i], err = onnx.Load(data); err != nil {
			return r, err
		}
	}
	r.LoadMS = float64(time.Since(start).Microseconds()) / 1e3 / copies
	goruntime.GC()
	goruntime.ReadMemStats(&after)
	r.RSSBytes = float64(after.HeapAlloc-before.HeapAlloc) / copies
	m := kept[0]
	goruntime.KeepAlive(kept)
	name := m.Inputs()[0].Name

	single := make([]map[string]onnx.Value, rows)
	for i := range single {
		single[i] = map[string]onnx.Value{name: onnx.NewTensor([]int64{1, int64(features)}, x[i*features:(i+1)*features])}
	}
	for _, in := range single[:100] {
		if _, err := m.Run(in); err != nil {
			return r, err
		}
	}
	i := 0
	n, elapsed, err := timed(seconds, func() error {
		_, err := m.Run(single[i%rows])
		i++
		return err
	})
	if err != nil {
		return r, err
	}
	r.Batch1USPerRow = elapsed.Seconds() / float64(n) * 1e6
	batch := map[string]onnx.Value{name: onnx.NewTensor([]int64{int64(rows), int64(features)}, x)}
	n, elapsed, err = timed(seconds, func() error { _, err := m.Run(batch); return err })
	if err != nil {
		return r, err
	}
	r.BatchRowsPerS = float64(n*rows) / elapsed.Seconds()
	return r, nil
}

func timed(seconds float64, f func() error) (int, time.Duration, error) {
	start := time.Now()
	for n := 1; ; n++ {
		if err := f(); err != nil {
			return n, 0, err
		}
		if el := time.Since(start); el.Seconds() >= seconds {
			return n, el, nil
		}
	}
}

func report(ours, ort map[string]result, rows int) {
	version := "-"
	for _, r := range ort {
		version = r.Version
	}
	fmt.Printf("in-process ONNX inference, one thread: mlship engine vs onnxruntime %s (Python API)\n", version)
	fmt.Printf("%s, %s/%s, %s\n\n", cpuModel(), goruntime.GOOS, goruntime.GOARCH, goruntime.Version())
	w := tabwriter.NewWriter(os.Stdout, 2, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "model\tbatch 1 µs/row\t\t\tbatch %d rows/s\t\t\tload ms\t\tmemory KiB\t\t\n", rows)
	fmt.Fprintf(w, "\tmlship\tort\tort/mlship\tmlship\tort\tmlship/ort\tmlship\tort\tmlship\tort\t\n")
	for _, name := range models {
		r := ours[name]
		o, ok := ort[r.Model]
		if !ok {
			o = result{Batch1USPerRow: math.NaN(), BatchRowsPerS: math.NaN(), LoadMS: math.NaN(), RSSBytes: math.NaN()}
		}
		fmt.Fprintf(w, "%s\t%.2f\t%.2f\t%.2fx\t%.0f\t%.0f\t%.2fx\t%.2f\t%.2f\t%.0f\t%.0f\t\n",
			strings.TrimPrefix(r.Model, "bench_"), r.Batch1USPerRow, o.Batch1USPerRow, o.Batch1USPerRow/r.Batch1USPerRow,
			r.BatchRowsPerS, o.BatchRowsPerS, r.BatchRowsPerS/o.BatchRowsPerS, r.LoadMS, o.LoadMS, r.RSSBytes/1024, o.RSSBytes/1024)
	}
	w.Flush()
	fmt.Println("\nBest of the rounds for each figure. mlship memory is Go heap per loaded model;")
	fmt.Println("onnxruntime's is resident memory per session.")
	fmt.Println("ort/mlship > 1 at batch 1 and mlship/ort > 1 at batch 1000 mean mlship is faster.")
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "model name") {
			if _, v, ok := strings.Cut(line, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown CPU"
}
