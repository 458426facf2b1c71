package registry

import (
	"fmt"
	"github.com/mlship/mlship/internal/search/sqlsearch"
	"strings"

	"github.com/mlship/mlship/internal/search"
)

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
func tagConditions(q *sqlsearch.Query, filter []search.Comparison, table, owner, promptOwner string) {
	prompts := queriesPrompts(filter)
	for _, c := range filter {
		if c.Entity != search.Tag || (!prompts && c.Key == TagIsPrompt) {
			continue
		}
		q.Add(sqlsearch.KeyedExists(table, owner, c))
	}
	if !prompts {
		q.Add(fmt.Sprintf("NOT EXISTS (SELECT 1 FROM %s x WHERE %s AND x.key = ? AND x.value = 'true')", table, promptOwner),
			[]any{TagIsPrompt})
	}
}
