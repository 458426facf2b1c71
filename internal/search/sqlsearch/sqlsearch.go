// Package sqlsearch renders parsed searches (internal/search) as SQL: one statement
// builder, and the conditions and ordering terms that every search shares. Statements use
// ? placeholders, rebound by the store for its engine.
package sqlsearch

import (
	"fmt"
	"strings"

	"github.com/mlship/mlship/internal/search"
	"github.com/mlship/mlship/internal/store"
)

// Query assembles one search statement: joins, conditions, ordering, and the arguments
// of each part in the order they appear in the text.
type Query struct {
	Joins     []string
	JoinArgs  []any
	Where     []string
	Args      []any
	Order     []string
	OrderArgs []any
}

// Cond appends a condition and its arguments.
func (q *Query) Cond(sql string, args ...any) { q.Add(sql, args) }

// Add appends a condition rendered with its arguments, as Compare returns them.
func (q *Query) Add(sql string, args []any) {
	q.Where = append(q.Where, sql)
	q.Args = append(q.Args, args...)
}

// Build returns the statement that starts with selectFrom, with a page's LIMIT and OFFSET.
func (q *Query) Build(selectFrom string, limit, offset int) (string, []any) {
	var b strings.Builder
	b.WriteString(selectFrom)
	for _, j := range q.Joins {
		b.WriteString(" " + j)
	}
	if len(q.Where) > 0 {
		b.WriteString(" WHERE " + strings.Join(q.Where, " AND "))
	}
	if len(q.Order) > 0 {
		b.WriteString(" ORDER BY " + strings.Join(q.Order, ", "))
	}
	b.WriteString(" LIMIT ? OFFSET ?")
	args := make([]any, 0, len(q.JoinArgs)+len(q.Args)+len(q.OrderArgs)+2)
	args = append(append(append(append(args, q.JoinArgs...), q.Args...), q.OrderArgs...), limit, offset)
	return b.String(), args
}

// Compare renders "col op value" for a comparison of a string or a number. LIKE is
// case-sensitive (the store configures the engine so); ILIKE compares lower-cased.
func Compare(col string, c search.Comparison) (string, []any) {
	var v any = c.Str
	if c.Numeric {
		v = c.Num
	}
	switch c.Op {
	case search.IsNull, search.IsNotNull:
		return fmt.Sprintf("%s %s", col, c.Op), nil
	case search.ILike:
		return fmt.Sprintf("LOWER(%s) LIKE LOWER(?)", col), []any{v}
	case search.In, search.NotIn:
		args := make([]any, len(c.List))
		for i, s := range c.List {
			args[i] = s
		}
		return fmt.Sprintf("%s %s (%s)", col, c.Op, store.Placeholders(len(args))), args
	}
	return fmt.Sprintf("%s %s ?", col, c.Op), []any{v}
}

// CompareIn is Compare on the engine named dialect (store.Dialect's Name), which also
// renders RLIKE: the regexp function the store registers on SQLite (col REGEXP ?), ~ on
// PostgreSQL. Both match anywhere in the value, as MLflow's RLIKE does.
func CompareIn(dialect, col string, c search.Comparison) (string, []any) {
	if c.Op != search.RLike {
		return Compare(col, c)
	}
	if dialect == "postgres" {
		return col + " ~ ?", []any{c.Str}
	}
	return col + " REGEXP ?", []any{c.Str}
}

// KeyedExistsIn is KeyedExists on the engine named dialect: RLIKE too, and IS NULL and
// IS NOT NULL, which hold when the owner has no row with the key, or one.
func KeyedExistsIn(dialect, table, owner string, c search.Comparison) (string, []any) {
	switch c.Op {
	case search.IsNull:
		return fmt.Sprintf("NOT EXISTS (SELECT 1 FROM %s x WHERE %s AND x.key = ?)", table, owner), []any{c.Key}
	case search.IsNotNull:
		return fmt.Sprintf("EXISTS (SELECT 1 FROM %s x WHERE %s AND x.key = ?)", table, owner), []any{c.Key}
	}
	cmp, args := CompareIn(dialect, "x.value", c)
	return fmt.Sprintf("EXISTS (SELECT 1 FROM %s x WHERE %s AND x.key = ? AND %s)", table, owner, cmp),
		append([]any{c.Key}, args...)
}

// KeyedExists renders a condition on a key/value table (params, tags): the row that
// owner names (a condition on the table's alias x) has the key, and its value matches.
// A row without the key never matches, whatever the operator, as in MLflow.
func KeyedExists(table, owner string, c search.Comparison) (string, []any) {
	cmp, args := Compare("x.value", c)
	return fmt.Sprintf("EXISTS (SELECT 1 FROM %s x WHERE %s AND x.key = ? AND %s)", table, owner, cmp),
		append([]any{c.Key}, args...)
}

// OrderTerm renders an ORDER BY term that puts NULLs (or what nullExpr says) last in
// either direction. Without nullExpr it is "expr DIR NULLS LAST", which an index on expr
// still serves (an "(expr IS NULL)" term first made every search sort all its matches:
// 0.48 s instead of 8 ms for a page of 100,000 runs filtered on a param).
func OrderTerm(expr string, desc bool, nullExpr string) string {
	dir := "ASC"
	if desc {
		dir = "DESC"
	}
	if nullExpr == "" {
		return fmt.Sprintf("%s %s NULLS LAST", expr, dir)
	}
	return fmt.Sprintf("(%s), %s %s", nullExpr, expr, dir)
}

// Restriction limits a search to the objects a caller may see: only those whose id is
// among IDs, or (Only false) all but those. A nil Restriction limits nothing.
type Restriction struct {
	Only bool
	IDs  []string
}

// Restrict adds r's condition on col, an object's id or name.
func (q *Query) Restrict(col string, r *Restriction) {
	switch {
	case r == nil:
	case len(r.IDs) == 0 && r.Only:
		q.Cond("1 = 0")
	case len(r.IDs) == 0:
	default:
		args := make([]any, len(r.IDs))
		for i, id := range r.IDs {
			args[i] = id
		}
		op := " NOT IN ("
		if r.Only {
			op = " IN ("
		}
		q.Add(col+op+strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")+")", args)
	}
}
