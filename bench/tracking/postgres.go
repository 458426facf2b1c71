package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Metadata stores the servers can be benchmarked on.
const (
	backendSQLite   = "sqlite"
	backendPostgres = "postgres"
)

// postgres is the PostgreSQL that --backend postgres runs both servers on: one
// throwaway cluster started with tests/pg/start.sh, or the one MLSHIP_TEST_POSTGRES_URI
// names. Every target gets a database of its own on it.
type postgres struct {
	admin   string // URI of a database to connect to for CREATE DATABASE
	dir     string // the cluster's directory when this run started it
	version string
	// created are the databases made by this run, dropped at the end on a cluster it
	// did not start (a started one is deleted whole).
	created []string
	log     *log.Logger
}

// startPostgres starts a throwaway cluster with tests/pg/start.sh, unless
// MLSHIP_TEST_POSTGRES_URI names one to use.
func startPostgres(ctx context.Context, logger *log.Logger) (*postgres, error) {
	pg := &postgres{log: logger}
	if uri := os.Getenv("MLSHIP_TEST_POSTGRES_URI"); uri != "" {
		pg.admin = uri
		logger.Printf("postgres: using MLSHIP_TEST_POSTGRES_URI")
	} else {
		dir, err := os.MkdirTemp("", "mlship-bench-pg-")
		if err != nil {
			return nil, err
		}
		pg.dir = dir
		out, err := exec.CommandContext(ctx, "bash", "tests/pg/start.sh", dir).Output()
		if err != nil {
			pg.stop()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
			}
			return nil, fmt.Errorf("tests/pg/start.sh (run from the repository's root; `make system-deps` installs PostgreSQL): %w", err)
		}
		pg.admin = strings.TrimSpace(string(out))
		logger.Printf("postgres: throwaway cluster in %s", dir)
	}
	err := pg.exec(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, "SHOW server_version").Scan(&pg.version)
	})
	if err != nil {
		pg.stop()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return pg, nil
}

func (pg *postgres) exec(ctx context.Context, fn func(*pgx.Conn) error) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, pg.admin)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	return fn(c)
}

// createDatabase makes a fresh database and returns its URI for pgx (mlship's form).
func (pg *postgres) createDatabase(ctx context.Context, target string) (string, error) {
	name := fmt.Sprintf("bench_%s_%d_%d", strings.NewReplacer("-", "_", "+", "_").Replace(target), os.Getpid(), len(pg.created))
	err := pg.exec(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
		return err
	})
	if err != nil {
		return "", fmt.Errorf("CREATE DATABASE %s: %w", name, err)
	}
	pg.created = append(pg.created, name)
	u, err := url.Parse(pg.admin)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// sqlalchemyURI is a database's URI as MLflow's SQLAlchemy store takes it, with the
// psycopg2 driver of bench/requirements.txt.
func sqlalchemyURI(uri string) string {
	_, rest, _ := strings.Cut(uri, "://")
	return "postgresql+psycopg2://" + rest
}

// stop deletes the cluster this run started, or drops the databases it made on one
// it was given.
func (pg *postgres) stop() {
	if pg.dir != "" {
		if err := exec.Command("bash", "tests/pg/stop.sh", pg.dir).Run(); err != nil {
			pg.log.Printf("postgres: tests/pg/stop.sh %s: %v", pg.dir, err)
		}
		_ = os.RemoveAll(pg.dir)
		return
	}
	for _, name := range pg.created {
		err := pg.exec(context.Background(), func(c *pgx.Conn) error {
			_, err := c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
			return err
		})
		if err != nil {
			pg.log.Printf("postgres: drop %s: %v", name, err)
		}
	}
}

// pid is the postmaster's process id when this run started the cluster, else 0.
func (pg *postgres) pid() int {
	if pg == nil || pg.dir == "" {
		return 0
	}
	b, err := os.ReadFile(filepath.Join(pg.dir, "data", "postmaster.pid"))
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(first))
	return pid
}
