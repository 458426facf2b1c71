// Package pythonenv builds the Python environment a model was logged with: the Python
// version of its python_env.yaml and the packages of its requirements.txt, installed
// with uv into a virtual environment under the server's data directory, named by a
// hash of what it holds and shared by every model version that asks for the same.
// A model's files are untrusted: its requirements may name packages and versions, never
// where packages come from (an index, a URL, a path) nor any other installer option.
package pythonenv

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mlship/mlship/internal/fault"
)

// Requirements is what a model asks of its Python environment.
type Requirements struct {
	// Python is the version the model was logged with ("3.11.7"); empty if unknown.
	Python string
	// Packages are the requirement lines to install, checked and normalized: the
	// model's own, its mlflow requirement as mlflow-skinny, and what the worker
	// needs that the model did not name.
	Packages []string
}

const (
	// maxFileBytes caps each file read from the model (MLmodel, python_env.yaml,
	// requirements.txt): real ones are a few KiB.
	maxFileBytes = 1 << 20
	// maxPackages caps the requirement lines of one model.
	maxPackages = 500
)

// workerPackages are the distributions the embedded worker imports (numpy, pandas,
// mlflow.pyfunc), added when the model's requirements do not name them.
var workerPackages = []string{"mlflow-skinny", "numpy", "pandas"}

// ErrRefused marks a requirements file that names something other than packages: an
// option, a URL, a path.
var ErrRefused = errors.New("the model's requirements are refused")

func refused(format string, args ...any) error {
	return fault.Wrap(fault.Invalid, ErrRefused, ErrRefused.Error()+": "+format, args...)
}

// mlmodelEnv is the part of an MLmodel file that says where the environment is.
type mlmodelEnv struct {
	Flavors struct {
		PyFunc struct {
			Env           any    `yaml:"env"`
			PythonVersion string `yaml:"python_version"`
		} `yaml:"python_function"`
	} `yaml:"flavors"`
}

// pythonEnvFile is MLflow's python_env.yaml.
type pythonEnvFile struct {
	Python       string   `yaml:"python"`
	Dependencies []string `yaml:"dependencies"`
}

