package pythonenv

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mlship/mlship/internal/fault"
)

// fakeUV stands in for uv: it finds python3 for any version, makes a venv as a
// directory with bin/python, and "installs" by counting builds, slowly enough that
// concurrent builds overlap; a requirement "missing==99" fails as uv's resolver does.
const fakeUV = `#!/bin/sh
log="$(dirname "$0")/calls"
echo "$*" >> "$log"
case "$1 $2" in
"python find") case "$5" in 3.99*) echo "error: No interpreter found for Python $5" >&2; exit 2 ;; esac; command -v python3 ;;
"venv --relocatable") eval "dir=\${$#}"; mkdir -p "$dir/bin" && ln -s "$(command -v python3)" "$dir/bin/python" ;;
"pip install")
	req=""; prev=""
	for a in "$@"; do [ "$prev" = "-r" ] && req="$a"; prev="$a"; done
	if grep -q 'missing==99' "$req"; then
		echo "  × No solution found when resolving dependencies:" >&2
		echo "  ╰─▶ Because there is no version of missing==99 and you require missing==99, we can conclude that your requirements are unsatisfiable." >&2
		exit 1
	fi
	sleep 0.3; echo build >> "$(dirname "$0")/builds" ;;
esac
`

func newBuilder(t *testing.T) (*Builder, string) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3")
	}
	bin := t.TempDir()
	uv := filepath.Join(bin, "uv")
	if err := os.WriteFile(uv, []byte(fakeUV), 0o755); err != nil {
		t.Fatal(err)
	}
	return &Builder{UV: uv, Dir: filepath.Join(t.TempDir(), "envs"), Environ: []string{"PATH=" + os.Getenv("PATH")}}, bin
}

func modelDir(t *testing.T, requirements string) string {
	return modelDirPython(t, "3.11.7", requirements)
}

func modelDirPython(t *testing.T, python, requirements string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"MLmodel":          "flavors:\n  python_function:\n    env:\n      virtualenv: python_env.yaml\n",
		"python_env.yaml":  "python: " + python + "\ndependencies:\n- -r requirements.txt\n",
		"requirements.txt": requirements,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func builds(t *testing.T, bin string) int {
	data, err := os.ReadFile(filepath.Join(bin, "builds"))
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "build")
}

