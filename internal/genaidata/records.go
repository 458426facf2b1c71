package genaidata

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// Record is one record of a dataset, its JSON documents as stored.
type Record struct {
	ID             string
	DatasetID      string
	Inputs         json.RawMessage
	Outputs        json.RawMessage // nil: none
	Expectations   json.RawMessage // nil: none
	Tags           json.RawMessage // nil: none
	Source         json.RawMessage // nil: none
	SourceID       string
	SourceType     string
	CreatedTime    int64
	LastUpdateTime int64
	CreatedBy      string
	LastUpdatedBy  string
}

// RecordInput is a record to merge, checked by ParseRecords.
type RecordInput struct {
	inputs       map[string]any
	hash         string
	outputs      any
	hasOutputs   bool
	expectations map[string]any
	tags         map[string]any
	source       map[string]any
	sourceID     string
	sourceType   string
	user         string
}

// sourceTypes are MLflow's DatasetRecordSourceType values.
var sourceTypes = map[string]bool{"TRACE": true, "HUMAN": true, "DOCUMENT": true, "CODE": true, "UNSPECIFIED": true}

// ParseRecords reads the records of an upsert: a JSON list of objects with inputs and,
// optionally, outputs, expectations, tags and source. Any record that breaks a rule
// refuses the whole request.
func ParseRecords(text string) ([]RecordInput, error) {
	var raw []json.RawMessage
	if err := decodeJSON([]byte(text), &raw); err != nil {
		return nil, fault.Invalidf("Invalid records: expected a JSON list of records: %v", err)
	}
	if len(raw) > MaxRecordsPerUpsert {
		return nil, fault.Invalidf("At most %d records may be merged at once; got %d", MaxRecordsPerUpsert, len(raw))
	}
	out := make([]RecordInput, 0, len(raw))
	for i, r := range raw {
		rec, err := parseRecord(r)
		if err != nil {
			return nil, fault.Invalidf("Invalid record %d: %s", i, fault.Message(err))
		}
		out = append(out, rec)
	}
	return out, nil
}

func parseRecord(b json.RawMessage) (RecordInput, error) {
	var rec RecordInput
	if len(b) > MaxRecordBytes {
		return rec, fault.Invalidf("a record is at most %d bytes of JSON; this one is %d", MaxRecordBytes, len(b))
	}
	var m map[string]json.RawMessage
	if err := decodeJSON(b, &m); err != nil {
		return rec, fault.Invalidf("expected an object")
	}
	var err error
	if rec.inputs, err = object(m, "inputs", true); err != nil {
		return rec, err
	}
	if rec.expectations, err = object(m, "expectations", false); err != nil {
		return rec, err
	}
	if rec.tags, err = object(m, "tags", false); err != nil {
		return rec, err
	}
	if o, ok := m["outputs"]; ok {
		rec.hasOutputs = true
		if err := decodeJSON(o, &rec.outputs); err != nil {
			return rec, fault.Invalidf("'outputs' is not valid JSON")
		}
	}
	if err := rec.parseSource(m); err != nil {
		return rec, err
	}
	if u, ok := rec.tags[userTag].(string); ok {
		rec.user = u
	}
	sum := sha256.Sum256([]byte(canonical(rec.inputs)))
	rec.hash = hex.EncodeToString(sum[:])
	return rec, nil
}

// object reads field of m as a JSON object; a missing or null one is nil.
func object(m map[string]json.RawMessage, field string, required bool) (map[string]any, error) {
	b, ok := m[field]
	if !ok || string(b) == "null" {
		if required {
			return nil, fault.Invalidf("every record must have '%s', an object", field)
		}
		return nil, nil
	}
	var out map[string]any
	if err := decodeJSON(b, &out); err != nil {
		return nil, fault.Invalidf("'%s' must be a JSON object", field)
	}
	if out == nil && required {
		out = map[string]any{}
	}
	return out, nil
}

