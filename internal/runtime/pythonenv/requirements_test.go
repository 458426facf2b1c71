package pythonenv

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/fault"
)

func TestPackages(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  []string
	}{
		{"mlflow becomes mlflow-skinny; the worker's packages are added",
			[]string{"mlflow==3.17.2", "scikit-learn==1.9.1"},
			[]string{"mlflow-skinny==3.17.2", "numpy", "pandas", "scikit-learn==1.9.1"}},
		{"names are normalized and named packages are not added twice",
			[]string{"MLflow_Skinny>=3", "NumPy==2.4.6", "pandas<3,>=2"},
			[]string{"mlflow-skinny>=3", "numpy==2.4.6", "pandas<3,>=2"}},
		{"extras, markers and spaces",
			[]string{"mlflow[gateway] == 3.1", `pywin32==306 ; sys_platform == "win32"`, "cloudpickle ~= 3.0"},
			[]string{"cloudpickle~=3.0", "mlflow-skinny[gateway]==3.1", "numpy", "pandas", `pywin32==306 ; sys_platform == "win32"`}},
		{"nothing named: the worker's packages",
			nil,
			[]string{"mlflow-skinny", "numpy", "pandas"}},
		{"duplicates collapse",
			[]string{"numpy==2.4.6", "numpy==2.4.6"},
			[]string{"mlflow-skinny", "numpy==2.4.6", "pandas"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Packages(tt.lines)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Packages(%q) = %q, want %q", tt.lines, got, tt.want)
			}
		})
	}
}

func TestPackagesRefused(t *testing.T) {
	for _, line := range []string{
		"--index-url http://127.0.0.1:9/simple",
		"-i http://evil.example/simple",
		"--extra-index-url=https://evil.example/simple",
		"--find-links /tmp/wheels",
		"-e git+https://github.com/x/y#egg=y",
		"-e .",
		"-r other.txt",
		"-c constraints.txt",
		"--trusted-host evil.example",
		"git+https://github.com/x/y.git",
		"y @ https://evil.example/y-1.0.tar.gz",
		"y @ file:///etc/passwd",
		"https://evil.example/y-1.0-py3-none-any.whl",
		"./local_pkg",
		"../wheels/y-1.0-py3-none-any.whl",
		"/abs/path/y.whl",
		"~/y",
		"numpy==2.4.6 --hash=sha256:abc",
		"numpy==2.4.6; python_version >= '3' --index-url http://x",
		"numpy===",
		`numpy; python_version > "3" --find-links .`,
		`numpy; python_version > "3" -i x`,
		"numpy;$(touch /tmp/x)",
	} {
		t.Run(line, func(t *testing.T) {
			_, err := Packages([]string{line})
			if !errors.Is(err, ErrRefused) || !errors.Is(err, fault.Invalid) {
				t.Fatalf("Packages(%q) = %v, want a refusal", line, err)
			}
			if !strings.Contains(err.Error(), strconv.Quote(line)) {
				t.Errorf("the refusal %q does not quote the line", err)
			}
		})
	}
}

func TestRead(t *testing.T) {
	const mlmodel = "flavors:\n  python_function:\n    env:\n      conda: conda.yaml\n      virtualenv: python_env.yaml\n    loader_module: mlflow.sklearn\n    python_version: 3.11.7\n"
	tests := []struct {
		name    string
		files   map[string]string
		python  string
		want    []string
		refused bool
	}{
		{"python_env.yaml including requirements.txt", map[string]string{
			"MLmodel":          mlmodel,
			"python_env.yaml":  "python: 3.11.7\nbuild_dependencies:\n- pip==23.2.1\n- setuptools\ndependencies:\n- -r requirements.txt\n",
			"requirements.txt": "# a comment\nmlflow==3.17.2\n\nscikit-learn==1.9.1  # trailing\nskops==0.16.0 \\\n\n",
		}, "3.11.7", []string{"mlflow-skinny==3.17.2", "numpy", "pandas", "scikit-learn==1.9.1", "skops==0.16.0"}, false},
		{"requirements.txt alone, the version from MLmodel", map[string]string{
			"MLmodel":          mlmodel,
			"requirements.txt": "scikit-learn==1.9.1\n",
		}, "3.11.7", []string{"mlflow-skinny", "numpy", "pandas", "scikit-learn==1.9.1"}, false},
		{"no MLmodel, no files", map[string]string{}, "", []string{"mlflow-skinny", "numpy", "pandas"}, false},
		{"an index in requirements.txt", map[string]string{
			"python_env.yaml":  "python: 3.11.7\ndependencies:\n- -r requirements.txt\n",
			"requirements.txt": "--index-url http://127.0.0.1:9/simple\nscikit-learn\n",
		}, "", nil, true},
		{"python_env.yaml including a file outside the model", map[string]string{
			"python_env.yaml": "python: 3.11.7\ndependencies:\n- -r ../../etc/requirements.txt\n",
		}, "", nil, true},
		{"an index among python_env.yaml's dependencies", map[string]string{
			"python_env.yaml": "python: 3.11.7\ndependencies:\n- --extra-index-url http://evil.example\n",
		}, "", nil, true},
		{"a python version that is not one", map[string]string{
			"python_env.yaml": "python: '3.11; rm -rf /'\ndependencies: []\n",
		}, "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			req, err := Read(dir)
			if tt.refused {
				if !errors.Is(err, ErrRefused) {
					t.Fatalf("Read = %+v, %v; want a refusal", req, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.Python != tt.python || !slices.Equal(req.Packages, tt.want) {
				t.Errorf("Read = %q %q, want %q %q", req.Python, req.Packages, tt.python, tt.want)
			}
		})
	}
}

func TestKey(t *testing.T) {
	base := Key("3.11.7\x00/usr/bin/python3.11", []string{"numpy==2.4.6", "pandas"})
	if len(base) != 64 {
		t.Fatalf("Key is %q, want 64 hex digits", base)
	}
	for _, tt := range []struct {
		name   string
		python string
		pkgs   []string
		same   bool
	}{
		{"same inputs", "3.11.7\x00/usr/bin/python3.11", []string{"numpy==2.4.6", "pandas"}, true},
		{"another patch version", "3.11.8\x00/usr/bin/python3.11", []string{"numpy==2.4.6", "pandas"}, false},
		{"another interpreter", "3.11.7\x00/opt/python3.11", []string{"numpy==2.4.6", "pandas"}, false},
		{"another pin", "3.11.7\x00/usr/bin/python3.11", []string{"numpy==2.4.5", "pandas"}, false},
		{"a package more", "3.11.7\x00/usr/bin/python3.11", []string{"numpy==2.4.6", "pandas", "scipy"}, false},
		{"no confusion between fields", "3.11.7\x00/usr/bin/python3.11\x00numpy==2.4.6", []string{"pandas"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Key(tt.python, tt.pkgs); (got == base) != tt.same {
				t.Errorf("Key(%q, %q) == base is %v, want %v", tt.python, tt.pkgs, got == base, tt.same)
			}
		})
	}
	// What two models logged the same way read to is the same key, whatever the
	// order and spelling of their lines.
	a, _ := Packages([]string{"scikit-learn==1.9.1", "mlflow==3.17.2"})
	b, _ := Packages([]string{"MLflow == 3.17.2", "scikit_learn==1.9.1"})
	if Key("3.11.7", a) != Key("3.11.7", b) {
		t.Errorf("equivalent requirements %q and %q have different keys", a, b)
	}
}
