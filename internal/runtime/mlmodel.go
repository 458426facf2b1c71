package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mlship/mlship/internal/fault"
)

// Format is what a model directory holds, as far as choosing a runtime goes.
type Format struct {
	// Flavors are the MLflow flavors its MLmodel file lists (empty without one).
	Flavors []string
	// Files are the names of the model files found at the top of the directory that
	// name a format by their extension (".onnx", ".rds").
	ONNX, RDS []string
	// Runtime is the runtime the MLmodel file asks for under metadata.mlship_runtime.
	Runtime string
}

// mlmodelFile is the part of an MLmodel file that chooses a runtime.
type mlmodelFile struct {
	Flavors  map[string]any `yaml:"flavors"`
	Metadata map[string]any `yaml:"metadata"`
}

// maxMLmodelBytes caps the MLmodel file read: real ones are a few KiB.
const maxMLmodelBytes = 1 << 20

// Inspect reads what dir holds: its MLmodel flavors and its model files.
func Inspect(dir string) (Format, error) {
	var f Format
	entries, err := os.ReadDir(dir)
	if err != nil {
		return f, fault.Wrap(fault.Invalid, err, "cannot read the model directory %s", dir)
	}
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".onnx":
			f.ONNX = append(f.ONNX, e.Name())
		case ".rds":
			f.RDS = append(f.RDS, e.Name())
		}
	}
	data, err := readSmall(filepath.Join(dir, "MLmodel"))
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, err
	}
	var m mlmodelFile
	if err := yaml.Unmarshal(data, &m); err != nil {
		return f, fault.Invalidf("the model's MLmodel file is not valid YAML: %v", err)
	}
	for name := range m.Flavors {
		f.Flavors = append(f.Flavors, name)
	}
	sort.Strings(f.Flavors)
	if r, ok := m.Metadata["mlship_runtime"].(string); ok {
		f.Runtime = r
	}
	return f, nil
}

func readSmall(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxMLmodelBytes {
		return nil, fault.Invalidf("%s is %d bytes; an MLmodel file is at most %d", filepath.Base(path), fi.Size(), maxMLmodelBytes)
	}
	return os.ReadFile(path)
}

// HasFlavor reports whether the MLmodel file lists flavor.
func (f Format) HasFlavor(flavor string) bool {
	for _, fl := range f.Flavors {
		if fl == flavor {
			return true
		}
	}
	return false
}

// Choose names the runtime for a model directory of format f: the one asked for, else
// the native ONNX engine for the onnx flavor or a bare .onnx file, the R worker for an
// .rds model, and the Python worker for any other pyfunc model.
func (f Format) Choose(requested string) (string, error) {
	if requested != "" && requested != "auto" {
		return requested, nil
	}
	switch {
	case f.Runtime != "":
		return f.Runtime, nil
	case f.HasFlavor("onnx") || (len(f.Flavors) == 0 && len(f.ONNX) == 1):
		return "onnx", nil
	case f.HasFlavor("crate") || (!f.HasFlavor("python_function") && len(f.RDS) > 0):
		return "r", nil
	case f.HasFlavor("python_function"):
		return "python", nil
	}
	return "", fault.Invalidf("cannot tell how to serve this model: %s", f.describe())
}

func (f Format) describe() string {
	if len(f.Flavors) > 0 {
		return fmt.Sprintf("its MLmodel lists the flavors %s and none of them is python_function or onnx; name a runtime", strings.Join(f.Flavors, ", "))
	}
	return "it has no MLmodel file, no .onnx file and no .rds file; name a runtime (python, r, onnx or command)"
}
