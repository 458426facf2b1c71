package gates

import (
	"context"
	"database/sql"

	"github.com/mlship/mlship/internal/registry"
	"github.com/mlship/mlship/internal/store"
)

// ModelRecord is what an overview of the registry says of one registered model: who
// owns it, which version holds an alias and since when, and its latest gate verdict.
type ModelRecord struct {
	Name      string
	CreatedAt int64 // the model's registration, ms
	Owner     string
	Contact   string
	// Creator is who registered the model's first version still kept.
	Creator string
	// FirstVersionAt is when its first version still kept was registered; 0: none.
	FirstVersionAt int64
	// Version holds the alias; empty: nothing does.
	Version string
	// Since is the alias audit's latest move of the alias to Version; 0: not audited
	// (only protected aliases, those of models with a benchmark, are).
	Since int64
	// FirstAliasAt is the alias audit's first move of the alias to any version; 0: none.
	FirstAliasAt int64
	// AliasSetAt is when the alias last moved, and AliasFirstSetAt when it was first
	// set, as the alias itself records for every alias (any API); 0: set before the
	// registry recorded it.
	AliasSetAt, AliasFirstSetAt int64
	// Latest is the model's newest evaluation; nil: never evaluated.
	Latest *EvaluationBrief
}

// EvaluationBrief is an evaluation's outcome.
type EvaluationBrief struct {
	ID         int64  `json:"evaluation_id"`
	Version    string `json:"version"`
	Status     string `json:"status"`
	Passed     *bool  `json:"passed"`
	FinishedAt int64  `json:"finished_at,omitempty"`
}

// ModelRecords reads every registered model's record for alias, by name: two queries,
// whatever the number of models.
func (s *Service) ModelRecords(ctx context.Context, alias string) ([]*ModelRecord, error) {
	var out []*ModelRecord
	byName := map[string]*ModelRecord{}
	err := store.ScanEach(ctx, s.db.Reader(), `SELECT m.name, m.creation_time,
		COALESCE((SELECT value FROM registered_model_tags t WHERE t.rm_id = m.id AND t.key = ?), ''),
		COALESCE((SELECT value FROM registered_model_tags t WHERE t.rm_id = m.id AND t.key = ?), ''),
		COALESCE((SELECT user_id FROM model_versions v WHERE v.rm_id = m.id ORDER BY v.version LIMIT 1), ''),
		COALESCE((SELECT MIN(creation_time) FROM model_versions v WHERE v.rm_id = m.id), 0),
		COALESCE(a.version, 0),
		COALESCE((SELECT MAX(created_at) FROM alias_audit au WHERE au.model = m.name AND au.alias = ? AND au.version = a.version), 0),
		COALESCE((SELECT MIN(created_at) FROM alias_audit au WHERE au.model = m.name AND au.alias = ? AND au.version IS NOT NULL), 0),
		COALESCE(a.set_at, 0), COALESCE(a.first_set_at, 0)
		FROM registered_models m LEFT JOIN registered_model_aliases a ON a.rm_id = m.id AND a.alias = ?
		ORDER BY m.name`, []any{registry.TagOwner, registry.TagContact, alias, alias, alias}, func(rows *sql.Rows) error {
		var r ModelRecord
		var version sql.NullInt64
		if err := rows.Scan(&r.Name, &r.CreatedAt, &r.Owner, &r.Contact, &r.Creator, &r.FirstVersionAt, &version,
			&r.Since, &r.FirstAliasAt, &r.AliasSetAt, &r.AliasFirstSetAt); err != nil {
			return err
		}
		r.Version = versionString(version)
		out = append(out, &r)
		byName[r.Name] = &r
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = store.ScanEach(ctx, s.db.Reader(), `SELECT m.name, e.id, e.version, e.status, e.passed, COALESCE(e.finished_at, 0)
		FROM evaluations e JOIN registered_models m ON m.id = e.rm_id
		WHERE e.id IN (SELECT MAX(id) FROM evaluations GROUP BY rm_id)`, nil, func(rows *sql.Rows) error {
		var name string
		var e EvaluationBrief
		var version, passed sql.NullInt64
		if err := rows.Scan(&name, &e.ID, &version, &e.Status, &passed, &e.FinishedAt); err != nil {
			return err
		}
		e.Version = versionString(version)
		if passed.Valid {
			p := passed.Int64 == 1
			e.Passed = &p
		}
		if r := byName[name]; r != nil {
			r.Latest = &e
		}
		return nil
	})
	return out, err
}
