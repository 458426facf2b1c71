package server

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mlship/mlship/internal/config"
	"github.com/mlship/mlship/internal/httpx"
)

// guarded is a whole server whose handler records which routes requests reached.
type guarded struct {
	srv     *Server
	cfg     config.Server
	handler http.Handler
	routes  []httpx.Route
	reached atomic.Int64 // state-changing routes reached
}

// newGuarded builds a server on a fresh data directory, its routes wrapped by check,
// which sees every request that reaches a route, after the edge and the route's own
// body check. If passThrough, the route's handler then runs; otherwise the request is
// answered 204 there.
func newGuarded(t testing.TB, passThrough bool, check func(httpx.Route, *http.Request)) *guarded {
	t.Helper()
	srv, cfg := newTestServer(t, nil)
	g := &guarded{srv: srv, cfg: cfg}
	wrap := func(rt httpx.Route, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if httpx.StateChanging(rt.Method) {
				g.reached.Add(1)
			}
			if check != nil {
				check(rt, r)
			}
			if passThrough {
				h.ServeHTTP(w, r)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})
	}
	handler, router, err := srv.routes(httpx.RouterOptions{Wrap: wrap})
	if err != nil {
		t.Fatal(err)
	}
	g.handler, g.routes = handler, router.Routes()
	return g
}

const testHost = "127.0.0.1:5000"

// do sends one request through the handler, as a same-origin client unless hdr says
// otherwise.
func (g *guarded) do(method, target, body string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Host = testHost
	if body == "" {
		r.Body, r.ContentLength = http.NoBody, 0
	}
	for k, v := range hdr {
		if k == "Host" {
			r.Host = v
			continue
		}
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	g.handler.ServeHTTP(w, r)
	return w
}

var wildcard = regexp.MustCompile(`\{[a-z_]+(\.\.\.)?\}`)

// samplePath fills a route's path with names the walk's fixtures use.
func samplePath(rt httpx.Route) string {
	p := wildcard.ReplaceAllStringFunc(rt.Path, func(w string) string {
		switch {
		case strings.HasSuffix(w, "...}"):
			return "walk/page.html"
		case w == "{target}":
			return "walk:predict"
		case w == "{version}" || w == "{id}":
			return "1"
		}
		return "walk"
	})
	p = strings.Replace(p, "{$}", "", 1) // "/{$}" is exactly "/"
	if strings.HasPrefix(p, "/api/2.0/mlflow-artifacts/") {
		p += "/walk/page.html"
	}
	return p
}

// snapshot is what a state change would show: the listings of every kind of thing
// the routes change, and the files of the data directory.
func (g *guarded) snapshot(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, target := range []string{
		"/api/2.0/mlflow/experiments/search?max_results=1000&view_type=ALL",
		"/api/2.0/mlflow/registered-models/search",
		"/api/2.0/mlflow/registered-models/get?name=walk",
		"/api/v1/deployments", "/api/v1/datasets",
		"/api/2.0/mlflow-artifacts/artifacts?path=walk",
	} {
		w := g.do("GET", target, "", nil)
		if w.Code != 200 {
			t.Fatalf("GET %s: %d %s", target, w.Code, w.Body)
		}
		b.WriteString(w.Body.String())
	}
	filepath.WalkDir(g.cfg.ArtifactsDestination, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			fmt.Fprintln(&b, p)
		}
		return nil
	})
	return b.String()
}

