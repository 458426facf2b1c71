package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/config"
)

// TestSessionCookie drives the whole handler with a browser session's cookie: it signs
// requests in as the user, state-changing ones only with the session's CSRF token; a
// forged or ended cookie is refused 401 (with no Basic challenge, which would make a
// browser ask for a password), except on the public routes, where it is dropped.
func TestSessionCookie(t *testing.T) {
	ctx := context.Background()
	srv, cfg := newTestServer(t, func(cfg *config.Server) {
		cfg.Auth, cfg.AdminPassword = true, "session-admin-password"
		cfg.OIDC.Issuer, cfg.OIDC.ClientID, cfg.OIDC.ClientSecret = "http://127.0.0.1:1", "mlship", "client-secret"
		cfg.OIDC.RedirectURL = "https://mlship.example/auth/callback"
	})
	u, _, err := srv.auth.ExternalUser(ctx, cfg.OIDC.Issuer, "sub-1", "ana")
	if err != nil {
		t.Fatal(err)
	}
	policy := auth.SessionPolicy{Lifetime: cfg.OIDC.SessionLifetime, IdleTimeout: cfg.OIDC.SessionIdleTimeout}
	secret, err := srv.auth.StartSession(ctx, u.ID, policy)
	if err != nil {
		t.Fatal(err)
	}
	ended, _ := srv.auth.StartSession(ctx, u.ID, policy)
	endedID, _ := srv.auth.VerifySession(ctx, ended)
	if err := srv.auth.EndSession(ctx, endedID.SessionID); err != nil {
		t.Fatal(err)
	}
	const name = "__Host-mlship_session" // the redirect URL is https
	n := 0
	do := func(method, target, cookie, csrf, authz string) *httptest.ResponseRecorder {
		var body *strings.Reader
		if n++; method == "POST" {
			body = strings.NewReader(fmt.Sprintf(`{"name": "exp-%d"}`, n))
		} else {
			body = strings.NewReader("")
		}
		r := httptest.NewRequest(method, target, body)
		r.Host = testHost
		r.Header.Set("Content-Type", "application/json")
		if cookie != "" {
			r.Header.Set("Cookie", name+"="+cookie)
		}
		if csrf != "" {
			r.Header.Set("X-CSRF-Token", csrf)
		}
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, r)
		return w
	}

	w := do("GET", "/api/v1/whoami", secret, "", "")
	var me struct {
		Name      string `json:"name"`
		CSRFToken string `json:"csrf_token"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &me); err != nil || w.Code != 200 || me.Name != "ana" || me.CSRFToken != auth.CSRFToken(secret) {
		t.Fatalf("whoami with the cookie: %d %s", w.Code, w.Body)
	}
	create := "/api/2.0/mlflow/experiments/create"
	basic := "Basic " + basic("admin", cfg.AdminPassword)
	for _, tc := range []struct {
		name, method, target, cookie, csrf, authz string
		status                                    int
		challenge                                 bool
	}{
		{"POST without the CSRF token", "POST", create, secret, "", "", 403, false},
		{"POST with another token", "POST", create, secret, auth.CSRFToken(ended), "", 403, false},
		{"POST with the token", "POST", create, secret, me.CSRFToken, "", 200, false},
		{"logout without the token", "POST", "/auth/logout", secret, "", "", 403, false},
		{"Basic needs no token", "POST", create, "", "", basic, 200, false},
		{"Basic beside a forged cookie", "POST", create, "mlss_forged", "", basic, 200, false},
		{"forged cookie", "GET", "/api/v1/whoami", "mlss_" + strings.Repeat("A", 43), "", "", 401, false},
		{"garbage cookie", "GET", "/api/v1/whoami", "%%%", "", "", 401, false},
		{"ended session", "GET", "/api/v1/whoami", ended, "", "", 401, false},
		{"ended session, POST", "POST", create, ended, auth.CSRFToken(ended), "", 401, false},
		{"ended session on a public route", "GET", "/version", ended, "", "", 200, false},
		{"no credentials", "GET", "/api/v1/whoami", "", "", "", 401, true},
	} {
		w := do(tc.method, tc.target, tc.cookie, tc.csrf, tc.authz)
		if w.Code != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, w.Code, w.Body, tc.status)
		}
		if got := w.Header().Get("WWW-Authenticate") != ""; got != tc.challenge {
			t.Errorf("%s: challenge %v, want %v", tc.name, got, tc.challenge)
		}
		if tc.status == 401 && tc.cookie != "" && !strings.Contains(w.Header().Get("Set-Cookie"), name+"=;") {
			t.Errorf("%s: the cookie is not cleared: %q", tc.name, w.Header().Get("Set-Cookie"))
		}
	}

	if w := do("POST", "/auth/logout", secret, me.CSRFToken, ""); w.Code != http.StatusNoContent {
		t.Fatalf("logout: %d %s", w.Code, w.Body)
	}
	if w := do("GET", "/api/v1/whoami", secret, "", ""); w.Code != 401 {
		t.Fatalf("after logout: %d %s", w.Code, w.Body)
	}
	if w := do("POST", "/auth/logout", "", "", basic); w.Code != 400 {
		t.Fatalf("logout with no session: %d %s", w.Code, w.Body)
	}
}
