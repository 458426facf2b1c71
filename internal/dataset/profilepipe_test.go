package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// profileOneBatchAtATime is ProfileReader as it was before columns of
// consecutive batches overlapped: each batch added whole, then checked.
func profileOneBatchAtATime(r Reader, opts *ProfileOptions) (*Profile, error) {
	p := NewProfiler(opts)
	err := readAll(context.Background(), r, func(b *Batch, _ int64) error {
		p.AddBatch(b)
		return p.mixed()
	})
	if err != nil {
		return nil, err
	}
	return p.Profile(), nil
}

func TestProfileReaderMatchesOneBatchAtATime(t *testing.T) {
	data := testCSV(5000, 3)
	for _, workers := range []int{1, 2, 3, 8} {
		t.Run(fmt.Sprint(workers), func(t *testing.T) {
			opts := &ProfileOptions{Workers: workers}
			r, _ := Open(strings.NewReader(data), FormatCSV, &ReadOptions{BatchRows: 97})
			var progress []int64
			got, err := ProfileReader(context.Background(), r, opts, func(n int64) { progress = append(progress, n) })
			if err != nil {
				t.Fatal(err)
			}
			r, _ = Open(strings.NewReader(data), FormatCSV, &ReadOptions{BatchRows: 97})
			want, err := profileOneBatchAtATime(r, opts)
			if err != nil {
				t.Fatal(err)
			}
			a, _ := json.Marshal(got)
			b, _ := json.Marshal(want)
			if !bytes.Equal(a, b) {
				t.Errorf("overlapped:\n%s\none batch at a time:\n%s", a, b)
			}
			if len(progress) != (5000+96)/97 || progress[len(progress)-1] != int64(len(data)) {
				t.Errorf("progress reported %d times, last %d; want %d times, last %d", len(progress), progress[len(progress)-1], (5000+96)/97, len(data))
			}
			for i := 1; i < len(progress); i++ {
				if progress[i] < progress[i-1] {
					t.Errorf("progress went back from %d to %d", progress[i-1], progress[i])
				}
			}
		})
	}
}

func TestRejectMixedAcrossBatchesAsOneAtATime(t *testing.T) {
	rows := func(n int, row string) string { return strings.Repeat(row, n) }
	cases := []struct{ name, csv string }{
		{"later batch", "a,b,c\n" + rows(50, "1,x,2\n") + "y,x,2\n" + rows(50, "1,x,2\n")},
		{"two columns, earliest line wins", "a,b,c\n" + rows(12, "1,x,2\n") + "1,x,w\n1,x,2\ny,x,2\n" + rows(20, "1,x,2\n")},
		{"two columns on one line", "a,b,c\n" + rows(12, "1,x,2\n") + "y,x,w\n" + rows(20, "1,x,2\n")},
		{"mixed before a ragged row", "a,b,c\n" + rows(12, "1,x,2\n") + "y,x,2\n" + rows(20, "1,x,2\n") + "1,2\n"},
		{"ragged row in the batch of a mixed value", "a,b,c\n" + rows(12, "1,x,2\n") + "y,x,2\n1,2\n" + rows(20, "1,x,2\n")},
		{"mixed in every batch", "a,b,c\n" + rows(40, "1,x,2\ny,3,z\n")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, workers := range []int{1, 2, 4} {
				opts := &ProfileOptions{Workers: workers, RejectMixed: true}
				r, _ := Open(strings.NewReader(c.csv), FormatCSV, &ReadOptions{BatchRows: 8})
				_, got := ProfileReader(context.Background(), r, opts, nil)
				r, _ = Open(strings.NewReader(c.csv), FormatCSV, &ReadOptions{BatchRows: 8})
				_, want := profileOneBatchAtATime(r, opts)
				if want == nil || got == nil || got.Error() != want.Error() {
					t.Errorf("%d workers: err = %v; want %v", workers, got, want)
				}
			}
		})
	}
}

func TestProfileReaderStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, _ := Open(strings.NewReader(testCSV(100, 1)), FormatCSV, nil)
	if _, err := ProfileReader(ctx, r, nil, nil); err != context.Canceled {
		t.Fatalf("err = %v; want %v", err, context.Canceled)
	}
}
