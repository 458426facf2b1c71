package tracking

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// Logged model statuses (MLflow's LoggedModelStatus enum, UNSPECIFIED = 0).
const (
	ModelStatusUnspecified  = "LOGGED_MODEL_STATUS_UNSPECIFIED"
	ModelStatusPending      = "LOGGED_MODEL_PENDING"
	ModelStatusReady        = "LOGGED_MODEL_READY"
	ModelStatusUploadFailed = "LOGGED_MODEL_UPLOAD_FAILED"
)

// ModelStatuses lists the statuses in enum order, starting at 0.
var ModelStatuses = []string{ModelStatusUnspecified, ModelStatusPending, ModelStatusReady, ModelStatusUploadFailed}

// LoggedModelInfo is a logged model's own attributes.
type LoggedModelInfo struct {
	ModelID                string `json:"model_id"`
	ExperimentID           string `json:"experiment_id"`
	Name                   string `json:"name"`
	CreationTimestampMs    int64  `json:"creation_timestamp_ms"`
	LastUpdatedTimestampMs int64  `json:"last_updated_timestamp_ms"`
	ArtifactURI            string `json:"artifact_uri"`
	Status                 string `json:"status"`
	ModelType              string `json:"model_type,omitempty"`
	SourceRunID            string `json:"source_run_id,omitempty"`
	StatusMessage          string `json:"status_message,omitempty"`
	Tags                   []Tag  `json:"tags,omitempty"`
}

// LoggedModelData is what was logged to a model: its params and the metrics logged
// with its id.
type LoggedModelData struct {
	Params  []Param  `json:"params,omitempty"`
	Metrics []Metric `json:"metrics,omitempty"`
}

// LoggedModel is an MLflow 3 logged model: the artifacts a run produced, before any
// registration.
type LoggedModel struct {
	Info LoggedModelInfo `json:"info"`
	Data LoggedModelData `json:"data"`
}

// ModelOutput is a model a run produced, at a step.
type ModelOutput struct {
	ModelID string `json:"model_id"`
	Step    int64  `json:"step"`
}

// CreateLoggedModelInput is what a client gives to create a logged model.
type CreateLoggedModelInput struct {
	ExperimentID string
	Name         string
	ModelType    string
	SourceRunID  string
	Params       []Param
	Tags         []Tag
}

// CreateLoggedModel creates a pending logged model in an active experiment.
func (s *Service) CreateLoggedModel(ctx context.Context, in CreateLoggedModelInput) (*LoggedModel, error) {
	expID, err := parseExperimentID(in.ExperimentID)
	if err != nil {
		return nil, err
	}
	if in.Name == "" {
		in.Name = randomRunName()
	}
	if strings.ContainsAny(in.Name, "/:.%\"'") {
		return nil, fault.Invalidf("Invalid model name '%s'. Names cannot contain any of the following characters: '/', ':', '.', '%%', '\"' and \"'\".", in.Name)
	}
	if err := s.normalizeKVs(in.Params, in.Tags); err != nil {
		return nil, err
	}
	id := "m-" + newRunID()
	store.Describe(ctx, id, "")
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		var loc string
		if err := tx.QueryRowContext(ctx, `SELECT artifact_location FROM experiments WHERE experiment_id = ?`, expID).Scan(&loc); err != nil {
			return notFound(err, "No Experiment with id=%s exists", in.ExperimentID)
		}
		if err := requireActiveExperiment(ctx, tx, expID); err != nil {
			return err
		}
		now := s.nowMillis()
		_, err := tx.ExecContext(ctx, `INSERT INTO logged_models (model_id, experiment_id, name, artifact_location,
			creation_timestamp_ms, last_updated_timestamp_ms, status, model_type, source_run_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, expID, in.Name, loc+"/models/"+id+"/artifacts",
			now, now, ModelStatusPending, nullable(in.ModelType), nullable(in.SourceRunID))
		if err != nil {
			return err
		}
		if err := upsertModelKVs(ctx, tx, "logged_model_params", id, paramsKV(in.Params)); err != nil {
			return err
		}
		return upsertModelKVs(ctx, tx, "logged_model_tags", id, tagsKV(in.Tags))
	})
	if err != nil {
		return nil, err
	}
	return s.GetLoggedModel(ctx, id)
}

func (s *Service) normalizeKVs(params []Param, tags []Tag) error {
	for i := range params {
		if err := s.normalizeParam(&params[i]); err != nil {
			return err
		}
	}
	for i := range tags {
		if err := s.normalizeTag(&tags[i]); err != nil {
			return err
		}
	}
	return nil
}

func paramsKV(ps []Param) [][2]string {
	out := make([][2]string, len(ps))
	for i, p := range ps {
		out[i] = [2]string{p.Key, p.Value}
	}
	return out
}

func tagsKV(ts []Tag) [][2]string {
	out := make([][2]string, len(ts))
	for i, t := range ts {
		out[i] = [2]string{t.Key, t.Value}
	}
	return out
}

// upsertModelKVs writes key/value rows of a logged model; a later key wins.
func upsertModelKVs(ctx context.Context, tx *store.Tx, table, id string, kvs [][2]string) error {
	for _, kv := range kvs {
		_, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (model_id, key, value) VALUES (?, ?, ?)
			ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value`, id, kv[0], kv[1])
		if err != nil {
			return err
		}
	}
	return nil
}

