package store

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
)

func TestSQLiteRegexp(t *testing.T) {
	db, err := Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "m.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tc := range []struct {
		value, pattern string
		want           any // 1, 0 or nil
	}{
		{"retrieve_docs", "^retr", int64(1)},
		{"retrieve_docs", "docs$", int64(1)},
		{"retrieve_docs", "ev", int64(1)}, // unanchored, as MLflow's re.search
		{"retrieve_docs", "^docs", int64(0)},
		{"Retrieve", "retrieve", int64(0)},
		{"Retrieve", "(?i)retrieve", int64(1)},
		{"a\nb", `a\sb`, int64(1)},
	} {
		var got any
		if err := db.Reader().QueryRowContext(context.Background(), "SELECT ? REGEXP ?", tc.value, tc.pattern).Scan(&got); err != nil {
			t.Fatalf("%q REGEXP %q: %v", tc.value, tc.pattern, err)
		}
		if got != tc.want {
			t.Errorf("%q REGEXP %q = %v; want %v", tc.value, tc.pattern, got, tc.want)
		}
	}
	var got any
	if err := db.Reader().QueryRowContext(context.Background(), "SELECT NULL REGEXP 'a'").Scan(&got); err != nil || got != nil {
		t.Errorf("NULL REGEXP 'a' = %v, %v; want NULL", got, err)
	}
	if err := db.Reader().QueryRowContext(context.Background(), "SELECT 'a' REGEXP '(a'").Scan(&got); err == nil {
		t.Errorf("an invalid pattern gave %v, no error", got)
	}
}
