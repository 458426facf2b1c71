package drift

import (
	"fmt"
	"math"
	"testing"
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
