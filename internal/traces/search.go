package traces

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/search"
	"github.com/mlship/mlship/internal/search/sqlsearch"
	"github.com/mlship/mlship/internal/store"
)

// SearchQuery is a traces/search request.
type SearchQuery struct {
	ExperimentIDs []string
	Filter        string
	OrderBy       []string
	MaxResults    int // 0: DefaultSearchSize; more than MaxSearchResults: MaxSearchResults a page
	PageToken     string
}

var traceColumns = map[string]string{
	"request_id": "t.trace_id", "client_request_id": "t.client_request_id", "status": "t.state",
	"timestamp_ms": "t.request_time", "execution_time_ms": "t.execution_duration",
	"end_time_ms": "(t.request_time + t.execution_duration)", "experiment_id": "t.experiment_id",
}

// Search returns a page of the infos of the traces that match, newest first unless
// ordered otherwise, and the token of the next page.
func (s *Service) Search(ctx context.Context, sq SearchQuery) ([]*Info, string, error) {
	req, err := search.ParseRequest(search.Traces, sq.Filter, sq.OrderBy, sq.PageToken)
	if err != nil {
		return nil, "", err
	}
	limit := sq.MaxResults
	switch {
	case limit < 0:
		return nil, "", fault.Invalidf("Invalid value %d for parameter 'max_results': it must be positive", limit)
	case limit == 0:
		limit = DefaultSearchSize
	case limit > MaxSearchResults:
		limit = MaxSearchResults
	}
	var q sqlsearch.Query
	if err := experimentScope(&q, sq.ExperimentIDs); err != nil {
		return nil, "", err
	}
	if err := filterSQL(s.db.Dialect().Name()).add(&q, req.Filter); err != nil {
		return nil, "", err
	}
	for _, o := range req.Order {
		expr, args := orderExpr(o)
		q.Order = append(q.Order, sqlsearch.OrderTerm(expr, o.Desc, ""))
		q.OrderArgs = append(q.OrderArgs, args...)
	}
	q.Order = append(q.Order, "t.request_time DESC", "t.trace_id ASC")
	text, args := q.Build("SELECT t.trace_id FROM trace_info t", limit+1, req.Offset)
	var ids []string
	err = store.ScanEach(ctx, s.db.Reader(), text, args, func(rows *sql.Rows) error {
		var id string
		err := rows.Scan(&id)
		ids = append(ids, id)
		return err
	})
	if err != nil {
		return nil, "", invalidRegexp(err)
	}
	next := ""
	if len(ids) > limit {
		ids, next = ids[:limit], search.EncodePageToken(req.Offset+limit)
	}
	infos, err := s.GetInfos(ctx, ids)
	return infos, next, err
}

// invalidRegexp turns PostgreSQL's refusal of an RLIKE pattern (which passed RE2's
// check but is not a valid POSIX regular expression) into the client's error.
func invalidRegexp(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "2201B" { // invalid_regular_expression
		return fault.Invalidf("Invalid RLIKE pattern: %s", clip(pe.Message))
	}
	return err
}

func experimentScope(q *sqlsearch.Query, ids []string) error {
	if len(ids) == 0 {
		q.Cond("1 = 0")
		return nil
	}
	if len(ids) > MaxExperiments {
		return fault.Invalidf("A search may cover at most %d experiments; got %d", MaxExperiments, len(ids))
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return fault.Invalidf("Invalid experiment ID '%s': expected an integer", clip(id))
		}
		args[i] = n
	}
	q.Cond("t.experiment_id IN ("+store.Placeholders(len(args))+")", args...)
	return nil
}

// filterSQL renders the comparisons of a traces filter for the engine it names
// (store.Dialect's Name).
type filterSQL string

const postgres = "postgres"

// add adds the conditions of a filter to q. As in MLflow's store, the span comparisons
// of a filter hold together on one span of the trace; each assessment comparison on
// any of its valid assessments of that kind and name.
func (d filterSQL) add(q *sqlsearch.Query, filter []search.Comparison) error {
	var span []string
	var spanArgs []any
	for _, c := range filter {
		switch c.Entity {
		case search.Span:
			cond, args, err := d.span(c)
			if err != nil {
				return err
			}
			span, spanArgs = append(span, cond), append(spanArgs, args...)
		case search.Feedback, search.Expectation:
			q.Add(d.assessment(c))
		case search.Issue:
			q.Add("EXISTS (SELECT 1 FROM trace_assessments a WHERE a.trace_id = t.trace_id AND a.name = ? AND "+
				d.assessmentJSON("issue").isKind+")", []any{c.Str})
		case search.Attribute:
			if c.Key == "text" { // MLflow's full-text search: span.content
				c.Entity, c.Key = search.Span, "content"
				cond, args, err := d.span(c)
				if err != nil {
					return err
				}
				q.Add("EXISTS (SELECT 1 FROM trace_spans s WHERE s.trace_key = t.trace_key AND "+cond+")", args)
				break
			}
			if c.Key != "prompt" {
				q.Add(d.condition(c))
				break
			}
			cond, args, err := promptCondition(c.Str)
			if err != nil {
				return err
			}
			q.Add(cond, args)
		default:
			q.Add(d.condition(c))
		}
	}
	if len(span) > 0 {
		q.Add("EXISTS (SELECT 1 FROM trace_spans s WHERE s.trace_key = t.trace_key AND "+strings.Join(span, " AND ")+")", spanArgs)
	}
	return nil
}

