package search

import (
	"strings"

	"github.com/mlship/mlship/internal/fault"
)

// MetricsFilter is one filter of a trace metrics query (MLflow's TraceMetricsFilter):
// "VIEW.ENTITY = 'value'" or "VIEW.ENTITY.KEY = 'value'", such as trace.status = 'OK',
// trace.tag.team = 'a', span.type = 'LLM' or assessment.name = 'correct'.
type MetricsFilter struct {
	View, Entity, Key, Value string
}

// metricsEntities are the entities of each view, and whether they take a key.
var metricsEntities = map[string]map[string]bool{
	"trace":      {"status": false, "tag": true, "metadata": true},
	"span":       {"name": false, "status": false, "type": false},
	"assessment": {"name": false, "type": false},
}

// ParseMetricsFilter parses one filter of a trace metrics query, as MLflow's
// SearchTraceMetricsUtils does: exactly one comparison, with =, of a quoted string.
func ParseMetricsFilter(filter string) (MetricsFilter, error) {
	var f MetricsFilter
	clauses, err := parseClauses(filter)
	if err != nil {
		return f, err
	}
	if len(clauses) != 1 {
		return f, fault.Invalidf("Invalid filter: '%s'. Expected one filter clause.", clip(filter))
	}
	c := clauses[0]
	if c.null || c.isList() {
		return f, fault.Invalidf("Invalid comparator: '%s', only '=' operator is supported", c.op)
	}
	parts := strings.SplitN(c.ident, ".", 3)
	if len(parts) < 2 {
		return f, fault.Invalidf("Invalid identifier '%s'. Columns should be specified as 'trace.<key>', 'span.<key>', 'assessment.<key>'.", clip(c.ident))
	}
	f.View, f.Entity = parts[0], parts[1]
	if quotedWith(f.View, '`') {
		f.View = f.View[1 : len(f.View)-1]
	}
	entities, ok := metricsEntities[f.View]
	if !ok {
		return f, fault.Invalidf("Invalid view type '%s'. Valid values are trace, span, assessment", clip(f.View))
	}
	keyed, ok := entities[f.Entity]
	switch {
	case !ok:
		return f, fault.Invalidf("Invalid entity '%s' specified for view type '%s'", clip(f.Entity), f.View)
	case keyed && len(parts) < 3:
		return f, fault.Invalidf("Filtering by %s requires a key, e.g. '%s.%s.<key> = <value>'", f.Entity, f.View, f.Entity)
	case !keyed && len(parts) == 3:
		return f, fault.Invalidf("Filtering by %s does not require a key, use '%s.%s' instead", f.Entity, f.View, f.Entity)
	}
	if len(parts) == 3 {
		f.Key = unquoteKey(parts[2])
	}
	if c.op != "=" {
		return f, fault.Invalidf("Invalid comparator: '%s', only '=' operator is supported", clip(c.op))
	}
	if !isQuoted(c.value) {
		return f, fault.Invalidf("Expected a quoted string value for %s value (e.g. 'my-value'). Got value %s", f.Entity, clip(c.value.text))
	}
	f.Value = unquoteValue(c.value)
	return f, nil
}
