package serving

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/mlship/mlship/internal/store"
)

var _ TrafficStore = (*SQLStore)(nil)

// trafficColumns are deployment_traffic's columns, the latency buckets b00 to b18 last.
var trafficColumns = func() []string {
	cols := []string{"deployment", "role", "hour", "requests", "failures", "client_errors", "latency_sum"}
	for i := range len(liveBounds) + 1 {
		cols = append(cols, fmt.Sprintf("b%02d", i))
	}
	return cols
}()

// addTrafficSQL adds a row's counts to the hour's row: an upsert both SQLite and
// PostgreSQL read the same way.
var addTrafficSQL = func() string {
	var sets []string
	for _, c := range trafficColumns[3:] {
		sets = append(sets, c+" = deployment_traffic."+c+" + excluded."+c)
	}
	return "INSERT INTO deployment_traffic (" + strings.Join(trafficColumns, ", ") + ") VALUES (" +
		store.Placeholders(len(trafficColumns)) + ") ON CONFLICT (deployment, role, hour) DO UPDATE SET " + strings.Join(sets, ", ")
}()

func (s *SQLStore) AddTraffic(ctx context.Context, hours []TrafficHour) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		for _, h := range hours {
			args := []any{h.Deployment, h.Role, h.Hour, int64(h.Requests), int64(h.Failures), int64(h.ClientErrors), h.LatencySum}
			for _, n := range h.Buckets {
				args = append(args, int64(n))
			}
			if _, err := tx.ExecContext(ctx, addTrafficSQL, args...); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *SQLStore) Traffic(ctx context.Context, deployment string, fromHour, toHour int64) ([]TrafficHour, error) {
	var out []TrafficHour
	q := "SELECT " + strings.Join(trafficColumns, ", ") + " FROM deployment_traffic WHERE deployment = ? AND hour >= ? AND hour <= ?"
	err := store.ScanEach(ctx, s.db.Reader(), q, []any{deployment, fromHour, toHour}, func(rows *sql.Rows) error {
		var h TrafficHour
		dest := []any{&h.Deployment, &h.Role, &h.Hour, &h.Requests, &h.Failures, &h.ClientErrors, &h.LatencySum}
		for i := range h.Buckets {
			dest = append(dest, &h.Buckets[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		out = append(out, h)
		return nil
	})
	return mergeHours(out), err
}

// PruneTraffic deletes the hours that began before beforeHour (Unix seconds) and
// returns how many rows went.
func (s *SQLStore) PruneTraffic(ctx context.Context, beforeHour int64) (int64, error) {
	var n int64
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM deployment_traffic WHERE hour < ?`, beforeHour)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
