// Package storetest opens metadata databases for tests: one per engine under test, so a
// domain's tests run as a conformance suite against every driver.
//
// SQLite is always under test. PostgreSQL is too when MLSHIP_TEST_POSTGRES_URI names a
// database the tests may create schemas in (tests/pg/run.sh starts one and sets it):
// each test then gets a schema of its own, dropped when it ends.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for creating schemas

	"github.com/mlship/mlship/internal/store"
)

// PostgresEnv names the variable holding the PostgreSQL URI the suites run against.
const PostgresEnv = "MLSHIP_TEST_POSTGRES_URI"

// Engines lists the engines the conformance suites run against.
func Engines() []string {
	if os.Getenv(PostgresEnv) != "" {
		return []string{"sqlite", "postgres"}
	}
	return []string{"sqlite"}
}

// Open returns a fresh, migrated database of the given engine, closed when t ends.
func Open(t testing.TB, engine string) *store.DB {
	t.Helper()
	var uri string
	switch engine {
	case "sqlite":
		uri = "sqlite://" + filepath.Join(t.TempDir(), "mlship.db")
	case "postgres":
		uri = postgresSchema(t)
	default:
		t.Fatalf("storetest: unknown engine %q", engine)
	}
	db, err := store.Open(context.Background(), uri, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("storetest: open %s: %v", uri, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Each runs fn once per engine as a subtest.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	for _, e := range Engines() {
		t.Run(e, func(t *testing.T) { fn(t, Open(t, e)) })
	}
}

// Replicas returns n databases open on one fresh PostgreSQL schema, as n servers
// sharing a database hold it, all closed when t ends; t is skipped when PostgreSQL is
// not under test (an SQLite database belongs to one process).
func Replicas(t testing.TB, n int) []*store.DB {
	t.Helper()
	if os.Getenv(PostgresEnv) == "" {
		t.Skipf("servers sharing a database need PostgreSQL: %s is not set", PostgresEnv)
	}
	uri := postgresSchema(t)
	dbs := make([]*store.DB, n)
	for i := range dbs {
		db, err := store.Open(context.Background(), uri, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("storetest: open %s: %v", uri, err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	return dbs
}

// PostgresURI returns the URI of a fresh, empty PostgreSQL schema, dropped when t ends;
// t is skipped when PostgreSQL is not under test.
func PostgresURI(t testing.TB) string {
	t.Helper()
	return postgresSchema(t)
}

var (
	adminOnce sync.Once
	admin     *sql.DB
	adminErr  error
)

// postgresSchema creates an empty schema for t in the database MLSHIP_TEST_POSTGRES_URI
// names, drops it when t ends, and returns a URI whose connections work in it.
func postgresSchema(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Skipf("storetest: %s is not set", PostgresEnv)
	}
	adminOnce.Do(func() {
		admin, adminErr = sql.Open("pgx", base)
		if adminErr == nil {
			admin.SetMaxOpenConns(4)
		}
	})
	if adminErr != nil {
		t.Fatalf("storetest: %s: %v", PostgresEnv, adminErr)
	}
	var b [8]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("storetest: create schema in %s: %v", base, err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("storetest: %s: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	// Registered before Open's Close, so it runs after it (cleanups run last first).
	t.Cleanup(func() {
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("storetest: drop schema %s: %v", schema, err)
		}
	})
	return u.String()
}
