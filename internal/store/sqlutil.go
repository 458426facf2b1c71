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

// TypedRowsOf is RowsOf for a VALUES list whose columns have the given SQL types
// (BIGINT, TEXT, DOUBLE PRECISION): the first row's values are cast to them, which types
// the whole list on PostgreSQL (which otherwise takes untyped VALUES for text) and
// changes nothing on SQLite.
func TypedRowsOf(n int, types ...string) string {
	if n == 0 {
		return ""
	}
	b := make([]byte, 0, 32*len(types)+n*(4*len(types)+2))
	b = append(b, '(')
	for i, t := range types {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, "CAST(? AS "...)
		b = append(b, t...)
		b = append(b, ')')
	}
	b = append(b, ')')
	if n > 1 {
		b = append(b, ", "...)
		b = append(b, RowsOf(len(types), n-1)...)
	}
	return string(b)
}
