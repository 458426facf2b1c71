package traces

import (
	"context"
	"database/sql"
	"strconv"

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
	filter, err := search.ParseFilter(sq.Filter, search.Traces)
	if err != nil {
		return nil, "", err
	}
	orders, err := search.ParseOrderBy(sq.OrderBy, search.Traces)
	if err != nil {
		return nil, "", err
	}
	offset, err := search.DecodePageToken(sq.PageToken)
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
	for _, c := range filter {
		q.Add(condition(c))
	}
	for _, o := range orders {
		expr, args := orderExpr(o)
		q.Order = append(q.Order, sqlsearch.OrderTerm(expr, o.Desc, ""))
		q.OrderArgs = append(q.OrderArgs, args...)
	}
	q.Order = append(q.Order, "t.request_time DESC", "t.trace_id ASC")
	text, args := q.Build("SELECT t.trace_id FROM trace_info t", limit+1, offset)
	var ids []string
	err = store.ScanEach(ctx, s.db.Reader(), text, args, func(rows *sql.Rows) error {
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
	infos, err := s.GetInfos(ctx, ids)
	return infos, next, err
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

// condition renders one comparison of a traces filter. "name" is the tag
// mlflow.traceName; "run_id" any run the trace belongs to.
func condition(c search.Comparison) (string, []any) {
	switch {
	case c.Entity == search.Tag:
		return sqlsearch.KeyedExists("trace_tags", "x.trace_id = t.trace_id", c)
	case c.Entity == search.Metadata:
		return sqlsearch.KeyedExists("trace_metadata", "x.trace_id = t.trace_id", c)
	case c.Key == "name":
		c.Key = TagTraceName
		return sqlsearch.KeyedExists("trace_tags", "x.trace_id = t.trace_id", c)
	case c.Key == "run_id":
		cmp, args := sqlsearch.Compare("x.run_uuid", c)
		return "EXISTS (SELECT 1 FROM trace_runs x WHERE x.trace_id = t.trace_id AND " + cmp + ")", args
	}
	return sqlsearch.Compare(traceColumns[c.Key], c)
}

func orderExpr(o search.OrderBy) (string, []any) {
	switch {
	case o.Entity == search.Tag:
		return "(SELECT x.value FROM trace_tags x WHERE x.trace_id = t.trace_id AND x.key = ?)", []any{o.Key}
	case o.Entity == search.Metadata:
		return "(SELECT x.value FROM trace_metadata x WHERE x.trace_id = t.trace_id AND x.key = ?)", []any{o.Key}
	case o.Key == "name":
		return "(SELECT x.value FROM trace_tags x WHERE x.trace_id = t.trace_id AND x.key = ?)", []any{TagTraceName}
	case o.Key == "run_id":
		return "(SELECT MIN(x.run_uuid) FROM trace_runs x WHERE x.trace_id = t.trace_id)", nil
	}
	return traceColumns[o.Key], nil
}
