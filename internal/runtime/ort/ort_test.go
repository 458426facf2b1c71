//go:build onnxruntime && cgo

package ort

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/onnx"
	"github.com/mlship/mlship/internal/onnx/onnxpb"
	"github.com/mlship/mlship/internal/runtime"
	"github.com/mlship/mlship/internal/runtime/native"
	"github.com/mlship/mlship/internal/runtime/native/nativetest"
)

// libPath finds ONNX Runtime's library: $MLSHIP_ONNXRUNTIME_LIB, else the one the
// onnxruntime wheel installed in the repository's .venv. The test skips without one.
func libPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("MLSHIP_ONNXRUNTIME_LIB"); p != "" {
		return p
	}
	found, _ := filepath.Glob("../../../.venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so*")
	if len(found) == 0 {
		t.Skip("no ONNX Runtime library: set MLSHIP_ONNXRUNTIME_LIB or run make deps")
	}
	return found[0]
}

func newRuntime(t *testing.T) runtime.Runtime {
	t.Helper()
	rt, err := New(libPath(t))
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// TestNewErrors runs first, so that the library is not yet loaded; later, another
// library is refused.
func TestNewErrors(t *testing.T) {
	lib := libPath(t)
	if _, err := New(""); fault.KindOf(err) != fault.Invalid {
		t.Errorf("New(\"\"): %v", err)
	}
	if env.path == "" {
		_, err := New(filepath.Join(t.TempDir(), "libonnxruntime.so"))
		if err == nil || !strings.Contains(err.Error(), "cannot load ONNX Runtime") {
			t.Errorf("New with a missing library: %v", err)
		}
	}
	if _, err := New(lib); err != nil {
		t.Fatal(err)
	}
	if _, err := New(lib); err != nil {
		t.Fatalf("New again with the same library: %v", err)
	}
	if _, err := New(filepath.Join(t.TempDir(), "libonnxruntime.so")); err == nil || !strings.Contains(err.Error(), "already loaded") {
		t.Errorf("New with another library: %v", err)
	}
}

func TestConformance(t *testing.T) { nativetest.Run(t, newRuntime(t)) }

// TestRunsWhatNativeLacks: a model with operators the native engine lacks is refused by
// it, naming them, and runs with ONNX Runtime, directly and behind WithFallback.
func TestRunsWhatNativeLacks(t *testing.T) {
	dir := cumSumTopKModel(t)
	_, err := native.Runtime{}.Load(context.Background(), runtime.Spec{Dir: dir})
	if !errors.Is(err, onnx.ErrUnsupported) || !strings.Contains(err.Error(), "operators ai.onnx:CumSum") {
		t.Fatalf("native Load: %v, want onnx.ErrUnsupported naming CumSum", err)
	}
	x := []float64{1, -2, 3, 0.5, -1, -1, -1, -1}
	req := &runtime.Request{Inputs: []runtime.Tensor{runtime.NewFloat64("X", []int64{2, 4}, x)}}
	for name, rt := range map[string]runtime.Runtime{
		"ort":      newRuntime(t),
		"fallback": WithFallback(native.Runtime{}, libPath(t)),
	} {
		t.Run(name, func(t *testing.T) {
			m := nativetest.Load(t, rt, dir)
			if _, ok := m.(*Model); !ok {
				t.Fatalf("loaded as %T, want ONNX Runtime's", m)
			}
			meta := m.Metadata()
			if !meta.Batchable || meta.Inputs[0].Datatype != runtime.FP32 || !slices.Equal(meta.Inputs[0].Shape, []int64{-1, 4}) ||
				meta.Outputs[1].Datatype != runtime.Int64 {
				t.Fatalf("metadata %+v", meta)
			}
			resp, err := m.Predict(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			// Running sums: [1 -1 2 2.5] and [-1 -2 -3 -4].
			values, _ := resp.Outputs[0].Float64s()
			indices, _ := resp.Outputs[1].Float64s()
			if !slices.Equal(values, []float64{2.5, 2, -1, -2}) || !slices.Equal(indices, []float64{3, 2, 0, 1}) ||
				!slices.Equal(resp.Outputs[0].Shape, []int64{2, 2}) || resp.Outputs[1].Datatype != runtime.Int64 {
				t.Fatalf("outputs %+v", resp.Outputs)
			}
		})
	}
}

// TestScalarOutputIsAnError: the wrapper cannot return a rank-0 output, so the run fails,
// as a client error, and what it had made is freed without a panic.
func TestScalarOutputIsAnError(t *testing.T) {
	sum := node("ReduceSum", []string{"X"}, "S")
	sum.Attribute = []*onnxpb.AttributeProto{{Name: "keepdims", Type: onnxpb.AttributeProto_INT, I: 0}}
	dir := modelDir(t, &onnxpb.GraphProto{Name: "scalar", Node: []*onnxpb.NodeProto{sum},
		Input:  []*onnxpb.ValueInfoProto{tensorInfo("X", onnx.Float32, -1, 4)},
		Output: []*onnxpb.ValueInfoProto{tensorInfo("S", onnx.Float32)}})
	m := nativetest.Load(t, newRuntime(t), dir)
	req := &runtime.Request{Inputs: []runtime.Tensor{runtime.NewFloat64("X", []int64{1, 4}, []float64{1, 2, 3, 4})}}
	if _, err := m.Predict(context.Background(), req); fault.KindOf(err) != fault.Invalid {
		t.Fatalf("Predict: %v, want an Invalid error", err)
	}
}

// TestDatatypes passes tensors of every element type requests carry through ONNX
// Runtime and back, with zero rows too.
func TestDatatypes(t *testing.T) {
	types := map[string]onnx.DType{"f32": onnx.Float32, "f64": onnx.Float64, "i64": onnx.Int64, "i32": onnx.Int32,
		"u8": onnx.Uint8, "i8": onnx.Int8, "b": onnx.Bool, "s": onnx.String}
	m := nativetest.Load(t, newRuntime(t), identityModel(t, types))
	for _, rows := range []int64{2, 0} {
		req := &runtime.Request{}
		le := binary.LittleEndian
		n := 2 * rows
		tensor := func(name string, d runtime.Datatype, put func(b []byte, i int)) runtime.Tensor {
			x := runtime.Tensor{Name: name, Datatype: d, Shape: []int64{rows, 2}, Data: make([]byte, int(n)*d.Size())}
			for i := range int(n) {
				put(x.Data[i*d.Size():], i)
			}
			return x
		}
		req.Inputs = []runtime.Tensor{
			tensor("f32", runtime.FP32, func(b []byte, i int) { le.PutUint32(b, math.Float32bits(float32(i)+0.5)) }),
			tensor("f64", runtime.FP64, func(b []byte, i int) { le.PutUint64(b, math.Float64bits(float64(i)+0.25)) }),
			tensor("i64", runtime.Int64, func(b []byte, i int) { le.PutUint64(b, uint64(int64(-i)<<40)) }),
			tensor("i32", runtime.Int32, func(b []byte, i int) { le.PutUint32(b, uint32(int32(-i))) }),
			tensor("u8", runtime.Uint8, func(b []byte, i int) { b[0] = byte(250 + i) }),
			tensor("i8", runtime.Int8, func(b []byte, i int) { b[0] = byte(int8(-100 - i)) }),
			tensor("b", runtime.Bool, func(b []byte, i int) { b[0] = byte(i % 2) }),
		}
		strs := make([]string, n)
		for i := range strs {
			strs[i] = strings.Repeat("é", i)
		}
		req.Inputs = append(req.Inputs, runtime.NewStrings("s", []int64{rows, 2}, strs))
		resp, err := m.Predict(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		for _, out := range resp.Outputs {
			in := req.Inputs[slices.IndexFunc(req.Inputs, func(x runtime.Tensor) bool { return x.Name+"_out" == out.Name })]
			if out.Datatype != in.Datatype || !slices.Equal(out.Shape, in.Shape) || !slices.Equal(out.Data, in.Data) ||
				!slices.EqualFunc(out.Strings, in.Strings, func(a, b []byte) bool { return string(a) == string(b) }) {
				t.Errorf("%d rows: %s came back as %+v, sent %+v", rows, out.Name, out, in)
			}
		}
	}
}

// TestConcurrentPredict runs one model from many goroutines and closes it while they
// run: each prediction is right or, once the model is closing, Unavailable.
func TestConcurrentPredict(t *testing.T) {
	m := nativetest.Load(t, newRuntime(t), nativetest.ModelDir(t, "bench_gradient_boosting", "model.onnx", ""))
	c := nativetest.ReadCase(t, "bench_gradient_boosting")
	var wg sync.WaitGroup
	var closed sync.WaitGroup
	closed.Add(1)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				if g == 0 && i == 20 {
					closed.Done()
				}
				resp, err := m.Predict(context.Background(), nativetest.NumericRequest(c, runtime.FP64))
				if errors.Is(err, fault.Unavailable) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				nativetest.CheckOutputs(t, c, resp)
			}
		}()
	}
	closed.Wait()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}

