package registry

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// CreateModelInput is what a client gives to create a registered model.
type CreateModelInput struct {
	Name        string
	Description string
	Tags        []Tag
}

// CreateRegisteredModel creates a registered model. An existing name is a
// fault.AlreadyExists error, which MLflow clients registering a model take as "carry on".
func (s *Service) CreateRegisteredModel(ctx context.Context, in CreateModelInput) (*RegisteredModel, error) {
	if err := validateName("name", in.Name); err != nil {
		return nil, err
	}
	if err := validateDescription(in.Description); err != nil {
		return nil, err
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	tags := lastTags(in.Tags)
	var m *RegisteredModel
	err := s.write(ctx, func(tx *store.Tx) error {
		now := s.nowMillis()
		var id int64
		err := tx.Try(ctx, func() error {
			return tx.QueryRowContext(ctx, `INSERT INTO registered_models (name, creation_time, last_updated_time, description)
				VALUES (?, ?, ?, ?) RETURNING id`, in.Name, now, now, in.Description).Scan(&id)
		})
		if tx.Dialect().IsUniqueViolation(err) {
			return nameTaken(ctx, tx, in.Name, isPrompt(tags))
		}
		if err != nil {
			return err
		}
		if err := upsertModelTags(ctx, tx, id, tags); err != nil {
			return err
		}
		if err := s.recordModelCreated(ctx, tx, in, tags); err != nil {
			return err
		}
		m, err = modelByID(ctx, tx, id)
		return err
	})
	return m, err
}

// nameTaken is MLflow's error for a name in use, which tells models from prompts.
func nameTaken(ctx context.Context, tx *store.Tx, name string, newIsPrompt bool) error {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM registered_model_tags t JOIN registered_models m ON m.id = t.rm_id
		WHERE m.name = ? AND t.key = ? AND LOWER(t.value) = 'true'`, name, TagIsPrompt).Scan(&n)
	if err != nil {
		return err
	}
	kind := map[bool]string{false: "Registered Model", true: "Prompt"}
	if oldIsPrompt := n > 0; oldIsPrompt != newIsPrompt {
		return fault.New(fault.AlreadyExists, "Tried to create a %s with name '%s', but the name is already taken by a %s. "+
			"MLflow does not allow creating a model and a prompt with the same name.",
			strings.ToLower(kind[newIsPrompt]), name, strings.ToLower(kind[oldIsPrompt]))
	}
	return fault.New(fault.AlreadyExists, "%s (name=%s) already exists.", kind[newIsPrompt], name)
}

// isPrompt reports whether tags mark a prompt: the last prompt tag says "true".
func isPrompt(tags []Tag) bool {
	prompt := false
	for _, t := range tags {
		if t.Key == TagIsPrompt {
			prompt = strings.EqualFold(t.Value, "true")
		}
	}
	return prompt
}

func upsertModelTags(ctx context.Context, tx *store.Tx, id int64, tags []Tag) error {
	if len(tags) == 0 {
		return nil
	}
	args := make([]any, 0, 3*len(tags))
	for _, t := range tags {
		args = append(args, id, t.Key, t.Value)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO registered_model_tags (rm_id, key, value) VALUES `+store.RowsOf(3, len(tags))+`
		ON CONFLICT (rm_id, key) DO UPDATE SET value = excluded.value`, args...)
	return err
}

func modelNotFound(name string) error {
	return fault.NotFoundf("Registered Model with name=%s not found", name)
}

