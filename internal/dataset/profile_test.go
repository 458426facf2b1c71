package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

// testCSV writes n rows of mixed columns: a float with missing and infinite
// values, a small integer code, a boolean, a low-cardinality string and a
// high-cardinality one.
func testCSV(n int, seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, 7))
	var sb strings.Builder
	sb.WriteString("x,code,flag,city,id\n")
	cities := []string{"Lyon", "Oslo", "Lima", "Pune", "Kyiv"}
	for i := range n {
		x := fmt.Sprint(rng.NormFloat64() * 10)
		switch rng.IntN(50) {
		case 0:
			x = ""
		case 1:
			x = "-inf"
		}
		fmt.Fprintf(&sb, "%s,%d,%v,%s,u%d\n", x, rng.IntN(6), rng.IntN(3) == 0, cities[rng.IntN(len(cities))], int(seed)*1_000_000+i)
	}
	return sb.String()
}

func profileString(t *testing.T, data string) *Profile {
	t.Helper()
	r, err := Open(strings.NewReader(data), FormatCSV, &ReadOptions{BatchRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	p, err := ProfileReader(context.Background(), r, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMergeEqualsConcatenation(t *testing.T) {
	a, b := testCSV(6000, 1), testCSV(9000, 2)
	whole := profileString(t, a+b[strings.IndexByte(b, '\n')+1:])
	merged, err := Merge(profileString(t, a), profileString(t, b))
	if err != nil {
		t.Fatal(err)
	}
	if merged.Rows != whole.Rows || merged.Rows != 15000 {
		t.Fatalf("rows %d vs %d", merged.Rows, whole.Rows)
	}
	for i, w := range whole.Columns {
		m := merged.Columns[i]
		if m.Field() != w.Field() || m.Count != w.Count || m.Nulls != w.Nulls || m.Infinite != w.Infinite {
			t.Errorf("%s: %+v count %d/%d/%d, whole %+v %d/%d/%d", w.Name, m.Field(), m.Count, m.Nulls, m.Infinite, w.Field(), w.Count, w.Nulls, w.Infinite)
		}
		if !sameFloat(m.Min(), w.Min(), 0) || !sameFloat(m.Max(), w.Max(), 0) ||
			!sameFloat(m.Mean(), w.Mean(), 1e-12) || !sameFloat(m.Std(), w.Std(), 1e-12) {
			t.Errorf("%s: min/max/mean/std %v %v %v %v, whole %v %v %v %v", w.Name, m.Min(), m.Max(), m.Mean(), m.Std(), w.Min(), w.Max(), w.Mean(), w.Std())
		}
		md, mExact := m.Distinct()
		wd, wExact := w.Distinct()
		if mExact != wExact || (wExact && md != wd) || math.Abs(float64(md-wd)) > 0.05*float64(wd) {
			t.Errorf("%s: distinct %d (exact %v), whole %d (exact %v)", w.Name, md, mExact, wd, wExact)
		}
		if w.Type == TypeFloat {
			for _, q := range []float64{0.1, 0.5, 0.9} {
				// within the sketch's rank error: compare ranks in the whole
				if r := w.Quantiles().CDF(m.Quantiles().Quantile(q)); math.Abs(r-q) > 0.01 {
					t.Errorf("%s: merged q%.1f sits at rank %.4f of the whole", w.Name, q, r)
				}
			}
		}
	}
	mc, _ := merged.Column("city").ValueCounts()
	wc, _ := whole.Column("city").ValueCounts()
	if fmt.Sprint(mc) != fmt.Sprint(wc) {
		t.Errorf("city counts %v, whole %v", mc, wc)
	}
}

func sameFloat(a, b, rel float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= rel*math.Abs(b)
}

func TestMergeKeepsColumnsOfBoth(t *testing.T) {
	p1 := NewProfiler(nil)
	p1.AddFloats("a", []float64{1, 2, 3})
	p2 := NewProfiler(nil)
	p2.AddStrings("b", []string{"x", "y"})
	m, err := Merge(p1.Profile(), p2.Profile())
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows != 5 || m.Column("a").Nulls != 2 || m.Column("b").Nulls != 3 {
		t.Errorf("rows %d, a nulls %d, b nulls %d", m.Rows, m.Column("a").Nulls, m.Column("b").Nulls)
	}
}

func TestProfileJSONRoundTrip(t *testing.T) {
	p := profileString(t, testCSV(30_000, 3)) // the id column goes past the exact limit
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Profile
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(&back)
	if !bytes.Equal(raw, again) {
		t.Error("profile changed through JSON")
	}
	if _, exact := back.Column("id").Distinct(); exact {
		t.Error("id should be sketched")
	}
	// a text column keeps a sample of its texts for text drift; others none
	if texts, complete := back.Column("id").Texts(); len(texts) != TextSampleSize || complete {
		t.Errorf("id keeps %d texts (complete %v), want a sample of %d", len(texts), complete, TextSampleSize)
	}
	if texts, _ := back.Column("city").Texts(); len(texts) != 0 {
		t.Errorf("categorical city keeps %d texts", len(texts))
	}
	t.Logf("profile of 30,000 rows x 5 columns: %d bytes of JSON", len(raw))
	for _, bad := range []string{`{"version":2}`, `{"version":1,"rows":1,"exact_distinct":10,"top_capacity":5,"columns":[{"name":"a","type":"float","count":5,"nulls":0,"values":{"exact":true}}]}`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// TestProfilerColumnsMatchReader: a payload window handed over column by
// column is profiled by the same code as a file.
func TestProfilerColumnsMatchReader(t *testing.T) {
	data := "x,n,s,b\n1.5,1,a,true\n,2,b,false\n2.5,3,a,true\n"
	fromFile := profileString(t, data)
	p := NewProfiler(nil)
	p.AddFloats("x", []float64{1.5, math.NaN(), 2.5})
	p.AddInts("n", []int64{1, 2, 3})
	p.AddStrings("s", []string{"a", "b", "a"})
	p.AddBools("b", []bool{true, false, true})
	a, _ := json.Marshal(fromFile)
	b, _ := json.Marshal(p.Profile())
	if !bytes.Equal(a, b) {
		t.Errorf("file:\n%s\ncolumns:\n%s", a, b)
	}
}

// csvGenerator produces a CSV of at least size bytes on the fly, so nothing
// big is written.
type csvGenerator struct {
	size, generated int64
	rng             *rand.Rand
	buf             []byte
	row             int
}

func (g *csvGenerator) Read(p []byte) (int, error) {
	for len(g.buf) < len(p) && g.generated < g.size {
		before := len(g.buf)
		if g.row == 0 {
			g.buf = append(g.buf, "a,b,c,d,e,f\n"...)
		}
		g.row++
		g.buf = fmt.Appendf(g.buf, "%.6f,%d,%s,cat%d,%.3f,item-%d\n", g.rng.NormFloat64(), g.rng.IntN(100),
			[]string{"yes", "no"}[g.rng.IntN(2)], g.rng.IntN(40), g.rng.ExpFloat64(), g.row)
		g.generated += int64(len(g.buf) - before)
	}
	if len(g.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.buf)
	g.buf = g.buf[:copy(g.buf, g.buf[n:])]
	return n, nil
}

func TestProfileStreamsInBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("profiles a generated 200 MB CSV")
	}
	size := int64(200 << 20)
	if raceEnabled {
		size = 20 << 20
	}
	gen := &csvGenerator{size: size, rng: rand.New(rand.NewPCG(5, 6))}
	r, err := Open(gen, FormatCSV, nil)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	start := time.Now()
	var lastProgress int64
	p, err := ProfileReader(context.Background(), r, nil, func(n int64) { lastProgress = n })
	close(done)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	t.Logf("%d MB, %d rows in %v (%.0f MB/s), peak heap in use %d MB", size>>20, p.Rows, elapsed.Round(time.Millisecond),
		float64(size)/1e6/elapsed.Seconds(), peak.Load()>>20)
	if peak.Load() > 256<<20 {
		t.Errorf("peak heap %d MB: memory grows with the file", peak.Load()>>20)
	}
	if lastProgress < size-(1<<20) {
		t.Errorf("progress stopped at %d of %d bytes", lastProgress, size)
	}
	if id := p.Column("f"); id.Kind != KindText {
		t.Errorf("unique ids: kind %v", id.Kind)
	}
}

func TestRejectMixedNamesTheLine(t *testing.T) {
	csv := "a,b\n1,x\n2,y\nthree,z\n"
	r, err := Open(strings.NewReader(csv), FormatCSV, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ProfileReader(context.Background(), r, &ProfileOptions{RejectMixed: true}, nil)
	var ie *InputError
	if !errors.As(err, &ie) || ie.Line != 4 || ie.Column != "a" || !errors.Is(err, ErrMixedTypes) {
		t.Fatalf("err = %v; want line 4, column a, mixed types", err)
	}
	r, _ = Open(strings.NewReader(csv), FormatCSV, nil)
	p, err := ProfileReader(context.Background(), r, nil, nil)
	if err != nil || p.Column("a").Type != TypeString {
		t.Fatalf("without RejectMixed: %v, %v; want a string column", p, err)
	}
}

// TestTextSampleIsUniform: past its size, the sample of texts keeps every
// value with the same chance, in row order until then.
func TestTextSampleIsUniform(t *testing.T) {
	var s textSample
	const n = 20 * TextSampleSize
	for i := range n {
		s.add([]byte(strconv.Itoa(i)))
	}
	if len(s.texts) != TextSampleSize || s.seen != n {
		t.Fatalf("kept %d of %d", len(s.texts), s.seen)
	}
	firstHalf := 0
	for _, v := range s.texts {
		if i, _ := strconv.Atoi(v); i < n/2 {
			firstHalf++
		}
	}
	if firstHalf < 430 || firstHalf > 570 { // 500 ± 4.4 sd
		t.Errorf("%d of %d kept texts come from the first half", firstHalf, TextSampleSize)
	}
}

// TestLongTextsAreCut: a sample keeps at most MaxSampledText bytes of each
// text, cut between characters, and then says it is not complete.
func TestLongTextsAreCut(t *testing.T) {
	p := NewProfiler(nil)
	long := strings.Repeat("é", MaxSampledText) // two bytes a character
	p.AddStrings("doc", []string{long, "short"})
	texts, complete := p.Profile().Column("doc").Texts()
	if len(texts) != 2 || len(texts[0]) != MaxSampledText || !utf8.ValidString(texts[0]) || complete {
		t.Errorf("kept %d texts, the first of %d bytes (valid %v), complete %v", len(texts), len(texts[0]), utf8.ValidString(texts[0]), complete)
	}
}
