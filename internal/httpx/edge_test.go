package httpx

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// reached is a handler that answers 204 and counts the requests that got through.
type reached struct{ n int }

func (h *reached) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.n++
	w.WriteHeader(http.StatusNoContent)
}

func newEdge(t *testing.T, opts EdgeOptions) (http.Handler, *reached) {
	t.Helper()
	next := &reached{}
	h, err := Edge(opts, next)
	if err != nil {
		t.Fatal(err)
	}
	return h, next
}

func TestHostAllowList(t *testing.T) {
	for _, tc := range []struct {
		name    string
		allowed []string
		bind    string
		host    string
		path    string
		want    int
	}{
		{"loopback name", nil, "127.0.0.1", "localhost:5000", "/x", 204},
		{"loopback name any case", nil, "127.0.0.1", "LocalHost:8080", "/x", 204},
		{"loopback v4", nil, "127.0.0.1", "127.0.0.1:5000", "/x", 204},
		{"loopback v6", nil, "127.0.0.1", "[::1]:5000", "/x", 204},
		{"rebinding name", nil, "127.0.0.1", "rebind.evil.example:5000", "/x", 403},
		{"rebinding name no port", nil, "127.0.0.1", "rebind.evil.example", "/x", 403},
		{"localhost suffix is not localhost", nil, "127.0.0.1", "localhost.evil.example:5000", "/x", 403},
		{"other IP on a loopback bind", nil, "127.0.0.1", "10.1.2.3:5000", "/x", 403},
		{"bind address", nil, "10.1.2.3", "10.1.2.3:5000", "/x", 204},
		{"bind name", nil, "mlship.internal", "mlship.internal:5000", "/x", 204},
		{"v6 bind address", nil, "2001:db8::5", "[2001:DB8::5]:5000", "/x", 204},
		{"wildcard bind serves IPs", nil, "0.0.0.0", "10.1.2.3:5000", "/x", 204},
		{"wildcard bind serves v6 IPs", nil, "::", "[fd00::1]:5000", "/x", 204},
		{"wildcard bind refuses names", nil, "0.0.0.0", "rebind.evil.example:5000", "/x", 403},
		{"probe with any host", nil, "127.0.0.1", "10.9.9.9:5000", "/healthz", 204},
		{"probe path only for GET", nil, "127.0.0.1", "evil.example", "/health", 204},
		{"listed name", []string{"mlship.example.com"}, "0.0.0.0", "mlship.example.com", "/x", 204},
		{"listed name any port", []string{"mlship.example.com"}, "0.0.0.0", "mlship.example.com:8443", "/x", 204},
		{"listed name with port", []string{"mlship.example.com:443"}, "0.0.0.0", "mlship.example.com:80", "/x", 403},
		{"list replaces the default", []string{"mlship.example.com"}, "127.0.0.1", "localhost:5000", "/x", 403},
		{"wildcard domain", []string{"*.example.com"}, "127.0.0.1", "a.b.example.com:5000", "/x", 204},
		{"wildcard domain not apex", []string{"*.example.com"}, "127.0.0.1", "example.com", "/x", 403},
		{"wildcard domain suffix trick", []string{"*.example.com"}, "127.0.0.1", "evilexample.com", "/x", 403},
		{"star", []string{"*"}, "127.0.0.1", "anything.example", "/x", 204},
		{"empty host", nil, "127.0.0.1", "", "/x", 403},
		{"trailing dot", nil, "127.0.0.1", "localhost.:5000", "/x", 204},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := newEdge(t, EdgeOptions{AllowedHosts: tc.allowed, Bind: tc.bind})
			r := httptest.NewRequest("GET", tc.path, nil)
			r.Host = tc.host
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("Host %q: status %d, want %d: %s", tc.host, w.Code, tc.want, w.Body)
			}
			if tc.want == 403 {
				body := w.Body.String()
				if !strings.Contains(body, `"PERMISSION_DENIED"`) || !strings.Contains(body, "--allowed-hosts") ||
					!strings.Contains(body, tc.host) {
					t.Errorf("refusal body %s does not name the host and the flag", body)
				}
			}
		})
	}
}

