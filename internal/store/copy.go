package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mlship/mlship/internal/fault"
)

// CopyProgress reports a table copied, or rows of it.
type CopyProgress func(table string, rows int64, done bool)

// TableCopy is what Copy did with one table.
type TableCopy struct {
	Table string `json:"table"`
	Rows  int64  `json:"rows"`
}

// Copy copies every row of an SQLite store into an empty PostgreSQL one, both at this
// version's schema: a server that outgrew its machine moves to a team database. Tables
// go parents first (by their foreign keys), each in transactions of copyBatch rows;
// identity sequences then continue after the highest id copied. The source is only
// read. A target that already holds data is refused, so nothing is merged or
// overwritten; a copy that fails part way leaves the target to be dropped and made
// again.
func Copy(ctx context.Context, from, to *DB, progress CopyProgress) ([]TableCopy, error) {
	if from.dialect.Name() != "sqlite" || to.dialect.Name() != "postgres" {
		return nil, fault.Invalidf("a store is copied from SQLite into PostgreSQL, not from %s into %s",
			from.dialect.Name(), to.dialect.Name())
	}
	fv, err := from.SchemaVersion(ctx)
	if err != nil {
		return nil, err
	}
	tv, err := to.SchemaVersion(ctx)
	if err != nil {
		return nil, err
	}
	if fv != tv {
		return nil, fault.Invalidf("the source's schema is version %d and the target's %d: open both with this mlship first", fv, tv)
	}
	tables, err := sqliteTablesParentsFirst(ctx, from)
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		if seeded[t] {
			continue
		}
		var any int
		err := to.read.QueryRowContext(ctx, "SELECT 1 FROM "+t+" LIMIT 1").Scan(&any)
		if err == nil {
			return nil, fault.New(fault.AlreadyExists, "the target database already holds data (table %s): copy into an empty database", t)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("store: read %s in the target: %w", t, err)
		}
	}
	var out []TableCopy
	for _, t := range tables {
		n, err := copyTable(ctx, from, to, t, progress)
		if err != nil {
			return out, fmt.Errorf("store: copy %s: %w", t, err)
		}
		out = append(out, TableCopy{Table: t, Rows: n})
	}
	return out, pgContinueSequences(ctx, to, tables)
}

// seeded are the tables the migrations fill: the source's rows replace the target's.
var seeded = map[string]bool{"id_sequences": true}

// copyBatch is how many rows one insert, and one transaction, carries at most.
const copyBatch = 500

func copyTable(ctx context.Context, from, to *DB, table string, progress CopyProgress) (int64, error) {
	cols, err := commonColumns(ctx, from, to, table)
	if err != nil || len(cols) == 0 {
		return 0, err
	}
	var ddl string
	if err := from.read.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&ddl); err != nil {
		return 0, err
	}
	order := " ORDER BY rowid" // insertion order: parents before children within a table
	if strings.Contains(strings.ToUpper(ddl), "WITHOUT ROWID") {
		order = ""
	}
	rows, err := from.read.QueryContext(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM "+table+order)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	if seeded[table] {
		if err := to.Write(ctx, func(tx *Tx) error {
			_, err := tx.ExecContext(ctx, "DELETE FROM "+table)
			return err
		}); err != nil {
			return 0, err
		}
	}
	batch := min(copyBatch, to.dialect.MaxParams()/len(cols))
	var (
		n    int64
		args []any
	)
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		k := len(args) / len(cols)
		one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
		q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES " +
			strings.TrimSuffix(strings.Repeat(one+", ", k), ", ")
		err := to.Write(ctx, func(tx *Tx) error {
			_, err := tx.ExecContext(ctx, q, args...)
			return err
		})
		n += int64(k)
		args = args[:0]
		if progress != nil {
			progress(table, n, false)
		}
		return err
	}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		args = append(args, vals...)
		if len(args)/len(cols) == batch {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	if err := flush(); err != nil {
		return n, err
	}
	if progress != nil {
		progress(table, n, true)
	}
	return n, nil
}

// sqliteTablesParentsFirst lists mlship's tables so that every table comes after those
// its foreign keys name.
func sqliteTablesParentsFirst(ctx context.Context, db *DB) ([]string, error) {
	var names []string
	err := ScanEach(ctx, db.read, `SELECT name FROM sqlite_master WHERE type = 'table'
		AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY name`, nil, func(r *sql.Rows) error {
		var n string
		err := r.Scan(&n)
		names = append(names, n)
		return err
	})
	if err != nil {
		return nil, err
	}
	parents := map[string][]string{}
	for _, n := range names {
		err := ScanEach(ctx, db.read, `SELECT DISTINCT "table" FROM pragma_foreign_key_list(?)`, []any{n}, func(r *sql.Rows) error {
			var p string
			if err := r.Scan(&p); err != nil {
				return err
			}
			if p != n {
				parents[n] = append(parents[n], p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	var order []string
	state := map[string]int{} // 1: being placed, 2: placed
	var place func(n string) error
	place = func(n string) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("store: the foreign keys of %s form a cycle", n)
		case 2:
			return nil
		}
		state[n] = 1
		for _, p := range parents[n] {
			if slices.Contains(names, p) {
				if err := place(p); err != nil {
					return err
				}
			}
		}
		state[n] = 2
		order = append(order, n)
		return nil
	}
	for _, n := range names {
		if err := place(n); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// commonColumns are table's columns in both stores (a target's column the source lacks
// takes its default).
func commonColumns(ctx context.Context, from, to *DB, table string) ([]string, error) {
	var src []string
	err := ScanEach(ctx, from.read, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, []any{table}, func(r *sql.Rows) error {
		var c string
		err := r.Scan(&c)
		src = append(src, c)
		return err
	})
	if err != nil {
		return nil, err
	}
	dst := map[string]bool{}
	err = ScanEach(ctx, to.read, `SELECT column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1`, []any{table}, func(r *sql.Rows) error {
		var c string
		err := r.Scan(&c)
		dst[c] = true
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(dst) == 0 {
		return nil, fmt.Errorf("the target has no table %s", table)
	}
	var cols []string
	for _, c := range src {
		if !dst[c] {
			return nil, fmt.Errorf("the target's %s has no column %s", table, c)
		}
		cols = append(cols, `"`+c+`"`)
	}
	return cols, nil
}

// pgContinueSequences makes the identity columns of tables continue after the highest
// value copied into them.
func pgContinueSequences(ctx context.Context, db *DB, tables []string) error {
	type identity struct{ table, column string }
	var ids []identity
	err := ScanEach(ctx, db.read, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND is_identity = 'YES'`, nil, func(r *sql.Rows) error {
		var i identity
		err := r.Scan(&i.table, &i.column)
		ids = append(ids, i)
		return err
	})
	if err != nil {
		return err
	}
	for _, i := range ids {
		if !slices.Contains(tables, i.table) {
			continue
		}
		q := fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%s', '%s'), COALESCE(MAX("%s"), 0) + 1, false) FROM %s`,
			i.table, i.column, i.column, i.table)
		if err := db.Write(ctx, func(tx *Tx) error {
			_, err := tx.ExecContext(ctx, q)
			return err
		}); err != nil {
			return fmt.Errorf("store: continue the ids of %s: %w", i.table, err)
		}
	}
	return nil
}
