package gates

import "testing"

// A dataset of one default batch or less used to be predicted in one request, so an
// evaluation's progress went from 0 to 100% at its end.
func TestBatchRowsReportsProgressInSteps(t *testing.T) {
	for _, tc := range []struct {
		limit int
		rows  int64
		want  int
	}{
		{8192, 5000, 256},        // a small test set: about 20 steps
		{8192, 80000, 4000},      // a twentieth
		{8192, 10_000_000, 8192}, // large: the configured size
		{7, 1000, 7},             // never above the configured size
		{8192, 0, 256},
	} {
		if got := batchRows(tc.limit, tc.rows); got != tc.want {
			t.Errorf("batchRows(%d, %d) = %d, want %d", tc.limit, tc.rows, got, tc.want)
		}
	}
}
