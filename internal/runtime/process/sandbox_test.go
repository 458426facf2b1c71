package process

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/runtime"
	"github.com/mlship/mlship/internal/runtime/sandbox"
)

// bubblewrap returns the bubblewrap sandbox, or skips the test where it does not work.
func bubblewrap(t *testing.T) *sandbox.Sandbox {
	t.Helper()
	sb, err := sandbox.New(sandbox.Config{Mechanism: sandbox.Bubblewrap})
	if err != nil {
		t.Skipf("no bubblewrap sandbox here: %v", err)
	}
	return sb
}

// The embedded workers find their interpreter's installation and run in the sandbox,
// which shows them nothing else: the test models load and answer.
func TestSandboxedPython(t *testing.T) {
	t.Parallel()
	python := venvPython(t)
	dir := pythonModels(t, python)
	rt := Python(Options{Interpreter: python, Workers: 1, ScriptDir: filepath.Join(scratch(), "scripts"),
		Sandbox: bubblewrap(t), StartTimeout: 60 * time.Second, StopGrace: 2 * time.Second})
	m, err := rt.Load(testContext(t), runtime.Spec{Dir: filepath.Join(dir, "regressor"), Name: "regressor", Version: "1"})
	if err != nil {
		t.Fatalf("Load in the sandbox: %v", err)
	}
	defer m.Close()
	req := &runtime.Request{Layout: runtime.LayoutColumns, Inputs: []runtime.Tensor{
		runtime.NewFloat64("a", []int64{1}, []float64{1}), runtime.NewFloat64("b", []int64{1}, []float64{2}),
		runtime.NewFloat64("c", []int64{1}, []float64{3}), runtime.NewFloat64("d", []int64{1}, []float64{4}),
	}}
	if _, err := m.Predict(testContext(t), req); err != nil {
		t.Fatalf("Predict in the sandbox: %v", err)
	}
}

func TestSandboxedR(t *testing.T) {
	r := rscript(t)
	dir, err := rModelsOnce(r)
	if err != nil {
		t.Fatal(err)
	}
	rt := R(Options{Interpreter: r, Workers: 1, ScriptDir: filepath.Join(scratch(), "scripts"),
		Sandbox: bubblewrap(t), StartTimeout: 30 * time.Second, StopGrace: 2 * time.Second})
	m, err := rt.Load(testContext(t), runtime.Spec{Dir: filepath.Join(dir, "lm"), Name: "lm", Version: "1"})
	if err != nil {
		t.Fatalf("Load in the sandbox: %v", err)
	}
	defer m.Close()
	if md := m.Metadata(); md.Platform != "r_rds" {
		t.Fatalf("metadata = %+v", md)
	}
}

// A worker gets the environment built for it: none of the server's variables, the
// operator's and the runtime's, and the model's directory.
func TestWorkerEnvironment(t *testing.T) {
	t.Setenv("AWS_SECRET_ACCESS_KEY", "planted")
	env := workerEnv("/models/m", []string{"JULIA_DEPOT_PATH=/opt/depot", "LANG=en_US.UTF-8"})
	joined := strings.Join(env, "\n")
	for _, want := range []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "TMPDIR=/tmp", "LC_ALL=C.UTF-8",
		"PYTHONDONTWRITEBYTECODE=1", "JULIA_DEPOT_PATH=/opt/depot", "MLSHIP_MODEL_DIR=/models/m"} {
		if !strings.Contains(joined, want) {
			t.Errorf("the worker's environment lacks %s:\n%s", want, joined)
		}
	}
	if strings.Contains(joined, "AWS_SECRET") || len(env) != len(baseEnv)+3 {
		t.Errorf("the worker's environment holds more than was built:\n%s", joined)
	}
	if last := env[len(env)-2]; last != "LANG=en_US.UTF-8" {
		t.Errorf("an operator's variable does not come after the default it replaces: %v", env)
	}
}
