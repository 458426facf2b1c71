package tracking

import (
	"context"
	"database/sql"
	"github.com/mlship/mlship/internal/search/sqlsearch"
	"github.com/mlship/mlship/internal/store"

	"github.com/mlship/mlship/internal/search"
)

// SearchExperimentsQuery is an experiments/search request.
type SearchExperimentsQuery struct {
	Filter     string
	ViewType   string
	MaxResults int // 1 to MaxSearchExpResults
	OrderBy    []string
	PageToken  string
	// Visible limits the search to the experiments (by id) a caller may read.
	Visible *sqlsearch.Restriction
}

// DefaultSearchExperimentsResults is the page size when a client asks for none.
const DefaultSearchExperimentsResults = 1000

var experimentAttrColumns = map[string]string{
	"name": "e.name", "experiment_id": "e.experiment_id",
	"creation_time": "e.creation_time", "last_update_time": "e.last_update_time",
}

// SearchExperiments returns a page of experiments matching the query, newest first
// unless ordered otherwise, and the token of the next page.
func (s *Service) SearchExperiments(ctx context.Context, sq SearchExperimentsQuery) ([]*Experiment, string, error) {
	p, err := parseSearch(search.Experiments, sq.Filter, sq.OrderBy, sq.PageToken, sq.MaxResults, MaxSearchExpResults)
	if err != nil {
		return nil, "", err
	}
	limit, offset, filter, orders := p.limit, p.offset, p.filter, p.orders
	var q sqlsearch.Query
	if err := stageScope(&q, "e.lifecycle_stage", sq.ViewType); err != nil {
		return nil, "", err
	}
	q.Restrict("e.experiment_id", sq.Visible)
	for _, c := range filter {
		if c.Entity == search.Tag {
			q.Add(sqlsearch.KeyedExists("experiment_tags", "x.experiment_id = e.experiment_id", c))
		} else {
			q.Add(sqlsearch.Compare(experimentAttrColumns[c.Key], c))
		}
	}
	for _, o := range orders {
		q.Order = append(q.Order, sqlsearch.OrderTerm(experimentAttrColumns[o.Key], o.Desc, ""))
	}
	if len(orders) == 0 {
		q.Order = append(q.Order, "e.creation_time DESC")
	}
	q.Order = append(q.Order, "e.experiment_id ASC")
	text, args := q.Build("SELECT "+experimentColumns+" FROM experiments e", limit+1, offset)
	var exps []*Experiment
	err = store.ScanEach(ctx, s.reader(), text, args, func(rows *sql.Rows) error {
		e, err := scanExperiment(rows)
		exps = append(exps, e)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(exps) > limit {
		exps, next = exps[:limit], search.EncodePageToken(offset+limit)
	}
	return exps, next, s.loadExperimentTags(ctx, exps)
}