// TestEveryStateChangingRouteRefusesBrowserAttacks walks every registered route and
// sends each state-changing one what a web page can send: a cross-site text/plain
// POST, a form with a foreign Origin, a request to a rebound host name, and, from a
// same-origin client, a body of a type the route does not take. None may reach a
// handler, and nothing may change.
func TestEveryStateChangingRouteRefusesBrowserAttacks(t *testing.T) {
	g := newGuarded(t, true, nil)
	json := map[string]string{"Content-Type": "application/json"}
	for _, fixture := range []struct{ method, target, body string }{
		{"POST", "/api/2.0/mlflow/experiments/create", `{"name":"walk"}`},
		{"POST", "/api/2.0/mlflow/registered-models/create", `{"name":"walk"}`},
		{"PUT", "/api/2.0/mlflow-artifacts/artifacts/walk/page.html", "<p>kept</p>"},
	} {
		if w := g.do(fixture.method, fixture.target, fixture.body, json); w.Code != 200 {
			t.Fatalf("fixture %s %s: %d %s", fixture.method, fixture.target, w.Code, w.Body)
		}
	}
	before, start := g.snapshot(t), g.reached.Load()

	attacks := []struct {
		name string
		body string
		hdr  map[string]string
	}{
		{"cross-site text/plain", `{"name":"pwned"}`, map[string]string{"Content-Type": "text/plain",
			"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}},
		{"form, foreign Origin", "name=pwned", map[string]string{"Content-Type": "application/x-www-form-urlencoded",
			"Origin": "https://evil.example"}},
		{"rebound Host", `{"name":"pwned"}`, map[string]string{"Content-Type": "application/json",
			"Host": "rebind.evil.example:5000", "Origin": "http://rebind.evil.example:5000", "Sec-Fetch-Site": "same-origin"}},
	}
	var table []string
	walked := 0
	for _, rt := range g.routes {
		if !httpx.StateChanging(rt.Method) {
			table = append(table, fmt.Sprintf("%-6s %-62s read-only", rt.Method, rt.Path))
			continue
		}
		walked++
		target := samplePath(rt)
		var answers []string
		for _, a := range attacks {
			w := g.do(rt.Method, target, a.body, a.hdr)
			answers = append(answers, fmt.Sprintf("%s=%d", a.name, w.Code))
			if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "PERMISSION_DENIED") {
				t.Errorf("%s %s, %s: %d %s, want 403 PERMISSION_DENIED", rt.Method, target, a.name, w.Code, w.Body)
			}
		}
		types := rt.Body.Types()
		if slices.Contains(types, "*/*") {
			answers = append(answers, "text/plain: any type taken (the handler checks or keeps it)")
		} else {
			w := g.do(rt.Method, target, "name=pwned", map[string]string{"Content-Type": "text/plain"})
			answers = append(answers, fmt.Sprintf("same-origin text/plain=%d", w.Code))
			if w.Code != http.StatusUnsupportedMediaType && w.Code != http.StatusBadRequest {
				t.Errorf("%s %s, same-origin text/plain: %d %s, want 415 (400 on MLflow's routes)", rt.Method, target, w.Code, w.Body)
			}
		}
		if i := slices.Index(types, ""); i >= 0 {
			types[i] = "(no Content-Type)"
		}
		table = append(table, fmt.Sprintf("%-6s %-62s takes %s: %s", rt.Method, rt.Path, strings.Join(types, ", "), strings.Join(answers, " ")))
	}
	t.Logf("%d routes, %d state-changing:\n%s", len(g.routes), walked, strings.Join(table, "\n"))
	if n := g.reached.Load() - start; n != 0 {
		t.Errorf("refused requests reached state-changing handlers %d times", n)
	}
	if after := g.snapshot(t); after != before {
		t.Errorf("state changed:\nbefore %s\nafter  %s", before, after)
	}
	if walked < 50 {
		t.Errorf("walked %d state-changing routes; the route list looks incomplete", walked)
	}
	// The same requests from a plain client do get through: the walk could fail.
	if w := g.do("POST", "/api/2.0/mlflow/experiments/create", `{"name":"walk-2"}`, json); w.Code != 200 || g.reached.Load() == start {
		t.Fatalf("a same-origin JSON request was not served: %d %s", w.Code, w.Body)
	}
}

// TestDownloadsAreAttachmentsWithCSP: an HTML artifact comes back as an attachment with
// a CSP that forbids everything, so a browser never runs it on this server's origin.
func TestDownloadsAreAttachmentsWithCSP(t *testing.T) {
	g := newGuarded(t, true, nil)
	if w := g.do("PUT", "/api/2.0/mlflow-artifacts/artifacts/walk/page.html", "<script>alert(1)</script>", map[string]string{"Content-Type": "text/html"}); w.Code != 200 {
		t.Fatalf("upload: %d %s", w.Code, w.Body)
	}
	w := g.do("GET", "/api/2.0/mlflow-artifacts/artifacts/walk/page.html", "", nil)
	h := w.Header()
	if w.Code != 200 || !strings.HasPrefix(h.Get("Content-Disposition"), "attachment") ||
		h.Get("Content-Security-Policy") != "default-src 'none'; sandbox" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("download: %d, headers %v", w.Code, h)
	}
}

