package oip

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/runtime"
)

// batch1Body is a batch-1 request of 20 FP64 features, as a JSON client sends it.
func batch1Body() []byte {
	data := make([]string, 20)
	for i := range data {
		data[i] = fmt.Sprint(0.1 * float64(i+1) * 3.7)
	}
	return []byte(`{"id": "bench", "inputs": [{"name": "features", "shape": [1, 20], "datatype": "FP64", "data": [` +
		strings.Join(data, ", ") + `]}]}`)
}

func BenchmarkDecodeBatch1FP64(b *testing.B) {
	body := batch1Body()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeInferRequest(body, -1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBatch1Binary(b *testing.B) {
	raw := make([]byte, 8*20)
	body, n := tritonBody([]tritonInput{{"features", "FP64", "[1, 20]", raw}}, "")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeInferRequest(body, n); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeResponse(b *testing.B) {
	req := &InferRequest{ID: "bench"}
	resp := &runtime.Response{Outputs: []runtime.Tensor{
		runtime.NewInt64("label", []int64{1}, []int64{2}),
		fp32Tensor("probabilities", []int64{1, 3}, 0.1, 0.2, 0.7),
	}}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := EncodeInferResponse(req, "iris", "3", resp); err != nil {
			b.Fatal(err)
		}
	}
}
