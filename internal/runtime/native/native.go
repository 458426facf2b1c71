// Package native serves ONNX models in process with the pure-Go engine of
// internal/onnx: it is the "onnx" runtime, behind the runtime interface. It finds the
// model file in an MLflow onnx-flavor directory or a directory with one .onnx file, and
// converts between the serving layer's tensors and the engine's values; the ONNX Runtime
// backend (runtime/ort) finds and converts with the same exported functions.
package native

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"go.yaml.in/yaml/v3"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/onnx"
	"github.com/mlship/mlship/internal/runtime"
)

// Runtime is the native ONNX runtime.
type Runtime struct{}

var _ runtime.Runtime = Runtime{}

// Name implements runtime.Runtime.
func (Runtime) Name() string { return "onnx" }

// Load implements runtime.Runtime: it reads, checks and plans the model, then runs it
// once on a row of zeros so that the first request pays no setup.
func (Runtime) Load(ctx context.Context, spec runtime.Spec) (runtime.Model, error) {
	if err := ctx.Err(); err != nil {
		return nil, fault.Wrap(fault.DeadlineExceeded, err, "loading model %s was canceled", spec.Name)
	}
	data, file, err := ReadModelFile(spec.Dir)
	if err != nil {
		return nil, err
	}
	m, err := onnx.Load(data)
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "cannot serve %s with the native ONNX engine: %v", file, err)
	}
	model := &Model{engine: m, meta: Metadata(m.Inputs(), m.Outputs())}
	model.warmUp()
	if spec.Logger != nil {
		spec.Logger.Info("onnx model loaded", "model", spec.Name, "version", spec.Version, "file", file,
			"producer", m.Producer(), "opsets", m.Opsets())
	}
	return model, nil
}

// maxModelBytes caps the model file: the protobuf limit is 2 GiB and the engines keep
// the whole model in memory.
const maxModelBytes = 1 << 30

// ReadModelFile reads the model's .onnx file from dir: the one the MLmodel file's
// onnx flavor names (its "data" key, or "onnx_model"), else the directory's only .onnx
// file. It returns the file's contents and its name within dir. Every ONNX runtime
// finds its model this way.
func ReadModelFile(dir string) ([]byte, string, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, "", fault.Wrap(fault.Invalid, err, "cannot open the model directory %s", dir)
	}
	defer root.Close()
	name, err := modelFileName(root)
	if err != nil {
		return nil, "", err
	}
	fi, err := root.Stat(name)
	if err != nil {
		return nil, "", fault.Wrap(fault.Invalid, err, "cannot read the model file %s", name)
	}
	if fi.Size() > maxModelBytes {
		return nil, "", fault.Invalidf("the model file %s is %d bytes; ONNX models of at most %d bytes are served", name, fi.Size(), maxModelBytes)
	}
	data, err := root.ReadFile(name)
	if err != nil {
		return nil, "", fault.Wrap(fault.Invalid, err, "cannot read the model file %s", name)
	}
	return data, name, nil
}

func modelFileName(root *os.Root) (string, error) {
	if mlmodel, err := root.ReadFile("MLmodel"); err == nil {
		var f struct {
			Flavors struct {
				ONNX map[string]any `yaml:"onnx"`
			} `yaml:"flavors"`
		}
		if err := yaml.Unmarshal(mlmodel, &f); err != nil {
			return "", fault.Invalidf("the model's MLmodel file is not valid YAML: %v", err)
		}
		for _, key := range []string{"data", "onnx_model"} {
			if name, ok := f.Flavors.ONNX[key].(string); ok && name != "" {
				if !filepath.IsLocal(name) {
					return "", fault.Invalidf("the MLmodel onnx flavor names %q, which is not inside the model directory", name)
				}
				return name, nil
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fault.Wrap(fault.Invalid, err, "cannot read the MLmodel file")
	}
	entries, err := readDir(root)
	if err != nil {
		return "", err
	}
	var found []string
	for _, e := range entries {
		if strings.EqualFold(filepath.Ext(e), ".onnx") {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		return "", fault.Invalidf("the model directory must hold one .onnx file or an MLmodel file with the onnx flavor; it holds %d .onnx files", len(found))
	}
	return found[0], nil
}

func readDir(root *os.Root) ([]string, error) {
	d, err := root.Open(".")
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "cannot list the model directory")
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "cannot list the model directory")
	}
	return names, nil
}

