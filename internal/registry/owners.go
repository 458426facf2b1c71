package registry

import (
	"context"
	"database/sql"

	"github.com/mlship/mlship/internal/store"
)

// ModelsHolding returns the names of the registered models that have a version whose
// registered copy is the manifest digest ("sha256:<hex>").
func (s *Service) ModelsHolding(ctx context.Context, digest string) ([]string, error) {
	var names []string
	err := store.ScanEach(ctx, s.reader(), `SELECT DISTINCT m.name`+versionsFrom+` WHERE v.manifest_digest = ?`, []any{digest},
		func(rows *sql.Rows) error {
			var n string
			err := rows.Scan(&n)
			names = append(names, n)
			return err
		})
	return names, err
}
