package store

import "testing"

func TestPostgresRebind(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"a = ? AND b IN (?, ?)", "a = $1 AND b IN ($2, $3)"},
		{"x = '?' AND y = ?", "x = '?' AND y = $1"},
		{`"we?ird" = ? -- a ? here
		AND z = ?`, `"we?ird" = $1 -- a ? here
		AND z = $2`},
		{"s = 'it''s ?' AND t = ?", "s = 'it''s ?' AND t = $1"},
	} {
		if got := (pgDialect{}).Rebind(tc.in); got != tc.want {
			t.Errorf("Rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"sqlite:///srv/m.db", "sqlite:///srv/m.db"},
		{"postgresql://u:secret@db:5432/m?sslmode=require", "postgresql://u:xxxxx@db:5432/m?sslmode=require"},
		{"postgres://db/m?password=secret&user=u", "postgres://db/m?password=xxxxx&user=u"},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
