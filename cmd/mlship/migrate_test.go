package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/store/storetest"
)

// runMigrate runs `mlship migrate args...` and returns its standard output.
func runMigrate(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := rootCommand()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs(append([]string{"migrate"}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func decodeMigrate(t *testing.T, out string) migrateResult {
	t.Helper()
	var res migrateResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("migrate -o json printed %q: %v", out, err)
	}
	return res
}

// The first run on an empty data directory applies every migration; the second finds
// the schema current and applies none; the server's database then opens as migrated.
func TestMigrateSQLite(t *testing.T) {
	dir := t.TempDir()
	out, err := runMigrate(t, "--data-dir", dir, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	first := decodeMigrate(t, out)
	if first.Engine != "sqlite" || first.SchemaVersion < 1 || len(first.Applied) == 0 {
		t.Fatalf("first run: %+v", first)
	}
	if last := first.Applied[len(first.Applied)-1]; last.Version != first.SchemaVersion || first.Applied[0].Version != 1 {
		t.Errorf("applied %+v, schema version %d: want 1..%d", first.Applied, first.SchemaVersion, first.SchemaVersion)
	}
	if want := "sqlite://" + filepath.Join(dir, "mlship.db"); first.Database != want {
		t.Errorf("database %q, want %q", first.Database, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "mlship.db")); err != nil {
		t.Fatal(err)
	}
	out, err = runMigrate(t, "--backend-store-uri", "sqlite://"+filepath.Join(dir, "mlship.db"), "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	second := decodeMigrate(t, out)
	if len(second.Applied) != 0 || second.SchemaVersion != first.SchemaVersion {
		t.Errorf("second run applied %+v (schema %d), want none (schema %d)", second.Applied, second.SchemaVersion, first.SchemaVersion)
	}
	// The table people read says so too.
	out, err = runMigrate(t, "--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "the schema was current") || !strings.Contains(out, "SCHEMA VERSION") {
		t.Errorf("table output:\n%s", out)
	}
}

// MLSHIP_BACKEND_STORE_URI names the database as it does for the server.
func TestMigrateFromEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	t.Setenv("MLSHIP_BACKEND_STORE_URI", "sqlite://"+path)
	out, err := runMigrate(t, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	if res := decodeMigrate(t, out); res.Database != "sqlite://"+path || len(res.Applied) == 0 {
		t.Errorf("%+v", res)
	}
}

func TestMigrateExitCodes(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want int
	}{
		{"help", []string{"migrate", "--help"}, exitOK},
		{"positional argument", []string{"migrate", "extra"}, exitUsage},
		{"bad output", []string{"migrate", "--data-dir", dir, "-o", "yaml"}, exitUsage},
		{"negative wait", []string{"migrate", "--data-dir", dir, "--wait", "-1s"}, exitUsage},
		{"unknown scheme", []string{"migrate", "--backend-store-uri", "mysql://db/mlship"}, exitFailure},
		{"database under a file", []string{"migrate", "--backend-store-uri", "sqlite://" + filepath.Join(blocker, "mlship.db")}, exitFailure},
		{"nothing listens", []string{"migrate", "--backend-store-uri", "postgresql://u:p@127.0.0.1:1/db?connect_timeout=2"}, exitUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(context.Background(), tc.args); got != tc.want {
				t.Errorf("mlship %v exited %d, want %d", tc.args, got, tc.want)
			}
		})
	}
}

// On PostgreSQL (when the suite has one), migrate applies the schema a server then
// opens without applying anything, and its output never shows the password.
func TestMigratePostgres(t *testing.T) {
	base := os.Getenv(storetest.PostgresEnv)
	if base == "" {
		t.Skipf("%s is not set", storetest.PostgresEnv)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var b [8]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec("DROP SCHEMA " + schema + " CASCADE") })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	out, err := runMigrate(t, "--backend-store-uri", u.String(), "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	res := decodeMigrate(t, out)
	if res.Engine != "postgres" || len(res.Applied) == 0 || res.Applied[len(res.Applied)-1].Version != res.SchemaVersion {
		t.Fatalf("%+v", res)
	}
	if p, ok := u.User.Password(); ok && p != "" && strings.Contains(out, p) {
		t.Errorf("the output shows the password: %s", out)
	}
	out, err = runMigrate(t, "--backend-store-uri", u.String(), "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	if again := decodeMigrate(t, out); len(again.Applied) != 0 || again.SchemaVersion != res.SchemaVersion {
		t.Errorf("second run: %+v", again)
	}
}
