package serving

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// SQLStore keeps deployment specs in the metadata database.
type SQLStore struct {
	db *store.DB
}

// NewSQLStore returns a Store over db.
func NewSQLStore(db *store.DB) *SQLStore { return &SQLStore{db: db} }

var _ Store = (*SQLStore)(nil)

func (s *SQLStore) ListDeployments(ctx context.Context) ([]Spec, error) {
	var out []Spec
	err := store.ScanEach(ctx, s.db.Reader(), `SELECT spec FROM deployments ORDER BY name`, nil, func(rows *sql.Rows) error {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return err
		}
		var spec Spec
		if err := json.Unmarshal([]byte(raw), &spec); err != nil {
			return fault.Wrap(fault.Internal, err, "a stored deployment spec is not valid JSON")
		}
		out = append(out, spec)
		return nil
	})
	return out, err
}

func (s *SQLStore) PutDeployment(ctx context.Context, spec Spec, create bool) error {
	raw, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	return s.db.Write(ctx, func(tx *store.Tx) error {
		if create {
			_, err := tx.ExecContext(ctx, `INSERT INTO deployments (name, spec, created_at, updated_at) VALUES (?, ?, ?, ?)`,
				spec.Name, string(raw), now, now)
			if s.db.Dialect().IsUniqueViolation(err) {
				return fault.New(fault.AlreadyExists, "deployment %q already exists; update it or choose another name", spec.Name)
			}
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE deployments SET spec = ?, updated_at = ? WHERE name = ?`, string(raw), now, spec.Name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fault.NotFoundf("deployment %q does not exist", spec.Name)
		}
		return nil
	})
}

func (s *SQLStore) DeleteDeployment(ctx context.Context, name string) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM deployments WHERE name = ?`, name)
		return err
	})
}
