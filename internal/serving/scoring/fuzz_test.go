package scoring

import (
	"testing"

	"github.com/mlship/mlship/internal/runtime"
)

// checkDecoded holds what any accepted request must be: consistent tensors, columns of
// one length, and encodable back as predictions.
func checkDecoded(t *testing.T, req *runtime.Request) {
	t.Helper()
	for i := range req.Inputs {
		in := &req.Inputs[i]
		if err := in.Check(); err != nil {
			t.Fatalf("accepted an inconsistent tensor: %v", err)
		}
		if req.Layout == runtime.LayoutColumns && (len(in.Shape) != 1 || in.Shape[0] != req.Inputs[0].Shape[0]) {
			t.Fatalf("column %q has shape %v, the first %v", in.Name, in.Shape, req.Inputs[0].Shape)
		}
	}
	kind := runtime.ResultDict
	if req.Layout == runtime.LayoutColumns {
		kind = runtime.ResultTable
	}
	resp := &runtime.Response{Kind: kind, Outputs: req.Inputs}
	if _, err := EncodePredictions(resp); err != nil {
		t.Fatalf("cannot encode the inputs back: %v", err)
	}
	if _, err := EncodeV1(resp); err != nil {
		t.Fatalf("cannot encode the inputs back: %v", err)
	}
}

func FuzzDecodeInvocation(f *testing.F) {
	seeds := []struct{ ct, body string }{
		{"application/json", `{"dataframe_split": {"columns": ["a", "b"], "data": [[1, "x"], [2.5, "y"]], "index": [0, 1]}}`},
		{"application/json", `{"dataframe_records": [{"a": 1, "b": true}, {"a": null}]}`},
		{"application/json", `{"instances": [{"a": [1, 2]}, {"a": [3, 4]}]}`},
		{"application/json", `{"inputs": {"x": [[1.5, NaN]], "s": ["q"]}, "params": {"k": 1}}`},
		{"application/json; charset=utf-8", `{"inputs": [[1, 2], [3, 4]]}`},
		{"text/csv", "a,b,c\n1,2.5,x\n3,,\"y,z\"\n"},
		{"application/csv", "a\nTrue\nFalse\n"},
		{"application/python-pickle", "\x80\x04"},
	}
	for _, s := range seeds {
		f.Add(s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		req, err := DecodeInvocation(contentType, body)
		if err != nil {
			return
		}
		checkDecoded(t, req)
	})
}

func FuzzDecodeV1(f *testing.F) {
	for _, s := range []string{
		`{"instances": [[1, 2], [3, 4]]}`,
		`{"instances": [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]}`,
		`{"inputs": {"a": [1.5], "b": [[true]]}}`,
		`{"inputs": 5}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeV1(body)
		if err != nil {
			return
		}
		checkDecoded(t, req)
	})
}
