package dataset

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

// fuzzProfile reads data in small batches and checks what must hold of any
// input that reads without error.
func fuzzProfile(t *testing.T, format Format, data []byte) (*Profile, error) {
	opts := &ReadOptions{BatchRows: 3, MaxFieldBytes: 64, MaxRecordBytes: 256, MaxColumns: 32}
	r, err := Open(bytes.NewReader(data), format, opts)
	if err != nil {
		return nil, err
	}
	p := NewProfiler(&ProfileOptions{ExactDistinct: 4, TopCapacity: 3, QuantileK: 8})
	var b Batch
	for {
		err := r.Read(context.Background(), &b)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v is not an InputError", err)
			}
			return nil, err
		}
		if b.Rows == 0 || len(b.Columns) != len(b.Names) {
			t.Fatalf("batch of %d rows, %d columns for %d names", b.Rows, len(b.Columns), len(b.Names))
		}
		for i := range b.Columns {
			if kinds, nums := b.Columns[i].Cells(); len(kinds) != b.Rows || len(nums) != b.Rows {
				t.Fatalf("column %d holds %d cells for %d rows", i, len(kinds), b.Rows)
			}
		}
		p.AddBatch(&b)
	}
	prof := p.Profile()
	for _, c := range prof.Columns {
		if c.Count+c.Nulls != prof.Rows {
			t.Fatalf("column %q: %d values and %d nulls in %d rows", c.Name, c.Count, c.Nulls, prof.Rows)
		}
	}
	raw, err := json.Marshal(prof)
	if err != nil {
		t.Fatal(err)
	}
	var back Profile
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatalf("profile does not decode: %v\n%s", err, raw)
	}
	return prof, nil
}

func FuzzReadCSV(f *testing.F) {
	for _, seed := range []string{
		"a,b\n1,2\n", "a,b\n1,\"x\ny\"\n2,3\n", "a\n\"\"\"\"\n", "a,b\n1\n", "x,y,z\nTrue,1.5,NA\n,inf,\"q\"\"\"\n",
		"\xEF\xBB\xBFa\n1\r\n2\r\n", "a,a\n1,2\n", "a,b\n\"unterminated\n", "a\n" + strings.Repeat("9", 100) + "\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		prof, err := fuzzProfile(t, FormatCSV, data)
		if err != nil {
			return
		}
		// whatever reads without error, encoding/csv reads to the same rows
		cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))))
		records, err := cr.ReadAll()
		if err != nil || int64(len(records)-1) != prof.Rows {
			t.Fatalf("encoding/csv: %d records, %v; profile: %d rows", len(records), err, prof.Rows)
		}
	})
}

func FuzzReadJSONLines(f *testing.F) {
	for _, seed := range []string{
		"{\"a\":1}\n", "{\"a\":1,\"b\":\"x\"}\n{\"b\":null,\"c\":[1,{}]}\n", "\n\n{}\n", "{\"a\":1}{\"a\":2}\n",
		"[1]\n", "{\"a\":\"\\u00e9\\ud83d\\ude00\"}\n", "{\"a\":1e999}\n", "{\"a\":tru}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		prof, err := fuzzProfile(t, FormatJSONLines, data)
		if err != nil {
			return
		}
		// every non-blank line was a valid JSON object
		var rows int64
		for _, line := range bytes.Split(data, []byte("\n")) {
			line = bytes.TrimSpace(bytes.TrimPrefix(line, []byte("\xEF\xBB\xBF")))
			if len(line) == 0 {
				continue
			}
			var obj map[string]json.RawMessage
			if json.Unmarshal(line, &obj) != nil {
				t.Fatalf("accepted %q", line)
			}
			rows++
		}
		if rows != prof.Rows {
			t.Fatalf("%d object lines, profile of %d rows", rows, prof.Rows)
		}
	})
}

func FuzzProfileJSON(f *testing.F) {
	p := NewProfiler(&ProfileOptions{ExactDistinct: 3, TopCapacity: 2, QuantileK: 8})
	p.AddFloats("x", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
	p.AddStrings("s", []string{"a", "b", "c", "d", "e"})
	raw, _ := json.Marshal(p.Profile())
	f.Add(raw)
	f.Add([]byte(`{"version":1,"rows":0,"exact_distinct":1,"top_capacity":1,"columns":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var prof Profile
		if json.Unmarshal(data, &prof) != nil {
			return
		}
		// a profile that decodes can be used
		prof.Schema()
		for _, c := range prof.Columns {
			c.Distinct()
			c.TopValues(5)
			c.Histogram([]float64{0, 1, 2})
			if q := c.Quantiles(); q != nil {
				q.Quantiles([]float64{0.5})
			}
		}
		if _, err := Merge(&prof, &prof); err != nil && !errors.Is(err, ErrIncompatible) {
			t.Fatal(err)
		}
	})
}
