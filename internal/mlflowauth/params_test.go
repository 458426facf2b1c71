package mlflowauth

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/fault"
)

// TestParamsAreReadAsMLflowsAppReadsThem: the query string of a GET and of a DELETE
// without a body, the JSON object of a body otherwise; a body that is no object holds
// no parameters, and a parameter of the wrong type is refused, never taken for another.
func TestParamsAreReadAsMLflowsAppReadsThem(t *testing.T) {
	for _, tc := range []struct {
		name, method, target, body string
		want                       string // username, or the start of the error
	}{
		{"get query", "GET", "/x?username=ana", "", "ana"},
		{"get ignores a body", "GET", "/x?username=ana", `{"username":"bob"}`, "ana"},
		{"delete query", "DELETE", "/x?username=ana", "", "ana"},
		{"delete json", "DELETE", "/x?username=ana", `{"username":"bob"}`, "bob"},
		{"patch json", "PATCH", "/x", `{"username":"bob"}`, "bob"},
		{"missing", "POST", "/x", `{}`, "error: Missing value for required parameter 'username'"},
		{"empty body", "POST", "/x", ``, "error: Missing value"},
		{"null", "POST", "/x", `{"username":null}`, "error: Missing value"},
		{"not an object", "POST", "/x", `["username"]`, "error: Missing value"},
		{"a number", "POST", "/x", `{"username":5}`, "error: parameter 'username' must be a string"},
		{"not json", "POST", "/x", `{"username":`, "error: the request body is not valid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			p, err := readParams(r)
			var got string
			if err == nil {
				got, err = p.str("username")
			}
			if err != nil {
				if !errors.Is(err, fault.Invalid) {
					t.Fatalf("error %v is not a client's mistake", err)
				}
				got = "error: " + err.Error()
			}
			if !strings.HasPrefix(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTypedParams(t *testing.T) {
	p := params{"t": []byte(`true`), "ts": []byte(`"false"`), "bad": []byte(`"maybe"`)}
	if b, err := p.boolean("t"); err != nil || !b {
		t.Errorf("boolean(true) = %v, %v", b, err)
	}
	if b, err := p.boolean("ts"); err != nil || b {
		t.Errorf(`boolean("false") = %v, %v`, b, err)
	}
	if _, err := p.boolean("bad"); !errors.Is(err, fault.Invalid) {
		t.Errorf(`boolean("maybe"): %v, want a refusal`, err)
	}
	if _, err := p.boolean("absent"); !errors.Is(err, fault.Invalid) {
		t.Errorf("boolean of a missing parameter: %v, want a refusal", err)
	}
}
