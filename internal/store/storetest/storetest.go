// Package storetest opens metadata databases for tests: one per engine under test, so a
// domain's tests run as a conformance suite against every driver.
package storetest

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/mlship/mlship/internal/store"
)

// Engines lists the engines the conformance suites run against.
func Engines() []string { return []string{"sqlite"} }

// Open returns a fresh, migrated database of the given engine, closed when t ends.
func Open(t testing.TB, engine string) *store.DB {
	t.Helper()
	var uri string
	switch engine {
	case "sqlite":
		uri = "sqlite://" + filepath.Join(t.TempDir(), "mlship.db")
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
