package registry

import (
	"context"
	"database/sql"
	"errors"
	"strconv"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// CreateVersionInput is what a client gives to create a model version.
type CreateVersionInput struct {
	Name        string
	Source      string
	RunID       string
	Tags        []Tag
	RunLink     string
	Description string
	ModelID     string // the logged model the version is registered from
}

// newVersion is a version ready to be written: its source checked and resolved.
type newVersion struct {
	in      CreateVersionInput
	src     source
	storage string
	digest  string // the content-addressed manifest of its files, if stored here
}

// CreateModelVersion registers a new version of a registered model. Its number is one
// more than the highest ever given to the model, allocated inside the write, so that
// concurrent creators get consecutive numbers.
func (s *Service) CreateModelVersion(ctx context.Context, in CreateVersionInput) (*ModelVersion, error) {
	if err := validateVersionInput(in); err != nil {
		return nil, err
	}
	in.Tags = lastTags(in.Tags)
	src, err := s.checkSource(in.Source, isPrompt(in.Tags))
	if err != nil {
		return nil, err
	}
	nv := &newVersion{in: in, src: src, storage: src.canonical}
	if err := s.resolveSource(ctx, nv); err != nil {
		return nil, err
	}
	// The files are copied and durable before the version that names them is written.
	if err := s.snapshot(ctx, nv); err != nil {
		return nil, err
	}
	var v *ModelVersion
	err = s.write(ctx, func(tx *store.Tx) error {
		var err error
		if v, err = s.insertVersion(ctx, tx, nv); err != nil {
			return err
		}
		return s.recordVersionCreated(ctx, tx, nv.in, v)
	})
	return v, err
}

func validateVersionInput(in CreateVersionInput) error {
	if err := validateName("name", in.Name); err != nil {
		return err
	}
	if err := validateTags(in.Tags); err != nil {
		return err
	}
	if err := validateRunID(in.RunID); err != nil {
		return err
	}
	if in.ModelID != "" && !loggedModelIDPattern.MatchString(in.ModelID) {
		return invalidValue("model_id", in.ModelID, "a logged model id is 'm-' and 32 hexadecimal digits.")
	}
	if err := validateRunLink(in.RunLink); err != nil {
		return err
	}
	return validateDescription(in.Description)
}

// resolveSource settles where a new version's artifacts are, and its run and logged
// model, from its source and the ids the client gave. Ids that disagree with the
// source are refused, as MLflow refuses them. Copies of versions are resolved inside
// the write.
func (s *Service) resolveSource(ctx context.Context, nv *newVersion) error {
	in, src := &nv.in, nv.src
	switch src.kind {
	case sourceRun:
		if (in.RunID != "" && in.RunID != src.runID) || in.ModelID != "" {
			return sourceMismatch(in.Source, "run_id")
		}
		in.RunID = src.runID
		return nil
	case sourceLoggedModel:
		if in.ModelID != "" && in.ModelID != src.modelID {
			return sourceMismatch(in.Source, "model_id")
		}
		in.ModelID = src.modelID
	case sourceArtifacts, sourceRemote:
		if in.ModelID == "" {
			return nil
		}
	default:
		return nil
	}
	return s.resolveLoggedModel(ctx, nv)
}

func sourceMismatch(raw, param string) error {
	return badSource(raw, "the "+param+" request parameter must identify the resource that contains the source")
}

// resolveLoggedModel takes a version's artifacts and run from the logged model it is
// registered from. A source other than models:/<id> must lie inside the model's
// artifacts.
func (s *Service) resolveLoggedModel(ctx context.Context, nv *newVersion) error {
	in := &nv.in
	lm, err := s.loggedModel(ctx, in.ModelID, in.Source)
	if err != nil {
		return err
	}
	if nv.src.kind == sourceLoggedModel {
		nv.storage = lm.ArtifactURI
	} else if !within(nv.src.canonical, lm.ArtifactURI) {
		return sourceMismatch(in.Source, "model_id")
	}
	if in.RunID == "" {
		in.RunID = lm.SourceRunID
	}
	return nil
}

// loggedModel looks up the logged model a source names.
func (s *Service) loggedModel(ctx context.Context, id, raw string) (LoggedModel, error) {
	if s.opts.LoggedModels == nil {
		return LoggedModel{}, badSource(raw, "this server does not resolve logged models")
	}
	lm, err := s.opts.LoggedModels.LookupLoggedModel(ctx, id)
	if errors.Is(err, fault.NotFound) {
		return lm, badSource(raw, "logged model '"+id+"' does not exist")
	}
	return lm, err
}

// insertVersion allocates the next version number of the model and writes the version.
func (s *Service) insertVersion(ctx context.Context, tx *store.Tx, nv *newVersion) (*ModelVersion, error) {
	if nv.src.kind == sourceModelVersion {
		if err := resolveCopy(ctx, tx, nv); err != nil {
			return nil, err
		}
	}
	now := s.nowMillis()
	var rmID, num int64
	err := tx.QueryRowContext(ctx, `UPDATE registered_models SET last_version = last_version + 1, last_updated_time = ?
		WHERE name = ? RETURNING id, last_version`, now, nv.in.Name).Scan(&rmID, &num)
	if err != nil {
		return nil, notFound(err, "Registered Model with name=%s not found", nv.in.Name)
	}
	in := nv.in
	store.Describe(ctx, in.Name+"/"+strconv.FormatInt(num, 10), "")
	_, err = tx.ExecContext(ctx, `INSERT INTO model_versions (rm_id, version, creation_time, last_updated_time,
		description, current_stage, source, storage_location, run_id, run_link, logged_model_id, status,
		manifest_digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, rmID, num, now, now, in.Description, StageNone,
		nv.src.canonical, nv.storage, in.RunID, in.RunLink, in.ModelID, StatusReady, nv.digest)
	if err != nil {
		return nil, err
	}
	if err := upsertVersionTags(ctx, tx, rmID, num, in.Tags); err != nil {
		return nil, err
	}
	return versionByKey(ctx, tx, rmID, num)
}

// resolveCopy resolves a models:/<name>/<version> source to the artifacts of the version
// it names, whose run and logged model the copy inherits.
func resolveCopy(ctx context.Context, tx *store.Tx, nv *newVersion) error {
	var storage, runID, modelID, digest string
	err := tx.QueryRowContext(ctx, `SELECT v.storage_location, v.run_id, v.logged_model_id, v.manifest_digest`+versionsFrom+`
		WHERE m.name = ? AND v.version = ?`, nv.src.name, nv.src.version).Scan(&storage, &runID, &modelID, &digest)
	if errors.Is(err, sql.ErrNoRows) {
		return badSource(nv.in.Source, "the model version it names does not exist")
	}
	if err != nil {
		return err
	}
	in := &nv.in
	if (in.RunID != "" && in.RunID != runID) || (in.ModelID != "" && in.ModelID != modelID) {
		return badSource(in.Source, "the run_id and model_id request parameters must match the version it names")
	}
	nv.storage, in.RunID, in.ModelID, nv.digest = storage, runID, modelID, digest
	return nil
}

func upsertVersionTags(ctx context.Context, tx *store.Tx, rmID, num int64, tags []Tag) error {
	if len(tags) == 0 {
		return nil
	}
	args := make([]any, 0, 4*len(tags))
	for _, t := range tags {
		args = append(args, rmID, num, t.Key, t.Value)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO model_version_tags (rm_id, version, key, value) VALUES `+store.RowsOf(4, len(tags))+`
		ON CONFLICT (rm_id, version, key) DO UPDATE SET value = excluded.value`, args...)
	return err
}

func versionNotFound(name string, num int64) error {
	return fault.NotFoundf("Model Version (name=%s, version=%d) not found", name, num)
}

// versionRef validates a name and a version number.
func versionRef(name, version string) (int64, error) {
	if err := validateName("name", name); err != nil {
		return 0, err
	}
	return parseVersion(version)
}

// lockVersion returns the registered model id of a version inside a write, and locks the
// model as lockModel does.
func lockVersion(ctx context.Context, tx *store.Tx, name string, num int64) (int64, error) {
	var rmID int64
	err := tx.QueryRowContext(ctx, `SELECT v.rm_id`+versionsFrom+` WHERE m.name = ? AND v.version = ?`+
		tx.Dialect().ForUpdate("m"), name, num).Scan(&rmID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, versionNotFound(name, num)
	}
	return rmID, err
}

// GetModelVersion returns a version with its tags and aliases.
func (s *Service) GetModelVersion(ctx context.Context, name, version string) (*ModelVersion, error) {
	num, err := versionRef(name, version)
	if err != nil {
		return nil, err
	}
	q := s.reader()
	v, err := scanVersion(q.QueryRowContext(ctx, `SELECT `+versionColumns+versionsFrom+` WHERE m.name = ? AND v.version = ?`, name, num))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, versionNotFound(name, num)
	}
	if err != nil {
		return nil, err
	}
	return v, fillVersions(ctx, q, []*ModelVersion{v})
}

