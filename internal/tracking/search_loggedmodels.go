package tracking

import (
	"context"
	"database/sql"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/search/sqlsearch"
	"github.com/mlship/mlship/internal/store"

	"github.com/mlship/mlship/internal/search"
)

// LoggedModelOrder is one key of a logged-model search's order_by, an object on the wire.
// A metric key may be restricted to the values logged against a dataset.
type LoggedModelOrder struct {
	FieldName     string
	Ascending     bool
	DatasetName   string
	DatasetDigest string
}

// SearchLoggedModelsQuery is a logged-models/search request.
type SearchLoggedModelsQuery struct {
	ExperimentIDs []string
	Filter        string
	OrderBy       []LoggedModelOrder
	MaxResults    int // 1 to MaxSearchLoggedModels
	PageToken     string
	// Datasets, when given, keeps the models with a metric logged against one of them,
	// and restricts the filter's metrics.* comparisons to such metrics.
	Datasets []DatasetFilter
}

// DatasetFilter names a dataset of a logged-model search: by name alone, any digest of it.
type DatasetFilter struct {
	Name   string
	Digest string // "" matches any digest
}

// MaxSearchDatasets caps the datasets of one logged-model search.
const MaxSearchDatasets = 100

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

// latestModelMetric is a model's newest value of a metric, for ordering, newest as MLflow
// has it: by timestamp, then step, then run. Its arguments are the metric's name, then
// those of onDataset, a condition on the row x that starts with AND (or is empty).
func latestModelMetric(onDataset string) string {
	return `(SELECT x.value FROM logged_model_metrics x WHERE x.model_id = m.model_id AND x.key = ?` + onDataset + `
	ORDER BY x.timestamp DESC, x.step DESC, x.run_uuid ASC LIMIT 1)`
}

// orderDataset is the condition an order_by key puts on the metric rows it orders by.
func orderDataset(o LoggedModelOrder) (string, []any) {
	var cond string
	var args []any
	if o.DatasetName != "" {
		cond, args = cond+" AND x.dataset_name = ?", append(args, o.DatasetName)
	}
	if o.DatasetDigest != "" {
		cond, args = cond+" AND x.dataset_digest = ?", append(args, o.DatasetDigest)
	}
	return cond, args
}

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
	onDatasets, datasetArgs, err := datasetsCondition(sq.Datasets)
	if err != nil {
		return nil, "", err
	}
	metricFiltered := false
	for _, c := range p.filter {
		cond, args := loggedModelCondition(c, onDatasets, datasetArgs)
		q.Add(cond, args)
		metricFiltered = metricFiltered || c.Entity == search.Metric
	}
	if onDatasets != "" && !metricFiltered { // as MLflow: some metric on one of the datasets
		q.Add("EXISTS (SELECT 1 FROM logged_model_metrics x WHERE x.model_id = m.model_id AND "+onDatasets+")", datasetArgs)
	}
	for i, o := range p.orders {
		desc := !sq.OrderBy[i].Ascending
		if o.Entity == search.Metric {
			onDataset, args := orderDataset(sq.OrderBy[i])
			q.Order = append(q.Order, sqlsearch.OrderTerm(latestModelMetric(onDataset), desc, ""))
			termArgs := append([]any{o.Key}, args...)
			q.OrderArgs = append(q.OrderArgs, termArgs...)
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

// datasetsCondition renders the datasets of a search as a condition on a metric row x:
// "" when there are none.
func datasetsCondition(datasets []DatasetFilter) (string, []any, error) {
	if len(datasets) > MaxSearchDatasets {
		return "", nil, fault.Invalidf("a search names at most %d datasets, not %d", MaxSearchDatasets, len(datasets))
	}
	var terms []string
	var args []any
	for _, d := range datasets {
		if d.Name == "" {
			return "", nil, fault.Invalidf("`dataset_name` in the `datasets` clause must be specified.")
		}
		if d.Digest == "" {
			terms, args = append(terms, "x.dataset_name = ?"), append(args, d.Name)
			continue
		}
		terms, args = append(terms, "(x.dataset_name = ? AND x.dataset_digest = ?)"), append(args, d.Name, d.Digest)
	}
	if len(terms) == 0 {
		return "", nil, nil
	}
	return "(" + strings.Join(terms, " OR ") + ")", args, nil
}

// loggedModelCondition renders one comparison of a filter; a metric's is restricted to
// the rows onDatasets keeps, when there is such a condition.
func loggedModelCondition(c search.Comparison, onDatasets string, datasetArgs []any) (string, []any) {
	switch c.Entity {
	case search.Metric:
		cmp, args := sqlsearch.Compare("x.value", c)
		cond, all := "x.key = ? AND x.is_nan = 0 AND "+cmp, append([]any{c.Key}, args...)
		if onDatasets != "" {
			cond, all = cond+" AND "+onDatasets, append(all, datasetArgs...)
		}
		return "EXISTS (SELECT 1 FROM logged_model_metrics x WHERE x.model_id = m.model_id AND " + cond + ")", all
	case search.Param:
		return sqlsearch.KeyedExists("logged_model_params", "x.model_id = m.model_id", c)
	case search.Tag:
		return sqlsearch.KeyedExists("logged_model_tags", "x.model_id = m.model_id", c)
	}
	return sqlsearch.Compare(loggedModelAttrColumns[c.Key], c)
}
