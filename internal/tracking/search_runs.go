package tracking

import (
	"context"
	"database/sql"
	"fmt"
	"github.com/mlship/mlship/internal/search/sqlsearch"
	"github.com/mlship/mlship/internal/store"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/search"
)

// SearchRunsQuery is a runs/search request.
type SearchRunsQuery struct {
	ExperimentIDs []string
	Filter        string
	ViewType      string
	MaxResults    int // 1 to MaxSearchRunsResults
	OrderBy       []string
	PageToken     string
}

// DefaultSearchRunsResults is the page size when a client asks for none.
const DefaultSearchRunsResults = 1000

var runAttrColumns = map[string]string{
	"run_id": "r.run_uuid", "run_name": "r.name", "status": "r.status", "user_id": "r.user_id",
	"artifact_uri": "r.artifact_uri", "start_time": "r.start_time", "end_time": "r.end_time",
}

// SearchRuns returns a page of runs matching the query, and the token of the next page.
func (s *Service) SearchRuns(ctx context.Context, sq SearchRunsQuery) ([]*Run, string, error) {
	p, err := parseSearch(search.Runs, sq.Filter, sq.OrderBy, sq.PageToken, sq.MaxResults, MaxSearchRunsResults)
	if err != nil {
		return nil, "", err
	}
	limit, offset := p.limit, p.offset
	var q sqlsearch.Query
	if err := runScope(&q, sq.ExperimentIDs, sq.ViewType); err != nil {
		return nil, "", err
	}
	for _, c := range p.filter {
		runCondition(&q, c)
	}
	for i, o := range p.orders {
		runOrder(&q, i, o)
	}
	q.Order = append(q.Order, "r.start_time DESC", "r.run_uuid ASC")
	text, args := q.Build("SELECT r.run_uuid FROM runs r", limit+1, offset)
	var ids []string
	err = store.ScanEach(ctx, s.reader(), text, args, func(rows *sql.Rows) error {
		var id string
		err := rows.Scan(&id)
		ids = append(ids, id)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(ids) > limit {
		ids, next = ids[:limit], search.EncodePageToken(offset+limit)
	}
	runs, err := s.loadRuns(ctx, ids)
	return runs, next, err
}

// parsedSearch is a search request's parsed common parts.
type parsedSearch struct {
	filter        []search.Comparison
	orders        []search.OrderBy
	limit, offset int
}

// parseSearch parses and checks what every search request carries.
func parseSearch(schema *search.Schema, filter string, orderBy []string, token string, maxResults, max int) (parsedSearch, error) {
	var p parsedSearch
	var err error
	if p.limit, err = pageSize(maxResults, max); err != nil {
		return p, err
	}
	r, err := search.ParseRequest(schema, filter, orderBy, token)
	p.filter, p.orders, p.offset = r.Filter, r.Order, r.Offset
	return p, err
}

// pageSize checks a search's page size.
func pageSize(n, max int) (int, error) {
	if n < 1 || n > max {
		return 0, fault.Invalidf("Invalid value %d for parameter 'max_results' supplied. It must be at most %d and at least 1.", n, max)
	}
	return n, nil
}

// runScope restricts a run search to experiments and a view type.
func runScope(q *sqlsearch.Query, expIDs []string, view string) error {
	if len(expIDs) == 0 {
		q.Cond("1 = 0")
		return nil
	}
	args := make([]any, len(expIDs))
	for i, id := range expIDs {
		n, err := parseExperimentID(id)
		if err != nil {
			return err
		}
		args[i] = n
	}
	q.Cond("r.experiment_id IN ("+store.Placeholders(len(args))+")", args...)
	return stageScope(q, "r.lifecycle_stage", view)
}

// stageScope restricts a search to the lifecycle stages of a view type.
func stageScope(q *sqlsearch.Query, col, view string) error {
	switch view {
	case "", ViewActiveOnly:
		q.Cond(col+" = ?", StageActive)
	case ViewDeletedOnly:
		q.Cond(col+" = ?", StageDeleted)
	case ViewAll:
	default:
		return fault.Invalidf("Invalid view type '%s'", view)
	}
	return nil
}

func runCondition(q *sqlsearch.Query, c search.Comparison) {
	switch c.Entity {
	case search.Attribute:
		q.Add(sqlsearch.Compare(runAttrColumns[c.Key], c))
	case search.Metric:
		q.Add(metricCondition(c))
	case search.Param:
		q.Add(sqlsearch.KeyedExists("params", "x.run_uuid = r.run_uuid", c))
	case search.Tag:
		q.Add(sqlsearch.KeyedExists("tags", "x.run_uuid = r.run_uuid", c))
	case search.Dataset:
		q.Add(datasetCondition(c))
	}
}

// metricCondition compares a run's latest value of a metric. A NaN, stored as 0 with a
// flag, is unequal to everything and compares false otherwise.
func metricCondition(c search.Comparison) (string, []any) {
	cmp, args := sqlsearch.Compare("m.value", c)
	nan := "m.is_nan = 0 AND " + cmp
	if c.Op == search.Ne {
		nan = "(m.is_nan = 1 OR " + cmp + ")"
	}
	return "EXISTS (SELECT 1 FROM latest_metrics m WHERE m.run_uuid = r.run_uuid AND m.key = ? AND " + nan + ")",
		append([]any{c.Key}, args...)
}

// datasetCondition matches runs that logged a dataset with a matching name or digest,
// or logged one with a matching context tag.
func datasetCondition(c search.Comparison) (string, []any) {
	const from = `EXISTS (SELECT 1 FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id `
	const where = `WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' AND i.destination_id = r.run_uuid AND `
	if c.Key == "context" {
		cmp, args := sqlsearch.Compare("t.value", c)
		return from + `JOIN input_tags t ON t.input_uuid = i.input_uuid AND t.key = 'mlflow.data.context' ` + where + cmp + ")", args
	}
	cmp, args := sqlsearch.Compare("d."+c.Key, c)
	return from + where + cmp + ")", args
}

// runOrder adds the i-th order_by key, joining the ordered metric, param or tag.
func runOrder(q *sqlsearch.Query, i int, o search.OrderBy) {
	alias := fmt.Sprintf("o%d", i)
	join := func(table string) {
		q.Joins = append(q.Joins, fmt.Sprintf("LEFT JOIN %s %s ON %s.run_uuid = r.run_uuid AND %s.key = ?", table, alias, alias, alias))
		q.JoinArgs = append(q.JoinArgs, o.Key)
	}
	switch o.Entity {
	case search.Attribute:
		q.Order = append(q.Order, sqlsearch.OrderTerm(runAttrColumns[o.Key], o.Desc, ""))
	case search.Metric:
		join("latest_metrics")
		// As MLflow orders: numbers, then NaN, then runs without the metric, whatever the
		// direction and however the engine orders NULLs.
		v := alias + ".value"
		q.Order = append(q.Order, sqlsearch.OrderTerm(v, o.Desc, "CASE WHEN "+alias+".is_nan = 1 THEN 1 WHEN "+v+" IS NULL THEN 2 ELSE 0 END"))
	case search.Param:
		join("params")
		q.Order = append(q.Order, sqlsearch.OrderTerm(alias+".value", o.Desc, ""))
	case search.Tag:
		join("tags")
		q.Order = append(q.Order, sqlsearch.OrderTerm(alias+".value", o.Desc, ""))
	}
}
