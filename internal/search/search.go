// Package search parses the filter strings and order_by clauses of MLflow's search
// endpoints (runs, experiments, registered models, model versions, logged models,
// traces) and encodes their page tokens.
//
// It accepts what MLflow's server accepts and means what it means. MLflow parses a filter
// with sqlparse (mlflow/utils/search_utils.py), so this package reproduces sqlparse's
// lexer and the way MLflow reads its output, quirks included: comparisons are joined by
// AND and nothing else, string values are taken verbatim between their quotes, keys may
// be quoted with backticks or double quotes, an IN list is read as a Python tuple. A
// Schema says what each endpoint allows. Where MLflow would accept nonsense (a list
// compared with "=", a key with a space after its dot) this package refuses instead.
//
// testdata/mlflow holds MLflow's own answers for about a thousand filters and order_by
// lists, and the script that produced them; TestConformanceWithMLflow holds this package
// to them.
//
// The package knows nothing about SQL: it returns Comparisons and OrderBys for a store to
// translate. Every error it returns is a fault.Invalid error with a message close to
// MLflow's.
package search

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/mlship/mlship/internal/fault"
)

// Entity is what a key in a filter names.
type Entity string

// The entities. Their aliases in filters (metrics, params, attr, ...) are resolved.
const (
	Attribute Entity = "attribute"
	Metric    Entity = "metric"
	Param     Entity = "param"
	Tag       Entity = "tag"
	Dataset   Entity = "dataset"
)

// Op is a comparison operator, upper-cased.
type Op string

// The operators. Which ones an entity allows depends on the Schema.
const (
	Eq    Op = "="
	Ne    Op = "!="
	Gt    Op = ">"
	Ge    Op = ">="
	Lt    Op = "<"
	Le    Op = "<="
	Like  Op = "LIKE"  // case-sensitive; % and _ are wildcards
	ILike Op = "ILIKE" // case-insensitive LIKE
	In    Op = "IN"
	NotIn Op = "NOT IN"
	// RLike matches a regular expression anywhere in the value (traces only). The store
	// evaluates it with Go's regexp (RE2) on SQLite and with ~ on PostgreSQL.
	RLike Op = "RLIKE"
	// IsNull and IsNotNull test that a key is absent or present (traces only); the
	// comparison has no value.
	IsNull    Op = "IS NULL"
	IsNotNull Op = "IS NOT NULL"
)

// Comparison is one condition of a filter.
type Comparison struct {
	Entity Entity
	// Key is, for attributes, the canonical name ("created" and "Created" give
	// "start_time", "run name" gives "run_name"); for other entities, the key as written
	// without its quotes. For runs MLflow applies those aliases to every key, so
	// tags.created names the tag "start_time".
	Key     string
	Op      Op
	Numeric bool     // the value is Num; otherwise it is Str, or List for IN and NOT IN
	Num     float64  // may be ±Inf: MLflow reads 1e999 as infinity
	Str     string   // verbatim between the quotes: MLflow does not unescape '' or \'
	List    []string // the values of IN and NOT IN, never empty
}

// OrderBy is one key of an order_by list.
type OrderBy struct {
	Entity Entity
	Key    string // canonical for attributes, as for Comparison.Key
	Desc   bool
}

// ParseFilter parses an MLflow search filter for the endpoint s describes. An empty or
// all-whitespace filter gives no comparisons.
func ParseFilter(filter string, s *Schema) ([]Comparison, error) {
	if pyStrip(filter) == "" {
		return nil, nil
	}
	if !utf8.ValidString(filter) {
		return nil, fault.Invalidf("Invalid filter: it is not valid UTF-8")
	}
	clauses, err := parseClauses(filter)
	if err != nil {
		return nil, err
	}
	out := make([]Comparison, 0, len(clauses))
	for _, c := range clauses {
		cmp, err := s.resolve(c)
		if err != nil {
			return nil, err
		}
		if err := checkCost(cmp); err != nil {
			return nil, err
		}
		out = append(out, cmp)
	}
	return out, nil
}

// Limits on the LIKE and RLIKE patterns of a filter. MLflow sets none; they keep one search from
// holding a database connection for minutes: a pattern costs the engine about its
// length times the length of every value it is matched against (a 1000-character
// pattern over 8000-character tags takes SQLite 35 ms a row). IN lists need no limit of
// their own: sqlparse's token limit (maxTokens) keeps them to a few thousand values.
const (
	MaxLikePattern  = 256 // characters of a LIKE or ILIKE pattern
	MaxLikeWildcard = 32  // % wildcards in one pattern
	// MaxRegexp bounds an RLIKE pattern. RE2 runs in time linear in the value whatever the
	// pattern, but a long pattern compiles to a large program run against every row.
	MaxRegexp = 1000
)

// checkCost refuses a comparison too costly for the database to run.
func checkCost(c Comparison) error {
	like := c.Op == Like || c.Op == ILike
	switch n := utf8.RuneCountInString(c.Str); {
	case c.Op == RLike && n > MaxRegexp:
		return fault.Invalidf("The RLIKE pattern for '%s' is %d characters long; at most %d are allowed.", clip(c.Key), n, MaxRegexp)
	case c.Op == RLike:
		if _, err := regexp.Compile(c.Str); err != nil {
			return fault.Invalidf("Invalid RLIKE pattern for '%s': %s. Patterns use RE2 syntax "+
				"(https://github.com/google/re2/wiki/Syntax): no backreferences or lookaround.", clip(c.Key), clip(err.Error()))
		}
	case like && n > MaxLikePattern:
		return fault.Invalidf("The %s pattern for '%s' is %d characters long; at most %d are allowed. "+
			"Compare a shorter part of the value, or use = for the whole value.", c.Op, clip(c.Key), n, MaxLikePattern)
	case like && strings.Count(c.Str, "%") > MaxLikeWildcard:
		return fault.Invalidf("The %s pattern for '%s' has %d %% wildcards; at most %d are allowed.",
			c.Op, clip(c.Key), strings.Count(c.Str, "%"), MaxLikeWildcard)
	}
	return nil
}