func TestPrepareBuildsOnceAndReuses(t *testing.T) {
	b, bin := newBuilder(t)
	dirs := []string{modelDir(t, "mlflow==3.17.2\nscikit-learn==1.9.1\n"), modelDir(t, "scikit_learn==1.9.1\nMLflow==3.17.2\n")}
	envs := make([]Env, 4)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range envs {
		wg.Go(func() { envs[i], errs[i] = b.Prepare(context.Background(), dirs[i%2]) })
	}
	wg.Wait()
	reused := 0
	for i, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
		if envs[i].Key != envs[0].Key {
			t.Errorf("the same requirements got two environments: %s and %s", envs[0].Key, envs[i].Key)
		}
		if envs[i].Reused {
			reused++
		}
	}
	if n := builds(t, bin); n != 1 || reused != 3 {
		t.Errorf("%d builds and %d reuses for four loads of the same requirements, want 1 and 3", n, reused)
	}
	if _, err := os.Stat(filepath.Join(envs[0].Dir, manifestName)); err != nil {
		t.Errorf("the environment has no manifest: %v", err)
	}
	if _, err := os.Stat(envs[0].Python); err != nil {
		t.Errorf("the environment's python: %v", err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(b.Dir, ".build-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary build directories left: %q", leftovers)
	}

	again, err := b.Prepare(context.Background(), modelDir(t, "mlflow==3.17.2\nscikit-learn==1.9.1\nskops==0.16.0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if again.Reused || again.Key == envs[0].Key || builds(t, bin) != 2 {
		t.Errorf("other requirements reused an environment: %+v", again)
	}
}

func TestPrepareUnsatisfiable(t *testing.T) {
	b, bin := newBuilder(t)
	_, err := b.Prepare(context.Background(), modelDir(t, "missing==99\n"))
	if err == nil || !strings.Contains(err.Error(), "No solution found") || !strings.Contains(err.Error(), "missing==99") {
		t.Fatalf("Prepare = %v, want uv's resolver error", err)
	}
	if !errors.Is(err, fault.Invalid) {
		t.Errorf("an unsatisfiable requirement is of kind %v, want Invalid", fault.KindOf(err))
	}
	entries, _ := os.ReadDir(b.Dir)
	for _, e := range entries {
		if e.IsDir() && e.Name() != "uv-cache" {
			t.Errorf("a failed build left %s behind", e.Name())
		}
	}
	if builds(t, bin) != 0 {
		t.Error("a failed build counted as built")
	}
}

func TestPrepareRefusesBeforeRunningUV(t *testing.T) {
	b, bin := newBuilder(t)
	_, err := b.Prepare(context.Background(), modelDir(t, "--index-url http://127.0.0.1:9/simple\nnumpy\n"))
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("Prepare = %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(bin, "calls")); err == nil {
		t.Error("uv ran for a refused model")
	}
}

func TestEnviron(t *testing.T) {
	b := &Builder{Dir: "/data/envs", Environ: []string{"PATH=/bin", "UV_PYTHON_DOWNLOADS=automatic", "PIP_INDEX_URL=https://mirror.example/simple",
		"PIP_EXTRA_INDEX_URL=https://a.example/simple https://b.example/simple"}}
	env := strings.Join(b.environ(), " ")
	for _, want := range []string{"UV_CACHE_DIR=/data/envs/uv-cache", "UV_PYTHON_DOWNLOADS=never", "PIP_INDEX_URL=https://mirror.example/simple", "UV_NO_BUILD=1"} {
		if !strings.Contains(env, want) {
			t.Errorf("uv's environment %q lacks %s", env, want)
		}
	}
	if strings.Contains(env, "automatic") {
		t.Errorf("uv's environment %q lets it download interpreters", env)
	}
	args := strings.Join(b.indexArgs(), " ")
	if args != "--index-url https://mirror.example/simple --extra-index-url https://a.example/simple --extra-index-url https://b.example/simple" {
		t.Errorf("index arguments %q", args)
	}
	b.Environ = append(b.Environ, "UV_INDEX_URL=https://uv.example/simple", "UV_CACHE_DIR=/cache", "UV_NO_BUILD=0")
	if args := b.indexArgs(); len(args) != 0 {
		t.Errorf("uv's own index setting is overridden by %q", args)
	}
	if env := strings.Join(b.environ(), " "); strings.Contains(env, "/data/envs/uv-cache") || strings.Contains(env, "UV_NO_BUILD=1") {
		t.Errorf("the operator's UV_CACHE_DIR or UV_NO_BUILD is overridden: %q", env)
	}
}

func TestPrepareFallsBackToThePythonGivenWithAWarning(t *testing.T) {
	b, _ := newBuilder(t)
	env, err := b.Prepare(context.Background(), modelDirPython(t, "3.99.1", "numpy\n"))
	if err != nil {
		t.Fatal(err)
	}
	if env.Version == "" || strings.HasPrefix(env.Version, "3.99") {
		t.Fatalf("the environment runs Python %q", env.Version)
	}
	if !strings.Contains(env.Warning, "logged with Python 3.99.1") || !strings.Contains(env.Warning, env.Version) ||
		!strings.Contains(env.String(), "warning: ") {
		t.Errorf("warning %q, description %q", env.Warning, env)
	}
	// The same minor version as the interpreter found: no warning.
	same, err := b.Prepare(context.Background(), modelDirPython(t, minor(env.Version), "numpy\n"))
	if err != nil {
		t.Fatal(err)
	}
	if same.Warning != "" {
		t.Errorf("Python %s found for %s, yet warned %q", same.Version, minor(env.Version), same.Warning)
	}
}
