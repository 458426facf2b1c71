package registry

import (
	"context"
	"database/sql"
	"github.com/mlship/mlship/internal/search/sqlsearch"
	"github.com/mlship/mlship/internal/store"
	"slices"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/search"
)

// SearchQuery is a registered-models/search or model-versions/search request.
type SearchQuery struct {
	Filter     string
	MaxResults int
	OrderBy    []string
	PageToken  string
	// Visible limits the search to the registered models (by name) a caller may read.
	Visible *sqlsearch.Restriction
}

var (
	modelOrderColumns   = map[string]string{"name": "m.name", "last_updated_timestamp": "m.last_updated_time"}
	versionAttrColumns  = map[string]string{"name": "m.name", "run_id": "v.run_id", "source_path": "v.source", "version_number": "v.version"}
	versionOrderColumns = map[string]string{"name": "m.name", "version_number": "v.version",
		"creation_timestamp": "v.creation_time", "last_updated_timestamp": "v.last_updated_time"}
)

// defaultVersionOrder is MLflow's order of a version search that gives none.
var defaultVersionOrder = []search.OrderBy{{Entity: search.Attribute, Key: "last_updated_timestamp", Desc: true}}

// SearchRegisteredModels returns a page of registered models matching the query, by name
// unless ordered otherwise, and the token of the next page. Prompts are left out unless
// the filter asks for them.
func (s *Service) SearchRegisteredModels(ctx context.Context, sq SearchQuery) ([]*RegisteredModel, string, error) {
	p, err := parseSearch(search.RegisteredModels, sq, MaxSearchModels)
	if err != nil {
		return nil, "", err
	}
	var q sqlsearch.Query
	q.Restrict("m.name", sq.Visible)
	for _, c := range p.filter {
		if c.Entity == search.Attribute {
			q.Add(sqlsearch.Compare("m.name", c))
		}
	}
	tagConditions(&q, p.filter, "registered_model_tags", "x.rm_id = m.id", "x.rm_id = m.id")
	q.Order = orderTerms(p.orders, modelOrderColumns, "name", "m.name ASC")
	text, args := q.Build("SELECT "+modelColumns+" FROM registered_models m", p.limit+1, p.offset)
	var models []*RegisteredModel
	err = store.ScanEach(ctx, s.reader(), text, args, func(rows *sql.Rows) error {
		m, err := scanModel(rows)
		models = append(models, m)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	models, next := page(models, p)
	return models, next, fillModels(ctx, s.reader(), models)
}

// SearchModelVersions returns a page of versions matching the query, and the token of
// the next page. Without an order, the most recently updated come first; name ASC and
// version DESC break ties. Versions of prompts are left out unless the filter asks for
// them.
func (s *Service) SearchModelVersions(ctx context.Context, sq SearchQuery) ([]*ModelVersion, string, error) {
	p, err := parseSearch(search.ModelVersions, sq, MaxSearchVersions)
	if err != nil {
		return nil, "", err
	}
	var q sqlsearch.Query
	q.Restrict("m.name", sq.Visible)
	for _, c := range p.filter {
		if c.Entity == search.Attribute {
			q.Add(sqlsearch.Compare(versionAttrColumns[c.Key], c))
		}
	}
	tagConditions(&q, p.filter, "model_version_tags", "x.rm_id = v.rm_id AND x.version = v.version", "x.rm_id = v.rm_id")
	orders := p.orders
	if len(orders) == 0 {
		orders = defaultVersionOrder
	}
	q.Order = orderTerms(orders, versionOrderColumns, "name", "m.name ASC")
	if !hasOrder(orders, "version_number") {
		q.Order = append(q.Order, "v.version DESC")
	}
	text, args := q.Build("SELECT "+versionColumns+versionsFrom, p.limit+1, p.offset)
	var versions []*ModelVersion
	err = store.ScanEach(ctx, s.reader(), text, args, func(rows *sql.Rows) error {
		v, err := scanVersion(rows)
		versions = append(versions, v)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	versions, next := page(versions, p)
	return versions, next, fillVersions(ctx, s.reader(), versions)
}

// parsedSearch is a search request's parsed parts.
type parsedSearch struct {
	filter        []search.Comparison
	orders        []search.OrderBy
	limit, offset int
}

func parseSearch(schema *search.Schema, sq SearchQuery, max int) (parsedSearch, error) {
	var p parsedSearch
	var err error
	switch {
	case sq.MaxResults < 1:
		return p, fault.Invalidf("Invalid value for max_results. It must be a positive integer, but got %d", sq.MaxResults)
	case sq.MaxResults > max:
		return p, fault.Invalidf("Invalid value for request parameter max_results. It must be at most %d, but got value %d", max, sq.MaxResults)
	}
	p.limit = sq.MaxResults
	if p.filter, err = search.ParseFilter(sq.Filter, schema); err != nil {
		return p, err
	}
	if p.orders, err = search.ParseOrderBy(sq.OrderBy, schema); err != nil {
		return p, err
	}
	p.offset, err = search.DecodePageToken(sq.PageToken)
	return p, err
}

// orderTerms renders the ordering, then tiebreak unless the order has key already.
func orderTerms(orders []search.OrderBy, cols map[string]string, key, tiebreak string) []string {
	terms := make([]string, 0, len(orders)+2)
	for _, o := range orders {
		terms = append(terms, sqlsearch.OrderTerm(cols[o.Key], o.Desc, ""))
	}
	if !hasOrder(orders, key) {
		terms = append(terms, tiebreak)
	}
	return terms
}

func hasOrder(orders []search.OrderBy, key string) bool {
	return slices.ContainsFunc(orders, func(o search.OrderBy) bool { return o.Key == key })
}

// page cuts a result fetched with one row more than the page size, and returns the
// token of the next page when there is one.
func page[T any](rows []T, p parsedSearch) ([]T, string) {
	if len(rows) <= p.limit {
		return rows, ""
	}
	return rows[:p.limit], search.EncodePageToken(p.offset + p.limit)
}
