package registry

import (
	"fmt"
	"strings"

	"github.com/mlship/mlship/internal/search"
)

// query assembles one search statement: conditions, ordering, and the arguments of
// each condition in the order they appear in the text.
type query struct {
	where []string
	args  []any
	order []string
}

// add appends a condition rendered with its arguments.
func (q *query) add(sql string, args []any) {
	q.where = append(q.where, sql)
	q.args = append(q.args, args...)
}

// build returns the statement that starts with selectFrom.
func (q *query) build(selectFrom string, limit, offset int) (string, []any) {
	var b strings.Builder
	b.WriteString(selectFrom)
	if len(q.where) > 0 {
		b.WriteString(" WHERE " + strings.Join(q.where, " AND "))
	}
	if len(q.order) > 0 {
		b.WriteString(" ORDER BY " + strings.Join(q.order, ", "))
	}
	b.WriteString(" LIMIT ? OFFSET ?")
	return b.String(), append(append([]any{}, q.args...), limit, offset)
}

// compare renders "col op value" for a parsed comparison of a string or number. LIKE is
// case-sensitive (the store configures the engine so); ILIKE compares lower-cased.
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

// tagExists renders a condition on a tag table: the owner has the tag, and its value
// matches. A missing tag never matches, whatever the operator.
func tagExists(table, owner string, c search.Comparison) (string, []any) {
	cmp, args := compare("t.value", c)
	return fmt.Sprintf("EXISTS (SELECT 1 FROM %s t WHERE %s AND t.key = ? AND %s)", table, owner, cmp),
		append([]any{c.Key}, args...)
}

// orderTerm renders one ORDER BY term.
func orderTerm(col string, desc bool) string {
	if desc {
		return col + " DESC"
	}
	return col + " ASC"
}

// queriesPrompts reports whether a filter asks for prompts, as MLflow decides it: its
// first comparison of the prompt tag is = 'true' or != 'false'. Otherwise a search
// leaves prompts out, and ignores comparisons of the prompt tag, so that a model
// without the tag matches tags.`mlflow.prompt.is_prompt` != 'true'.
func queriesPrompts(filter []search.Comparison) bool {
	for _, c := range filter {
		if c.Entity != search.Tag || c.Key != TagIsPrompt {
			continue
		}
		v := strings.ToLower(c.Str)
		return (c.Op == search.Eq && v == "true") || (c.Op == search.Ne && v == "false")
	}
	return false
}

// tagConditions adds a search's tag comparisons and the prompt rule: table is the tag
// table, owner the condition tying a tag row to the searched row, and promptOwner the
// one tying it to any row of the same registered model.
func tagConditions(q *query, filter []search.Comparison, table, owner, promptOwner string) {
	prompts := queriesPrompts(filter)
	for _, c := range filter {
		if c.Entity != search.Tag || (!prompts && c.Key == TagIsPrompt) {
			continue
		}
		q.add(tagExists(table, owner, c))
	}
	if !prompts {
		q.add(fmt.Sprintf("NOT EXISTS (SELECT 1 FROM %s t WHERE %s AND t.key = ? AND t.value = 'true')", table, promptOwner),
			[]any{TagIsPrompt})
	}
}
