package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/mlship/mlship/internal/httpx"
)

var script = strings.Repeat("console.log('mlship');\n", 100)

const inline = `<script>window.early = fetch("/api/v1/whoami");</script>`

// The hash of inline's text, as a browser checks it (printf '%s' TEXT | openssl dgst -sha256 -binary | base64).
const inlineHash = "'sha256-uh3+zBkTEvoGCyyyrNzz/MaAKi13j/s+IFkE+qhqexE='"

func testBundle() fstest.MapFS {
	return fstest.MapFS{
		"index.html":                {Data: []byte(`<!doctype html><html><head>` + inline + `<script type="module" src="/assets/index-abc123.js"></script></head><body></body></html>`)},
		"README.md":                 {Data: []byte("placeholder")},
		"assets/index-abc123.js":    {Data: []byte(script)},
		"assets/index-abc123.js.br": {Data: []byte("brotli bytes")},
		"assets/style-def456.css":   {Data: []byte("body{color:red}")},
	}
}

func serve(t *testing.T, opts Options, method, target string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	rt := httpx.NewRouter(httpx.RouterOptions{})
	h.Register(rt)
	r := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	rt.ServeHTTP(w, r)
	return w
}

func TestServe(t *testing.T) {
	bundle := testBundle()
	tests := []struct {
		name, method, target string
		header               http.Header
		status               int
		cache, encoding      string
		ctype                string
		body                 string // a part of the body, after decoding
	}{
		{"index", "GET", "/", nil, 200, "no-cache", "", "text/html; charset=utf-8", "/assets/index-abc123.js"},
		{"index head", "HEAD", "/", nil, 200, "no-cache", "", "text/html; charset=utf-8", ""},
		{"asset plain", "GET", "/assets/index-abc123.js", nil, 200, "public, max-age=31536000, immutable", "", "text/javascript; charset=utf-8", "console.log"},
		{"asset gzip", "GET", "/assets/index-abc123.js", http.Header{"Accept-Encoding": {"gzip, deflate"}}, 200, "public, max-age=31536000, immutable", "gzip", "text/javascript; charset=utf-8", "console.log"},
		{"asset brotli", "GET", "/assets/index-abc123.js", http.Header{"Accept-Encoding": {"gzip, br"}}, 200, "public, max-age=31536000, immutable", "br", "text/javascript; charset=utf-8", "brotli bytes"},
		{"brotli refused", "GET", "/assets/index-abc123.js", http.Header{"Accept-Encoding": {"br;q=0, gzip"}}, 200, "public, max-age=31536000, immutable", "gzip", "text/javascript; charset=utf-8", "console.log"},
		{"small asset stays plain", "GET", "/assets/style-def456.css", http.Header{"Accept-Encoding": {"gzip"}}, 200, "public, max-age=31536000, immutable", "", "text/css; charset=utf-8", "color:red"},
		{"unknown asset", "GET", "/assets/index-000000.js", nil, 404, "no-store", "", "text/plain; charset=utf-8", "no such asset"},
		{"the compressed file itself", "GET", "/assets/index-abc123.js.br", nil, 404, "no-store", "", "text/plain; charset=utf-8", "no such asset"},
		{"outside assets", "GET", "/assets/../README.md", nil, http.StatusTemporaryRedirect, "", "", "", ""},
		{"escaped traversal", "GET", "/assets/..%2fREADME.md", nil, 404, "no-store", "", "text/plain; charset=utf-8", "no such asset"},
		{"a dot segment inside", "GET", "/assets/./index-abc123.js", nil, http.StatusTemporaryRedirect, "", "", "", ""},
		{"not the app", "GET", "/README.md", nil, 404, "", "", "text/plain; charset=utf-8", "404 page not found"},
		{"index.html by name", "GET", "/index.html", nil, 404, "", "", "text/plain; charset=utf-8", "404 page not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(t, Options{FS: bundle}, tt.method, tt.target, tt.header)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			h := w.Header()
			if got := h.Get("Cache-Control"); got != tt.cache {
				t.Errorf("Cache-Control %q, want %q", got, tt.cache)
			}
			if got := h.Get("Content-Encoding"); got != tt.encoding {
				t.Errorf("Content-Encoding %q, want %q", got, tt.encoding)
			}
			if tt.ctype != "" && h.Get("Content-Type") != tt.ctype {
				t.Errorf("Content-Type %q, want %q", h.Get("Content-Type"), tt.ctype)
			}
			if tt.status == 200 || strings.HasPrefix(tt.target, "/assets/") && tt.status == 404 {
				if !strings.Contains(h.Get("Content-Security-Policy"), "; script-src 'self' "+inlineHash+"; ") || h.Get("X-Content-Type-Options") != "nosniff" ||
					h.Get("Referrer-Policy") != "no-referrer" {
					t.Errorf("security headers missing: %v", h)
				}
			}
			body := w.Body.Bytes()
			if tt.encoding == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if !strings.Contains(string(body), tt.body) || tt.method == "HEAD" && len(body) != 0 {
				t.Errorf("body %q, want it to contain %q", body, tt.body)
			}
		})
	}
}

