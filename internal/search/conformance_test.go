package search

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"reflect"
	"strconv"
	"testing"
)

// conformanceCase is one line of testdata/mlflow/conformance.jsonl: a filter or an
// order_by list, what MLflow 3.17.2 made of it (see testdata/mlflow/oracle.py), and, for
// the few inputs where this package deliberately differs, why.
type conformanceCase struct {
	Schema    string       `json:"schema"`
	Filter    *string      `json:"filter"`
	Order     []string     `json:"order"`
	MLflow    mlflowAnswer `json:"mlflow"`
	Deviation string       `json:"deviation"`
	line      int
}

type mlflowAnswer struct {
	OK  []mlflowItem `json:"ok"`
	Err *string      `json:"err"`
}

type mlflowItem struct {
	Entity Entity          `json:"e"`
	Key    string          `json:"k"`
	Op     Op              `json:"op"`
	Num    json.RawMessage `json:"num"`
	Str    *string         `json:"str"`
	List   []string        `json:"list"`
	Desc   bool            `json:"desc"`
}

var schemasByName = map[string]*Schema{
	"runs": Runs, "experiments": Experiments, "registered_models": RegisteredModels,
	"model_versions": ModelVersions, "logged_models": LoggedModels,
}

// TestConformanceWithMLflow holds the parser to MLflow's answers: the same comparisons
// and orderings where MLflow accepts, an error where it refuses, and the opposite of
// MLflow exactly where a deviation is recorded.
func TestConformanceWithMLflow(t *testing.T) {
	for _, c := range loadConformance(t) {
		t.Run(fmt.Sprintf("line%d", c.line), func(t *testing.T) {
			got, err := c.run()
			mlflowOK := c.MLflow.Err == nil
			switch {
			case c.Deviation != "" && (err == nil) == mlflowOK:
				t.Errorf("%s: want the opposite of MLflow (%s); got %v, %v", c, c.Deviation, got, err)
			case c.Deviation != "":
			case !mlflowOK && err == nil:
				t.Errorf("%s: MLflow refuses it (%s); got %+v", c, *c.MLflow.Err, got)
			case mlflowOK && err != nil:
				t.Errorf("%s: MLflow accepts it; got %v", c, err)
			case mlflowOK && !reflect.DeepEqual(got, c.want(t)):
				t.Errorf("%s\n got %+v\nwant %+v", c, got, c.want(t))
			}
			if err != nil {
				assertInvalid(t, err)
			}
		})
	}
}

func loadConformance(t *testing.T) []conformanceCase {
	t.Helper()
	f, err := os.Open("testdata/mlflow/conformance.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []conformanceCase
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		c := conformanceCase{line: line}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}

func (c conformanceCase) String() string {
	if c.Filter != nil {
		return fmt.Sprintf("%s filter %q", c.Schema, *c.Filter)
	}
	return fmt.Sprintf("%s order_by %q", c.Schema, c.Order)
}

// run parses the case and returns a []Comparison or an []OrderBy.
func (c conformanceCase) run() (any, error) {
	s := schemasByName[c.Schema]
	if c.Filter != nil {
		got, err := ParseFilter(*c.Filter, s)
		if got == nil {
			got = []Comparison{}
		}
		return got, err
	}
	return ParseOrderBy(c.Order, s)
}

func (c conformanceCase) want(t *testing.T) any {
	if c.Filter == nil {
		obs := make([]OrderBy, len(c.MLflow.OK))
		for i, it := range c.MLflow.OK {
			obs[i] = OrderBy{Entity: it.Entity, Key: it.Key, Desc: it.Desc}
		}
		return obs
	}
	cmps := make([]Comparison, len(c.MLflow.OK))
	for i, it := range c.MLflow.OK {
		cmps[i] = it.comparison(t)
	}
	return cmps
}

func (it mlflowItem) comparison(t *testing.T) Comparison {
	cmp := Comparison{Entity: it.Entity, Key: it.Key, Op: it.Op, List: it.List}
	switch {
	case it.Str != nil:
		cmp.Str = *it.Str
	case it.Num != nil:
		cmp.Numeric, cmp.Num = true, parseNum(t, it.Num)
	}
	return cmp
}

func parseNum(t *testing.T, raw json.RawMessage) float64 {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return math.Inf(map[string]int{"inf": 1, "-inf": -1}[s])
	}
	n, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		t.Fatalf("bad number %s", raw)
	}
	return n
}