// parseSource reads a record's source: {"source_type": ..., "source_data": {...}}. A
// trace's id names its source, as other sources' source_id does.
func (rec *RecordInput) parseSource(m map[string]json.RawMessage) error {
	src, err := object(m, "source", false)
	if err != nil || src == nil {
		return err
	}
	t, _ := src["source_type"].(string)
	t = strings.ToUpper(t)
	if !sourceTypes[t] {
		return fault.Invalidf("'source.source_type' must be one of TRACE, HUMAN, DOCUMENT, CODE; got %q", clip(fmt.Sprint(src["source_type"])))
	}
	data := map[string]any{}
	if d, ok := src["source_data"]; ok && d != nil {
		if data, ok = d.(map[string]any); !ok {
			return fault.Invalidf("'source.source_data' must be a JSON object")
		}
	}
	for k := range src {
		if k != "source_type" && k != "source_data" {
			return fault.Invalidf("'source' holds an unknown field %q", clip(k))
		}
	}
	rec.source = map[string]any{"source_type": t, "source_data": data}
	rec.sourceType = t
	idKey := "source_id"
	if t == "TRACE" {
		idKey = "trace_id"
	}
	if id, ok := data[idKey].(string); ok {
		rec.sourceID = id
	}
	return nil
}

// UpsertRecords merges records into a dataset: a record whose inputs are already there
// updates it (expectations and tags merged, outputs replaced when given), any other is
// added. It returns how many were added and how many updated.
func (s *Service) UpsertRecords(ctx context.Context, datasetID string, records []RecordInput) (inserted, updated int, err error) {
	now := s.nowMillis()
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		inserted, updated = 0, 0
		var name, schema sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT name, schema_json FROM genai_datasets WHERE dataset_id = ?`+
			tx.Dialect().ForUpdate("genai_datasets"), datasetID).Scan(&name, &schema)
		if errors.Is(err, sql.ErrNoRows) {
			return datasetNotFound(datasetID)
		}
		if err != nil {
			return err
		}
		user := ""
		for i := range records {
			added, err := upsertRecord(ctx, tx, datasetID, &records[i], now)
			if err != nil {
				return err
			}
			if added {
				inserted++
			} else {
				updated++
			}
			if records[i].user != "" {
				user = records[i].user
			}
		}
		return updateDataset(ctx, tx, datasetID, name.String, schema.String, records, user, now)
	})
	return inserted, updated, err
}

func upsertRecord(ctx context.Context, tx *store.Tx, datasetID string, rec *RecordInput, now int64) (bool, error) {
	var id string
	var outputs, expectations, tags sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT dataset_record_id, outputs, expectations, tags FROM genai_dataset_records
		WHERE dataset_id = ? AND input_hash = ?`, datasetID, rec.hash).Scan(&id, &outputs, &expectations, &tags)
	if errors.Is(err, sql.ErrNoRows) {
		return true, insertRecord(ctx, tx, datasetID, rec, now)
	}
	if err != nil {
		return false, err
	}
	if rec.hasOutputs {
		outputs = jsonColumn(rec.outputs)
	}
	if len(rec.expectations) > 0 {
		expectations = mergeObjects(expectations, rec.expectations)
	}
	if len(rec.tags) > 0 {
		tags = mergeObjects(tags, rec.tags)
	}
	_, err = tx.ExecContext(ctx, `UPDATE genai_dataset_records SET outputs = ?, expectations = ?, tags = ?, last_update_time = ?,
		last_updated_by = COALESCE(?, last_updated_by) WHERE dataset_record_id = ?`,
		outputs, expectations, tags, now, nullable(rec.user), id)
	return false, err
}

