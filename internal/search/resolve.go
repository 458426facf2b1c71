package search

import (
	"errors"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mlship/mlship/internal/fault"
)

// resolve gives a clause its meaning under s, as MLflow's _get_identifier, _get_value
// and the SQL store's comparator checks do.
func (s *Schema) resolve(c clause) (Comparison, error) {
	entity, key, err := identify(s, c.ident, s.attrs, s.rawAttrKeys)
	if err != nil {
		return Comparison{}, err
	}
	if err := checkEntityKey(entity, key); err != nil {
		return Comparison{}, err
	}
	if entity == Attribute {
		return s.compareAttribute(s.attrs[key], c)
	}
	cmp := Comparison{Entity: entity, Key: s.alias(key), Op: Op(c.op)}
	if c.null {
		return cmp, checkOp(cmp.Op, s.entityKeyOps(entity, key))
	}
	if err := entityValue(&cmp, c.value, c.list); err != nil {
		return Comparison{}, err
	}
	return cmp, checkOp(cmp.Op, s.entityKeyOps(entity, key))
}

// identify splits "entity.key" at its first dot, resolves the entity prefix and removes
// the quotes around the key. A name without a dot is an attribute. Attribute keys must be
// among attrs, checked before the quotes are removed when raw is set; the key returned
// for them is as written, not yet canonical.
func identify[V any](s *Schema, ident string, attrs map[string]V, raw bool) (Entity, string, error) {
	entity, key, err := s.split(ident)
	if err != nil {
		return "", "", err
	}
	if _, ok := attrs[key]; entity == Attribute && raw && !ok {
		return "", "", invalidAttribute(key, attrs)
	}
	key = unquoteKey(key)
	_, known := attrs[key]
	switch {
	case entity == Attribute && !known:
		return "", "", invalidAttribute(key, attrs)
	case entity == Dataset && !s.datasetKeys[key]:
		return "", "", fault.Invalidf("Invalid dataset key '%s' specified. Valid keys are '%s'",
			clip(key), strings.Join(sortedKeys(s.datasetKeys), ", "))
	}
	return entity, key, nil
}

func (s *Schema) split(ident string) (Entity, string, error) {
	prefix, key, dotted := strings.Cut(ident, ".")
	if !dotted {
		return Attribute, prefix, nil
	}
	if s.prefixBackticks && quotedWith(prefix, '`') {
		prefix = prefix[1 : len(prefix)-1]
	}
	if e, ok := s.prefixes[prefix]; ok {
		return e, key, nil
	}
	return "", "", fault.Invalidf("Invalid entity type '%s'. Valid entity types are %s",
		clip(prefix), strings.Join(sortedKeys(s.prefixes), ", "))
}

// alias translates the keys MLflow treats as aliases whatever their entity.
func (s *Schema) alias(key string) string {
	if k, ok := s.keyAliases[key]; ok {
		return k
	}
	return key
}

func invalidAttribute[V any](key string, attrs map[string]V) error {
	return fault.Invalidf("Invalid attribute key '%s' specified. Valid keys are '%s'",
		clip(key), strings.Join(sortedKeys(attrs), ", "))
}

// unquoteKey removes one pair of single or double quotes, then one pair of backticks,
// as MLflow's _strip_quotes and _trim_backticks do.
func unquoteKey(key string) string {
	if quotedWith(key, '\'') || quotedWith(key, '"') {
		key = key[1 : len(key)-1]
	}
	if quotedWith(key, '`') {
		key = key[1 : len(key)-1]
	}
	return key
}

func quotedWith(s string, q byte) bool {
	return len(s) >= 2 && s[0] == q && s[len(s)-1] == q
}

// clip shortens user input quoted in an error message.
func clip(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	for i := max; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "..."
		}
	}
	return s[:max] + "..."
}

// compareAttribute resolves a comparison with the attribute a.
func (s *Schema) compareAttribute(a attribute, c clause) (Comparison, error) {
	cmp := Comparison{Entity: Attribute, Key: a.key, Op: Op(c.op)}
	var err error
	switch {
	case c.null:
	case a.numeric:
		err = a.numericValue(&cmp, c.value)
	case c.isList() && a.list:
		cmp.List = c.list
	case c.isList():
		err = fault.Invalidf("Only %s attributes support comparison with a list of quoted string values.",
			pyList(s.listAttributes()))
	default:
		err = setString(&cmp, c.value, "attributes")
	}
	if err != nil {
		return Comparison{}, err
	}
	return cmp, checkOp(cmp.Op, a.ops())
}

