package scoring

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/httpx"
	"github.com/mlship/mlship/internal/runtime"
)

// conformanceCase is one line of testdata/mlflow/conformance.jsonl: a request, what
// MLflow's scoring server made of it (see testdata/mlflow/oracle.py), and, where mlship
// differs on purpose, why.
type conformanceCase struct {
	ContentType string       `json:"content_type"`
	Body        string       `json:"body"`
	MLflow      mlflowAnswer `json:"mlflow"`
	Deviation   string       `json:"deviation"`
	line        int
}

type mlflowAnswer struct {
	Status  int            `json:"status"`
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Kind    string         `json:"kind"` // columns (a DataFrame), tensor (an array), tensors (a dict)
	Tensors []mlflowTensor `json:"tensors"`
	Params  map[string]any `json:"params"`
}

type mlflowTensor struct {
	Name   string `json:"name"`
	Dtype  string `json:"dtype"`
	Shape  []int64
	Values []any `json:"values"`
}

// TestConformanceWithMLflow holds DecodeInvocation to MLflow's answers: the same
// tensors where MLflow accepts, an error with the same status (and message, where
// MLflow's is its own rather than numpy's) where it refuses, and a different answer
// exactly where a deviation is recorded.
func TestConformanceWithMLflow(t *testing.T) {
	for _, c := range loadConformance(t) {
		t.Run(fmt.Sprintf("line%d", c.line), func(t *testing.T) {
			req, err := DecodeInvocation(c.ContentType, []byte(c.Body))
			problem := c.compare(req, err)
			switch {
			case c.Deviation != "" && problem == "":
				t.Errorf("%s %q: agrees with MLflow, but a deviation is recorded (%s)", c.ContentType, c.Body, c.Deviation)
			case c.Deviation == "" && problem != "":
				t.Errorf("%s %q: %s", c.ContentType, c.Body, problem)
			}
		})
	}
}

func loadConformance(t *testing.T) []conformanceCase {
	f, err := os.Open("testdata/mlflow/conformance.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []conformanceCase
	s := bufio.NewScanner(f)
	s.Buffer(nil, 1<<20)
	for line := 1; s.Scan(); line++ {
		var c conformanceCase
		if err := json.Unmarshal(s.Bytes(), &c); err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		c.line = line
		cases = append(cases, c)
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}

// compare describes how mlship's answer differs from MLflow's; "" when it agrees.
func (c *conformanceCase) compare(req *runtime.Request, err error) string {
	m := c.MLflow
	if m.Status != http.StatusOK {
		if err == nil {
			return fmt.Sprintf("MLflow refuses it (%d %s); mlship accepts it", m.Status, m.Message)
		}
		return compareError(m, err)
	}
	if err != nil {
		return fmt.Sprintf("MLflow accepts it; mlship refuses it: %v", err)
	}
	wantLayout := runtime.LayoutTensors
	if m.Kind == "columns" {
		wantLayout = runtime.LayoutColumns
	}
	if req.Layout != wantLayout {
		return fmt.Sprintf("layout %s, MLflow gives the model a %s", req.Layout, m.Kind)
	}
	if len(req.Inputs) != len(m.Tensors) {
		return fmt.Sprintf("%d inputs, MLflow %d", len(req.Inputs), len(m.Tensors))
	}
	for i := range m.Tensors {
		if p := compareTensor(&req.Inputs[i], &m.Tensors[i]); p != "" {
			return p
		}
	}
	if !sameParams(req.Params, m.Params) {
		return fmt.Sprintf("params %v, MLflow %v", req.Params, m.Params)
	}
	return ""
}

// looseMessages maps the start of MLflow errors whose text mlship does not copy to
// the start mlship's must have: numpy's own words, and MLflow's list of the content
// types it reads (Parquet, but not application/csv) where mlship lists its own.
var looseMessages = map[string]string{
	"Invalid input. setting an array element with a sequence":           "Invalid input. ",
	"This predictor only supports the following content types: Types: ": "This predictor only supports the following content types: Types: ",
}

func compareError(m mlflowAnswer, err error) string {
	status, code := http.StatusBadRequest, ""
	var ce *httpx.CodedError
	if errors.As(err, &ce) {
		code = ce.Code
		if ce.Status != 0 {
			status = ce.Status
		}
	}
	if !errors.Is(err, fault.Invalid) || status != m.Status || code != "BAD_REQUEST" {
		return fmt.Sprintf("error %v (status %d, code %q), MLflow %d %s", err, status, code, m.Status, m.Code)
	}
	for theirs, ours := range looseMessages {
		if strings.HasPrefix(m.Message, theirs) {
			if !strings.HasPrefix(fault.Message(err), ours) {
				return fmt.Sprintf("message %q, MLflow %q", fault.Message(err), m.Message)
			}
			return ""
		}
	}
	want := normalizeSets(m.Message)
	if i := strings.Index(want, "Error: '"); i >= 0 {
		want = want[:i+len("Error: '")]
	}
	if got := normalizeSets(fault.Message(err)); !strings.HasPrefix(got, want) {
		return fmt.Sprintf("message\n got %q\nwant %q", got, want)
	}
	return ""
}

var pythonSetRe = regexp.MustCompile(`\{'[^{}]*'\}`)

// normalizeSets sorts the items of Python sets in a message: Python prints them in an
// order that changes from run to run.
func normalizeSets(s string) string {
	return pythonSetRe.ReplaceAllStringFunc(s, func(set string) string {
		items := strings.Split(set[1:len(set)-1], ", ")
		sort.Strings(items)
		return "{" + strings.Join(items, ", ") + "}"
	})
}

var dtypes = map[string]runtime.Datatype{"int64": runtime.Int64, "float64": runtime.FP64, "bool": runtime.Bool, "str": runtime.Bytes, "object": runtime.Bytes}

func compareTensor(got *runtime.Tensor, want *mlflowTensor) string {
	dt, ok := dtypes[want.Dtype]
	if strings.HasPrefix(want.Dtype, "<U") {
		dt, ok = runtime.Bytes, true
	}
	if !ok || got.Name != want.Name || got.Datatype != dt || !reflect.DeepEqual(got.Shape, want.Shape) {
		return fmt.Sprintf("tensor %q %s %v, MLflow %q %s %v", got.Name, got.Datatype, got.Shape, want.Name, want.Dtype, want.Shape)
	}
	for i, w := range want.Values {
		if g := element(got, i); !sameValue(g, w) {
			return fmt.Sprintf("tensor %q element %d is %v, MLflow %v", got.Name, i, g, w)
		}
	}
	return ""
}

func element(t *runtime.Tensor, i int) any {
	switch t.Datatype {
	case runtime.Bytes:
		return string(t.Strings[i])
	case runtime.Bool:
		return t.Data[i] == 1
	}
	return t.Float64At(i)
}

func sameValue(got, want any) bool {
	switch w := want.(type) {
	case float64:
		return got == w
	case string:
		if f, ok := got.(float64); ok {
			return fmt.Sprint(f) == map[string]string{"nan": "NaN", "inf": "+Inf", "-inf": "-Inf"}[w]
		}
		return got == w
	case bool:
		return got == w
	}
	if f, ok := got.(float64); ok && math.IsNaN(f) {
		return false
	}
	return false
}

func sameParams(got, want map[string]any) bool {
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	return string(g) == string(w)
}
