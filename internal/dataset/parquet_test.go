package dataset

import (
	"bytes"
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

type parquetRow struct {
	ID     int64     `parquet:"id"`
	Score  *float64  `parquet:"score,optional"`
	Small  float32   `parquet:"small"`
	Flag   bool      `parquet:"flag"`
	City   *string   `parquet:"city,optional"`
	Count  int32     `parquet:"count"`
	Seen   time.Time `parquet:"seen,timestamp(millisecond)"`
	Amount int64     `parquet:"amount,decimal(2:18)"`
}

func writeParquet(t *testing.T, rows []parquetRow, opts ...parquet.WriterOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[parquetRow](&buf, opts...)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadParquet(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	s := func(v string) *string { return &v }
	var rows []parquetRow
	for i := range 2500 {
		r := parquetRow{ID: int64(i), Small: float32(i) / 4, Flag: i%3 == 0, Count: int32(-i), Seen: time.UnixMilli(int64(i) * 1000).UTC(), Amount: int64(i)}
		if i%10 != 0 {
			r.Score = f(float64(i) * 1.5)
		}
		if i%7 != 0 {
			r.City = s([]string{"Lyon", "Oslo"}[i%2])
		}
		rows = append(rows, r)
	}
	data := writeParquet(t, rows, parquet.MaxRowsPerRowGroup(1000), parquet.PageBufferSize(2048))
	r, err := Open(bytes.NewReader(data), FormatParquet, &ReadOptions{BatchRows: 300})
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := ReadTable(context.Background(), r, 0)
	if err != nil {
		t.Fatal(err)
	}
	if tbl.Rows != 2500 {
		t.Fatalf("rows = %d", tbl.Rows)
	}
	types := map[string]Type{"id": TypeInteger, "score": TypeFloat, "small": TypeFloat, "flag": TypeBoolean,
		"city": TypeString, "count": TypeInteger, "seen": TypeString, "amount": TypeFloat}
	for name, typ := range types {
		if c := tbl.Column(name); c == nil || c.Type != typ {
			t.Errorf("column %s: %+v, want type %s", name, c, typ)
		}
	}
	for _, i := range []int{0, 1, 999, 1000, 2499} {
		score := tbl.Column("score").Floats[i]
		if (i%10 == 0) != math.IsNaN(score) || (i%10 != 0 && score != float64(i)*1.5) {
			t.Errorf("score[%d] = %v", i, score)
		}
		if got := tbl.Column("count").Floats[i]; got != float64(-i) {
			t.Errorf("count[%d] = %v", i, got)
		}
		if got := tbl.Column("small").Floats[i]; got != float64(i)/4 {
			t.Errorf("small[%d] = %v", i, got)
		}
		if got, want := tbl.Column("seen").Strings[i], time.UnixMilli(int64(i)*1000).UTC().Format(time.RFC3339Nano); got != want {
			t.Errorf("seen[%d] = %q, want %q", i, got, want)
		}
		if got := tbl.Column("amount").Floats[i]; math.Abs(got-float64(i)/100) > 1e-12 {
			t.Errorf("amount[%d] = %v", i, got)
		}
		city := tbl.Column("city")
		if (i%7 == 0) != city.Missing[i] {
			t.Errorf("city[%d] missing = %v", i, city.Missing[i])
		}
	}
	if r.BytesRead() != int64(len(data)) {
		t.Errorf("progress %d of %d bytes", r.BytesRead(), len(data))
	}
}

func TestParquetRefusesNestedColumns(t *testing.T) {
	type nested struct {
		Tags []string `parquet:"tags,list"`
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[nested](&buf)
	if _, err := w.Write([]nested{{Tags: []string{"a"}}}); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	_, err := Open(bytes.NewReader(buf.Bytes()), FormatParquet, nil)
	var ie *InputError
	if !errors.Is(err, ErrUnsupported) || !errors.As(err, &ie) || ie.Column != "tags" {
		t.Errorf("error %v", err)
	}
}

func TestParquetNeedsRandomAccess(t *testing.T) {
	if _, err := Open(bytes.NewBufferString("PAR1"), FormatParquet, nil); !errors.Is(err, ErrNotSeekable) {
		t.Errorf("error %v", err)
	}
	if _, err := Open(bytes.NewReader([]byte("not parquet at all")), FormatParquet, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("error %v", err)
	}
}