func TestParseHostsRefusesURLs(t *testing.T) {
	for _, bad := range []string{"http://localhost:5000", "example.com/x", "a*.example.com", "*.", "host:99999", "host:x", "<ip>", "a_b!"} {
		if _, err := ParseHosts([]string{bad}); err == nil {
			t.Errorf("ParseHosts(%q) accepted it", bad)
		}
	}
	for _, bad := range []string{"localhost", "https://a.example/path", "ftp://a.example", "*", "https://a.example?x=1"} {
		if _, err := ParseOrigins([]string{bad}); err == nil {
			t.Errorf("ParseOrigins(%q) accepted it", bad)
		}
	}
}

func TestCrossOrigin(t *testing.T) {
	trusted := "https://ui.example.com"
	for _, tc := range []struct {
		name            string
		method, host    string
		origin, fetched string
		ctype           string
		want            int
	}{
		{"client with no browser headers", "POST", "localhost:5000", "", "", "application/json", 204},
		{"same origin", "POST", "localhost:5000", "http://localhost:5000", "same-origin", "application/json", 204},
		{"user typed it", "POST", "localhost:5000", "", "none", "", 204},
		{"cross-site text/plain", "POST", "localhost:5000", "https://evil.example", "cross-site", "text/plain", 403},
		{"cross-site form, no Sec-Fetch-Site", "POST", "localhost:5000", "https://evil.example", "", "application/x-www-form-urlencoded", 403},
		{"same-site is another origin", "PUT", "localhost:5000", "http://localhost:3000", "same-site", "", 403},
		{"null origin", "DELETE", "localhost:5000", "null", "", "", 403},
		{"foreign origin on another port", "PATCH", "localhost:5000", "http://localhost:6000", "", "", 403},
		{"cross-site read is served", "GET", "localhost:5000", "https://evil.example", "cross-site", "", 204},
		{"trusted origin", "POST", "localhost:5000", trusted, "cross-site", "application/json", 204},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, next := newEdge(t, EdgeOptions{Bind: "127.0.0.1", CORSOrigins: []string{trusted}})
			r := httptest.NewRequest(tc.method, "/api/2.0/mlflow/experiments/create", strings.NewReader("{}"))
			r.Host = tc.host
			for k, v := range map[string]string{"Origin": tc.origin, "Sec-Fetch-Site": tc.fetched, "Content-Type": tc.ctype} {
				if v != "" {
					r.Header.Set(k, v)
				}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if tc.want == 403 && (next.n != 0 || !strings.Contains(w.Body.String(), "--cors-allowed-origins")) {
				t.Errorf("refused request reached the handler (%d) or the body does not name the flag: %s", next.n, w.Body)
			}
			cors := w.Header().Get("Access-Control-Allow-Origin")
			if (tc.origin == trusted) != (cors == trusted) {
				t.Errorf("Access-Control-Allow-Origin = %q for origin %q", cors, tc.origin)
			}
		})
	}
}

func TestPreflight(t *testing.T) {
	h, next := newEdge(t, EdgeOptions{Bind: "127.0.0.1", CORSOrigins: []string{"https://ui.example.com"}})
	for _, tc := range []struct {
		origin string
		want   int
		cors   bool
	}{
		{"https://ui.example.com", 204, true},
		{"https://UI.example.com", 204, true},
		{"https://evil.example", 403, false},
	} {
		r := httptest.NewRequest("OPTIONS", "/api/v1/deployments", nil)
		r.Host = "localhost:5000"
		r.Header.Set("Origin", tc.origin)
		r.Header.Set("Access-Control-Request-Method", "POST")
		r.Header.Set("Access-Control-Request-Headers", "content-type")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		got := w.Header()
		if w.Code != tc.want || (got.Get("Access-Control-Allow-Origin") != "") != tc.cors ||
			(got.Get("Access-Control-Allow-Methods") != "") != tc.cors || (got.Get("Access-Control-Allow-Headers") == "content-type") != tc.cors {
			t.Errorf("preflight from %s: status %d, headers %v", tc.origin, w.Code, got)
		}
	}
	if next.n != 0 {
		t.Errorf("a preflight reached the routes")
	}
}

