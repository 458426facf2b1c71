package api_test

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

type creditRow struct {
	Age    int64   `parquet:"age"`
	Income float64 `parquet:"income"`
	City   string  `parquet:"city"`
}

// creditData is the same table as Parquet and as CSV.
func creditData(t *testing.T, n int) (pq []byte, csv string) {
	t.Helper()
	rows := make([]creditRow, n)
	var b strings.Builder
	b.WriteString("age,income,city\n")
	cities := []string{"Lyon", "Oslo", "Quito"}
	for i := range rows {
		rows[i] = creditRow{Age: int64(18 + i%50), Income: 1000 + float64(i)*1.25, City: cities[i%3]}
		fmt.Fprintf(&b, "%d,%g,%s\n", rows[i].Age, rows[i].Income, rows[i].City)
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[creditRow](&buf, parquet.MaxRowsPerRowGroup(int64(n/3+1)))
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), b.String()
}

type profileSummary struct {
	Rows    int64 `json:"rows"`
	Columns []struct {
		Name    string `json:"name"`
		Kind    string `json:"kind"`
		Count   int64  `json:"count"`
		Numbers *struct {
			Mean float64 `json:"mean"`
			Std  float64 `json:"std"`
		} `json:"numbers"`
	} `json:"columns"`
}

// postData registers body as file under name, with a Content-Length and contentType.
func postData(t *testing.T, s *testServer, name, file, contentType string, body []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", s.URL+"/api/v1/datasets/"+name+"/versions?file="+file, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var msg bytes.Buffer
		msg.ReadFrom(resp.Body)
		t.Fatalf("register %s: status %d: %s", file, resp.StatusCode, msg.String())
	}
}

// TestRegisterParquet registers a Parquet file with a known length, as mlship data add and
// clients sending Content-Length do, and finds the profile of the same data as CSV.
func TestRegisterParquet(t *testing.T) {
	s := newServer(t)
	pq, csv := creditData(t, 3000)
	postData(t, s, "credit-csv", "credit.csv", "text/csv", []byte(csv))
	var want profileSummary
	s.ok(t, "GET", "/api/v1/datasets/credit-csv/versions/1/profile", nil, &want)
	for _, contentType := range []string{"application/vnd.apache.parquet", "application/octet-stream"} {
		t.Run(contentType, func(t *testing.T) {
			name := "credit-" + strings.ReplaceAll(contentType, "/", "-")
			postData(t, s, name, "credit.parquet", contentType, pq)
			var got profileSummary
			s.ok(t, "GET", "/api/v1/datasets/"+name+"/versions/1/profile", nil, &got)
			compareProfiles(t, got, want)
		})
	}
}

func compareProfiles(t *testing.T, got, want profileSummary) {
	t.Helper()
	if got.Rows != want.Rows || len(got.Columns) != len(want.Columns) {
		t.Fatalf("rows %d, %d columns; CSV: rows %d, %d columns", got.Rows, len(got.Columns), want.Rows, len(want.Columns))
	}
	for i, g := range got.Columns {
		w := want.Columns[i]
		if g.Name != w.Name || g.Kind != w.Kind || g.Count != w.Count {
			t.Errorf("column %d: %s %s count %d; CSV: %s %s count %d", i, g.Name, g.Kind, g.Count, w.Name, w.Kind, w.Count)
		}
		if (g.Numbers == nil) != (w.Numbers == nil) {
			t.Errorf("column %s: numbers %v; CSV %v", g.Name, g.Numbers != nil, w.Numbers != nil)
			continue
		}
		if g.Numbers != nil && (math.Abs(g.Numbers.Mean-w.Numbers.Mean) > 1e-9*math.Abs(w.Numbers.Mean) ||
			math.Abs(g.Numbers.Std-w.Numbers.Std) > 1e-9*w.Numbers.Std) {
			t.Errorf("column %s: mean %v std %v; CSV mean %v std %v", g.Name, g.Numbers.Mean, g.Numbers.Std, w.Numbers.Mean, w.Numbers.Std)
		}
	}
}