// condition renders one comparison with a trace's attributes, tags or metadata. "name"
// is the tag mlflow.traceName; "run_id" any run the trace belongs to.
func (d filterSQL) condition(c search.Comparison) (string, []any) {
	dialect := string(d)
	switch {
	case c.Entity == search.Tag:
		return sqlsearch.KeyedExistsIn(dialect, "trace_tags", "x.trace_key = t.trace_key", c)
	case c.Entity == search.Metadata:
		return sqlsearch.KeyedExistsIn(dialect, "trace_metadata", "x.trace_key = t.trace_key", c)
	case c.Key == "name":
		c.Key = TagTraceName
		return sqlsearch.KeyedExistsIn(dialect, "trace_tags", "x.trace_key = t.trace_key", c)
	case c.Key == "run_id" && c.Op == search.IsNull:
		return "NOT EXISTS (SELECT 1 FROM trace_runs x WHERE x.trace_id = t.trace_id)", nil
	case c.Key == "run_id" && c.Op == search.IsNotNull:
		return "EXISTS (SELECT 1 FROM trace_runs x WHERE x.trace_id = t.trace_id)", nil
	case c.Key == "run_id":
		cmp, args := sqlsearch.CompareIn(dialect, "x.run_uuid", c)
		return "EXISTS (SELECT 1 FROM trace_runs x WHERE x.trace_id = t.trace_id AND " + cmp + ")", args
	}
	return sqlsearch.CompareIn(dialect, traceColumns[c.Key], c)
}

var spanColumns = map[string]string{"name": "s.name", "type": "s.type", "status": "s.status"}

// span renders a comparison with a span's name, type or status (MLflow's span
// status: OK, ERROR or UNSET), one of its attributes or its content, a condition on
// trace_spans s.
func (d filterSQL) span(c search.Comparison) (string, []any, error) {
	if col, ok := spanColumns[c.Key]; ok {
		cond, args := sqlsearch.CompareIn(string(d), col, c)
		return cond, args, nil
	}
	if c.Key == "content" {
		cond, args := sqlsearch.CompareIn(string(d), d.spanContent(), c)
		return cond, args, nil
	}
	key := strings.TrimPrefix(c.Key, search.SpanAttributePrefix)
	if len(key) >= 2 && key[0] == '`' && key[len(key)-1] == '`' {
		key = key[1 : len(key)-1]
	}
	col, args, err := d.spanAttribute(key)
	if err != nil {
		return "", nil, err
	}
	cond, cmpArgs := sqlsearch.CompareIn(string(d), col, c)
	return cond, append(args, cmpArgs...), nil
}