const loggedModelColumns = `model_id, experiment_id, name, artifact_location, creation_timestamp_ms,
	last_updated_timestamp_ms, status, COALESCE(model_type, ''), COALESCE(source_run_id, ''), COALESCE(status_message, '')`

func scanLoggedModel(row interface{ Scan(...any) error }) (*LoggedModel, error) {
	var m LoggedModel
	i := &m.Info
	var exp int64
	err := row.Scan(&i.ModelID, &exp, &i.Name, &i.ArtifactURI, &i.CreationTimestampMs, &i.LastUpdatedTimestampMs,
		&i.Status, &i.ModelType, &i.SourceRunID, &i.StatusMessage)
	i.ExperimentID = formatID(exp)
	return &m, err
}

// GetLoggedModel returns a logged model that is not deleted.
func (s *Service) GetLoggedModel(ctx context.Context, id string) (*LoggedModel, error) {
	if err := Required("model_id", id); err != nil {
		return nil, err
	}
	row := s.reader().QueryRowContext(ctx, `SELECT `+loggedModelColumns+` FROM logged_models
		WHERE model_id = ? AND lifecycle_stage = 'active'`, id)
	m, err := scanLoggedModel(row)
	if err != nil {
		return nil, notFound(err, "Logged model with ID '%s' not found.", id)
	}
	return m, s.loadLoggedModelData(ctx, []*LoggedModel{m})
}

