package scoring

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/runtime"
)

func BenchmarkDecodeSplitBatch1(b *testing.B) {
	cols := make([]string, 20)
	vals := make([]string, 20)
	for i := range cols {
		cols[i] = fmt.Sprintf(`"f%d"`, i)
		vals[i] = fmt.Sprint(0.1 * float64(i+1) * 3.7)
	}
	body := []byte(`{"dataframe_split": {"columns": [` + strings.Join(cols, ", ") + `], "data": [[` + strings.Join(vals, ", ") + `]]}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeInvocation("application/json", body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodePredictions(b *testing.B) {
	resp := &runtime.Response{Kind: runtime.ResultArray, Outputs: []runtime.Tensor{
		runtime.NewFloat64("", []int64{1, 3}, []float64{0.1, 0.2, 0.7})}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodePredictions(resp); err != nil {
			b.Fatal(err)
		}
	}
}
