package store

import (
	"context"
	"database/sql"
	"strings"
)

// ScanEach runs a query and calls fn for every row. A read stopped by its statement
// deadline is a fault.DeadlineExceeded error.
func ScanEach(ctx context.Context, q Querier, query string, args []any, fn func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return Classify(ctx, rows.Err())
}

// Placeholders returns "?, ?, ..." with n marks.
func Placeholders(n int) string {
	if n == 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// RowsOf returns n value tuples of width placeholders: "(?, ?), (?, ?)".
func RowsOf(width, n int) string {
	tuple := "(" + Placeholders(width) + ")"
	b := make([]byte, 0, n*(len(tuple)+2))
	for i := range n {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, tuple...)
	}
	return string(b)
}
