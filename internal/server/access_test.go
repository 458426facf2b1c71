package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/config"
	"github.com/mlship/mlship/internal/httpx"
)

// TestEveryRouteChecksAccess walks every registered route with identities on, as
// anonymous, a reader, a writer, a deployer, a user's password, an administrator and a
// bad token, and checks that each reaches the route exactly when the access the route
// declares allows it: 401 without credentials, 403 with too small a scope.
func TestEveryRouteChecksAccess(t *testing.T) {
	ctx := context.Background()
	cfg := config.DefaultServer()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Auth, cfg.AdminPassword = true, "walk-admin-password"
	// Single sign-on's routes too (the provider is asked nothing until a sign-in).
	cfg.OIDC.Issuer, cfg.OIDC.ClientID, cfg.OIDC.ClientSecret = "http://127.0.0.1:1", "mlship", "walk-client-secret"
	cfg.OIDC.RedirectURL = "http://127.0.0.1:5000/auth/callback"
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	srv, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	reached := 0
	handler, router, err := srv.routes(httpx.RouterOptions{Wrap: func(rt httpx.Route, _ http.Handler) http.Handler {
		return srv.checkAccess(rt, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reached++
			w.WriteHeader(http.StatusNoContent)
		}))
	}})
	if err != nil {
		t.Fatal(err)
	}

	admin, err := srv.auth.SignIn(ctx, "admin", cfg.AdminPassword, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.auth.CreateUser(ctx, auth.NewUser{Name: "walker", Password: "walker-password"}); err != nil {
		t.Fatal(err)
	}
	walker, err := srv.auth.SignIn(ctx, "walker", "walker-password", "test")
	if err != nil {
		t.Fatal(err)
	}
	token := func(holder *auth.Identity, scopes string) string {
		secret, _, err := srv.auth.CreateToken(ctx, holder, auth.NewToken{Name: scopes, Scopes: scopes})
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + secret
	}
	callers := []struct {
		name, authz string
		scopes      auth.Scopes // 0: anonymous
	}{
		{"anonymous", "", 0},
		{"reader", token(walker, "read"), auth.Read},
		{"writer", token(walker, "write"), auth.Read | auth.Write},
		{"deployer", token(walker, "deploy"), auth.Read | auth.Deploy},
		{"user", "Basic " + basic("walker", "walker-password"), auth.Read | auth.Write | auth.Deploy},
		{"admin", token(admin, "admin"), auth.AllScopes},
	}
	need := map[httpx.Access]auth.Scopes{httpx.Read: auth.Read, httpx.Write: auth.Write, httpx.Deploy: auth.Deploy, httpx.Admin: auth.Admin}
	client := 0
	do := func(method, target, authz string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, target, nil)
		r.Host = testHost
		client++ // each request from its own address: failed sign-ins are limited per client
		r.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:40000", client>>16&255, client>>8&255, client&255)
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		return w
	}

	var table []string
	counts := map[httpx.Access]int{}
	for _, rt := range router.Routes() {
		counts[rt.Access]++
		target := samplePath(rt)
		var answers []string
		for _, c := range callers {
			want := http.StatusNoContent
			switch {
			case rt.Access == httpx.Public:
			case c.scopes == 0:
				want = http.StatusUnauthorized
			case rt.Access == httpx.Signed:
			case !c.scopes.Has(need[rt.Access]):
				want = http.StatusForbidden
			}
			before := reached
			w := do(rt.Method, target, c.authz)
			answers = append(answers, fmt.Sprintf("%s=%d", c.name, w.Code))
			if w.Code != want {
				t.Errorf("%s %s (%s) as %s: %d %s, want %d", rt.Method, target, rt.Access, c.name, w.Code, w.Body, want)
			}
			if (reached > before) != (want == http.StatusNoContent) {
				t.Errorf("%s %s as %s: reached the handler %v", rt.Method, target, c.name, reached > before)
			}
			if want == http.StatusUnauthorized && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("%s %s as anonymous: no Basic challenge", rt.Method, target)
			}
		}
		// A wrong credential is refused everywhere, public routes included.
		if w := do(rt.Method, target, "Bearer mls_"+strings.Repeat("A", 43)); w.Code != http.StatusUnauthorized {
			t.Errorf("%s %s with an unknown token: %d", rt.Method, target, w.Code)
		}
		table = append(table, fmt.Sprintf("%-6s %-62s %-7s %s", rt.Method, rt.Path, rt.Access, strings.Join(answers, " ")))
	}
	t.Logf("%d routes (%v):\n%s", len(table), counts, strings.Join(table, "\n"))
	if counts[httpx.Read] < 40 || counts[httpx.Write] < 40 || counts[httpx.Deploy] < 3 || counts[httpx.Admin] < 5 {
		t.Errorf("the route list looks incomplete: %v", counts)
	}
}

func basic(user, password string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, password)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}
