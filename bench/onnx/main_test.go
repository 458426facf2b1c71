package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakePython writes an executable at dir/rel that exits with status code, standing in
// for a venv's python answering `-c "import onnxruntime, numpy"`.
func fakePython(t *testing.T, dir, rel string, code int) string {
	t.Helper()
	path := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho 'ModuleNotFoundError: no onnxruntime' >&2\nexit " + string(rune('0'+code)) + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFindPython(t *testing.T) {
	tests := []struct {
		name    string
		venvs   map[string]int // python path under the repository -> exit status of the import
		flag    string
		want    string
		wantErr string
	}{
		{name: "the venv make bench-onnx prepares", venvs: map[string]int{".venv-bench/bin/python": 0}, want: ".venv-bench/bin/python"},
		{name: "bench venv before the dev venv", venvs: map[string]int{".venv-bench/bin/python": 0, ".venv/bin/python": 0}, want: ".venv-bench/bin/python"},
		{name: "dev venv when the bench venv lacks onnxruntime", venvs: map[string]int{".venv-bench/bin/python": 1, ".venv/bin/python": 0}, want: ".venv/bin/python"},
		{name: "none has onnxruntime", venvs: map[string]int{".venv/bin/python": 1}, wantErr: "bash bench/setup.sh bench"},
		{name: "no venv at all", wantErr: "no Python with onnxruntime"},
		{name: "a -python that fails is not replaced", venvs: map[string]int{".venv-bench/bin/python": 0, "py": 1}, flag: "py", wantErr: "no onnxruntime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			t.Setenv("MLSHIP_ONNX_REFERENCE_PYTHON", "")
			for rel, code := range tt.venvs {
				fakePython(t, dir, rel, code)
			}
			flag := tt.flag
			if flag != "" {
				flag = filepath.Join(dir, flag)
			}
			got, err := findPython(flag)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("findPython() = %q, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("findPython() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestCheckBaseline(t *testing.T) {
	full := map[string]result{}
	for _, m := range models {
		full[m] = result{Model: m, Batch1USPerRow: 10, BatchRowsPerS: 1e5}
	}
	if err := checkBaseline(full); err != nil {
		t.Errorf("all measured: %v", err)
	}
	partial := map[string]result{models[0]: full[models[0]]}
	if err := checkBaseline(partial); err == nil || !strings.Contains(err.Error(), models[1]) {
		t.Errorf("two models unmeasured: %v, want an error naming %s", err, models[1])
	}
	if err := checkBaseline(nil); err == nil {
		t.Error("nothing measured: no error")
	}
}
