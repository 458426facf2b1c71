package registry

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/webhooks"
)

// The prompt registry's tags that MLflow keeps out of its webhook payloads.
const (
	tagPromptType = "_mlflow_prompt_type"
	tagPromptText = "mlflow.prompt.text"
)

// SetEvents installs the recorder of the registry's events (webhooks): each change
// records its event in the transaction that makes it. Call it before serving requests.
func (s *Service) SetEvents(r webhooks.Recorder) { s.events = r }

// write is db.Write for changes that record events: once committed, the recorder is
// told, so that the events go out at once.
func (s *Service) write(ctx context.Context, fn func(tx *store.Tx) error) error {
	err := s.db.Write(ctx, fn)
	if err == nil && s.events != nil {
		s.events.Committed()
	}
	return err
}

// record records an event, the prompt registry's when the model is a prompt.
func (s *Service) record(ctx context.Context, tx *store.Tx, rmID int64, event, promptEvent string, data any) error {
	if s.events == nil {
		return nil
	}
	prompt, err := modelIsPrompt(ctx, tx, rmID)
	if err != nil {
		return err
	}
	if prompt {
		if promptEvent == "" {
			return nil
		}
		event = promptEvent
	}
	return s.events.Record(ctx, tx, event, data)
}

func modelIsPrompt(ctx context.Context, tx *store.Tx, rmID int64) (bool, error) {
	var v string
	err := tx.QueryRowContext(ctx, `SELECT value FROM registered_model_tags WHERE rm_id = ? AND key = ?`, rmID, TagIsPrompt).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return strings.EqualFold(v, "true"), err
}

// Payloads, as MLflow's server sends them (mlflow.webhooks.types), fields in its order.
type (
	modelCreated struct {
		Name        string            `json:"name"`
		Tags        map[string]string `json:"tags"`
		Description string            `json:"description"`
	}
	versionCreated struct {
		Name        string            `json:"name"`
		Version     string            `json:"version"`
		Source      string            `json:"source"`
		RunID       *string           `json:"run_id"`
		Tags        map[string]string `json:"tags"`
		Description *string           `json:"description"`
	}
	promptVersionCreated struct {
		Name        string            `json:"name"`
		Version     string            `json:"version"`
		Template    *string           `json:"template"`
		Tags        map[string]string `json:"tags"`
		Description *string           `json:"description"`
	}
	tagSet struct {
		Name    string `json:"name"`
		Version string `json:"version,omitempty"`
		Key     string `json:"key"`
		Value   string `json:"value"`
	}
	tagDeleted struct {
		Name    string `json:"name"`
		Version string `json:"version,omitempty"`
		Key     string `json:"key"`
	}
	aliasCreated struct {
		Name    string `json:"name"`
		Alias   string `json:"alias"`
		Version string `json:"version"`
	}
	aliasDeleted struct {
		Name  string `json:"name"`
		Alias string `json:"alias"`
	}
)

// tagMap is tags as a payload carries them, without the keys dropped.
func tagMap(tags []Tag, drop ...string) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	for _, k := range drop {
		delete(m, k)
	}
	return m
}

func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// recordModelCreated records registered_model.created, or prompt.created.
func (s *Service) recordModelCreated(ctx context.Context, tx *store.Tx, in CreateModelInput, tags []Tag) error {
	if s.events == nil {
		return nil
	}
	if isPrompt(tags) {
		return s.events.Record(ctx, tx, "prompt.created", modelCreated{in.Name, tagMap(tags, TagIsPrompt, tagPromptType), in.Description})
	}
	return s.events.Record(ctx, tx, "registered_model.created", modelCreated{in.Name, tagMap(tags), in.Description})
}

// recordVersionCreated records model_version.created, or prompt_version.created.
func (s *Service) recordVersionCreated(ctx context.Context, tx *store.Tx, in CreateVersionInput, v *ModelVersion) error {
	if s.events == nil {
		return nil
	}
	if isPrompt(in.Tags) {
		tags := tagMap(in.Tags)
		var text *string
		if t, ok := tags[tagPromptText]; ok {
			text = &t
		}
		return s.events.Record(ctx, tx, "prompt_version.created", promptVersionCreated{in.Name, v.Version, text,
			tagMap(in.Tags, TagIsPrompt, tagPromptType, tagPromptText), orNull(in.Description)})
	}
	return s.events.Record(ctx, tx, "model_version.created", versionCreated{in.Name, v.Version, in.Source,
		orNull(in.RunID), tagMap(in.Tags), orNull(in.Description)})
}
