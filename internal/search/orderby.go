package search

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/mlship/mlship/internal/fault"
)

// ParseOrderBy parses the order_by list of a search request for the endpoint s
// describes, e.g. ["metrics.rmse DESC", "params.lr", "attributes.start_time ASC"].
// Where MLflow rejects a key given twice, so does ParseOrderBy. For LoggedModels each
// clause is the field_name of an order_by object, and every OrderBy is ascending.
func ParseOrderBy(clauses []string, s *Schema) ([]OrderBy, error) {
	out := make([]OrderBy, 0, len(clauses))
	seen := make(map[OrderBy]bool, len(clauses))
	for _, c := range clauses {
		ob, err := s.parseOrder(c)
		if err != nil {
			return nil, err
		}
		field := OrderBy{Entity: ob.Entity, Key: ob.Key}
		if s.order.rejectDuplicates && seen[field] {
			return nil, fault.Invalidf("`order_by` contains duplicate fields: %s", clip(pyList(clauses)))
		}
		seen[field] = true
		out = append(out, ob)
	}
	return out, nil
}

func (s *Schema) parseOrder(c string) (OrderBy, error) {
	if s.order.syntax == orderField {
		return s.orderField(c)
	}
	key, desc, err := splitOrderClause(c)
	if err != nil {
		return OrderBy{}, err
	}
	if s.order.syntax == orderBareKey {
		canonical, ok := s.order.attrs[key]
		if !ok {
			return OrderBy{}, fault.Invalidf("Invalid order by key '%s' specified. Valid keys are '%s'",
				clip(key), strings.Join(sortedKeys(s.order.attrs), ", "))
		}
		return OrderBy{Entity: Attribute, Key: canonical, Desc: desc}, nil
	}
	entity, key, err := identify(s, key, s.order.attrs, false)
	switch {
	case err != nil:
		return OrderBy{}, err
	case entity == Attribute:
		key = s.order.attrs[key]
	case !slices.Contains(s.order.entities, entity):
		return OrderBy{}, fault.Invalidf("Invalid order_by entity: %s", entity)
	}
	return OrderBy{Entity: entity, Key: s.alias(key), Desc: desc}, nil
}

// splitOrderClause reads "identifier [ASC|DESC]" as MLflow does: sqlparse must see a
// single identifier (no surrounding whitespace), which shlex.split then cuts into the
// key and the direction, removing the quotes.
func splitOrderClause(clause string) (key string, desc bool, err error) {
	value, ok := orderTokenValue(clause)
	if !ok {
		return "", false, fault.Invalidf("Invalid order_by clause '%s'. Could not be parsed.", clip(clause))
	}
	words, ok := shlexSplit(strings.ReplaceAll(value, "`", `"`))
	switch {
	case !ok || len(words) == 0 || len(words) > 2:
		return "", false, fault.Invalidf("Invalid order_by clause '%s'. Could not be parsed.", clip(clause))
	case len(words) == 1:
		return pyStrip(value), false, nil
	}
	dir := strings.ToLower(words[1])
	if dir != "asc" && dir != "desc" {
		return "", false, fault.Invalidf("Invalid ordering key in order_by clause '%s'.", clip(clause))
	}
	return pyStrip(words[0]), dir == "desc", nil
}

// orderTokenValue returns the text MLflow takes from a clause's single sqlparse token:
// an identifier, optionally followed by ASC or DESC or by a second identifier (which
// sqlparse makes its alias), and nothing else, not even whitespace.
func orderTokenValue(clause string) (string, bool) {
	toks, ok := lex(clause)
	if !ok || !utf8.ValidString(clause) || len(toks) == 0 {
		return "", false
	}
	p := parser{src: clause, toks: toks}
	ident, err := p.identifier()
	if err != nil {
		return "", false
	}
	if p.done() {
		return clause, true
	}
	p.skipSpace()
	switch t := p.cur(); {
	case t.kind == tokOrder:
		p.i++
		if ident == "timestamp" { // a sqlparse builtin, which MLflow reads token by token
			return ident + " " + t.text, p.done()
		}
	case startsIdentifier(t):
		_, err = p.identifier()
	default:
		return "", false
	}
	return clause, err == nil && p.done()
}

// orderField reads the field_name of a logged model's order_by object.
func (s *Schema) orderField(field string) (OrderBy, error) {
	if prefix, key, dotted := strings.Cut(field, "."); dotted {
		if e, ok := s.prefixes[prefix]; ok && slices.Contains(s.order.entities, e) {
			return OrderBy{Entity: e, Key: key}, nil
		}
		return OrderBy{}, fault.Invalidf("Invalid order by field name: %s. Only metrics are supported.", clip(field))
	}
	canonical, ok := s.order.attrs[pyStrip(field)]
	if !ok {
		return OrderBy{}, fault.Invalidf("Invalid order by field name: %s.", clip(field))
	}
	return OrderBy{Entity: Attribute, Key: canonical}, nil
}

// pyList formats a list of strings as Python prints one.
func pyList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = fmt.Sprintf("'%s'", clip(s))
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}
