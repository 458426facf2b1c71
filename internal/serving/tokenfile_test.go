package serving

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/httpx"
)

func TestReadTokenFile(t *testing.T) {
	dir := t.TempDir()
	write := func(content string) string {
		p := filepath.Join(dir, "tokens")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, content := range map[string]string{
		"empty":         "",
		"comments only": "# nothing\n\n",
		"short":         "0123456789\n",
		"two words":     "0123456789abcdef 0123456789abcdef\n",
	} {
		if _, err := ReadTokenFile(write(content)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ReadTokenFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file was accepted")
	}
	tokens, err := ReadTokenFile(write("# the scorers\nfirst-token-0123456789\n\n  second-token-0123456789  \r\n"))
	if err != nil {
		t.Fatal(err)
	}
	for token, want := range map[string]bool{"first-token-0123456789": true, "second-token-0123456789": true,
		"first-token-012345678": false, "first-token-01234567890": false, "": false, "# the scorers": false} {
		if tokens.Has(token) != want {
			t.Errorf("Has(%q) = %v", token, !want)
		}
	}
}

// TestTokenGuard: with --token-file, mlship serve answers a route that is not public
// only to a request bearing one of the tokens; a public model answers anyone.
func TestTokenGuard(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tokens")
	os.WriteFile(p, []byte("guard-token-0123456789\n"), 0o600)
	tokens, err := ReadTokenFile(p)
	if err != nil {
		t.Fatal(err)
	}
	public := false
	rt := httpx.NewRouter(httpx.RouterOptions{Wrap: tokens.Guard(slog.New(slog.DiscardHandler))})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	rt.Handle(httpx.Route{Method: "POST", Path: "/invocations", Body: httpx.AnyType, Access: httpx.Inference,
		PublicIf: func(*http.Request) bool { return public }, Handler: ok})
	rt.Handle(httpx.Route{Method: "GET", Path: "/metrics", Access: httpx.Read, Handler: ok})
	rt.Handle(httpx.Route{Method: "GET", Path: "/ping", Access: httpx.Public, Handler: ok})
	do := func(method, path, authz string) int {
		r := httptest.NewRequest(method, path, strings.NewReader("{}"))
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, r)
		return w.Code
	}
	for _, c := range []struct {
		public             bool
		method, path, auth string
		want               int
	}{
		{false, "POST", "/invocations", "", 401},
		{false, "POST", "/invocations", "Bearer guard-token-0123456789", 204},
		{false, "POST", "/invocations", "bearer guard-token-0123456789", 204},
		{false, "POST", "/invocations", "Bearer guard-token-012345678", 401},
		{false, "POST", "/invocations", "Basic Z3VhcmQ6Z3VhcmQtdG9rZW4tMDEyMzQ1Njc4OQ==", 401},
		{false, "GET", "/metrics", "", 401},
		{false, "GET", "/metrics", "Bearer guard-token-0123456789", 204},
		{false, "GET", "/ping", "", 204},
		{true, "POST", "/invocations", "", 204},
		{true, "GET", "/metrics", "", 401},
	} {
		public = c.public
		if got := do(c.method, c.path, c.auth); got != c.want {
			t.Errorf("%s %s (public %v) with %q: %d; want %d", c.method, c.path, c.public, c.auth, got, c.want)
		}
	}
}
