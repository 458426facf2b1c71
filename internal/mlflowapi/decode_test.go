package mlflowapi

import (
	"errors"
	"fmt"
	"math"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/protojson"
)

// queryMessage has a field of every kind decodeQuery tells apart.
type queryMessage struct {
	Flag  bool             `json:"flag"`
	N     protojson.Int64  `json:"n"`
	Opt   *protojson.Int64 `json:"opt"`
	IDs   []string         `json:"ids"`
	Name  string           `json:"name"`
	View  viewType         `json:"view"`
	Float protojson.Float  `json:"float"`
}

func TestDecodeQuery(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  queryMessage
		fails bool
	}{
		{query: "", want: queryMessage{}},
		{query: "flag=true&n=42&ids=a&ids=b&name=x&name=ignored", want: queryMessage{Flag: true, N: 42, IDs: []string{"a", "b"}, Name: "x"}},
		{query: "flag=TRUE", want: queryMessage{Flag: true}},
		{query: "flag=False", want: queryMessage{}},
		{query: "ids=only", want: queryMessage{IDs: []string{"only"}}},
		{query: "n=-7&opt=0", want: queryMessage{N: -7, Opt: ptr(protojson.Int64(0))}},
		{query: "view=2", want: queryMessage{View: "DELETED_ONLY"}},
		{query: "view=ALL", want: queryMessage{View: "ALL"}},
		{query: "float=-Infinity&name=%C3%A9%20x", want: queryMessage{Name: "é x", Float: protojson.Float(math.Inf(-1))}},
		{query: "float=2.5", want: queryMessage{Float: 2.5}},
		{query: "unknown=1&flag=true", want: queryMessage{Flag: true}},
		{query: "flag=yes", fails: true},
		{query: "flag=", fails: true},
		{query: "n=4.5", fails: true},
		{query: "n=abc", fails: true},
		{query: "view=9", fails: true},
		{query: "n=1;name=x", fails: true},
		{query: "name=%zz", fails: true},
		{query: "float=true", fails: true},
	} {
		t.Run(tc.query, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/x", nil)
			r.URL.RawQuery = tc.query
			var got queryMessage
			err := decode(r, &got)
			if tc.fails {
				if !errors.Is(err, fault.Invalid) {
					t.Fatalf("err = %v, want an invalid-parameter error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !equalMessages(got, tc.want) {
				t.Errorf("decoded %+v, want %+v", got, tc.want)
			}
		})
	}
}

func equalMessages(a, b queryMessage) bool {
	sameOpt := (a.Opt == nil) == (b.Opt == nil) && (a.Opt == nil || *a.Opt == *b.Opt)
	return a.Flag == b.Flag && a.N == b.N && a.Float == b.Float && sameOpt && slices.Equal(a.IDs, b.IDs) && a.Name == b.Name && a.View == b.View
}

func TestDecodeEnum(t *testing.T) {
	names := []string{"A", "B", "C"}
	for _, tc := range []struct {
		in, want string
	}{
		{`"A"`, "A"}, {`"c"`, "C"}, {`2`, "B"}, {`"3"`, "C"},
		{`0`, ""}, {`4`, ""}, {`-1`, ""}, {`"D"`, ""}, {`true`, ""}, {`1.5`, ""}, {`null`, ""}, {`"0"`, ""},
	} {
		got, err := decodeEnum([]byte(tc.in), names, "letter")
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("decodeEnum(%s) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestIDListCap(t *testing.T) {
	ids := func(n int, number bool) string {
		var b strings.Builder
		b.WriteString(`{"experiment_ids": [`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			if number {
				fmt.Fprint(&b, i)
			} else {
				fmt.Fprintf(&b, `"%d"`, i)
			}
		}
		b.WriteString(`], "filter": ""}`)
		return b.String()
	}
	type message struct {
		ExperimentIDs idList `json:"experiment_ids"`
		Filter        string `json:"filter"`
	}
	for _, tc := range []struct {
		name  string
		body  string
		n     int
		fails bool
	}{
		{"at the cap", ids(MaxListIDs, false), MaxListIDs, false},
		{"numbers at the cap", ids(MaxListIDs, true), MaxListIDs, false},
		{"one over", ids(MaxListIDs+1, false), 0, true},
		{"2.5 million", ids(2_500_000, true), 0, true},
		{"empty", `{"experiment_ids": []}`, 0, false},
		{"null", `{"experiment_ids": null}`, 0, false},
		{"absent", `{}`, 0, false},
		{"not a list", `{"experiment_ids": "1"}`, 0, true},
		{"a list of objects", `{"experiment_ids": [{}]}`, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m message
			err := decodeJSON([]byte(tc.body), &m)
			if tc.fails {
				if !errors.Is(err, fault.Invalid) {
					t.Fatalf("err = %v, want an invalid-parameter error", err)
				}
				if tc.n == 0 && strings.Contains(tc.name, "over") && !strings.Contains(fault.Message(err), "20000") {
					t.Errorf("the message does not name the cap: %q", fault.Message(err))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(m.ExperimentIDs) != tc.n {
				t.Fatalf("decoded %d ids, want %d", len(m.ExperimentIDs), tc.n)
			}
		})
	}
}

func TestCountElements(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{`[]`, 0}, {` [ ] `, 0}, {`null`, 0}, {`[1]`, 1}, {`[1,2,3]`, 3},
		{`[{"a":[1,2]},{"b":{"c":","}}]`, 2},
		{`["a,b", "c\"]", "d\\", "e"]`, 4},
		{`[[],[[]],{}]`, 3},
		{"[\n 1 ,\t2\r\n]", 2},
	} {
		got, err := countElements([]byte(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("countElements(%s) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`{}`, `"[1]"`, `1`} {
		if _, err := countElements([]byte(bad)); err == nil {
			t.Errorf("countElements(%s) accepted a non-list", bad)
		}
	}
}

// TestBatchListBounded: a list longer than a batch may be is counted, not decoded.
func TestBatchListBounded(t *testing.T) {
	metric := `{"key":"a","value":1,"timestamp":1,"step":0}`
	for _, n := range []int{0, 1, 1000, 1001, 700_000} {
		body := `{"metrics":[` + strings.TrimSuffix(strings.Repeat(metric+",", n), ",") + `]}`
		var req struct {
			Metrics batchList[metricRequest] `json:"metrics"`
		}
		if err := decodeJSON([]byte(body), &req); err != nil {
			t.Fatalf("%d metrics: %v", n, err)
		}
		if req.Metrics.n != n {
			t.Errorf("counted %d metrics, want %d", req.Metrics.n, n)
		}
		if decoded := len(req.Metrics.items); (n <= 1000 && decoded != n) || (n > 1000 && decoded != 0) {
			t.Errorf("%d metrics: %d decoded", n, decoded)
		}
	}
}
