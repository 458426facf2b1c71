package gates

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/mlship/mlship/internal/fault"
)

// A benchmark body either decodes or is refused as the client's mistake; what decodes
// encodes and decodes again to the same benchmark.
func FuzzBenchmarkInput(f *testing.F) {
	f.Add([]byte(`{"dataset":"d/1","target":"y","spec":{"task":"classification","classes":["a","b"]},
		"gate":{"thresholds":{"f1_score":{"threshold":0.8,"min_absolute_change":0,"greater_is_better":true}},"no_baseline":"skip"},
		"protected_aliases":["production"]}`))
	f.Add([]byte(`{"dataset":"d/1","target":"y","spec":{"task":"regression","slice_by":"r"}}`))
	f.Add([]byte(`{"spec":null,"gate":{"thresholds":{"x":{}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var in BenchmarkInput
		if err := json.Unmarshal(data, &in); err != nil {
			var se *json.SyntaxError
			if fault.KindOf(err) != fault.Invalid && !errors.As(err, &se) {
				t.Fatalf("error of kind %v: %v", fault.KindOf(err), err)
			}
			return
		}
		again, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var back BenchmarkInput
		if err := json.Unmarshal(again, &back); err != nil {
			t.Fatalf("re-encoded benchmark %s refused: %v", again, err)
		}
	})
}
