// Command onnx benchmarks mlship's ONNX engine against onnxruntime's Python API in
// process, on one thread, with the same models and the same inputs: latency per row
// at batch 1, rows per second at batch 1000, load time and memory per loaded model.
//
//	go run ./bench/onnx [-python PATH] [-seconds 3]
//
// The Python needs onnxruntime and numpy: .venv-bench, which `bash bench/setup.sh bench`
// (and `make bench-onnx`) prepares, has them. Without onnxruntime's figures there is
// nothing to compare with, so the run fails rather than print mlship's alone.
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
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
	python := flag.String("python", "", "Python with onnxruntime (default: the first of $MLSHIP_ONNX_REFERENCE_PYTHON, .venv-bench, .venv, .venv-onnxgen that has it)")
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
	py, err := findPython(python)
	if err != nil {
		return err
	}
	ours, ort := map[string]result{}, map[string]result{}
	for round := range rounds {
		fmt.Fprintf(os.Stderr, "round %d of %d\n", round+1, rounds)
		res, err := runOnnxruntime(py, x, rows, features, seconds)
		if err != nil {
			return err
		}
		for name, r := range res {
			ort[name] = best(ort[name], r)
		}
		for _, name := range models {
			r, err := benchEngine(filepath.Join(modelsDir, name+".onnx"), x, rows, features, seconds)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			ours[name] = best(ours[name], r)
		}
	}
	if err := checkBaseline(ort); err != nil {
		return err
	}
	report(ours, ort, rows)
	return nil
}

// checkBaseline fails when onnxruntime measured no figure for a model: a ratio against
// nothing is not a result.
func checkBaseline(ort map[string]result) error {
	var missing []string
	for _, name := range models {
		if r, ok := ort[name]; !ok || !(r.Batch1USPerRow > 0) || !(r.BatchRowsPerS > 0) {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("onnxruntime measured nothing for %s: no ratio to report", strings.Join(missing, ", "))
	}
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

// findPython returns the Python that runs onnxruntime's side: the one given with
// -python, which must work, or else the first of $MLSHIP_ONNX_REFERENCE_PYTHON and the
// repository's venvs that imports onnxruntime and numpy. .venv-bench comes first: it is
// the one `make bench-onnx` prepares.
func findPython(flagValue string) (string, error) {
	candidates := []string{os.Getenv("MLSHIP_ONNX_REFERENCE_PYTHON"), ".venv-bench/bin/python", ".venv/bin/python", ".venv-onnxgen/bin/python"}
	if flagValue != "" {
		candidates = []string{flagValue}
	}
	var tried []string
	for _, py := range candidates {
		if py == "" {
			continue
		}
		out, err := exec.Command(py, "-c", "import onnxruntime, numpy").CombinedOutput()
		if err == nil {
			return py, nil
		}
		tried = append(tried, fmt.Sprintf("%s: %v %s", py, err, lastLine(out)))
	}
	return "", fmt.Errorf("no Python with onnxruntime and numpy, so no baseline to measure against "+
		"(run `bash bench/setup.sh bench`, or give -python):\n  %s", strings.Join(tried, "\n  "))
}

// lastLine is the last non-empty line of a command's output, which says why an import failed.
func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
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
		o := ort[r.Model] // checkBaseline made sure it is there
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