// GetDownloadURI returns where a version's artifacts are.
func (s *Service) GetDownloadURI(ctx context.Context, name, version string) (string, error) {
	num, err := versionRef(name, version)
	if err != nil {
		return "", err
	}
	var uri string
	err = s.reader().QueryRowContext(ctx, `SELECT v.storage_location`+versionsFrom+` WHERE m.name = ? AND v.version = ?`, name, num).Scan(&uri)
	if errors.Is(err, sql.ErrNoRows) {
		return "", versionNotFound(name, num)
	}
	return uri, err
}

// UpdateModelVersion sets a version's description.
func (s *Service) UpdateModelVersion(ctx context.Context, name, version, description string) (*ModelVersion, error) {
	if err := validateDescription(description); err != nil {
		return nil, err
	}
	return s.updateVersion(ctx, name, version, false, func(tx *store.Tx, rmID, num, now int64) error {
		_, err := tx.ExecContext(ctx, `UPDATE model_versions SET description = ?, last_updated_time = ?
			WHERE rm_id = ? AND version = ?`, description, now, rmID, num)
		return err
	})
}

// TransitionStage moves a version to a stage. With archiveExisting, the other versions
// in that stage, which must be Staging or Production, move to Archived.
func (s *Service) TransitionStage(ctx context.Context, name, version, stage string, archiveExisting bool) (*ModelVersion, error) {
	if err := required("stage", stage); err != nil {
		return nil, err
	}
	canonical, err := canonicalStage(stage)
	if err != nil {
		return nil, err
	}
	if archiveExisting && canonical != StageStaging && canonical != StageProduction {
		return nil, fault.Invalidf("Model version transition cannot archive existing model versions because '%s' is not an Active stage. "+
			"Valid stages are ['Staging', 'Production']", abbreviate(stage))
	}
	return s.updateVersion(ctx, name, version, true, func(tx *store.Tx, rmID, num, now int64) error {
		if archiveExisting {
			_, err := tx.ExecContext(ctx, `UPDATE model_versions SET current_stage = ?, last_updated_time = ?
				WHERE rm_id = ? AND version != ? AND current_stage = ?`, StageArchived, now, rmID, num, canonical)
			if err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE model_versions SET current_stage = ?, last_updated_time = ?
			WHERE rm_id = ? AND version = ?`, canonical, now, rmID, num)
		return err
	})
}

// updateVersion runs fn on a version, stamps the model's update time when touch is set,
// and returns the version as it is after the change.
func (s *Service) updateVersion(ctx context.Context, name, version string, touch bool,
	fn func(tx *store.Tx, rmID, num, now int64) error) (*ModelVersion, error) {
	num, err := versionRef(name, version)
	if err != nil {
		return nil, err
	}
	var v *ModelVersion
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		rmID, err := lockVersion(ctx, tx, name, num)
		if err != nil {
			return err
		}
		now := s.nowMillis()
		if err := fn(tx, rmID, num, now); err != nil {
			return err
		}
		if touch {
			if err := touchModel(ctx, tx, rmID, now); err != nil {
				return err
			}
		}
		v, err = versionByKey(ctx, tx, rmID, num)
		return err
	})
	return v, err
}

// DeleteModelVersion deletes a version, its tags and the aliases that point at it. Its
// number is not given out again.
func (s *Service) DeleteModelVersion(ctx context.Context, name, version string) error {
	return s.writeVersion(ctx, name, version, func(tx *store.Tx, rmID, num int64) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM model_versions WHERE rm_id = ? AND version = ?`, rmID, num); err != nil {
			return err
		}
		return touchModel(ctx, tx, rmID, s.nowMillis())
	})
}

