package genaidata_test

import (
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/genaidata"
)

// FuzzParseRecords holds the records reader to its contract: any input is either read or
// refused as invalid, never a panic or another kind of error.
func FuzzParseRecords(f *testing.F) {
	for _, s := range []string{
		`[{"inputs": {"q": "2+2"}, "expectations": {"a": "4"}}]`,
		`[{"inputs": {"q": 1.5e3}, "outputs": null, "tags": {"mlflow.user": "ada"}, "source": {"source_type": "trace", "source_data": {"trace_id": "tr-1"}}}]`,
		`[{"inputs": {}}, {"inputs": {"n": [1, {"x": null}]}, "outputs": [1, 2]}]`,
		`[{"outputs": 1}]`, `{}`, `[`, `[1]`, `null`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		recs, err := genaidata.ParseRecords(s)
		if err != nil && fault.KindOf(err) != fault.Invalid {
			t.Fatalf("%q: %v is not an invalid-input error", s, err)
		}
		if err == nil && recs == nil && s != "null" {
			t.Fatalf("%q: no records and no error", s)
		}
	})
}

// FuzzParseTags: tags are read or refused as invalid.
func FuzzParseTags(f *testing.F) {
	for _, s := range []string{`{"a": "b"}`, `{"n": 3, "t": true, "x": null}`, `{"": "v"}`, `[1]`, `{"a": {}}`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := genaidata.ParseTags(s); err != nil && fault.KindOf(err) != fault.Invalid {
			t.Fatalf("%q: %v is not an invalid-input error", s, err)
		}
	})
}
