package ort

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlship/mlship/internal/onnx"
	"github.com/mlship/mlship/internal/onnx/onnxpb"
)

// tensorInfo declares a tensor of elem; a dimension of -1 is of any size ("N").
func tensorInfo(name string, elem onnx.DType, dims ...int64) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		dim := &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}}
		if d < 0 {
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}
		}
		shape.Dim = append(shape.Dim, dim)
	}
	return &onnxpb.ValueInfoProto{Name: name, Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: int32(elem), Shape: shape}}}}
}

func node(op string, in []string, out ...string) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: op, Input: in, Output: out}
}

// modelDir writes a model of graph g (opset 17) to model.onnx in a new directory.
func modelDir(t testing.TB, g *onnxpb.GraphProto) string {
	t.Helper()
	m := &onnxpb.ModelProto{IrVersion: 8, Graph: g, OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: 17}}}
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "model.onnx"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// cumSumTopKModel takes X float32 [N, 4] and returns the two largest of each row's
// running sums, "values" [N, 2], and their positions, "indices" [N, 2]: CumSum is an
// operator the native engine does not have.
func cumSumTopKModel(t testing.TB) string {
	int64s := func(name string, dims []int64, v ...int64) *onnxpb.TensorProto {
		return &onnxpb.TensorProto{Name: name, DataType: int32(onnx.Int64), Dims: dims, Int64Data: v}
	}
	return modelDir(t, &onnxpb.GraphProto{
		Name:        "cumsum_topk",
		Input:       []*onnxpb.ValueInfoProto{tensorInfo("X", onnx.Float32, -1, 4)},
		Initializer: []*onnxpb.TensorProto{int64s("axis", nil, 1), int64s("k", []int64{1}, 2)},
		Node: []*onnxpb.NodeProto{
			node("CumSum", []string{"X", "axis"}, "sums"),
			node("TopK", []string{"sums", "k"}, "values", "indices"),
		},
		Output: []*onnxpb.ValueInfoProto{tensorInfo("values", onnx.Float32, -1, 2), tensorInfo("indices", onnx.Int64, -1, 2)},
	})
}

// identityModel passes an input of each element type through to an output of the
// same name with "_out" appended.
func identityModel(t testing.TB, types map[string]onnx.DType) string {
	g := &onnxpb.GraphProto{Name: "identity"}
	for name, dt := range types {
		g.Input = append(g.Input, tensorInfo(name, dt, -1, 2))
		g.Output = append(g.Output, tensorInfo(name+"_out", dt, -1, 2))
		g.Node = append(g.Node, node("Identity", []string{name}, name+"_out"))
	}
	return modelDir(t, g)
}

// slowModel multiplies X float32 [N, 256] by a 256x256 matrix, layers times over, so
// that a large batch runs long enough to be stopped.
func slowModel(t testing.TB, layers int) string {
	w := make([]float32, 256*256)
	for i := range 256 {
		w[i*256+i] = 1
	}
	g := &onnxpb.GraphProto{
		Name:        "slow",
		Input:       []*onnxpb.ValueInfoProto{tensorInfo("X", onnx.Float32, -1, 256)},
		Initializer: []*onnxpb.TensorProto{{Name: "W", DataType: int32(onnx.Float32), Dims: []int64{256, 256}, FloatData: w}},
	}
	prev := "X"
	for i := range layers {
		out := "h" + strconv.Itoa(i)
		g.Node = append(g.Node, node("MatMul", []string{prev, "W"}, out))
		prev = out
	}
	g.Output = []*onnxpb.ValueInfoProto{tensorInfo(prev, onnx.Float32, -1, 256)}
	return modelDir(t, g)
}