// spanAttribute is the value of a span's attribute key (trace_spans.attributes holds
// them decoded): a string as itself, any other value as its JSON (3, true,
// ["a","b"]); NULL when the span has no such attribute.
func (d filterSQL) spanAttribute(key string) (string, []any, error) {
	if d == postgres {
		return "(CASE jsonb_typeof(s.attributes -> CAST(? AS text)) WHEN 'string' THEN s.attributes ->> CAST(? AS text) " +
			"ELSE (s.attributes -> CAST(? AS text))::text END)", []any{key, key, key}, nil
	}
	if strings.ContainsAny(key, `"\`) {
		return "", nil, fault.Invalidf("Invalid span attribute name '%s': it may not hold '\"' or '\\'", clip(key))
	}
	path := `$."` + key + `"`
	return "(CASE json_type(s.attributes, ?) WHEN 'text' THEN s.attributes ->> ? ELSE s.attributes -> ? END)", []any{path, path, path}, nil
}

// spanContent is what span.content (and the filter text) search: the span's name and its
// attributes' JSON, inputs and outputs included. MLflow searches the JSON of the whole
// span; the OpenTelemetry span kept here is protobuf, whose attributes are the searchable
// part.
func (d filterSQL) spanContent() string {
	if d == postgres {
		return "(s.name || ' ' || COALESCE(s.attributes::text, ''))"
	}
	return "(s.name || ' ' || COALESCE(s.attributes, ''))"
}

// assessment renders a comparison with the value of a trace's feedback or expectation
// named c.Key, among its valid assessments (those no other overrides), as MLflow's
// store compares it: <, <=, > and >= hold for numbers only; = and != compare the value
// as written in JSON (true, 0.5, "yes") or, for a string, unquoted; LIKE, ILIKE and RLIKE
// match the JSON text, so a string's pattern sees its quotes ('"y%' or '%yes%'). IS NULL
// holds when the trace has no such assessment.
func (d filterSQL) assessment(c search.Comparison) (string, []any) {
	kind := string(c.Entity)
	j := d.assessmentJSON(kind)
	where := "a.trace_id = t.trace_id AND a.name = ? AND " + j.isKind + " AND " + j.valid
	args := []any{c.Key}
	var cond string
	var condArgs []any
	switch c.Op {
	case search.IsNull:
		return "NOT EXISTS (SELECT 1 FROM trace_assessments a WHERE " + where + ")", args
	case search.IsNotNull:
		return "EXISTS (SELECT 1 FROM trace_assessments a WHERE " + where + ")", args
	case search.Eq:
		cond, condArgs = fmt.Sprintf("(%s = ? OR %s = ?)", j.text, j.str), []any{c.Str, c.Str}
	case search.Ne:
		cond, condArgs = fmt.Sprintf("(%s = ? OR %s = ?) IS NOT TRUE", j.text, j.str), []any{c.Str, c.Str}
	case search.Gt, search.Ge, search.Lt, search.Le:
		cond, condArgs = sqlsearch.Compare(j.number, c)
	default:
		cond, condArgs = sqlsearch.CompareIn(string(d), j.text, c)
	}
	return "EXISTS (SELECT 1 FROM trace_assessments a WHERE " + where + " AND " + cond + ")", append(args, condArgs...)
}

// assessmentSQL are the expressions on an assessment's JSON body (trace_assessments a)
// that a comparison needs.
type assessmentSQL struct {
	isKind string // the assessment is of the kind (feedback or expectation)
	valid  string // no other assessment overrides it
	text   string // its value's JSON text; an expectation's serialized value, if that is how it came
	str    string // its value, unquoted if a string
	number string // its value if a number, else NULL
}

func (d filterSQL) assessmentJSON(kind string) assessmentSQL {
	if d == postgres {
		b := "(a.body::jsonb)"
		v := fmt.Sprintf("%s -> '%s' -> 'value'", b, kind)
		j := assessmentSQL{
			isKind: fmt.Sprintf("%s -> '%s' IS NOT NULL", b, kind),
			valid:  fmt.Sprintf("COALESCE(%s -> 'valid', 'true'::jsonb) <> 'false'::jsonb", b),
			text:   fmt.Sprintf("(%s)::text", v),
			str:    fmt.Sprintf("(%s -> '%s' ->> 'value')", b, kind),
			number: fmt.Sprintf("(CASE WHEN jsonb_typeof(%s) = 'number' THEN (%s -> '%s' ->> 'value')::double precision END)", v, b, kind),
		}
		if kind == "expectation" {
			serialized := fmt.Sprintf("%s -> 'expectation' -> 'serialized_value' ->> 'value'", b)
			j.text = fmt.Sprintf("COALESCE((%s)::text, %s)", v, serialized)
			j.str = fmt.Sprintf("COALESCE(%s, %s)", j.str, serialized)
		}
		return j
	}
	path := "'$." + kind + ".value'"
	j := assessmentSQL{
		isKind: fmt.Sprintf("json_type(a.body, '$.%s') IS NOT NULL", kind),
		valid:  "COALESCE(a.body ->> '$.valid', 1) <> 0",
		text:   "(a.body -> " + path + ")",
		str:    "(a.body ->> " + path + ")",
		number: fmt.Sprintf("(CASE WHEN json_type(a.body, %s) IN ('integer', 'real') THEN a.body ->> %s END)", path, path),
	}
	if kind == "expectation" {
		serialized := "a.body ->> '$.expectation.serialized_value.value'"
		j.text = fmt.Sprintf("COALESCE(a.body -> %s, %s)", path, serialized)
		j.str = fmt.Sprintf("COALESCE(a.body ->> %s, %s)", path, serialized)
	}
	return j
}

func orderExpr(o search.OrderBy) (string, []any) {
	switch {
	case o.Entity == search.Tag:
		return "(SELECT x.value FROM trace_tags x WHERE x.trace_key = t.trace_key AND x.key = ?)", []any{o.Key}
	case o.Entity == search.Metadata:
		return "(SELECT x.value FROM trace_metadata x WHERE x.trace_key = t.trace_key AND x.key = ?)", []any{o.Key}
	case o.Key == "name":
		return "(SELECT x.value FROM trace_tags x WHERE x.trace_key = t.trace_key AND x.key = ?)", []any{TagTraceName}
	case o.Key == "run_id":
		return "(SELECT MIN(x.run_uuid) FROM trace_runs x WHERE x.trace_id = t.trace_id)", nil
	}
	return traceColumns[o.Key], nil
}