func insertRecord(ctx context.Context, tx *store.Tx, datasetID string, rec *RecordInput, now int64) error {
	outputs := sql.NullString{String: "{}", Valid: true} // MLflow's default when none are given
	if rec.hasOutputs {
		outputs = jsonColumn(rec.outputs)
	}
	var source sql.NullString
	if rec.source != nil {
		source = jsonColumn(rec.source)
	}
	expectations, tags := sql.NullString{}, sql.NullString{}
	if rec.expectations != nil {
		expectations = jsonColumn(rec.expectations)
	}
	if rec.tags != nil {
		tags = jsonColumn(rec.tags)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO genai_dataset_records (dataset_record_id, dataset_id, input_hash, inputs, outputs,
		expectations, tags, source, source_id, source_type, created_time, last_update_time, created_by, last_updated_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		newID("dr-"), datasetID, rec.hash, canonical(rec.inputs), outputs, expectations, tags, source,
		nullable(rec.sourceID), nullable(rec.sourceType), now, now, nullable(rec.user), nullable(rec.user))
	return err
}

func jsonColumn(v any) sql.NullString {
	if v == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: canonical(v), Valid: true}
}

// mergeObjects sets the keys of add on the stored object old.
func mergeObjects(old sql.NullString, add map[string]any) sql.NullString {
	m := map[string]any{}
	if old.Valid {
		_ = decodeJSON([]byte(old.String), &m) // stored by this package: always an object
		if m == nil {
			m = map[string]any{}
		}
	}
	for k, v := range add {
		m[k] = v
	}
	return jsonColumn(m)
}

// updateDataset records a merge on its dataset: a new digest and update time, the
// fields the records brought to its schema, and its count of records.
func updateDataset(ctx context.Context, tx *store.Tx, id, name, schemaText string, records []RecordInput, user string, now int64) error {
	var n int64
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM genai_dataset_records WHERE dataset_id = ?`, id).Scan(&n); err != nil {
		return err
	}
	var profile any
	if n > 0 {
		profile = canonical(map[string]any{"num_records": n})
	}
	_, err := tx.ExecContext(ctx, `UPDATE genai_datasets SET digest = ?, last_update_time = ?, last_updated_by = ?, schema_json = ?,
		profile_json = ? WHERE dataset_id = ?`, digest(name, now), now, nullable(user), mergeSchema(schemaText, records), profile, id)
	return err
}

// mergeSchema adds the fields of records to a dataset's schema, typed as MLflow types them.
func mergeSchema(text string, records []RecordInput) any {
	if len(records) == 0 && text == "" {
		return nil
	}
	schema := map[string]any{"inputs": map[string]any{}, "outputs": map[string]any{}, "expectations": map[string]any{}, "version": "1.0"}
	if text != "" {
		_ = decodeJSON([]byte(text), &schema)
	}
	section := func(k string) map[string]any {
		m, ok := schema[k].(map[string]any)
		if !ok {
			m = map[string]any{}
			schema[k] = m
		}
		return m
	}
	for _, r := range records {
		addFields(section("inputs"), r.inputs)
		addFields(section("expectations"), r.expectations)
		if o, ok := r.outputs.(map[string]any); ok {
			addFields(section("outputs"), o)
		} else if r.outputs != nil && len(section("outputs")) == 0 {
			schema["outputs"] = fieldType(r.outputs)
		}
	}
	return canonical(schema)
}

func addFields(into, from map[string]any) {
	for k, v := range from {
		if _, ok := into[k]; !ok {
			into[k] = fieldType(v)
		}
	}
}

func fieldType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		if _, err := x.Int64(); err == nil && !strings.ContainsAny(x.String(), ".eE") {
			return "integer"
		}
		return "float"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

// DeleteRecords deletes records of a dataset and returns how many it deleted.
func (s *Service) DeleteRecords(ctx context.Context, datasetID string, ids []string) (int, error) {
	if len(ids) > MaxRecordsPerUpsert {
		return 0, fault.Invalidf("At most %d records may be deleted at once; got %d", MaxRecordsPerUpsert, len(ids))
	}
	var deleted int
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		deleted = 0
		if err := lockDataset(ctx, tx, datasetID); err != nil {
			return err
		}
		for _, id := range ids {
			res, err := tx.ExecContext(ctx, `DELETE FROM genai_dataset_records WHERE dataset_id = ? AND dataset_record_id = ?`, datasetID, id)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			deleted += int(n)
		}
		if deleted == 0 {
			return nil
		}
		var n int64
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM genai_dataset_records WHERE dataset_id = ?`, datasetID).Scan(&n); err != nil {
			return err
		}
		var profile any
		if n > 0 {
			profile = canonical(map[string]any{"num_records": n})
		}
		_, err := tx.ExecContext(ctx, `UPDATE genai_datasets SET profile_json = ? WHERE dataset_id = ?`, profile, datasetID)
		return err
	})
	return deleted, err
}

