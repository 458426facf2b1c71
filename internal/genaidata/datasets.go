package genaidata

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/search"
	"github.com/mlship/mlship/internal/search/sqlsearch"
	"github.com/mlship/mlship/internal/store"
)

// Dataset is an evaluation dataset without its records.
type Dataset struct {
	ID             string
	Name           string
	Digest         string
	Schema         string // JSON, "" until records are added
	Profile        string // JSON, "" while the dataset has no records
	CreatedTime    int64
	LastUpdateTime int64
	CreatedBy      string
	LastUpdatedBy  string
	Tags           map[string]string
	ExperimentIDs  []string
}

// Tags holds tag values as the client sent them: strings, numbers or booleans (kept as
// their JSON text) or null (no tag: on an update, the tag is removed).
type Tags map[string]*string

// ParseTags reads a JSON object of tags, as MLflow's requests carry them in a string.
func ParseTags(text string) (Tags, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	var raw map[string]json.RawMessage
	if err := decodeJSON([]byte(text), &raw); err != nil {
		return nil, fault.Invalidf("Invalid tags: expected a JSON object of tag names to values: %v", err)
	}
	if len(raw) > MaxTagsPerRequest {
		return nil, fault.Invalidf("At most %d tags may be set at once; got %d", MaxTagsPerRequest, len(raw))
	}
	out := make(Tags, len(raw))
	for k, v := range raw {
		val, err := tagValue(k, v)
		if err != nil {
			return nil, err
		}
		out[k] = val
	}
	return out, nil
}

func tagValue(key string, v json.RawMessage) (*string, error) {
	if key == "" || len(key) > MaxTagKeyLength {
		return nil, fault.Invalidf("Invalid tag key '%s': a key is 1 to %d characters long", clip(key), MaxTagKeyLength)
	}
	var val string
	switch {
	case string(v) == "null":
		return nil, nil
	case json.Unmarshal(v, &val) == nil:
	case v[0] == '{' || v[0] == '[':
		return nil, fault.Invalidf("Invalid value of tag '%s': expected a string, a number or a boolean", clip(key))
	default:
		val = string(v)
	}
	if len(val) > MaxTagValueLength {
		return nil, fault.Invalidf("The value of tag '%s' is %d characters long; at most %d are allowed", clip(key), len(val), MaxTagValueLength)
	}
	return &val, nil
}

// CreateDataset creates an evaluation dataset in the experiments given.
func (s *Service) CreateDataset(ctx context.Context, name string, tags Tags, experimentIDs []string) (*Dataset, error) {
	if strings.TrimSpace(name) == "" {
		return nil, fault.Missing("name")
	}
	if len(name) > MaxNameLength {
		return nil, fault.Invalidf("A dataset name is at most %d characters long; got %d", MaxNameLength, len(name))
	}
	exps, err := s.activeExperiments(ctx, experimentIDs)
	if err != nil {
		return nil, err
	}
	now := s.nowMillis()
	d := Dataset{ID: newID("d-"), Name: name, Digest: digest(name, now), CreatedTime: now, LastUpdateTime: now}
	if u := tags[userTag]; u != nil {
		d.CreatedBy, d.LastUpdatedBy = *u, *u
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO genai_datasets (dataset_id, name, digest, created_time, last_update_time,
			created_by, last_updated_by) VALUES (?, ?, ?, ?, ?, ?, ?)`, d.ID, d.Name, d.Digest, now, now,
			nullable(d.CreatedBy), nullable(d.LastUpdatedBy)); err != nil {
			return err
		}
		if err := setTags(ctx, tx, d.ID, tags); err != nil {
			return err
		}
		return addExperiments(ctx, tx, d.ID, exps)
	})
	if err != nil {
		return nil, err
	}
	return s.GetDataset(ctx, d.ID)
}

func setTags(ctx context.Context, tx *store.Tx, id string, tags Tags) error {
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		var err error
		if v := tags[k]; v == nil {
			_, err = tx.ExecContext(ctx, `DELETE FROM genai_dataset_tags WHERE dataset_id = ? AND key = ?`, id, k)
		} else {
			_, err = tx.ExecContext(ctx, `INSERT INTO genai_dataset_tags (dataset_id, key, value) VALUES (?, ?, ?)
				ON CONFLICT (dataset_id, key) DO UPDATE SET value = excluded.value`, id, k, *v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func addExperiments(ctx context.Context, tx *store.Tx, id string, exps []int64) error {
	for _, e := range exps {
		if _, err := tx.ExecContext(ctx, `INSERT INTO genai_dataset_experiments (dataset_id, experiment_id) VALUES (?, ?)
			ON CONFLICT (dataset_id, experiment_id) DO NOTHING`, id, e); err != nil {
			return err
		}
	}
	return nil
}

const datasetColumns = `dataset_id, name, digest, schema_json, profile_json, created_time, last_update_time, created_by, last_updated_by`

func scanDataset(row interface{ Scan(...any) error }) (*Dataset, error) {
	var d Dataset
	var schema, profile, createdBy, updatedBy sql.NullString
	if err := row.Scan(&d.ID, &d.Name, &d.Digest, &schema, &profile, &d.CreatedTime, &d.LastUpdateTime, &createdBy, &updatedBy); err != nil {
		return nil, err
	}
	d.Schema, d.Profile, d.CreatedBy, d.LastUpdatedBy = schema.String, profile.String, createdBy.String, updatedBy.String
	return &d, nil
}

func datasetNotFound(id string) error {
	return fault.NotFoundf("Evaluation dataset with id '%s' not found", clip(id))
}

// GetDataset returns a dataset with its tags and experiments.
func (s *Service) GetDataset(ctx context.Context, id string) (*Dataset, error) {
	q := s.db.Reader()
	d, err := scanDataset(q.QueryRowContext(ctx, `SELECT `+datasetColumns+` FROM genai_datasets WHERE dataset_id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, datasetNotFound(id)
	}
	if err != nil {
		return nil, err
	}
	if err := s.fill(ctx, []*Dataset{d}); err != nil {
		return nil, err
	}
	return d, nil
}

