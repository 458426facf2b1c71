package registry

import (
	"context"
	"database/sql"
	"strconv"

	"github.com/mlship/mlship/internal/store"
)

// loadChunk bounds the keys in one statement, well under every engine's parameter limit.
const loadChunk = 400

const modelColumns = `m.id, m.name, m.creation_time, m.last_updated_time, m.description`

const versionColumns = `v.rm_id, m.name, v.version, v.creation_time, v.last_updated_time, v.description,
	v.user_id, v.current_stage, v.source, v.storage_location, v.run_id, v.run_link, v.logged_model_id,
	v.status, v.status_message, v.manifest_digest`

// versionsFrom joins each version to its registered model, for the name.
const versionsFrom = ` FROM model_versions v JOIN registered_models m ON m.id = v.rm_id`

type scanner interface{ Scan(...any) error }

func scanModel(row scanner) (*RegisteredModel, error) {
	var m RegisteredModel
	err := row.Scan(&m.id, &m.Name, &m.CreationTimestamp, &m.LastUpdatedTimestamp, &m.Description)
	return &m, err
}

func scanVersion(row scanner) (*ModelVersion, error) {
	var v ModelVersion
	err := row.Scan(&v.rmID, &v.Name, &v.num, &v.CreationTimestamp, &v.LastUpdatedTimestamp, &v.Description,
		&v.UserID, &v.CurrentStage, &v.Source, &v.StorageLocation, &v.RunID, &v.RunLink, &v.ModelID,
		&v.Status, &v.StatusMessage, &v.ManifestDigest)
	v.Version = strconv.FormatInt(v.num, 10)
	return &v, err
}

// modelByID returns a registered model with its tags, aliases and latest versions.
func modelByID(ctx context.Context, q store.Querier, id int64) (*RegisteredModel, error) {
	m, err := scanModel(q.QueryRowContext(ctx, `SELECT `+modelColumns+` FROM registered_models m WHERE m.id = ?`, id))
	if err != nil {
		return nil, err
	}
	return m, fillModels(ctx, q, []*RegisteredModel{m})
}

// versionByKey returns a version with its tags and aliases.
func versionByKey(ctx context.Context, q store.Querier, rmID, num int64) (*ModelVersion, error) {
	row := q.QueryRowContext(ctx, `SELECT `+versionColumns+versionsFrom+` WHERE v.rm_id = ? AND v.version = ?`, rmID, num)
	v, err := scanVersion(row)
	if err != nil {
		return nil, err
	}
	return v, fillVersions(ctx, q, []*ModelVersion{v})
}

// fillModels loads the tags, aliases and latest versions of registered models.
func fillModels(ctx context.Context, q store.Querier, models []*RegisteredModel) error {
	if len(models) == 0 {
		return nil
	}
	byID := make(map[int64]*RegisteredModel, len(models))
	ids := make([]any, len(models))
	for i, m := range models {
		byID[m.id] = m
		ids[i] = m.id
	}
	in := "(" + store.Placeholders(len(ids)) + ")"
	err := store.ScanEach(ctx, q, `SELECT rm_id, key, value FROM registered_model_tags WHERE rm_id IN `+in+` ORDER BY rm_id, key`, ids,
		func(rows *sql.Rows) error {
			var id int64
			var t Tag
			if err := rows.Scan(&id, &t.Key, &t.Value); err != nil {
				return err
			}
			byID[id].Tags = append(byID[id].Tags, t)
			return nil
		})
	if err != nil {
		return err
	}
	err = store.ScanEach(ctx, q, `SELECT rm_id, alias, version FROM registered_model_aliases WHERE rm_id IN `+in+` ORDER BY rm_id, alias`, ids,
		func(rows *sql.Rows) error {
			var id int64
			var a Alias
			if err := rows.Scan(&id, &a.Alias, &a.Version); err != nil {
				return err
			}
			byID[id].Aliases = append(byID[id].Aliases, a)
			return nil
		})
	if err != nil {
		return err
	}
	return fillLatestVersions(ctx, q, byID, ids, in)
}

// fillLatestVersions loads, for each model, the newest version in each stage.
func fillLatestVersions(ctx context.Context, q store.Querier, byID map[int64]*RegisteredModel, ids []any, in string) error {
	var versions []*ModelVersion
	err := store.ScanEach(ctx, q, `SELECT `+versionColumns+versionsFrom+` WHERE v.rm_id IN `+in+`
		AND v.version = (SELECT MAX(w.version) FROM model_versions w WHERE w.rm_id = v.rm_id AND w.current_stage = v.current_stage)
		ORDER BY v.rm_id, v.version`, ids,
		func(rows *sql.Rows) error {
			v, err := scanVersion(rows)
			if err == nil {
				byID[v.rmID].LatestVersions = append(byID[v.rmID].LatestVersions, v)
				versions = append(versions, v)
			}
			return err
		})
	if err != nil {
		return err
	}
	return fillVersions(ctx, q, versions)
}

// versionKey identifies a version.
type versionKey struct{ rmID, num int64 }

// fillVersions loads the tags and aliases of versions.
func fillVersions(ctx context.Context, q store.Querier, versions []*ModelVersion) error {
	for start := 0; start < len(versions); start += loadChunk {
		if err := fillVersionChunk(ctx, q, versions[start:min(start+loadChunk, len(versions))]); err != nil {
			return err
		}
	}
	return nil
}

func fillVersionChunk(ctx context.Context, q store.Querier, versions []*ModelVersion) error {
	byKey := make(map[versionKey]*ModelVersion, len(versions))
	args := make([]any, 0, 2*len(versions))
	for _, v := range versions {
		byKey[versionKey{v.rmID, v.num}] = v
		args = append(args, v.rmID, v.num)
	}
	keys := `(rm_id, version) IN (VALUES ` + store.TypedRowsOf(len(versions), "BIGINT", "BIGINT") + `)`
	err := store.ScanEach(ctx, q, `SELECT rm_id, version, key, value FROM model_version_tags WHERE `+keys+` ORDER BY rm_id, version, key`, args,
		func(rows *sql.Rows) error {
			var k versionKey
			var t Tag
			if err := rows.Scan(&k.rmID, &k.num, &t.Key, &t.Value); err != nil {
				return err
			}
			byKey[k].Tags = append(byKey[k].Tags, t)
			return nil
		})
	if err != nil {
		return err
	}
	return store.ScanEach(ctx, q, `SELECT rm_id, version, alias FROM registered_model_aliases WHERE `+keys+` ORDER BY rm_id, version, alias`, args,
		func(rows *sql.Rows) error {
			var k versionKey
			var alias string
			if err := rows.Scan(&k.rmID, &k.num, &alias); err != nil {
				return err
			}
			byKey[k].Aliases = append(byKey[k].Aliases, alias)
			return nil
		})
}