// FuzzRouteGuard builds requests from random methods, paths, headers and bodies, and
// fails if one reaches a state-changing route without passing the checks: a Host of
// the loopback names, no other site's Origin or Sec-Fetch-Site, and a body of a type
// the route declares.
func FuzzRouteGuard(f *testing.F) {
	var violation string // a handler panic would be recovered into a 500, so the check records it
	g := newGuarded(f, false, func(rt httpx.Route, r *http.Request) {
		if !httpx.StateChanging(rt.Method) {
			return
		}
		if !loopbackHost(r.Host) {
			violation = (fmt.Sprintf("%s %s reached %s with Host %q", r.Method, r.URL.Path, rt.Path, r.Host))
		}
		if !sameOrigin(r) {
			violation = (fmt.Sprintf("%s %s reached %s from Origin %q, Sec-Fetch-Site %q", r.Method, r.URL.Path, rt.Path,
				r.Header.Get("Origin"), r.Header.Get("Sec-Fetch-Site")))
		}
		if !declaredBody(rt.Body, r) {
			violation = (fmt.Sprintf("%s %s reached %s with Content-Type %q, %d bytes", r.Method, r.URL.Path, rt.Path,
				r.Header.Get("Content-Type"), r.ContentLength))
		}
	})
	methods := []string{"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "TRACE", "post"}
	for i, rt := range g.routes {
		f.Add(uint8(slices.Index(methods, rt.Method)), uint16(i), "", "127.0.0.1:5000", "", "", "application/json", []byte(`{}`))
		f.Add(uint8(slices.Index(methods, rt.Method)), uint16(i), "", "localhost", "https://evil.example", "cross-site", "text/plain", []byte(`{}`))
		f.Add(uint8(slices.Index(methods, rt.Method)), uint16(i), "", "rebind.evil.example", "", "", "application/json", []byte(`{}`))
		f.Add(uint8(slices.Index(methods, rt.Method)), uint16(i), "", "[::1]:5000", "http://[::1]:5000", "", "multipart/form-data; boundary=x", []byte("--x--"))
	}
	f.Add(uint8(3), uint16(0), "/api/v1/deployments", "LOCALHOST.", "null", "same-site", "", []byte("a=b"))
	f.Fuzz(func(t *testing.T, m uint8, pick uint16, path, host, origin, fetchSite, ctype string, body []byte) {
		method := methods[int(m)%len(methods)]
		if path == "" || path[0] != '/' {
			path = samplePath(g.routes[int(pick)%len(g.routes)]) + path
		}
		u, err := url.Parse(path)
		if err != nil || u.Path == "" || u.Path[0] != '/' {
			return
		}
		r := &http.Request{Method: method, URL: u, Host: host, Header: http.Header{}, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), RemoteAddr: "127.0.0.1:1234", RequestURI: path}
		for k, v := range map[string]string{"Origin": origin, "Sec-Fetch-Site": fetchSite, "Content-Type": ctype} {
			if v != "" {
				r.Header.Set(k, v)
			}
		}
		violation = ""
		g.handler.ServeHTTP(httptest.NewRecorder(), r)
		if violation != "" {
			t.Fatal(violation)
		}
	})
}

// loopbackHost is the default allow-list of a server on 127.0.0.1, written out
// independently of httpx: localhost, 127.0.0.1 or ::1, on any port.
func loopbackHost(host string) bool {
	name := strings.ToLower(host)
	if h, _, err := net.SplitHostPort(name); err == nil {
		name = h
	}
	name = strings.TrimSuffix(strings.Trim(name, "[]"), ".")
	if ip := net.ParseIP(name); ip != nil {
		return ip.Equal(net.IPv4(127, 0, 0, 1)) || ip.Equal(net.IPv6loopback)
	}
	return name == "localhost"
}

// sameOrigin is what a request must show to change state with no trusted origins: a
// Sec-Fetch-Site of same-origin or none, or, without one, no Origin or the server's own.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
	default:
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

// declaredBody: an empty body, or one whose media type the route declares.
func declaredBody(b httpx.Body, r *http.Request) bool {
	types := b.Types()
	if r.ContentLength == 0 || slices.Contains(types, "*/*") {
		return true
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return slices.Contains(types, "")
	}
	mt, _, _ := strings.Cut(ct, ";")
	return slices.Contains(types, strings.ToLower(strings.TrimSpace(mt)))
}
