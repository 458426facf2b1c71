//go:build onnxruntime && cgo

package ort

import (
	"context"
	"path/filepath"
	"reflect"
	"sync"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/onnx"
	"github.com/mlship/mlship/internal/runtime"
	"github.com/mlship/mlship/internal/runtime/native"
)

// env is ONNX Runtime's environment: a process loads one library, once, and keeps it.
var env struct {
	sync.Mutex
	path    string // the library it was loaded from; "" until it is
	version string
}

// New returns the runtime that runs models with the ONNX Runtime shared library at
// libPath (libonnxruntime.so, version 1.24 or later). The first call loads the
// library; later calls must name the same one.
func New(libPath string) (runtime.Runtime, error) {
	if libPath == "" {
		return nil, fault.New(fault.Invalid, "no ONNX Runtime library was given")
	}
	libPath, err := filepath.Abs(libPath)
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "cannot resolve the ONNX Runtime library path")
	}
	env.Lock()
	defer env.Unlock()
	switch env.path {
	case libPath:
		return Runtime{version: env.version}, nil
	case "":
	default:
		return nil, fault.New(fault.Invalid, "ONNX Runtime is already loaded from %s; a process loads one library", env.path)
	}
	onnxruntime.SetSharedLibraryPath(libPath)
	if err := onnxruntime.InitializeEnvironment(onnxruntime.WithLogLevelError()); err != nil {
		return nil, fault.Wrap(fault.Internal, err, "cannot load ONNX Runtime (1.24 or later) from %s", libPath)
	}
	env.path, env.version = libPath, onnxruntime.GetVersion()
	return Runtime{version: env.version}, nil
}

// Runtime is the "onnx" runtime over ONNX Runtime.
type Runtime struct {
	version string // of the library, for logs
}

var _ runtime.Runtime = Runtime{}

// Name implements runtime.Runtime.
func (Runtime) Name() string { return "onnx" }

// Load implements runtime.Runtime: it finds the model file as the native runtime does,
// creates an ONNX Runtime session for it and runs it once on zeros, so that the first
// request pays no setup.
func (r Runtime) Load(ctx context.Context, spec runtime.Spec) (runtime.Model, error) {
	if err := ctx.Err(); err != nil {
		return nil, fault.Wrap(fault.DeadlineExceeded, err, "loading model %s was canceled", spec.Name)
	}
	data, file, err := native.ReadModelFile(spec.Dir)
	if err != nil {
		return nil, err
	}
	ins, outs, err := onnxruntime.GetInputOutputInfoWithONNXData(data)
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "ONNX Runtime cannot load %s: %v", file, err)
	}
	m := &Model{inputs: valueInfos(ins), outputs: valueInfos(outs)}
	m.session, err = onnxruntime.NewDynamicAdvancedSessionWithONNXData(data, names(ins), names(outs), nil)
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "ONNX Runtime cannot load %s: %v", file, err)
	}
	m.meta = native.Metadata(m.inputs, m.outputs)
	m.life, m.end = context.WithCancel(context.Background())
	m.warmUp()
	if spec.Logger != nil {
		spec.Logger.Info("onnx model loaded with ONNX Runtime", "model", spec.Name, "version", spec.Version,
			"file", file, "onnxruntime", r.version)
	}
	return m, nil
}

func names(infos []onnxruntime.InputOutputInfo) []string {
	out := make([]string, len(infos))
	for i, info := range infos {
		out[i] = info.Name
	}
	return out
}

// valueInfos describes ONNX Runtime's inputs or outputs as the native engine does, so
// that requests and responses convert the same way for both.
func valueInfos(infos []onnxruntime.InputOutputInfo) []onnx.ValueInfo {
	out := make([]onnx.ValueInfo, len(infos))
	for i, info := range infos {
		v := onnx.ValueInfo{Name: info.Name}
		switch info.OrtValueType {
		case onnxruntime.ONNXTypeTensor:
			v.Kind, v.DType = "tensor", onnx.DType(info.DataType)
			v.Shape = make([]int64, len(info.Dimensions))
			for j, d := range info.Dimensions {
				v.Shape[j] = max(d, -1)
			}
		case onnxruntime.ONNXTypeSequence:
			v.Kind = "seq"
		case onnxruntime.ONNXTypeMap:
			v.Kind = "map"
		default:
			v.Kind = info.OrtValueType.String()
		}
		out[i] = v
	}
	return out
}