// fill reads the tags and experiments of ds.
func (s *Service) fill(ctx context.Context, ds []*Dataset) error {
	if len(ds) == 0 {
		return nil
	}
	byID := make(map[string]*Dataset, len(ds))
	args := make([]any, len(ds))
	for i, d := range ds {
		d.Tags, d.ExperimentIDs = map[string]string{}, []string{}
		byID[d.ID], args[i] = d, d.ID
	}
	in := store.Placeholders(len(ds))
	q := s.db.Reader()
	err := store.ScanEach(ctx, q, `SELECT dataset_id, key, value FROM genai_dataset_tags WHERE dataset_id IN (`+in+`)`, args,
		func(r *sql.Rows) error {
			var id, k, v string
			if err := r.Scan(&id, &k, &v); err != nil {
				return err
			}
			byID[id].Tags[k] = v
			return nil
		})
	if err != nil {
		return err
	}
	return store.ScanEach(ctx, q, `SELECT dataset_id, experiment_id FROM genai_dataset_experiments WHERE dataset_id IN (`+in+`)
		ORDER BY dataset_id, experiment_id`, args, func(r *sql.Rows) error {
		var id string
		var e int64
		if err := r.Scan(&id, &e); err != nil {
			return err
		}
		byID[id].ExperimentIDs = append(byID[id].ExperimentIDs, strconv.FormatInt(e, 10))
		return nil
	})
}

// ExperimentsOf returns the experiments a dataset belongs to.
func (s *Service) ExperimentsOf(ctx context.Context, id string) ([]string, error) {
	d, err := s.GetDataset(ctx, id)
	if err != nil {
		return nil, err
	}
	return d.ExperimentIDs, nil
}

// DeleteDataset deletes a dataset with its records. Deleting one that does not exist
// does nothing, as in MLflow.
func (s *Service) DeleteDataset(ctx context.Context, id string) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM genai_datasets WHERE dataset_id = ?`, id)
		return err
	})
}

// SetTags sets a dataset's tags; a null value removes its tag.
func (s *Service) SetTags(ctx context.Context, id string, tags Tags) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		if err := lockDataset(ctx, tx, id); err != nil {
			return err
		}
		return setTags(ctx, tx, id, tags)
	})
}

// DeleteTag removes a dataset's tag; removing one it does not have does nothing.
func (s *Service) DeleteTag(ctx context.Context, id, key string) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		if err := lockDataset(ctx, tx, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM genai_dataset_tags WHERE dataset_id = ? AND key = ?`, id, key)
		return err
	})
}

func lockDataset(ctx context.Context, tx *store.Tx, id string) error {
	var got string
	err := tx.QueryRowContext(ctx, `SELECT dataset_id FROM genai_datasets WHERE dataset_id = ?`+tx.Dialect().ForUpdate("genai_datasets"), id).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return datasetNotFound(id)
	}
	return err
}

// AddExperiments associates a dataset with more experiments.
func (s *Service) AddExperiments(ctx context.Context, id string, experimentIDs []string) (*Dataset, error) {
	exps, err := s.activeExperiments(ctx, experimentIDs)
	if err != nil {
		return nil, err
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if err := lockDataset(ctx, tx, id); err != nil {
			return err
		}
		return addExperiments(ctx, tx, id, exps)
	})
	if err != nil {
		return nil, err
	}
	return s.GetDataset(ctx, id)
}