func TestETag(t *testing.T) {
	bundle := testBundle()
	for _, tt := range []struct{ target, encoding string }{{"/", ""}, {"/assets/index-abc123.js", ""},
		{"/assets/index-abc123.js", "gzip"}, {"/assets/index-abc123.js", "br"}} {
		t.Run(tt.target+" "+tt.encoding, func(t *testing.T) {
			header := http.Header{"Accept-Encoding": {tt.encoding}}
			first := serve(t, Options{FS: bundle}, "GET", tt.target, header)
			etag := first.Header().Get("ETag")
			if !strings.HasPrefix(etag, `"`) || (tt.encoding != "") != strings.HasSuffix(etag, "-"+tt.encoding+`"`) {
				t.Fatalf("ETag %q for encoding %q", etag, tt.encoding)
			}
			header.Set("If-None-Match", etag)
			again := serve(t, Options{FS: bundle}, "GET", tt.target, header)
			if again.Code != http.StatusNotModified || again.Body.Len() != 0 || again.Header().Get("ETag") != etag {
				t.Errorf("revalidation: %d %q %q", again.Code, again.Header().Get("ETag"), again.Body)
			}
			header.Set("If-None-Match", `"stale"`)
			if w := serve(t, Options{FS: bundle}, "GET", tt.target, header); w.Code != http.StatusOK {
				t.Errorf("a stale ETag: %d", w.Code)
			}
		})
	}
	// Another encoding's ETag does not validate this one's copy.
	gz := serve(t, Options{FS: bundle}, "GET", "/assets/index-abc123.js", http.Header{"Accept-Encoding": {"gzip"}})
	w := serve(t, Options{FS: bundle}, "GET", "/assets/index-abc123.js",
		http.Header{"If-None-Match": {gz.Header().Get("ETag")}})
	if w.Code != http.StatusOK {
		t.Errorf("a gzip ETag validated the plain file: %d", w.Code)
	}
}

func TestNotBuilt(t *testing.T) {
	for name, bundle := range map[string]fstest.MapFS{
		"placeholder only": {"README.md": {Data: []byte("placeholder")}},
		"empty":            {},
	} {
		t.Run(name, func(t *testing.T) {
			h, err := New(Options{FS: bundle})
			if err != nil || h.Built() {
				t.Fatalf("New: %v, built %v", err, h != nil && h.Built())
			}
			w := serve(t, Options{FS: bundle}, "GET", "/", nil)
			if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "run make ui") {
				t.Errorf("/ without a bundle: %d %q", w.Code, w.Body)
			}
			if w := serve(t, Options{FS: bundle}, "GET", "/assets/index-abc123.js", nil); w.Code != http.StatusNotFound {
				t.Errorf("an asset without a bundle: %d", w.Code)
			}
		})
	}
}

func TestSingleSignOn(t *testing.T) {
	for _, sso := range []bool{false, true} {
		w := serve(t, Options{FS: testBundle(), SingleSignOn: sso}, "GET", "/", nil)
		if got := strings.Contains(w.Body.String(), `<meta name="mlship-sso" content="oidc" />`); got != sso {
			t.Errorf("single sign-on %v: the page says %v: %s", sso, got, w.Body)
		}
	}
}

// The embedded bundle is either built or the placeholder: both serve.
func TestEmbedded(t *testing.T) {
	h, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := serve(t, Options{}, "GET", "/", nil)
	if want := map[bool]int{true: 200, false: 503}[h.Built()]; w.Code != want {
		t.Errorf("/: %d, want %d", w.Code, want)
	}
}

func TestContentSecurityPolicyAllowsOnlyTheIndexsInlineScripts(t *testing.T) {
	for _, tt := range []struct {
		name, index, script string
	}{
		{"no inline script", `<head><script type="module" src="/assets/a.js"></script></head>`, "script-src 'self';"},
		{"one", `<head>` + inline + `</head>`, "script-src 'self' " + inlineHash + ";"},
		{"two", `<script>a()</script><p>x</p><script>
b()</script>`, "script-src 'self' 'sha256-" + b64sha(`a()`) + "' 'sha256-" + b64sha("\nb()") + "';"},
		// Only <script> without attributes: a script with any (type, nonce, src) is not inline code the policy allows.
		{"with attributes", `<script type="text/javascript">a()</script><script nonce="x">b()</script>`, "script-src 'self';"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			csp := ContentSecurityPolicy([]byte(tt.index))
			if !strings.Contains(csp, "; "+tt.script+" ") || strings.Count(csp, "script-src") != 1 {
				t.Errorf("policy %q, want %q in it", csp, tt.script)
			}
			if !strings.HasPrefix(csp, "default-src 'self'; ") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe") {
				t.Errorf("policy %q lost its other directives", csp)
			}
		})
	}
}

func b64sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}