// Model is a model loaded in an ONNX Runtime session, which runs concurrent requests.
type Model struct {
	inputs, outputs []onnx.ValueInfo
	meta            runtime.Metadata
	// life ends when Close begins, and stops the runs in flight.
	life context.Context
	end  context.CancelFunc
	// mu is held for reading by each run and for writing by Close, which destroys the
	// session and sets it to nil.
	mu      sync.RWMutex
	session *onnxruntime.DynamicAdvancedSession
}

var _ runtime.Model = (*Model)(nil)

// Metadata implements runtime.Model.
func (m *Model) Metadata() runtime.Metadata { return m.meta }

// Close implements runtime.Model: it stops the runs in flight and frees the session.
func (m *Model) Close() error {
	m.end()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.session == nil {
		return nil
	}
	err := m.session.Destroy()
	m.session = nil
	return err
}

// Predict implements runtime.Model.
func (m *Model) Predict(ctx context.Context, req *runtime.Request) (*runtime.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, fault.Wrap(fault.DeadlineExceeded, err, "the request ended before it ran")
	}
	values, err := native.Inputs(m.inputs, req)
	if err != nil {
		return nil, err
	}
	in, err := m.toORT(values)
	defer destroy(in)
	if err != nil {
		return nil, err
	}
	out, err := m.run(ctx, in)
	defer destroy(out)
	if err != nil {
		return nil, err
	}
	resp := &runtime.Response{Kind: runtime.ResultDict, Outputs: make([]runtime.Tensor, len(out))}
	for i, info := range m.outputs {
		v, err := fromORT(info.Name, out[i])
		if err != nil {
			return nil, err
		}
		if resp.Outputs[i], err = native.Output(info.Name, v); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// run runs the session; it stops early when ctx ends or the model is closed.
func (m *Model) run(ctx context.Context, in []onnxruntime.Value) ([]onnxruntime.Value, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.session == nil {
		return nil, fault.New(fault.Unavailable, "the model is being unloaded")
	}
	opts, err := onnxruntime.NewRunOptions()
	if err != nil {
		return nil, fault.Wrap(fault.Internal, err, "ONNX Runtime failed")
	}
	defer opts.Destroy()
	stop := terminateWhenDone(opts, ctx, m.life)
	out := make([]onnxruntime.Value, len(m.outputs))
	err = m.session.RunWithOptions(in, out, opts)
	stop()
	switch {
	case err == nil:
		return out, nil
	case m.life.Err() != nil:
		err = fault.Wrap(fault.Unavailable, err, "the model is being unloaded")
	case ctx.Err() != nil:
		err = fault.Wrap(fault.DeadlineExceeded, ctx.Err(), "the request ended while it ran")
	default:
		// The inputs fit the model's signature (toORT checked them), so what remains
		// is a failure on this request's values.
		err = fault.Wrap(fault.Invalid, err, "ONNX Runtime cannot run the model on this request: %v", err)
	}
	destroy(out)
	return nil, err
}

// terminateWhenDone stops the runs that use opts when any of ctxs ends, until stop is
// called; stop returns once no termination is under way, so that opts may be freed.
func terminateWhenDone(opts *onnxruntime.RunOptions, ctxs ...context.Context) (stop func()) {
	var wg sync.WaitGroup
	stops := make([]func() bool, len(ctxs))
	for i, ctx := range ctxs {
		wg.Add(1)
		stops[i] = context.AfterFunc(ctx, func() {
			defer wg.Done()
			opts.Terminate()
		})
	}
	return func() {
		for _, s := range stops {
			if s() {
				wg.Done()
			}
		}
		wg.Wait()
	}
}

func destroy(values []onnxruntime.Value) {
	for _, v := range values {
		// A run that fails part way can leave typed nil pointers among its outputs.
		if v != nil && !reflect.ValueOf(v).IsNil() {
			v.Destroy()
		}
	}
}

// warmUp runs the model once on zeros, one row where the batch size is free, so that
// ONNX Runtime plans its memory; a failure here is left for real requests to report.
func (m *Model) warmUp() {
	req := &runtime.Request{}
	for i, info := range m.inputs {
		if info.Kind != "tensor" {
			return
		}
		d := m.meta.Inputs[i].Datatype
		t := runtime.Tensor{Name: info.Name, Datatype: d, Shape: make([]int64, len(info.Shape))}
		for j, s := range info.Shape {
			t.Shape[j] = max(s, 1)
		}
		n := runtime.Elements(t.Shape)
		if n < 0 {
			return
		}
		if d == runtime.Bytes {
			t.Strings = make([][]byte, n)
		} else {
			t.Data = make([]byte, n*int64(d.Size()))
		}
		req.Inputs = append(req.Inputs, t)
	}
	_, _ = m.Predict(context.Background(), req)
}