// Model is a loaded ONNX model.
type Model struct {
	engine *onnx.Model
	meta   runtime.Metadata
	closed atomic.Bool
}

var _ runtime.Model = (*Model)(nil)

// Metadata implements runtime.Model.
func (m *Model) Metadata() runtime.Metadata { return m.meta }

// Close implements runtime.Model. The engine holds only memory, which the collector frees.
func (m *Model) Close() error {
	m.closed.Store(true)
	return nil
}

// Predict implements runtime.Model.
func (m *Model) Predict(ctx context.Context, req *runtime.Request) (*runtime.Response, error) {
	if m.closed.Load() {
		return nil, fault.New(fault.Unavailable, "the model is being unloaded")
	}
	if err := ctx.Err(); err != nil {
		return nil, fault.Wrap(fault.DeadlineExceeded, err, "the request ended before it ran")
	}
	inputs, err := Inputs(m.engine.Inputs(), req)
	if err != nil {
		return nil, err
	}
	out, err := m.engine.Run(inputs)
	if errors.Is(err, onnx.ErrInvalidInput) {
		return nil, fault.Wrap(fault.Invalid, err, "%v", err)
	}
	if err != nil {
		return nil, fault.Wrap(fault.Internal, err, "the ONNX engine failed")
	}
	resp := &runtime.Response{Kind: runtime.ResultDict}
	for _, info := range m.engine.Outputs() {
		t, err := Output(info.Name, out[info.Name])
		if err != nil {
			return nil, err
		}
		resp.Outputs = append(resp.Outputs, t)
	}
	return resp, nil
}

// warmUp runs the model once on one row of zeros, where the inputs allow it, so that
// lazily built state is ready; a failure here is left for real requests to report.
func (m *Model) warmUp() {
	in := map[string]onnx.Value{}
	for _, info := range m.engine.Inputs() {
		if info.Kind != "tensor" || info.Shape == nil {
			return
		}
		shape := make([]int64, len(info.Shape))
		for i, d := range info.Shape {
			shape[i] = max(d, 1)
		}
		t, err := zeros(info.DType, shape)
		if err != nil {
			return
		}
		in[info.Name] = t
	}
	_, _ = m.engine.Run(in)
}

// Metadata describes an ONNX model with the given graph inputs and outputs. It is
// batchable when every input is a tensor whose first dimension may be of any size.
func Metadata(inputs, outputs []onnx.ValueInfo) runtime.Metadata {
	meta := runtime.Metadata{Platform: "onnx_onnxv1", Batchable: true}
	for _, in := range inputs {
		meta.Inputs = append(meta.Inputs, spec(in))
		if in.Kind != "tensor" || len(in.Shape) == 0 || in.Shape[0] >= 0 {
			meta.Batchable = false
		}
	}
	for _, out := range outputs {
		meta.Outputs = append(meta.Outputs, spec(out))
	}
	return meta
}

func spec(info onnx.ValueInfo) runtime.TensorSpec {
	s := runtime.TensorSpec{Name: info.Name, Datatype: datatypeOf(info.DType), Shape: info.Shape}
	switch info.Kind {
	case "seq":
		// A sequence of maps (ZipMap) is served as a [rows, classes] tensor.
		s.Datatype, s.Shape = runtime.FP32, []int64{-1, -1}
	case "map":
		s.Shape = []int64{-1}
	}
	if s.Shape == nil {
		s.Shape = []int64{}
	}
	return s
}

// otherDatatypes names, by their ONNX element type codes, the types that the engine
// does not compute with but that other ONNX runtimes may declare.
var otherDatatypes = map[onnx.DType]runtime.Datatype{
	4: runtime.Uint16, 5: runtime.Int16, 10: runtime.FP16, 12: runtime.Uint32, 13: runtime.Uint64, 16: runtime.BF16,
}

func datatypeOf(d onnx.DType) runtime.Datatype {
	switch d {
	case onnx.Float32:
		return runtime.FP32
	case onnx.Float64:
		return runtime.FP64
	case onnx.Int64:
		return runtime.Int64
	case onnx.Int32:
		return runtime.Int32
	case onnx.Uint8:
		return runtime.Uint8
	case onnx.Int8:
		return runtime.Int8
	case onnx.Bool:
		return runtime.Bool
	case onnx.String:
		return runtime.Bytes
	}
	if d, ok := otherDatatypes[d]; ok {
		return d
	}
	return runtime.Datatype(fmt.Sprint(d))
}
