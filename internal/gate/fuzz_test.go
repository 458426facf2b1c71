package gate

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzParseThresholds: any input either fails with a client error or gives
// thresholds that pass Check, survive a JSON round trip and validate
// without panicking.
func FuzzParseThresholds(f *testing.F) {
	for _, seed := range []string{
		`{"f1_score": {"threshold": 0.8, "greater_is_better": true}}`,
		`{"root_mean_squared_error": {"min_absolute_change": -0.1, "min_relative_change": 0.05, "greater_is_better": false}}`,
		`{"x": {"threshold": 1e308, "greater_is_better": false}, "y/z:w": {"min_relative_change": -1, "greater_is_better": true}}`,
		`{"f1_score": {"threshold": 0.8}}`,
		`{}`, `null`, `[`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, err := ParseThresholds(data)
		if err != nil {
			return
		}
		if err := ts.Check(); err != nil {
			t.Fatalf("parsed thresholds fail Check: %v", err)
		}
		again, err := json.Marshal(ts)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseThresholds(again)
		if err != nil || !reflect.DeepEqual(normalize(back), normalize(ts)) {
			t.Fatalf("round trip: %v\n%s", err, again)
		}
		candidate := Metrics{}
		for name := range ts {
			candidate[name] = 0.5
		}
		v := Validate(candidate, &Baseline{Metrics: candidate}, ts)
		if len(ts) > 0 && len(v.Results) == 0 {
			t.Fatal("no results")
		}
	})
}

// normalize makes a nil map and an empty one compare equal.
func normalize(ts Thresholds) Thresholds {
	if ts == nil {
		return Thresholds{}
	}
	return ts
}
