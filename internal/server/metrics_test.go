package server

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/config"
)

type scrapeCase struct {
	authz string
	want  int
}

// TestMetricsScrapeToken: with --metrics-token-file, /metrics answers the scrape token
// and administrators, and nothing else: not a reader's token, not a wrong token, not
// anonymous callers; without --auth, the token alone.
func TestMetricsScrapeToken(t *testing.T) {
	const scrape = "scrape-token-0123456789abcdef"
	for _, withAuth := range []bool{true, false} {
		t.Run(map[bool]string{true: "auth", false: "no-auth"}[withAuth], func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			cfg := config.DefaultServer()
			cfg.DataDir = filepath.Join(dir, "data")
			cfg.MetricsTokenFile = filepath.Join(dir, "scrape-token")
			if err := os.WriteFile(cfg.MetricsTokenFile, []byte(scrape+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if withAuth {
				cfg.Auth, cfg.AdminPassword = true, "metrics-admin-password"
			}
			if err := cfg.Resolve(); err != nil {
				t.Fatal(err)
			}
			srv, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			cases := map[string]scrapeCase{
				"scrape token": {"Bearer " + scrape, 200},
				"none":         {"", 401},
				"wrong token":  {"Bearer " + scrape + "x", 401},
				"prefix":       {"Bearer " + scrape[:20], 401},
			}
			if withAuth {
				admin, err := srv.auth.SignIn(ctx, "admin", cfg.AdminPassword, "test")
				if err != nil {
					t.Fatal(err)
				}
				reader, _, err := srv.auth.CreateToken(ctx, admin, auth.NewToken{Name: "ro", Scopes: "read"})
				if err != nil {
					t.Fatal(err)
				}
				adminToken, _, err := srv.auth.CreateToken(ctx, admin, auth.NewToken{Name: "all", Scopes: "admin"})
				if err != nil {
					t.Fatal(err)
				}
				cases["reader token"] = scrapeCase{"Bearer " + reader, 403}
				cases["admin token"] = scrapeCase{"Bearer " + adminToken, 200}
				cases["admin password"] = scrapeCase{"Basic " + basic("admin", cfg.AdminPassword), 200}
			}
			for name, c := range cases {
				r := httptest.NewRequest("GET", "/metrics", nil)
				r.Host = testHost
				if c.authz != "" {
					r.Header.Set("Authorization", c.authz)
				}
				w := httptest.NewRecorder()
				srv.Handler().ServeHTTP(w, r)
				if w.Code != c.want {
					t.Errorf("%s: %d %s; want %d", name, w.Code, w.Body, c.want)
				}
			}
		})
	}
	// A token file that holds no usable token stops the server from starting.
	cfg := config.DefaultServer()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.MetricsTokenFile = filepath.Join(t.TempDir(), "short")
	os.WriteFile(cfg.MetricsTokenFile, []byte("short\n"), 0o600)
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	if srv, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler)); err == nil {
		srv.Close()
		t.Error("a short scrape token was accepted")
	}
}