func (s *Schema) listAttributes() []string {
	var keys []string
	for _, k := range sortedKeys(s.attrs) {
		if a := s.attrs[k]; a.list && a.key == k {
			keys = append(keys, k)
		}
	}
	return keys
}

func (a attribute) numericValue(cmp *Comparison, v token) error {
	switch {
	case v.kind == tokFloat && a.intOnly:
		return invalidNumber(a.key, v.text)
	case v.kind == tokInt || v.kind == tokFloat:
		return setNumber(cmp, v, "numeric attribute: "+a.key)
	case isQuoted(v) && a.quotedInt:
		n, ok := pyInt(unquoteValue(v))
		if !ok {
			return invalidNumber(a.key, unquoteValue(v))
		}
		cmp.Numeric, cmp.Num = true, n
		return nil
	}
	return fault.Invalidf("Expected numeric value type for numeric attribute: %s. Found %s", a.key, clip(v.text))
}

func invalidNumber(key, value string) error {
	return fault.Invalidf("Invalid value for numeric attribute '%s': '%s'", key, clip(value))
}

// entityValue reads the value compared with a metric, param, tag or dataset key.
func entityValue(cmp *Comparison, v token, list []string) error {
	switch cmp.Entity {
	case Metric:
		return setNumber(cmp, v, "metric")
	case Dataset:
		if v.kind == tokLParen {
			cmp.List = list
			return nil
		}
		return setString(cmp, v, "dataset attributes")
	case Param:
		return setString(cmp, v, "parameter")
	case Span:
		if v.kind == tokLParen {
			cmp.List = list
			return nil
		}
		return setString(cmp, v, "span")
	case Feedback, Expectation:
		return assessmentValue(cmp, v)
	case Issue:
		return setString(cmp, v, "issue")
	}
	return setString(cmp, v, "tag")
}

// assessmentValue reads the value compared with feedback or an expectation: a number
// for <, <=, > and >=, a quoted string for every other operator, as MLflow requires.
func assessmentValue(cmp *Comparison, v token) error {
	numericOp := cmp.Op == Gt || cmp.Op == Ge || cmp.Op == Lt || cmp.Op == Le
	switch {
	case numericOp && (v.kind == tokInt || v.kind == tokFloat):
		return setNumber(cmp, v, string(cmp.Entity))
	case numericOp:
		return fault.Invalidf("Expected a numeric value for %s when using comparator '%s'. Got value %s",
			cmp.Entity, cmp.Op, clip(v.text))
	case isQuoted(v):
		cmp.Str = unquoteValue(v)
		return nil
	}
	return fault.Invalidf("Expected a quoted string value for %s (e.g. 'my-value'). Got value %s", cmp.Entity, clip(v.text))
}

func setNumber(cmp *Comparison, v token, what string) error {
	if v.kind == tokInt || v.kind == tokFloat {
		n, err := strconv.ParseFloat(v.text, 64)
		if err == nil || errors.Is(err, strconv.ErrRange) {
			cmp.Numeric, cmp.Num = true, n
			return nil
		}
	}
	if what == "metric" {
		return fault.Invalidf("Expected numeric value type for metric. Found %s", clip(v.text))
	}
	return fault.Invalidf("Expected numeric value type for %s. Found %s", what, clip(v.text))
}

func setString(cmp *Comparison, v token, what string) error {
	switch {
	case isQuoted(v):
		cmp.Str = unquoteValue(v)
		return nil
	case v.kind == tokWord || v.kind == tokQuoted:
		return fault.Invalidf("Parameter value is either not quoted or unidentified quote types "+
			"used for string value %s. Use either single or double quotes.", clip(v.text))
	}
	return fault.Invalidf("Expected a quoted string value for %s (e.g. 'my-value'). Got value %s", what, clip(v.text))
}

func isQuoted(v token) bool { return v.kind == tokSingle || v.kind == tokDouble }

// unquoteValue returns what is between the quotes, verbatim: MLflow does not unescape.
func unquoteValue(v token) string { return v.text[1 : len(v.text)-1] }

func checkOp(op Op, allowed []Op) error {
	if slices.Contains(allowed, op) {
		return nil
	}
	names := make([]string, len(allowed))
	for i, o := range allowed {
		names[i] = string(o)
	}
	return fault.Invalidf("Invalid comparator '%s' not one of '%s'", clip(string(op)), strings.Join(names, ", "))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