// SetModelVersionTag sets a tag on a version.
func (s *Service) SetModelVersionTag(ctx context.Context, name, version string, t Tag) error {
	if err := validateTag(t); err != nil {
		return err
	}
	return s.writeVersion(ctx, name, version, func(tx *store.Tx, rmID, num int64) error {
		if err := upsertVersionTags(ctx, tx, rmID, num, []Tag{t}); err != nil {
			return err
		}
		return s.record(ctx, tx, rmID, "model_version_tag.set", "prompt_version_tag.set",
			tagSet{Name: name, Version: version, Key: t.Key, Value: t.Value})
	})
}

// DeleteModelVersionTag removes a tag from a version; a missing tag is no error, as in
// MLflow.
func (s *Service) DeleteModelVersionTag(ctx context.Context, name, version, key string) error {
	if err := validateTag(Tag{Key: key}); err != nil {
		return err
	}
	return s.writeVersion(ctx, name, version, func(tx *store.Tx, rmID, num int64) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM model_version_tags WHERE rm_id = ? AND version = ? AND key = ?`, rmID, num, key)
		if err != nil {
			return err
		}
		return s.record(ctx, tx, rmID, "model_version_tag.deleted", "prompt_version_tag.deleted",
			tagDeleted{Name: name, Version: version, Key: key})
	})
}

// writeVersion runs fn on an existing version inside a write.
func (s *Service) writeVersion(ctx context.Context, name, version string, fn func(tx *store.Tx, rmID, num int64) error) error {
	num, err := versionRef(name, version)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *store.Tx) error {
		rmID, err := lockVersion(ctx, tx, name, num)
		if err != nil {
			return err
		}
		return fn(tx, rmID, num)
	})
}
