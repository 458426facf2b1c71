package tracking

import (
	"context"
	"database/sql"
	"github.com/mlship/mlship/internal/search/sqlsearch"
	"github.com/mlship/mlship/internal/store"

	"github.com/mlship/mlship/internal/search"
)

// LoggedModelOrder is one key of a logged-model search's order_by, an object on the wire.
type LoggedModelOrder struct {
	FieldName string
	Ascending bool
}

// SearchLoggedModelsQuery is a logged-models/search request.
type SearchLoggedModelsQuery struct {
	ExperimentIDs []string
	Filter        string
	OrderBy       []LoggedModelOrder
	MaxResults    int // 1 to MaxSearchLoggedModels
	PageToken     string
}

// Page sizes of logged-model searches.
const (
	DefaultSearchLoggedModels = 100
	MaxSearchLoggedModels     = 50000
)

var loggedModelAttrColumns = map[string]string{
	"name": "m.name", "model_id": "m.model_id", "model_type": "m.model_type", "status": "m.status",
	"source_run_id": "m.source_run_id", "creation_timestamp": "m.creation_timestamp_ms",
	"last_updated_timestamp": "m.last_updated_timestamp_ms",
}

// latestModelMetric is a model's newest value of a metric, for ordering.
const latestModelMetric = `(SELECT x.value FROM logged_model_metrics x WHERE x.model_id = m.model_id AND x.key = ?
	ORDER BY x.step DESC, x.timestamp DESC LIMIT 1)`

// SearchLoggedModels returns a page of active logged models of the given experiments.
func (s *Service) SearchLoggedModels(ctx context.Context, sq SearchLoggedModelsQuery) ([]*LoggedModel, string, error) {
	fields := make([]string, len(sq.OrderBy))
	for i, o := range sq.OrderBy {
		fields[i] = o.FieldName
	}
	p, err := parseSearch(search.LoggedModels, sq.Filter, fields, sq.PageToken, sq.MaxResults, MaxSearchLoggedModels)
	if err != nil {
		return nil, "", err
	}
	var q sqlsearch.Query
	if err := modelScope(&q, sq.ExperimentIDs); err != nil {
		return nil, "", err
	}
	for _, c := range p.filter {
		q.Add(loggedModelCondition(c))
	}
	for i, o := range p.orders {
		desc := !sq.OrderBy[i].Ascending
		if o.Entity == search.Metric {
			q.Order = append(q.Order, sqlsearch.OrderTerm(latestModelMetric, desc, ""))
			q.OrderArgs = append(q.OrderArgs, o.Key, o.Key) // the term names the metric twice
			continue
		}
		q.Order = append(q.Order, sqlsearch.OrderTerm(loggedModelAttrColumns[o.Key], desc, ""))
	}
	q.Order = append(q.Order, "m.creation_timestamp_ms DESC", "m.model_id ASC")
	text, args := q.Build("SELECT "+loggedModelColumns+" FROM logged_models m", p.limit+1, p.offset)
	var models []*LoggedModel
	err = store.ScanEach(ctx, s.reader(), text, args, func(rows *sql.Rows) error {
		m, err := scanLoggedModel(rows)
		models = append(models, m)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(models) > p.limit {
		models, next = models[:p.limit], search.EncodePageToken(p.offset+p.limit)
	}
	return models, next, s.loadLoggedModelData(ctx, models)
}

func modelScope(q *sqlsearch.Query, expIDs []string) error {
	if len(expIDs) == 0 {
		return Required("experiment_ids", "")
	}
	args := make([]any, len(expIDs))
	for i, id := range expIDs {
		n, err := parseExperimentID(id)
		if err != nil {
			return err
		}
		args[i] = n
	}
	q.Cond("m.experiment_id IN ("+store.Placeholders(len(args))+")", args...)
	q.Cond("m.lifecycle_stage = ?", StageActive)
	return nil
}

func loggedModelCondition(c search.Comparison) (string, []any) {
	switch c.Entity {
	case search.Metric:
		cmp, args := sqlsearch.Compare("x.value", c)
		return "EXISTS (SELECT 1 FROM logged_model_metrics x WHERE x.model_id = m.model_id AND x.key = ? AND x.is_nan = 0 AND " + cmp + ")",
			append([]any{c.Key}, args...)
	case search.Param:
		return sqlsearch.KeyedExists("logged_model_params", "x.model_id = m.model_id", c)
	case search.Tag:
		return sqlsearch.KeyedExists("logged_model_tags", "x.model_id = m.model_id", c)
	}
	return sqlsearch.Compare(loggedModelAttrColumns[c.Key], c)
}