// RemoveExperiments dissociates a dataset from experiments.
func (s *Service) RemoveExperiments(ctx context.Context, id string, experimentIDs []string) (*Dataset, error) {
	if len(experimentIDs) > MaxExperiments {
		return nil, fault.Invalidf("At most %d experiments may be given at once; got %d", MaxExperiments, len(experimentIDs))
	}
	nums := make([]int64, 0, len(experimentIDs))
	for _, e := range experimentIDs {
		n, err := strconv.ParseInt(e, 10, 64)
		if err != nil {
			return nil, fault.Invalidf("Invalid experiment ID: '%s'. Experiment IDs are integers.", clip(e))
		}
		nums = append(nums, n)
	}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := lockDataset(ctx, tx, id); err != nil {
			return err
		}
		for _, n := range nums {
			if _, err := tx.ExecContext(ctx, `DELETE FROM genai_dataset_experiments WHERE dataset_id = ? AND experiment_id = ?`, id, n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.GetDataset(ctx, id)
}

// SearchQuery is a search of datasets.
type SearchQuery struct {
	ExperimentIDs []string // datasets in any of these; none: every dataset
	// Visible, when set, limits the search to datasets of these experiments (Only) or
	// of none of these (not Only), for a caller who may not read every experiment.
	Visible    *sqlsearch.Restriction
	Filter     string
	OrderBy    []string
	MaxResults int
	PageToken  string
}

// Search returns a page of datasets and the token of the next page ("" at the end).
func (s *Service) Search(ctx context.Context, sq SearchQuery) ([]*Dataset, string, error) {
	if sq.MaxResults <= 0 {
		sq.MaxResults = MaxSearchResults
	}
	if sq.MaxResults > MaxSearchResults {
		return nil, "", fault.Invalidf("Invalid value %d for parameter 'max_results': at most %d", sq.MaxResults, MaxSearchResults)
	}
	offset, err := search.DecodePageToken(sq.PageToken)
	if err != nil {
		return nil, "", err
	}
	var q sqlsearch.Query
	if err := whereDatasets(&q, sq); err != nil {
		return nil, "", err
	}
	if err := orderDatasets(&q, sq.OrderBy); err != nil {
		return nil, "", err
	}
	text, args := q.Build(`SELECT `+datasetColumns+` FROM genai_datasets d`, sq.MaxResults+1, offset)
	var out []*Dataset
	err = store.ScanEach(ctx, s.db.Reader(), text, args, func(r *sql.Rows) error {
		d, err := scanDataset(r)
		out = append(out, d)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > sq.MaxResults {
		out, next = out[:sq.MaxResults], search.EncodePageToken(offset+sq.MaxResults)
	}
	return out, next, s.fill(ctx, out)
}

func whereDatasets(q *sqlsearch.Query, sq SearchQuery) error {
	if len(sq.ExperimentIDs) > 0 {
		args := make([]any, 0, len(sq.ExperimentIDs))
		for _, e := range sq.ExperimentIDs {
			n, err := strconv.ParseInt(e, 10, 64)
			if err != nil {
				return fault.Invalidf("Invalid experiment ID: '%s'. Experiment IDs are integers.", clip(e))
			}
			args = append(args, n)
		}
		q.Add(`EXISTS (SELECT 1 FROM genai_dataset_experiments x WHERE x.dataset_id = d.dataset_id AND x.experiment_id IN (`+
			store.Placeholders(len(args))+`))`, args)
	}
	if v := sq.Visible; v != nil {
		restrictVisible(q, v)
	}
	cmps, err := search.ParseFilter(sq.Filter, search.EvaluationDatasets)
	if err != nil {
		return err
	}
	for _, c := range cmps {
		if c.Entity == search.Tag {
			q.Add(sqlsearch.KeyedExists("genai_dataset_tags", "x.dataset_id = d.dataset_id", c))
			continue
		}
		q.Add(sqlsearch.Compare("d."+c.Key, c))
	}
	return nil
}

func orderDatasets(q *sqlsearch.Query, orderBy []string) error {
	if len(orderBy) == 0 {
		orderBy = []string{"created_time DESC"}
	}
	keys, err := search.ParseOrderBy(orderBy, search.EvaluationDatasets)
	if err != nil {
		return err
	}
	for _, k := range keys {
		q.Order = append(q.Order, sqlsearch.OrderTerm("d."+k.Key, k.Desc, ""))
	}
	q.Order = append(q.Order, "d.dataset_id DESC")
	return nil
}

// restrictVisible keeps the datasets whose every experiment the caller may read (and
// that belong to one): reading a dataset needs READ on each of its experiments.
func restrictVisible(q *sqlsearch.Query, v *sqlsearch.Restriction) {
	const some = `EXISTS (SELECT 1 FROM genai_dataset_experiments x WHERE x.dataset_id = d.dataset_id)`
	args := make([]any, 0, len(v.IDs))
	for _, id := range v.IDs {
		if n, err := strconv.ParseInt(id, 10, 64); err == nil {
			args = append(args, n)
		}
	}
	switch {
	case v.Only && len(args) == 0:
		q.Cond("1 = 0")
	case v.Only:
		q.Add(some+` AND NOT EXISTS (SELECT 1 FROM genai_dataset_experiments x WHERE x.dataset_id = d.dataset_id
			AND x.experiment_id NOT IN (`+store.Placeholders(len(args))+`))`, args)
	case len(args) > 0:
		q.Add(some+` AND NOT EXISTS (SELECT 1 FROM genai_dataset_experiments x WHERE x.dataset_id = d.dataset_id
			AND x.experiment_id IN (`+store.Placeholders(len(args))+`))`, args)
	default:
		q.Cond(some)
	}
}