// TestFallbackBadLibrary: a library that cannot be loaded is reported with the
// operators that needed it.
func TestFallbackBadLibrary(t *testing.T) {
	newRuntime(t)
	rt := WithFallback(native.Runtime{}, filepath.Join(t.TempDir(), "libonnxruntime.so"))
	_, err := rt.Load(context.Background(), runtime.Spec{Dir: cumSumTopKModel(t)})
	if err == nil || !strings.Contains(fault.Message(err), "ai.onnx:CumSum") || !strings.Contains(fault.Message(err), "ONNX Runtime") {
		t.Fatalf("Load: %v", err)
	}
}

// TestCancelStopsRun: a run in flight stops when its request's context ends, and
// Close does not wait for the runs in flight to finish.
func TestCancelStopsRun(t *testing.T) {
	m := nativetest.Load(t, newRuntime(t), slowModel(t, 100))
	req := &runtime.Request{Inputs: []runtime.Tensor{nativetest.FP32(runtime.NewFloat64("X", []int64{2000, 256}, make([]float64, 2000*256)))}}
	start := time.Now()
	if _, err := m.Predict(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	full := time.Since(start)
	t.Logf("a full run takes %v", full)

	ctx, cancel := context.WithTimeout(context.Background(), full/10)
	defer cancel()
	if _, err := m.Predict(ctx, req); !errors.Is(err, fault.DeadlineExceeded) {
		t.Fatalf("Predict past its deadline: %v", err)
	}

	done := make(chan error)
	go func() {
		_, err := m.Predict(context.Background(), req)
		done <- err
	}()
	time.Sleep(full / 10)
	m.Close()
	if err := <-done; !errors.Is(err, fault.Unavailable) {
		t.Fatalf("Predict while the model closed: %v", err)
	}
}
