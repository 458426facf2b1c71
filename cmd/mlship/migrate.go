package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlship/mlship/internal/config"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// migrateResult is what `mlship migrate` reports.
type migrateResult struct {
	Database      string          `json:"database"` // the URI, password redacted
	Engine        string          `json:"engine"`
	SchemaVersion int             `json:"schema_version"`
	Applied       []migrationDone `json:"applied"` // the migrations this run applied, oldest first
	// CopiedFrom and Copied say what --copy-from copied: the source, and each table's rows.
	CopiedFrom string            `json:"copied_from,omitempty"`
	Copied     []store.TableCopy `json:"copied,omitempty"`
}

type migrationDone struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
}

func migrateCommand() *cobra.Command {
	cfg := config.DefaultServer()
	var (
		out      output
		wait     time.Duration
		copyFrom string
	)
	c := &cobra.Command{
		Use:   "migrate",
		Short: "Bring the metadata database's schema up to this version of mlship and exit",
		Long: `Apply the metadata database's migrations and exit.

The server applies them itself when it starts; migrate does it beforehand, as a step of
an upgrade (the Helm chart's migrations Job runs it before the new servers start). It
names the database as the server does: --backend-store-uri, else the SQLite file in
--data-dir, or their MLSHIP_* environment variables. On PostgreSQL, servers and
migrate runs that start together apply each migration once: an advisory lock
serialises them. A SQLite database cannot be migrated while a server has it open.

With --copy-from sqlite:///PATH/mlship.db it then copies every row of that SQLite store
into the database, which must be a PostgreSQL one that holds nothing yet (migrated, no
server started on it): the way from a server on one machine to a team server. The source
is migrated to this version's schema first and otherwise only read; stop its server
while it is copied. Artifacts and registered files are not in the database: copy the
data directory's artifacts/ and content/ folders to where the new server keeps them
(docs/deploy.md).

Exit status: 0 once the schema is current (and the copy done), 1 if a migration or the
copy failed (or the target already holds data), 2 for a wrong command line, 4 if the
database did not answer (within --wait).`,
		Example: `  mlship migrate --backend-store-uri postgresql://mlship:secret@db:5432/mlship
  MLSHIP_BACKEND_STORE_URI=postgresql://... mlship migrate --wait 2m -o json
  mlship migrate --data-dir /var/lib/mlship
  mlship migrate --backend-store-uri postgresql://mlship:secret@db:5432/mlship --copy-from sqlite:///var/lib/mlship/mlship.db`,
		Args: cobra.NoArgs,
		PreRunE: func(c *cobra.Command, _ []string) error {
			if err := config.ApplyEnv(c.Flags(), "MLSHIP"); err != nil {
				return usageError{err}
			}
			if err := out.check(); err != nil {
				return err
			}
			if wait < 0 {
				return usageError{fmt.Errorf("--wait must not be negative, got %s", wait)}
			}
			if _, err := cfg.Level(); err != nil {
				return usageError{err}
			}
			if cfg.BackendStoreURI == "" {
				if cfg.DataDir == "" {
					return usageError{errors.New("--data-dir must not be empty")}
				}
				dir, err := filepath.Abs(cfg.DataDir)
				if err != nil {
					return err
				}
				cfg.BackendStoreURI = "sqlite://" + filepath.Join(dir, "mlship.db")
			}
			return nil
		},
		RunE: func(c *cobra.Command, _ []string) error {
			res, err := migrate(c.Context(), &cfg, wait, copyFrom, c.ErrOrStderr())
			if err != nil {
				return err
			}
			return out.print(c.OutOrStdout(), res, func(t *tabwriter.Writer) {
				row(t, "DATABASE", res.Database)
				row(t, "ENGINE", res.Engine)
				row(t, "SCHEMA VERSION", res.SchemaVersion)
				if len(res.Applied) == 0 {
					row(t, "APPLIED", "none: the schema was current")
				}
				for _, m := range res.Applied {
					row(t, "APPLIED", fmt.Sprintf("%d %s", m.Version, m.Name))
				}
				if res.CopiedFrom != "" {
					var rows int64
					for _, tc := range res.Copied {
						rows += tc.Rows
					}
					row(t, "COPIED FROM", res.CopiedFrom)
					row(t, "COPIED", fmt.Sprintf("%d rows in %d tables", rows, len(res.Copied)))
				}
			})
		},
	}
	f := c.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "directory of the embedded database (without --backend-store-uri)")
	f.StringVar(&cfg.BackendStoreURI, "backend-store-uri", "", "metadata database URI, sqlite:///PATH or postgresql://USER:PASSWORD@HOST:5432/DATABASE (default sqlite:///<data-dir>/mlship.db)")
	f.StringVar(&copyFrom, "copy-from", "", "copy every row of this SQLite store (sqlite:///PATH/mlship.db) into the database, which must hold nothing yet")
	f.DurationVar(&wait, "wait", 0, "keep trying to reach the database this long before giving up (a database starting beside the migration), e.g. 2m")
	f.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	f.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "text or json")
	out.addFlag(c)
	return c
}

// migrate opens the database, which applies the migrations it lacks, and reports what
// it applied: the rows of schema_migrations written since it started.
func migrate(ctx context.Context, cfg *config.Server, wait time.Duration, copyFrom string, progress io.Writer) (*migrateResult, error) {
	logger := newLogger(cfg)
	start := time.Now().UnixMilli()
	deadline := time.Now().Add(wait)
	var (
		db  *store.DB
		err error
	)
	for {
		db, err = store.Open(ctx, cfg.BackendStoreURI, logger)
		if err == nil || !time.Now().Before(deadline) || ctx.Err() != nil {
			break
		}
		logger.Info("migrate: the database does not answer yet; trying again", "database", store.Redact(cfg.BackendStoreURI), "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
	if err != nil {
		if isConnectError(err) {
			return nil, fmt.Errorf("%w: %w", fault.Unavailable, err)
		}
		return nil, err
	}
	defer db.Close()
	res := &migrateResult{Database: store.Redact(cfg.BackendStoreURI), Engine: db.Dialect().Name(), Applied: []migrationDone{}}
	if res.SchemaVersion, err = db.SchemaVersion(ctx); err != nil {
		return nil, err
	}
	rows, err := db.Reader().QueryContext(ctx, `SELECT version, name FROM schema_migrations WHERE applied_at >= ? ORDER BY version`, start)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var m migrationDone
		if err := rows.Scan(&m.Version, &m.Name); err != nil {
			return nil, err
		}
		res.Applied = append(res.Applied, m)
	}
	if err := rows.Err(); err != nil || copyFrom == "" {
		return res, err
	}
	src, err := store.Open(ctx, copyFrom, logger)
	if err != nil {
		return nil, fmt.Errorf("open the store to copy from: %w", err)
	}
	defer src.Close()
	res.CopiedFrom = store.Redact(copyFrom)
	res.Copied, err = store.Copy(ctx, src, db, func(table string, n int64, done bool) {
		if done {
			fmt.Fprintf(progress, "copied %-28s %d rows\n", table, n)
		}
	})
	return res, err
}

// isConnectError reports whether opening the database failed to reach it at all (as
// opposed to a migration that failed on it).
func isConnectError(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) || errors.Is(err, context.DeadlineExceeded)
}
