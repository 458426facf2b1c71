package drift

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/mlship/mlship/internal/dataset"
)

// TestTextDriftMatchesEvidently: the expected numbers are Evidently 0.7's
// calculate_text_drift_score (and roc_auc_random_classifier_percentile) on
// the same texts; TestMatchesEvidently checks whole reports.
func TestTextDriftMatchesEvidently(t *testing.T) {
	gen := func(n int, f func(i int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	shifted := [2][]string{
		gen(60, func(i int) string { return fmt.Sprintf("alpha%d beta%d gamma%d delta", i%7, i%5, i*3%11) }),
		gen(50, func(i int) string { return fmt.Sprintf("alpha%d beta%d omega%d gamma%d", i%7, (i+2)%5, i%4, i*5%11) }),
	}
	same := [2][]string{
		gen(80, func(i int) string { return fmt.Sprintf("word%d thing%d item%d", i%9, i%4, i*7%13) }),
		gen(70, func(i int) string { return fmt.Sprintf("word%d thing%d item%d", i*2%9, i%4, i*7%13) }),
	}
	for _, tt := range []struct {
		name      string
		texts     [2][]string
		bootstrap bool
		threshold float64
		auc, cut  float64
		wantDrift bool
	}{
		{"shifted, percentile", shifted, true, 0.95, 0.9307065217391304, math.NaN(), true},
		{"shifted, absolute", shifted, false, 0.55, 0.9307065217391304, 0.55, true},
		{"unchanged, percentile", same, true, 0.95, 0.3563049853372434, 0.6122434017595307, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			auc, cut, err := textDrift(tt.texts[0], tt.texts[1], tt.bootstrap, tt.threshold)
			if err != nil {
				t.Fatal(err)
			}
			if auc != tt.auc || !math.IsNaN(tt.cut) && cut != tt.cut || (auc > cut) != tt.wantDrift {
				t.Errorf("auc %v cutoff %v, Evidently %v %v (drift %v)", auc, cut, tt.auc, tt.cut, tt.wantDrift)
			}
		})
	}
	if _, _, err := textDrift([]string{"the and of", "a an the"}, []string{"is it", "to be"}, true, 0.95); err == nil {
		t.Error("texts of stop words only: want an error, as scikit-learn's empty vocabulary")
	}
}

func TestRoundedLog(t *testing.T) {
	for x, want := range map[float64]float64{2: 0.6931471805599453, 3: 1.0986122886681098, 1: 0, 10: 2.302585092994046} {
		if got := roundedLog(x); got != want {
			t.Errorf("log(%v) = %v, want %v", x, got, want)
		}
	}
}

// TestTextDriftFromProfiles: profiles keep their text columns' texts, so a
// text column is compared from profiles as from data; a profile stored
// before texts were kept stands in with its value counts, approximately.
func TestTextDriftFromProfiles(t *testing.T) {
	ref := make([]string, 300)
	cur := make([]string, 300)
	for i := range ref {
		ref[i] = fmt.Sprintf("order %d arrived late box %d", i, i%7)
		cur[i] = fmt.Sprintf("order %d refund issued quickly %d", i, i%5)
	}
	profile := func(texts []string) *dataset.Profile {
		p := dataset.NewProfiler(nil)
		p.AddStrings("note", texts)
		return p.Profile()
	}
	data, err := Compare(context.Background(), table(t, dataset.StringColumn("note", ref, nil)), table(t, dataset.StringColumn("note", cur, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := data.Result("note")
	fromProfiles, err := CompareProfiles(context.Background(), profile(ref), profile(cur), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := fromProfiles.Result("note")
	if want.Method != MethodTextPerc || !want.Drifted || got.Score != want.Score || got.Approximate {
		t.Errorf("from data %s %v (drifted %v); from profiles %v (approximate %v)", want.Method, want.Score.V, want.Drifted, got.Score.V, got.Approximate)
	}

	// the same profiles as stored before texts were kept
	old := func(p *dataset.Profile) *dataset.Profile {
		raw, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		for _, c := range m["columns"].([]any) {
			delete(c.(map[string]any), "texts")
			delete(c.(map[string]any), "texts_seen")
		}
		raw, _ = json.Marshal(m)
		var back dataset.Profile
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatal(err)
		}
		return &back
	}
	fromOld, err := CompareProfiles(context.Background(), old(profile(ref)), old(profile(cur)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := fromOld.Result("note"); !ok || !got.Approximate || !got.Drifted {
		t.Errorf("old profiles: compared %v, approximate %v, drifted %v (skipped %v)", ok, got.Approximate, got.Drifted, fromOld.Skipped)
	}
}
