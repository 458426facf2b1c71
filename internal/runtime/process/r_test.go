package process

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
)

// rscript returns Rscript, or skips the test when it or jsonlite is missing.
func rscript(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("the R worker tests start R processes: skipped in -short mode")
	}
	path, err := exec.LookPath("Rscript")
	if err != nil {
		t.Skip("no Rscript on PATH")
	}
	if out, err := exec.Command(path, "-e", "library(jsonlite)").CombinedOutput(); err != nil {
		t.Skipf("R lacks jsonlite: %v\n%s", err, out)
	}
	return path
}

var rModelsOnce = onceFor(func(rscript string) (string, error) {
	dir := filepath.Join(scratch(), "r-models")
	out, err := exec.Command(rscript, filepath.Join("testdata", "make_r_models.R"), dir).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("make_r_models.R: %v\n%s", err, out)
	}
	return dir, nil
})

func loadR(t *testing.T, rscript, dir string) runtime.Model {
	t.Helper()
	rt := R(Options{Interpreter: rscript, Workers: 1, ScriptDir: filepath.Join(scratch(), "scripts"),
		StartTimeout: 30 * time.Second, StopGrace: 2 * time.Second})
	m, err := rt.Load(testContext(t), runtime.Spec{Dir: dir, Name: filepath.Base(dir), Version: "1"})
	if err != nil {
		t.Fatalf("Load %s: %v", dir, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func checkExact(t *testing.T, resp *runtime.Response, want []float64) {
	t.Helper()
	if len(resp.Outputs) != 1 || resp.Outputs[0].Datatype != runtime.FP64 {
		t.Fatalf("reply %+v, want one FP64 tensor", resp.Outputs)
	}
	got, _ := resp.Outputs[0].Float64s()
	if len(got) != len(want) {
		t.Fatalf("%d predictions, want %d", len(got), len(want))
	}
	for i := range want {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
			t.Fatalf("prediction %d = %v, want exactly %v", i, got[i], want[i])
		}
	}
}

func TestRLinearModel(t *testing.T) {
	r := rscript(t)
	dir, err := rModelsOnce(r)
	if err != nil {
		t.Fatal(err)
	}
	m := loadR(t, r, filepath.Join(dir, "lm"))
	md := m.Metadata()
	if md.Platform != "r_rds" || !md.Columns || !md.Batchable || len(md.Inputs) != 3 ||
		md.Inputs[2].Name != "gear" || md.Inputs[2].Datatype != runtime.Bytes {
		t.Fatalf("metadata = %+v", md)
	}
	wt, hp := readF64(t, filepath.Join(dir, "wt.f64")), readF64(t, filepath.Join(dir, "hp.f64"))
	gear, err := os.ReadFile(filepath.Join(dir, "gear.txt"))
	if err != nil {
		t.Fatal(err)
	}
	rows := int64(len(wt))
	req := &runtime.Request{Layout: runtime.LayoutColumns, Inputs: []runtime.Tensor{
		runtime.NewFloat64("wt", []int64{rows}, wt),
		runtime.NewFloat64("hp", []int64{rows}, hp),
		runtime.NewStrings("gear", []int64{rows}, strings.Fields(string(gear))),
	}}
	resp, err := m.Predict(testContext(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Kind != runtime.ResultArray {
		t.Fatalf("kind = %s", resp.Kind)
	}
	checkExact(t, resp, readF64(t, filepath.Join(dir, "lm.f64")))

	_, err = m.Predict(testContext(t), &runtime.Request{Layout: runtime.LayoutColumns, Inputs: req.Inputs[:2]})
	if !errors.Is(err, fault.Invalid) || !strings.Contains(fault.Message(err), "gear") {
		t.Fatalf("a missing column: err = %v, want fault.Invalid naming it", err)
	}
}

func TestRGeneralizedLinearModel(t *testing.T) {
	r := rscript(t)
	dir, err := rModelsOnce(r)
	if err != nil {
		t.Fatal(err)
	}
	m := loadR(t, r, filepath.Join(dir, "glm"))
	wt := readF64(t, filepath.Join(dir, "wt.f64"))
	// One rows-by-1 tensor: the worker names its column after the model's predictor.
	req := &runtime.Request{Inputs: []runtime.Tensor{runtime.NewFloat64("x", []int64{int64(len(wt)), 1}, wt)}}
	resp, err := m.Predict(testContext(t), req)
	if err != nil {
		t.Fatal(err)
	}
	checkExact(t, resp, readF64(t, filepath.Join(dir, "glm.f64")))
}

func TestRLoadError(t *testing.T) {
	r := rscript(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.rds"), []byte("not an rds file"), 0o600)
	rt := R(Options{Interpreter: r, Workers: 1, ScriptDir: filepath.Join(scratch(), "scripts")})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := rt.Load(ctx, runtime.Spec{Dir: dir})
	if !errors.Is(err, fault.Invalid) || !strings.Contains(fault.Message(err), "unknown input format") {
		t.Fatalf("err = %v, want R's own error in the message", err)
	}
}
