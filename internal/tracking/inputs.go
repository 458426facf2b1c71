package tracking

import (
	"context"
	"database/sql"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// Input source and destination types.
const (
	inputDataset = "DATASET"
	inputModel   = "MODEL"
	inputRun     = "RUN"
)

// LogInputs records the datasets and logged models an active run consumed. Logging the
// same dataset twice is a no-op; its input tags are replaced.
func (s *Service) LogInputs(ctx context.Context, runID string, datasets []DatasetInput, models []ModelInput) error {
	if err := ValidateRunID(runID); err != nil {
		return err
	}
	for _, d := range datasets {
		if err := validateDatasetInput(d); err != nil {
			return err
		}
	}
	for _, m := range models {
		if m.ModelID == "" {
			return fault.Missing("model_id")
		}
	}
	return s.writeRuns(ctx, []string{runID}, func(tx *store.Tx) error {
		st, err := activeRun(ctx, tx, runID)
		if err != nil {
			return err
		}
		for _, d := range datasets {
			if err := logDatasetInput(ctx, tx, st.experimentID, runID, d); err != nil {
				return err
			}
		}
		for _, m := range models {
			if _, err := linkInput(ctx, tx, inputModel, m.ModelID, runID); err != nil {
				return err
			}
		}
		return nil
	})
}

func logDatasetInput(ctx context.Context, tx *store.Tx, expID int64, runID string, in DatasetInput) error {
	d := in.Dataset
	_, err := tx.ExecContext(ctx, `INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, source_type, source, schema, profile)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (experiment_id, name, digest) DO NOTHING`,
		newRunID(), expID, d.Name, d.Digest, d.SourceType, d.Source, nullable(d.Schema), nullable(d.Profile))
	if err != nil {
		return err
	}
	var datasetID string
	err = tx.QueryRowContext(ctx, `SELECT dataset_uuid FROM datasets WHERE experiment_id = ? AND name = ? AND digest = ?`,
		expID, d.Name, d.Digest).Scan(&datasetID)
	if err != nil {
		return err
	}
	inputID, err := linkInput(ctx, tx, inputDataset, datasetID, runID)
	if err != nil {
		return err
	}
	for _, t := range in.Tags {
		_, err := tx.ExecContext(ctx, `INSERT INTO input_tags (input_uuid, key, value) VALUES (?, ?, ?)
			ON CONFLICT (input_uuid, key) DO UPDATE SET value = excluded.value`, inputID, t.Key, t.Value)
		if err != nil {
			return err
		}
	}
	return nil
}

// linkInput records that run consumed a source, once, and returns the link's id.
func linkInput(ctx context.Context, tx *store.Tx, sourceType, sourceID, runID string) (string, error) {
	_, err := tx.ExecContext(ctx, `INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, newRunID(), sourceType, sourceID, inputRun, runID)
	if err != nil {
		return "", err
	}
	var id string
	err = tx.QueryRowContext(ctx, `SELECT input_uuid FROM inputs WHERE source_type = ? AND source_id = ?
		AND destination_type = ? AND destination_id = ?`, sourceType, sourceID, inputRun, runID).Scan(&id)
	return id, err
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// loadInputs fills the inputs of the runs in byID; in and args name those runs.
func (s *Service) loadInputs(ctx context.Context, in string, args []any, byID map[string]*Run) error {
	inputs := map[string]*DatasetInput{}
	runOf := map[string]string{}
	var order []string
	err := store.ScanEach(ctx, s.reader(), `SELECT i.input_uuid, i.destination_id, i.source_type, i.source_id,
		COALESCE(d.name, ''), COALESCE(d.digest, ''), COALESCE(d.source_type, ''), COALESCE(d.source, ''),
		COALESCE(d.schema, ''), COALESCE(d.profile, '')
		FROM inputs i LEFT JOIN datasets d ON i.source_type = 'DATASET' AND d.dataset_uuid = i.source_id
		WHERE i.destination_type = 'RUN' AND i.destination_id IN `+in+` ORDER BY i.destination_id, d.name, d.digest`,
		args, func(rows *sql.Rows) error {
			var inputID, runID, srcType, srcID string
			var d Dataset
			if err := rows.Scan(&inputID, &runID, &srcType, &srcID, &d.Name, &d.Digest, &d.SourceType, &d.Source, &d.Schema, &d.Profile); err != nil {
				return err
			}
			r := byID[runID]
			if r == nil {
				return nil
			}
			if srcType == inputModel {
				r.Inputs.ModelInputs = append(r.Inputs.ModelInputs, ModelInput{ModelID: srcID})
				return nil
			}
			inputs[inputID] = &DatasetInput{Dataset: d}
			runOf[inputID] = runID
			order = append(order, inputID)
			return nil
		})
	if err != nil || len(order) == 0 {
		return err
	}
	if err := s.loadInputTags(ctx, order, inputs); err != nil {
		return err
	}
	for _, id := range order {
		r := byID[runOf[id]]
		r.Inputs.DatasetInputs = append(r.Inputs.DatasetInputs, *inputs[id])
	}
	return nil
}

func (s *Service) loadInputTags(ctx context.Context, ids []string, inputs map[string]*DatasetInput) error {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return store.ScanEach(ctx, s.reader(), `SELECT input_uuid, key, value FROM input_tags WHERE input_uuid IN (`+
		store.Placeholders(len(ids))+`) ORDER BY input_uuid, key`, args, func(rows *sql.Rows) error {
		var id string
		var t Tag
		if err := rows.Scan(&id, &t.Key, &t.Value); err != nil {
			return err
		}
		if in := inputs[id]; in != nil {
			in.Tags = append(in.Tags, t)
		}
		return nil
	})
}
