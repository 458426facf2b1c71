package tracking

import (
	"fmt"
	"strings"

	"github.com/mlship/mlship/internal/search"
)

// query assembles one search statement: joins for ordering, conditions, ordering, and
// the arguments of each part in the order they appear in the text.
type query struct {
	joins     []string
	joinArgs  []any
	where     []string
	args      []any
	order     []string
	orderArgs []any
}

func (q *query) cond(sql string, args ...any) { q.add(sql, args) }

// add appends a condition rendered with its arguments.
func (q *query) add(sql string, args []any) {
	q.where = append(q.where, sql)
	q.args = append(q.args, args...)
}

// build returns the statement selecting col from table with the given alias.
func (q *query) build(selectFrom string, limit, offset int) (string, []any) {
	var b strings.Builder
	b.WriteString(selectFrom)
	for _, j := range q.joins {
		b.WriteString(" " + j)
	}
	if len(q.where) > 0 {
		b.WriteString(" WHERE " + strings.Join(q.where, " AND "))
	}
	if len(q.order) > 0 {
		b.WriteString(" ORDER BY " + strings.Join(q.order, ", "))
	}
	b.WriteString(" LIMIT ? OFFSET ?")
	args := append(append(append(append([]any{}, q.joinArgs...), q.args...), q.orderArgs...), limit, offset)
	return b.String(), args
}

// compare renders "col op value" for a parsed comparison of a string or number.
func compare(col string, c search.Comparison) (string, []any) {
	var v any = c.Str
	if c.Numeric {
		v = c.Num
	}
	switch c.Op {
	case search.ILike:
		return fmt.Sprintf("LOWER(%s) LIKE LOWER(?)", col), []any{v}
	case search.In, search.NotIn:
		args := make([]any, len(c.List))
		for i, s := range c.List {
			args[i] = s
		}
		return fmt.Sprintf("%s %s (%s)", col, c.Op, placeholders(len(args))), args
	}
	return fmt.Sprintf("%s %s ?", col, c.Op), []any{v}
}

// keyedExists renders a condition on a key/value table (params, tags) of the row
// identified by ownerCol: the row must have the key, and its value must match.
func keyedExists(table, fk, ownerCol string, c search.Comparison) (string, []any) {
	cmp, args := compare("x.value", c)
	return fmt.Sprintf("EXISTS (SELECT 1 FROM %s x WHERE x.%s = %s AND x.key = ? AND %s)", table, fk, ownerCol, cmp),
		append([]any{c.Key}, args...)
}

// orderTerm renders an ORDER BY term that puts NULLs last in either direction.
func orderTerm(expr string, desc bool, nullExpr string) string {
	dir := "ASC"
	if desc {
		dir = "DESC"
	}
	if nullExpr == "" {
		nullExpr = expr + " IS NULL"
	}
	return fmt.Sprintf("(%s), %s %s", nullExpr, expr, dir)
}