// Records returns a page of a dataset's records in the order they were added, and the
// token of the next page ("" at the end).
func (s *Service) Records(ctx context.Context, datasetID string, maxResults int, pageToken string) ([]Record, string, error) {
	if maxResults <= 0 {
		maxResults = DefaultRecordsPage
	}
	if maxResults > MaxRecordsPage {
		return nil, "", fault.Invalidf("Invalid value %d for parameter 'max_results': at most %d", maxResults, MaxRecordsPage)
	}
	if _, err := s.GetDataset(ctx, datasetID); err != nil {
		return nil, "", err
	}
	q := `SELECT dataset_record_id, inputs, outputs, expectations, tags, source, source_id, source_type, created_time,
		last_update_time, created_by, last_updated_by FROM genai_dataset_records WHERE dataset_id = ?`
	args := []any{datasetID}
	if pageToken != "" {
		after, id, err := decodeCursor(pageToken)
		if err != nil {
			return nil, "", err
		}
		q += ` AND (created_time > ? OR (created_time = ? AND dataset_record_id > ?))`
		args = append(args, after, after, id)
	}
	q += ` ORDER BY created_time, dataset_record_id LIMIT ?`
	args = append(args, maxResults+1)
	var out []Record
	err := store.ScanEach(ctx, s.db.Reader(), q, args, func(r *sql.Rows) error {
		rec, err := scanRecord(r)
		rec.DatasetID = datasetID
		out = append(out, rec)
		return err
	})
	if err != nil || len(out) <= maxResults {
		return out, "", err
	}
	out = out[:maxResults]
	last := out[len(out)-1]
	return out, base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("%d:%s", last.CreatedTime, last.ID))), nil
}

// decodeCursor reads MLflow's records page token: base64 of "created_time:record_id".
func decodeCursor(token string) (int64, string, error) {
	b, err := base64.StdEncoding.DecodeString(token)
	if err == nil {
		t, id, ok := strings.Cut(string(b), ":")
		if n, err := strconv.ParseInt(t, 10, 64); ok && err == nil {
			return n, id, nil
		}
	}
	return 0, "", fault.Invalidf("Invalid page token '%s'", clip(token))
}

func scanRecord(r *sql.Rows) (Record, error) {
	var rec Record
	var inputs string
	var outputs, expectations, tags, source, sourceID, sourceType, createdBy, updatedBy sql.NullString
	err := r.Scan(&rec.ID, &inputs, &outputs, &expectations, &tags, &source, &sourceID, &sourceType, &rec.CreatedTime,
		&rec.LastUpdateTime, &createdBy, &updatedBy)
	rec.Inputs = json.RawMessage(inputs)
	rec.Outputs, rec.Expectations, rec.Tags, rec.Source = raw(outputs), raw(expectations), raw(tags), raw(source)
	rec.SourceID, rec.SourceType, rec.CreatedBy, rec.LastUpdatedBy = sourceID.String, sourceType.String, createdBy.String, updatedBy.String
	return rec, err
}

func raw(s sql.NullString) json.RawMessage {
	if !s.Valid {
		return nil
	}
	return json.RawMessage(s.String)
}
