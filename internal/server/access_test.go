package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/config"
	"github.com/mlship/mlship/internal/httpx"
	"github.com/mlship/mlship/internal/serving"
)

// TestEveryRouteChecksAccess walks every registered route with identities on, as
// anonymous, a reader, a writer, a deployer, a user's password, an administrator and a
// bad token, and checks that each reaches the route exactly when the access the route
// declares allows it: 401 without credentials, 403 with too small a scope. An Inference
// route is walked twice: on a deployment that needs credentials (as Read), and on a
// public one (as Public).
func TestEveryRouteChecksAccess(t *testing.T) {
	ctx := context.Background()
	srv, cfg := newTestServer(t, func(cfg *config.Server) {
		cfg.Auth, cfg.AdminPassword = true, "walk-admin-password"
		// Single sign-on's routes too (the provider is asked nothing until a sign-in).
		cfg.OIDC.Issuer, cfg.OIDC.ClientID, cfg.OIDC.ClientSecret = "http://127.0.0.1:1", "mlship", "walk-client-secret"
		cfg.OIDC.RedirectURL = "http://127.0.0.1:5000/auth/callback"
	})
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
	if _, err := srv.deployments.Create(ctx, serving.Spec{Name: "walk-public", Model: "models:/walk@public",
		Inference: serving.InferencePublic}); err != nil {
		t.Fatal(err)
	}
	need := map[httpx.Access]auth.Scopes{httpx.Read: auth.Read, httpx.Inference: auth.Read, httpx.Write: auth.Write,
		httpx.Deploy: auth.Deploy, httpx.Admin: auth.Admin}
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
	type walk struct {
		rt     httpx.Route
		target string
		public bool
	}
	var walks []walk
	for _, rt := range router.Routes() {
		walks = append(walks, walk{rt, samplePath(rt), false})
		if rt.Access == httpx.Inference {
			walks = append(walks, walk{rt, strings.Replace(samplePath(rt), "walk", "walk-public", 1), true})
		}
	}
	for _, wk := range walks {
		rt, target := wk.rt, wk.target
		counts[rt.Access]++
		var answers []string
		for _, c := range callers {
			want := http.StatusNoContent
			switch {
			case rt.Access == httpx.Public || wk.public:
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
		access := rt.Access.String()
		if rt.Access == httpx.Inference {
			access = map[bool]string{false: "inference (authenticated)", true: "inference (public)"}[wk.public]
		}
		table = append(table, fmt.Sprintf("%-6s %-62s %-26s %s", rt.Method, target, access, strings.Join(answers, " ")))
	}
	t.Logf("%d routes (%v):\n%s", len(table), counts, strings.Join(table, "\n"))
	// A public deployment's management routes need credentials as any other's.
	for _, m := range []struct{ method, path string }{{"GET", "/api/v1/deployments/walk-public"},
		{"PUT", "/api/v1/deployments/walk-public"}, {"DELETE", "/api/v1/deployments/walk-public"},
		{"GET", "/api/v1/deployments/walk-public/payloads"}, {"GET", "/api/v1/deployments/walk-public/drift"}} {
		if w := do(m.method, m.path, ""); w.Code != http.StatusUnauthorized {
			t.Errorf("%s %s of a public deployment as anonymous: %d", m.method, m.path, w.Code)
		}
	}
	// The web UI's requests are refused without a Basic challenge, which would open the
	// browser's password dialog over the UI's sign-in form.
	ui := httptest.NewRequest("GET", "/api/v1/whoami", nil)
	ui.Host = testHost
	ui.Header.Set("X-Requested-With", "XMLHttpRequest")
	w := httptest.NewRecorder()
	handler.ServeHTTP(w, ui)
	if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != "" {
		t.Errorf("the UI's anonymous whoami: %d, WWW-Authenticate %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	if counts[httpx.Read] < 40 || counts[httpx.Write] < 40 || counts[httpx.Deploy] < 3 || counts[httpx.Admin] < 5 || counts[httpx.Inference] < 20 {
		t.Errorf("the route list looks incomplete: %v", counts)
	}
}

func basic(user, password string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, password)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}
