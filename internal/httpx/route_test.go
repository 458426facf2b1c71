package httpx

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestInferenceAccess: an Inference route, and only one, says by PublicIf which
// requests are public; it may take a state-changing method (an inference call changes
// nothing), and each request needs Public or Read as its object decides.
func TestInferenceAccess(t *testing.T) {
	nf := http.NotFoundHandler()
	open := func(r *http.Request) bool { return r.PathValue("name") == "open" }
	for why, r := range map[string]Route{
		"inference without PublicIf":   {Method: "POST", Path: "/m/{name}", Body: JSON, Access: Inference, Handler: nf},
		"PublicIf on a read route":     {Method: "GET", Path: "/m/{name}", Access: Read, PublicIf: open, Handler: nf},
		"PublicIf on a writing route":  {Method: "POST", Path: "/m/{name}", Body: JSON, Access: Write, PublicIf: open, Handler: nf},
		"inference changing, no body":  {Method: "POST", Path: "/m/{name}", Access: Inference, PublicIf: open, Handler: nf},
		"public and changing, by name": {Method: "POST", Path: "/m/{name}", Body: JSON, Access: Public, PublicIf: open, Handler: nf},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: route %s %s was registered", why, r.Method, r.Path)
				}
			}()
			NewRouter(RouterOptions{}).Handle(r)
		}()
	}
	var needs []Access
	rt := NewRouter(RouterOptions{Wrap: func(route Route, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { needs = append(needs, route.Needs(r)) })
	}})
	rt.Handle(Route{Method: "POST", Path: "/m/{name}/infer", Body: JSON, Access: Inference, PublicIf: open, Handler: nf})
	rt.Handle(Route{Method: "GET", Path: "/m/{name}", Access: Read, Handler: nf})
	for _, target := range []string{"/m/open/infer", "/m/closed/infer", "/m/open"} {
		method := "POST"
		if target == "/m/open" {
			method = "GET"
		}
		rt.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, target, nil))
	}
	if want := []Access{Public, Read, Read}; len(needs) != 3 || needs[0] != want[0] || needs[1] != want[1] || needs[2] != want[2] {
		t.Errorf("needs = %v; want %v", needs, want)
	}
}
