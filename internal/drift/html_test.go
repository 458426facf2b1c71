package drift

import (
	"bytes"
	"context"
	"html"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/dataset"
)

func sampleReport(t *testing.T) *Report {
	t.Helper()
	n := 400
	refX, curX := make([]float64, n), make([]float64, n)
	refC, curC := make([]string, n), make([]string, n)
	for i := range n {
		refX[i] = math.Sin(float64(i))
		curX[i] = math.Sin(float64(i)) + 0.5
		refC[i] = []string{"red", "green", "blue"}[i%3]
		curC[i] = []string{"red", "green", "<script>alert(1)</script>"}[i%3]
	}
	ref, err := dataset.NewTable(dataset.FloatColumn("x", refX), dataset.StringColumn(`col"<b>`, refC, nil))
	if err != nil {
		t.Fatal(err)
	}
	cur, err := dataset.NewTable(dataset.FloatColumn("x", curX), dataset.StringColumn(`col"<b>`, curC, nil))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Compare(context.Background(), ref, cur, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestWriteHTMLEscapesAndIsSelfContained(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport(t).WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if path := os.Getenv("MLSHIP_DRIFT_HTML_OUT"); path != "" {
		_ = os.WriteFile(path, buf.Bytes(), 0o644)
	}
	for _, bad := range []string{"<script", "<b>", "http://", "https://", " src=", "<link", "javascript:", " on"} {
		if strings.Contains(strings.ToLower(page), bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if !strings.Contains(html.UnescapeString(page), `content="`+HTMLContentSecurityPolicy+`"`) {
		t.Error("page does not declare its Content-Security-Policy")
	}
	for _, want := range []string{"&lt;script&gt;", "col&#34;&lt;b&gt;", "<svg", "Dataset drift detected"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
