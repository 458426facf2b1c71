package server

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/config"
)

// newTestServer starts a server on a data directory of its own, with the default
// configuration as configure changes it, and closes it when the test ends.
func newTestServer(t testing.TB, configure func(*config.Server)) (*Server, config.Server) {
	t.Helper()
	cfg := config.DefaultServer()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	if configure != nil {
		configure(&cfg)
	}
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	srv, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, cfg
}

// createUsers adds users whose passwords are their names followed by "-password-long".
func createUsers(t testing.TB, srv *Server, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := srv.auth.CreateUser(context.Background(), auth.NewUser{Name: name, Password: name + "-password-long"}); err != nil {
			t.Fatal(err)
		}
	}
}