// loadLoggedModelData fills the tags, params and metrics of models.
func (s *Service) loadLoggedModelData(ctx context.Context, models []*LoggedModel) error {
	for _, m := range models {
		id := m.Info.ModelID
		err := store.ScanEach(ctx, s.reader(), `SELECT key, value FROM logged_model_tags WHERE model_id = ? ORDER BY key`, []any{id},
			func(rows *sql.Rows) error {
				var t Tag
				err := rows.Scan(&t.Key, &t.Value)
				m.Info.Tags = append(m.Info.Tags, t)
				return err
			})
		if err != nil {
			return err
		}
		err = store.ScanEach(ctx, s.reader(), `SELECT key, value FROM logged_model_params WHERE model_id = ? ORDER BY key`, []any{id},
			func(rows *sql.Rows) error {
				var p Param
				err := rows.Scan(&p.Key, &p.Value)
				m.Data.Params = append(m.Data.Params, p)
				return err
			})
		if err != nil {
			return err
		}
		err = store.ScanEach(ctx, s.reader(), `SELECT key, value, is_nan, timestamp, step, model_id, COALESCE(dataset_name, ''),
			COALESCE(dataset_digest, ''), run_uuid FROM logged_model_metrics WHERE model_id = ?
			ORDER BY key, timestamp, step`, []any{id}, func(rows *sql.Rows) error {
			var mt Metric
			var v float64
			var nan bool
			err := rows.Scan(&mt.Key, &v, &nan, &mt.Timestamp, &mt.Step, &mt.ModelID, &mt.DatasetName, &mt.DatasetDigest, &mt.RunID)
			mt.Value = metricValue(v, nan)
			m.Data.Metrics = append(m.Data.Metrics, mt)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// writeLoggedModel runs fn on an active logged model and touches its update time.
func (s *Service) writeLoggedModel(ctx context.Context, id string, fn func(tx *store.Tx) error) error {
	if err := Required("model_id", id); err != nil {
		return err
	}
	return s.db.Write(ctx, func(tx *store.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE logged_models SET last_updated_timestamp_ms = ?
			WHERE model_id = ? AND lifecycle_stage = 'active'`, s.nowMillis(), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fault.NotFoundf("Logged model with ID '%s' not found.", id)
		}
		return fn(tx)
	})
}

// FinalizeLoggedModel sets a logged model's final status: ready, or upload failed.
func (s *Service) FinalizeLoggedModel(ctx context.Context, id, status string) (*LoggedModel, error) {
	if status != ModelStatusReady && status != ModelStatusUploadFailed {
		return nil, fault.Invalidf("Invalid model status '%s': a model is finalized as %s or %s", status, ModelStatusReady, ModelStatusUploadFailed)
	}
	err := s.writeLoggedModel(ctx, id, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE logged_models SET status = ? WHERE model_id = ?`, status, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.GetLoggedModel(ctx, id)
}

// DeleteLoggedModel marks a logged model deleted.
func (s *Service) DeleteLoggedModel(ctx context.Context, id string) error {
	return s.writeLoggedModel(ctx, id, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE logged_models SET lifecycle_stage = 'deleted' WHERE model_id = ?`, id)
		return err
	})
}

// SetLoggedModelTags sets tags on a logged model.
func (s *Service) SetLoggedModelTags(ctx context.Context, id string, tags []Tag) error {
	if err := s.normalizeKVs(nil, tags); err != nil {
		return err
	}
	return s.writeLoggedModel(ctx, id, func(tx *store.Tx) error {
		return upsertModelKVs(ctx, tx, "logged_model_tags", id, tagsKV(tags))
	})
}

// DeleteLoggedModelTag removes a tag from a logged model.
func (s *Service) DeleteLoggedModelTag(ctx context.Context, id, key string) error {
	return s.writeLoggedModel(ctx, id, func(tx *store.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM logged_model_tags WHERE model_id = ? AND key = ?`, id, key)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fault.NotFoundf("No tag with key '%s' found for model with ID '%s'.", key, id)
		}
		return nil
	})
}

// LogLoggedModelParams logs params to a logged model.
func (s *Service) LogLoggedModelParams(ctx context.Context, id string, params []Param) error {
	if err := s.normalizeKVs(params, nil); err != nil {
		return err
	}
	return s.writeLoggedModel(ctx, id, func(tx *store.Tx) error {
		return upsertModelKVs(ctx, tx, "logged_model_params", id, paramsKV(params))
	})
}

// LogOutputs records the models an active run produced.
func (s *Service) LogOutputs(ctx context.Context, runID string, outputs []ModelOutput) error {
	if err := ValidateRunID(runID); err != nil {
		return err
	}
	if len(outputs) == 0 {
		return Required("models", "")
	}
	return s.writeRuns(ctx, []string{runID}, func(tx *store.Tx) error {
		if _, err := activeRun(ctx, tx, runID); err != nil {
			return err
		}
		for _, o := range outputs {
			if err := Required("model_id", o.ModelID); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO run_outputs (run_uuid, model_id, step) VALUES (?, ?, ?)
				ON CONFLICT (run_uuid, model_id) DO UPDATE SET step = excluded.step`, runID, o.ModelID, o.Step)
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// TagModelVersions is the logged-model tag that lists the model versions registered
// from it, as JSON [{"name": ..., "version": ...}].
const TagModelVersions = "mlflow.modelVersions"

// pyJSON encodes registrations as Python's json.dumps does (", " and ": "), since
// clients read and extend the tag themselves.
func pyJSON[T any](v []T) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range v {
		if i > 0 {
			b.WriteString(", ")
		}
		j, _ := json.Marshal(x)
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(string(j), `","`, `", "`), `":"`, `": "`))
	}
	b.WriteByte(']')
	return b.String()
}

// RecordRegistration adds a model version to a logged model's mlflow.modelVersions tag.
func (s *Service) RecordRegistration(ctx context.Context, modelID, name, version string) error {
	return s.writeLoggedModel(ctx, modelID, func(tx *store.Tx) error {
		var raw string
		err := tx.QueryRowContext(ctx, `SELECT value FROM logged_model_tags WHERE model_id = ? AND key = ?`,
			modelID, TagModelVersions).Scan(&raw)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		type registration struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		}
		var regs []registration
		if raw != "" && json.Unmarshal([]byte(raw), &regs) != nil {
			regs = nil // a client wrote something else there: start again
		}
		if slices.Contains(regs, registration{name, version}) {
			return nil
		}
		regs = append(regs, registration{name, version})
		return upsertModelKVs(ctx, tx, "logged_model_tags", modelID, [][2]string{{TagModelVersions, pyJSON(regs)}})
	})
}