// lockModel returns the id of a registered model inside a write, and locks the model
// until the write commits where writes run side by side: its aliases and versions then
// change one write at a time, whichever server makes them.
func lockModel(ctx context.Context, tx *store.Tx, name string) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM registered_models WHERE name = ?`+
		tx.Dialect().ForUpdate("registered_models"), name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, modelNotFound(name)
	}
	return id, err
}

// GetRegisteredModel returns a registered model with its tags, aliases and the newest
// version of each stage.
func (s *Service) GetRegisteredModel(ctx context.Context, name string) (*RegisteredModel, error) {
	if err := validateName("name", name); err != nil {
		return nil, err
	}
	q := s.reader()
	m, err := scanModel(q.QueryRowContext(ctx, `SELECT `+modelColumns+` FROM registered_models m WHERE m.name = ?`, name))
	if err != nil {
		return nil, notFound(err, "Registered Model with name=%s not found", name)
	}
	return m, fillModels(ctx, q, []*RegisteredModel{m})
}

// RenameRegisteredModel renames a registered model; its versions, tags and aliases
// follow.
func (s *Service) RenameRegisteredModel(ctx context.Context, name, newName string) (*RegisteredModel, error) {
	if err := validateName("name", name); err != nil {
		return nil, err
	}
	if err := validateName("new_name", newName); err != nil {
		return nil, err
	}
	return s.updateModel(ctx, name, func(tx *store.Tx, id, now int64) error {
		_, err := tx.ExecContext(ctx, `UPDATE registered_models SET name = ? WHERE id = ?`, newName, id)
		if tx.Dialect().IsUniqueViolation(err) {
			return fault.New(fault.AlreadyExists, "Registered Model (name=%s) already exists.", newName)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE model_versions SET last_updated_time = ? WHERE rm_id = ?`, now, id)
		return err
	})
}

// UpdateRegisteredModel sets a registered model's description.
func (s *Service) UpdateRegisteredModel(ctx context.Context, name, description string) (*RegisteredModel, error) {
	if err := validateName("name", name); err != nil {
		return nil, err
	}
	if err := validateDescription(description); err != nil {
		return nil, err
	}
	return s.updateModel(ctx, name, func(tx *store.Tx, id, now int64) error {
		_, err := tx.ExecContext(ctx, `UPDATE registered_models SET description = ? WHERE id = ?`, description, id)
		return err
	})
}

// updateModel runs fn on a registered model, stamps its update time and returns it as
// it is after the change.
func (s *Service) updateModel(ctx context.Context, name string, fn func(tx *store.Tx, id, now int64) error) (*RegisteredModel, error) {
	var m *RegisteredModel
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		id, err := lockModel(ctx, tx, name)
		if err != nil {
			return err
		}
		now := s.nowMillis()
		if err := fn(tx, id, now); err != nil {
			return err
		}
		if err := touchModel(ctx, tx, id, now); err != nil {
			return err
		}
		m, err = modelByID(ctx, tx, id)
		return err
	})
	return m, err
}

func touchModel(ctx context.Context, tx *store.Tx, id, now int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE registered_models SET last_updated_time = ? WHERE id = ?`, now, id)
	return err
}

// DeleteRegisteredModel deletes a registered model with its versions, tags and aliases.
func (s *Service) DeleteRegisteredModel(ctx context.Context, name string) error {
	if err := validateName("name", name); err != nil {
		return err
	}
	return s.db.Write(ctx, func(tx *store.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM registered_models WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return modelNotFound(name)
		}
		return nil
	})
}

// SetRegisteredModelTag sets a tag on a registered model.
func (s *Service) SetRegisteredModelTag(ctx context.Context, name string, t Tag) error {
	if err := validateName("name", name); err != nil {
		return err
	}
	if err := validateTag(t); err != nil {
		return err
	}
	return s.write(ctx, func(tx *store.Tx) error {
		id, err := lockModel(ctx, tx, name)
		if err != nil {
			return err
		}
		if err := upsertModelTags(ctx, tx, id, []Tag{t}); err != nil {
			return err
		}
		return s.record(ctx, tx, id, "", "prompt_tag.set", tagSet{Name: name, Key: t.Key, Value: t.Value})
	})
}

// DeleteRegisteredModelTag removes a tag from a registered model; a missing tag is no
// error, as in MLflow.
func (s *Service) DeleteRegisteredModelTag(ctx context.Context, name, key string) error {
	if err := validateName("name", name); err != nil {
		return err
	}
	if err := validateTag(Tag{Key: key}); err != nil {
		return err
	}
	return s.write(ctx, func(tx *store.Tx) error {
		id, err := lockModel(ctx, tx, name)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM registered_model_tags WHERE rm_id = ? AND key = ?`, id, key)
		if err != nil {
			return err
		}
		return s.record(ctx, tx, id, "", "prompt_tag.deleted", tagDeleted{Name: name, Key: key})
	})
}