func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	h, _ := newEdge(t, EdgeOptions{Bind: "127.0.0.1"})
	for _, host := range []string{"localhost:5000", "evil.example"} {
		r := httptest.NewRequest("GET", "/x", nil)
		r.Host = host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
			if got := w.Header().Get(k); got != v {
				t.Errorf("Host %s (status %d): %s = %q, want %q", host, w.Code, k, got, v)
			}
		}
	}
}

func TestBodyDeclarations(t *testing.T) {
	rt := NewRouter(RouterOptions{})
	var hits int
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++; io.Copy(io.Discard, r.Body) })
	rt.Handle(Route{Method: "POST", Path: "/json", Body: JSON, Access: Write, Handler: ok})
	rt.Handle(Route{Method: "POST", Path: "/mlflow", Body: JSON.RefusedWith(400, "INVALID_PARAMETER_VALUE"), Access: Write, Handler: ok})
	rt.Handle(Route{Method: "PUT", Path: "/upload", Body: AnyType, Access: Write, Handler: ok})
	rt.Handle(Route{Method: "POST", Path: "/infer", Body: Accepts("application/json", "application/octet-stream", ""), Access: Read, Handler: ok})
	rt.Mount("/raw/", []Route{{Method: "POST", Path: "/raw/op", Body: JSON, Access: Write, Handler: ok}}, http.NotFoundHandler())
	for _, tc := range []struct {
		path, ctype, body string
		want              int
	}{
		{"/json", "application/json", "{}", 200},
		{"/json", "application/json; charset=utf-8", "{}", 200},
		{"/json", "APPLICATION/JSON", "{}", 200},
		{"/json", "text/plain", "{}", 415},
		{"/json", "application/x-www-form-urlencoded", "a=b", 415},
		{"/json", "multipart/form-data; boundary=x", "--x--", 415},
		{"/json", "", "{}", 415},
		{"/json", "application/jsonx", "{}", 415},
		{"/json", "text/plain", "", 200}, // no body, nothing to misread
		{"/mlflow", "text/plain", "{}", 400},
		{"/upload", "text/html", "<p>", 200},
		{"/upload", "", "x", 200},
		{"/infer", "", "{}", 200},
		{"/infer", "application/octet-stream", "\x00", 200},
		{"/infer", "text/plain", "{}", 415},
		{"/raw/op/a/b", "text/plain", "{}", 415},
		{"/raw/op/a/b", "application/json", "{}", 200},
		{"/raw/other", "text/plain", "{}", 404},
	} {
		method := "POST"
		if tc.path == "/upload" {
			method = "PUT"
		}
		hits = 0
		r := httptest.NewRequest(method, tc.path, strings.NewReader(tc.body))
		if tc.ctype != "" {
			r.Header.Set("Content-Type", tc.ctype)
		}
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, r)
		if w.Code != tc.want || (tc.want == 200) != (hits == 1) {
			t.Errorf("%s %s with %q: status %d (handler reached %d times), want %d: %s", method, tc.path, tc.ctype, w.Code, hits, tc.want, w.Body)
		}
	}
	if n := len(rt.Routes()); n != 5 {
		t.Errorf("Routes() lists %d routes, want 5", n)
	}
}

func TestUndeclaredRoutePanics(t *testing.T) {
	mustPanic := func(why string, r Route) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: route %s %s was registered", why, r.Method, r.Path)
			}
		}()
		NewRouter(RouterOptions{}).Handle(r)
	}
	nf := http.NotFoundHandler()
	for _, method := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		mustPanic("no body", Route{Method: method, Path: "/x", Access: Write, Handler: nf})
		mustPanic("public and changing state", Route{Method: method, Path: "/x", Body: JSON, Access: Public, Handler: nf})
	}
	for _, method := range []string{"GET", "POST"} {
		mustPanic("no access", Route{Method: method, Path: "/x", Body: JSON, Handler: nf})
		mustPanic("unknown access", Route{Method: method, Path: "/x", Body: JSON, Access: Admin + 1, Handler: nf})
	}
	NewRouter(RouterOptions{}).Handle(Route{Method: "GET", Path: "/x", Access: Public, Handler: nf})
	NewRouter(RouterOptions{}).Handle(Route{Method: "POST", Path: "/x", Body: JSON, Access: Signed, Handler: nf})
}
