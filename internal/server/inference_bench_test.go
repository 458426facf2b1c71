package server

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/config"
	"github.com/mlship/mlship/internal/serving"
)

// BenchmarkInferenceAccess measures what deciding who may call a deployment costs per
// request, through the whole server with --auth: an anonymous call of a public
// deployment (the policy looked up by name) and a reader's token on one that needs
// credentials (the token verified from the cache, READ asked of the cached grants). The
// deployments serve nothing, so both are answered 503 after the check.
func BenchmarkInferenceAccess(b *testing.B) {
	ctx := context.Background()
	srv, cfg := newTestServer(b, func(cfg *config.Server) {
		cfg.Auth, cfg.AdminPassword = true, "bench-admin-password"
	})
	for name, policy := range map[string]string{"pub": serving.InferencePublic, "priv": serving.InferenceAuthenticated} {
		if _, err := srv.deployments.Create(ctx, serving.Spec{Name: name, Model: "models:/none@x", Inference: policy}); err != nil {
			b.Fatal(err)
		}
	}
	admin, err := srv.auth.SignIn(ctx, "admin", cfg.AdminPassword, "bench")
	if err != nil {
		b.Fatal(err)
	}
	reader, _, err := srv.auth.CreateToken(ctx, admin, auth.NewToken{Name: "ro", Scopes: "read"})
	if err != nil {
		b.Fatal(err)
	}
	const body = `{"inputs":[{"name":"x","shape":[1,1],"datatype":"FP32","data":[1]}]}`
	for _, c := range []struct{ name, path, authz string }{
		{"public-anonymous", "/v2/models/pub/infer", ""},
		{"authenticated-token", "/v2/models/priv/infer", "Bearer " + reader},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest("POST", c.path, strings.NewReader(body))
				r.Host = testHost
				if c.authz != "" {
					r.Header.Set("Authorization", c.authz)
				}
				w := httptest.NewRecorder()
				srv.Handler().ServeHTTP(w, r)
				if w.Code != 503 {
					b.Fatalf("%s: %d %s", c.name, w.Code, w.Body)
				}
			}
		})
	}
}
