package search

import (
	"strings"

	"github.com/mlship/mlship/internal/fault"
)

// clause is one comparison as written, before a Schema gives it a meaning.
type clause struct {
	ident string   // the identifier as written, e.g. "metrics.`my metric`"
	op    string   // the operator, upper-cased: "=", "LIKE", "IN", "NOT IN", ...
	value token    // the right-hand side; a tokLParen holding the whole list for IN
	list  []string // the evaluated list of IN and NOT IN
	null  bool     // IS NULL or IS NOT NULL: no value
}

func (c clause) isList() bool { return c.value.kind == tokLParen }

// parser reads the statement sqlparse would build from a filter. A filter is a sequence
// of comparisons and AND keywords in any order: MLflow accepts "a = 1 AND", "AND a = 1"
// and even "a = 1 b = 2", because it only rejects tokens that are neither.
type parser struct {
	src  string
	toks []token
	i    int
}

func parseClauses(filter string) ([]clause, error) {
	toks, ok := lex(filter)
	if !ok {
		return nil, fault.Invalidf("Error on parsing filter '%s'", clip(filter))
	}
	if err := rejectOther(toks); err != nil {
		return nil, err
	}
	p := &parser{src: filter, toks: toks}
	return p.clauses()
}

// rejectOther fails on the first token no filter can contain.
func rejectOther(toks []token) error {
	for _, t := range toks {
		if t.kind == tokOther {
			return invalidClause(t.text)
		}
	}
	return nil
}

// invalidClause reports the tokens of a filter that are not part of a comparison, in
// MLflow's words.
func invalidClause(texts ...string) error {
	for i, t := range texts {
		texts[i] = clip(t)
	}
	return fault.Invalidf("Invalid clause(s) in filter string: '%s'", strings.Join(texts, "', '"))
}

func (p *parser) clauses() ([]clause, error) {
	var out []clause
	// An IN comparison must start the filter or follow AND: after any other comparison
	// sqlparse folds its identifier into the previous token as an alias.
	afterAnd := true
	for p.skipSpace(); !p.done(); p.skipSpace() {
		if isKeyword(p.cur(), "AND") {
			p.i++
			afterAnd = true
			continue
		}
		c, err := p.comparison(afterAnd)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
		afterAnd = false
	}
	return out, nil
}

func (p *parser) done() bool { return p.i >= len(p.toks) }

func (p *parser) cur() token {
	if p.done() {
		return token{kind: tokOther, pos: len(p.src)}
	}
	return p.toks[p.i]
}

func (p *parser) skipSpace() {
	for !p.done() && p.cur().kind == tokSpace {
		p.i++
	}
}

func (p *parser) comparison(afterAnd bool) (clause, error) {
	start := p.cur()
	ident, err := p.identifier()
	if err != nil {
		return clause{}, err
	}
	p.skipSpace()
	t := p.cur()
	switch {
	case t.kind == tokCompare:
		p.i++
		return p.scalar(ident, strings.ToUpper(t.text))
	case isKeyword(t, "IN") || isKeyword(t, "NOT"):
		if !afterAnd {
			return clause{}, invalidClause(p.src[start.pos:t.end()])
		}
		return p.membership(ident)
	case isKeyword(t, "IS"):
		if !afterAnd {
			return clause{}, invalidClause(p.src[start.pos:t.end()])
		}
		return p.null(ident)
	}
	return clause{}, invalidClause(p.src[start.pos:t.end()])
}

// identifier reads entity.key as sqlparse groups it: names, `quoted names` and "quoted
// strings" joined by dots, a trailing dot included. The key after a dot may also be a
// 'single quoted' string. Whitespace around a dot, which sqlparse would absorb into the
// key, is rejected.
func (p *parser) identifier() (string, error) {
	t := p.cur()
	if !startsIdentifier(t) {
		return "", invalidClause(t.text)
	}
	end := t.end()
	p.i++
	for p.adjacent(end) && p.cur().kind == tokDot {
		end = p.cur().end()
		p.i++
		if p.adjacent(end) && continuesIdentifier(p.cur()) {
			end = p.cur().end()
			p.i++
		}
	}
	return p.src[t.pos:end], nil
}

// adjacent reports whether the current token starts at end, with nothing in between.
func (p *parser) adjacent(end int) bool { return !p.done() && p.cur().pos == end }

func startsIdentifier(t token) bool {
	return t.kind == tokWord || t.kind == tokQuoted || t.kind == tokDouble
}

func continuesIdentifier(t token) bool {
	return startsIdentifier(t) || t.kind == tokSingle
}

// scalar reads the value of a comparison with =, !=, <, LIKE, ...
func (p *parser) scalar(ident, op string) (clause, error) {
	p.skipSpace()
	v := p.cur()
	switch v.kind {
	case tokInt, tokFloat, tokSingle, tokDouble, tokWord, tokQuoted:
		p.i++
		return clause{ident: ident, op: op, value: v}, nil
	case tokLParen:
		return clause{}, fault.Invalidf("A list of values can only be compared with IN or NOT IN: '%s %s ...'", clip(ident), op)
	}
	if p.done() {
		return clause{}, invalidClause(ident, op)
	}
	return clause{}, invalidClause(ident, op, v.text)
}

// null reads IS NULL or IS NOT NULL. MLflow (3.7+) joins an identifier, IS and the
// keyword NULL, or sqlparse's single keyword "NOT NULL" written with exactly one space.
func (p *parser) null(ident string) (clause, error) {
	is := p.cur()
	p.i++
	p.skipSpace()
	t := p.cur()
	switch {
	case isKeyword(t, "NULL"):
		p.i++
		return clause{ident: ident, op: string(IsNull), null: true}, nil
	case t.kind == tokKeyword && strings.ToUpper(t.text) == "NOT NULL":
		p.i++
		return clause{ident: ident, op: string(IsNotNull), null: true}, nil
	}
	if p.done() {
		return clause{}, invalidClause(ident, is.text)
	}
	return clause{}, invalidClause(ident, is.text, t.text)
}

// membership reads IN (...) or NOT IN (...).
func (p *parser) membership(ident string) (clause, error) {
	op := "IN"
	if isKeyword(p.cur(), "NOT") {
		p.i++
		p.skipSpace()
		if !isKeyword(p.cur(), "IN") {
			return clause{}, invalidClause(p.cur().text)
		}
		op = "NOT IN"
	}
	p.i++
	p.skipSpace()
	value, list, err := p.list()
	if err != nil {
		return clause{}, err
	}
	return clause{ident: ident, op: op, value: value, list: list}, nil
}

// list reads a parenthesized list. sqlparse decides where it ends; MLflow then evaluates
// its text as a Python literal, which must be a non-empty tuple of strings.
func (p *parser) list() (token, []string, error) {
	open := p.cur()
	if open.kind != tokLParen {
		return token{}, nil, invalidClause(open.text)
	}
	for p.i++; !p.done(); p.i++ {
		switch t := p.cur(); t.kind {
		case tokSingle, tokDouble, tokComma, tokSpace:
			continue
		case tokRParen:
			p.i++
			whole := token{kind: tokLParen, text: p.src[open.pos:t.end()], pos: open.pos}
			list, err := evalStringList(whole.text)
			return whole, list, err
		default:
			return token{}, nil, illFormedList()
		}
	}
	return token{}, nil, invalidClause(p.src[open.pos:])
}

func isKeyword(t token, word string) bool {
	return t.kind == tokKeyword && foldEqual(t.text, word)
}