// Read reads the requirements of the MLflow model in dir: python_env.yaml as its
// MLmodel names it (else the file of that name), the requirements files it includes
// with -r, or requirements.txt when there is no python_env.yaml.
func Read(dir string) (Requirements, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return Requirements{}, fault.Wrap(fault.Invalid, err, "cannot read the model directory")
	}
	defer root.Close()
	var m mlmodelEnv
	if data, err := readFile(root, "MLmodel"); err == nil {
		if err := yaml.Unmarshal(data, &m); err != nil {
			return Requirements{}, fault.Invalidf("the model's MLmodel file is not valid YAML: %v", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Requirements{}, err
	}
	envName := "python_env.yaml"
	if env, ok := m.Flavors.PyFunc.Env.(map[string]any); ok {
		if v, ok := env["virtualenv"].(string); ok && v != "" {
			envName = v
		}
	}
	var lines []string
	var req Requirements
	data, err := readFile(root, envName)
	switch {
	case err == nil:
		var pe pythonEnvFile
		if err := yaml.Unmarshal(data, &pe); err != nil {
			return req, fault.Invalidf("the model's %s is not valid YAML: %v", envName, err)
		}
		req.Python = pe.Python
		if lines, err = expand(root, envName, pe.Dependencies); err != nil {
			return req, err
		}
	case errors.Is(err, fs.ErrNotExist):
		if lines, err = includeFile(root, "requirements.txt"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return req, err
		}
	default:
		return req, err
	}
	req.Python = strings.TrimSpace(cmpOr(req.Python, m.Flavors.PyFunc.PythonVersion))
	if req.Python != "" && !pythonVersion.MatchString(req.Python) {
		return req, refused("its Python version %q is not a version number", req.Python)
	}
	req.Packages, err = Packages(lines)
	return req, err
}

var pythonVersion = regexp.MustCompile(`^3\.[0-9]{1,2}(\.[0-9]{1,3})?$`)

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// expand returns the requirement lines of python_env.yaml's dependencies, reading
// each `-r FILE` it names from the model's directory.
func expand(root *os.Root, from string, deps []string) ([]string, error) {
	var lines []string
	for _, d := range deps {
		d = strings.TrimSpace(d)
		name, ok := include(d)
		if !ok {
			lines = append(lines, d)
			continue
		}
		more, err := includeFile(root, name)
		if err != nil {
			return nil, fmt.Errorf("%s includes %s: %w", from, name, err)
		}
		lines = append(lines, more...)
	}
	return lines, nil
}

// include returns the file of a `-r FILE` or `--requirement FILE` line.
func include(line string) (string, bool) {
	for _, p := range []string{"-r ", "--requirement ", "--requirement="} {
		if rest, ok := strings.CutPrefix(line, p); ok {
			return strings.TrimSpace(rest), true
		}
	}
	return "", false
}

// includeFile reads a requirements file of the model: a name inside its directory.
func includeFile(root *os.Root, name string) ([]string, error) {
	if !filepath.IsLocal(name) {
		return nil, refused("requirements file %q is not inside the model's directory", name)
	}
	data, err := readFile(root, name)
	if err != nil {
		return nil, err
	}
	return logicalLines(data), nil
}

func readFile(root *os.Root, name string) ([]byte, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileBytes {
		return nil, fault.Invalidf("the model's %s is larger than %d bytes", name, maxFileBytes)
	}
	return data, nil
}

// logicalLines splits a requirements file into lines, joining those continued with a
// backslash and dropping comments and blank lines.
func logicalLines(data []byte) []string {
	var out []string
	var cur strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), maxFileBytes)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		if i := strings.Index(l, " #"); i >= 0 {
			l = l[:i]
		}
		if s, ok := strings.CutSuffix(l, `\`); ok {
			cur.WriteString(s)
			continue
		}
		cur.WriteString(l)
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

var (
	// requirementLine is a PEP 508 requirement by name: a name, extras, version
	// specifiers and an environment marker; no URL (name @ url), no path.
	requirementLine = regexp.MustCompile(`^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[[A-Za-z0-9._,\s-]*\])?\s*([^;]*?)\s*(;.*)?$`)
	specifiers      = regexp.MustCompile(`^(\(?\s*(===|==|~=|!=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+\s*,?\s*\)?)*$`)
	marker          = regexp.MustCompile(`^[A-Za-z0-9_.'" <>=!~()\-]*$`)
)

// Packages checks requirement lines and returns them normalized: mlflow becomes
// mlflow-skinny at the same version (the same mlflow package, without the tracking
// server the worker never runs), and what the worker imports is added if missing.
// It refuses options (an index URL, -e, a constraints file), URLs and paths: where
// packages come from is the operator's choice, never a model's.
func Packages(lines []string) ([]string, error) {
	if len(lines) > maxPackages {
		return nil, refused("it names %d requirements; at most %d are accepted", len(lines), maxPackages)
	}
	var out []string
	named := map[string]bool{}
	for _, l := range lines {
		p, err := checkLine(l)
		if err != nil {
			return nil, err
		}
		out = append(out, p.line)
		named[p.name] = true
	}
	for _, w := range workerPackages {
		if !named[w] {
			out = append(out, w)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

type requirement struct{ name, line string }

func checkLine(l string) (requirement, error) {
	l = strings.TrimSpace(l)
	refuse := func(why string) (requirement, error) {
		return requirement{}, refused("%q: %s; a model's requirements may name packages and versions only, and packages come from the index the server's operator configured", l, why)
	}
	switch {
	case strings.HasPrefix(l, "-") || strings.Contains(l, " -") || strings.Contains(l, "\t-"):
		// An option after a requirement (numpy --hash=..., or hidden in a marker)
		// is an installer option too.
		return refuse("installer options are not accepted (index and link URLs, -e, -r, -c, --hash)")
	case strings.Contains(l, "://") || strings.Contains(l, "@") || strings.HasPrefix(l, "git+"):
		return refuse("a URL is not accepted")
	case strings.ContainsAny(l, `/\`) || strings.HasPrefix(l, ".") || strings.HasPrefix(l, "~"):
		return refuse("a path is not accepted")
	}
	m := requirementLine.FindStringSubmatch(l)
	if m == nil || !specifiers.MatchString(m[3]) || !marker.MatchString(strings.TrimPrefix(m[4], ";")) {
		return refuse("it is not a requirement of the form name[extras]==version")
	}
	name := normalize(m[1])
	if name == "mlflow" {
		name = "mlflow-skinny"
	}
	line := name + strings.ReplaceAll(m[2], " ", "") + strings.ReplaceAll(m[3], " ", "")
	if m[4] != "" {
		line += " " + strings.TrimSpace(m[4])
	}
	return requirement{name: name, line: line}, nil
}

var separators = regexp.MustCompile(`[-_.]+`)

// normalize is a distribution name as PEP 503 compares them.
func normalize(name string) string {
	return separators.ReplaceAllString(strings.ToLower(name), "-")
}

// Key names the environment of a Python interpreter (its full version and path) and
// a requirements list: the hash of both.
func Key(python string, packages []string) string {
	h := sha256.New()
	// Each field is prefixed by its length, so that no two lists hash alike.
	fmt.Fprintf(h, "mlship python environment 1\n%d:%s", len(python), python)
	for _, p := range packages {
		fmt.Fprintf(h, "%d:%s", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}
