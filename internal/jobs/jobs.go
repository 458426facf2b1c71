// Package jobs runs background work on River, a job queue kept in SQL: jobs survive
// restarts, a failed one is retried with backoff, and a long one never holds up a
// request. The embedded default keeps the queue in a SQLite file of its own beside the
// metadata database, so that River's polling never waits on the metadata writer.
package jobs

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Defaults of Options.
const (
	DefaultWorkers      = 2
	DefaultPollInterval = 200 * time.Millisecond
	DefaultTimeout      = time.Hour
)

// Options configures a Queue.
type Options struct {
	// Path is the SQLite file of the queue. The caller must hold the data
	// directory exclusively: Open requeues jobs left running by a process that
	// died, which is only safe when no other process works the queue.
	Path string
	// Postgres, in place of Path, is the URI of the PostgreSQL database that keeps
	// the queue, shared by every process that opens it there.
	Postgres string
	// Workers is how many jobs run at once (default DefaultWorkers).
	Workers int
	// PollInterval is how often idle workers look for new jobs (default
	// DefaultPollInterval). Jobs inserted through this Queue start at once.
	PollInterval time.Duration
	// Timeout bounds one attempt of a job (default DefaultTimeout).
	Timeout time.Duration
	Logger  *slog.Logger
	// Periodic is housekeeping the queue runs on a schedule.
	Periodic []Periodic
}

// Periodic is housekeeping run every Interval, and once as the queue starts: as a
// job, so that a failure is retried and, when several processes share the queue,
// only the elected leader schedules it.
type Periodic struct {
	Name     string // unique among the queue's periodic jobs
	Interval time.Duration
	Run      func(ctx context.Context) error
}

// periodicArgs names the Periodic a job runs.
type periodicArgs struct {
	Name string `json:"name"`
}

func (periodicArgs) Kind() string { return "periodic" }

type periodicWorker struct {
	river.WorkerDefaults[periodicArgs]
	byName map[string]Periodic
}

func (w *periodicWorker) Work(ctx context.Context, job *river.Job[periodicArgs]) error {
	p, ok := w.byName[job.Args.Name]
	if !ok {
		return river.JobCancel(fmt.Errorf("jobs: no periodic job %q in this process", job.Args.Name))
	}
	return p.Run(ctx)
}

// periodicJobs registers the worker of opts.Periodic and returns their schedules.
func periodicJobs(ws *river.Workers, ps []Periodic) ([]*river.PeriodicJob, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	w := &periodicWorker{byName: map[string]Periodic{}}
	var out []*river.PeriodicJob
	for _, p := range ps {
		if _, dup := w.byName[p.Name]; dup || p.Interval <= 0 || p.Run == nil {
			return nil, fmt.Errorf("jobs: periodic job %q is a duplicate, has no interval or nothing to run", p.Name)
		}
		w.byName[p.Name] = p
		args := periodicArgs{Name: p.Name}
		out = append(out, river.NewPeriodicJob(river.PeriodicInterval(p.Interval),
			func() (river.JobArgs, *river.InsertOpts) { return args, nil },
			&river.PeriodicJobOpts{ID: p.Name, RunOnStart: true}))
	}
	return out, river.AddWorkerSafely(ws, w)
}

// Queue is a job queue. New makes one; its users add their workers (AddWorker) and
// housekeeping (Options.Periodic) before Open connects it; Start begins working.
type Queue struct {
	opts    Options
	workers *river.Workers
	client  riverClient
	closeDB func() error
	db      *sql.DB       // on SQLite
	pool    *pgxpool.Pool // on PostgreSQL
	// scope prefixes advisory lock names: advisory locks are the database's, and
	// servers working in different schemas of one database must not share them.
	scope string
}

// riverClient is what the queue uses of River's client, whichever its driver.
type riverClient interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	JobGet(ctx context.Context, id int64) (*rivertype.JobRow, error)
}

// New returns a queue not yet open.
func New(opts Options) *Queue {
	return &Queue{opts: opts, workers: river.NewWorkers()}
}

// AddWorker makes q run jobs of w's kind. Call it before Open.
func AddWorker[T river.JobArgs](q *Queue, w river.Worker[T]) error {
	return river.AddWorkerSafely(q.workers, w)
}

// Open opens the queue (creating or upgrading its tables) and readies its client.
func (q *Queue) Open(ctx context.Context) error {
	switch {
	case q.opts.Postgres != "":
		return q.openPostgres(ctx)
	case q.opts.Path != "":
		return q.openSQLite(ctx)
	}
	return errors.New("jobs: neither a queue file nor a PostgreSQL database")
}

func (q *Queue) openSQLite(ctx context.Context) error {
	opts := q.opts
	if err := os.MkdirAll(filepath.Dir(opts.Path), 0o755); err != nil {
		return fmt.Errorf("jobs: create directory for %s: %w", opts.Path, err)
	}
	dsn := "file:" + opts.Path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("jobs: open %s: %w", opts.Path, err)
	}
	// One connection: SQLite takes one writer at a time, and River's concurrent
	// maintenance would otherwise meet SQLITE_BUSY.
	db.SetMaxOpenConns(1)
	driver := riversqlite.New(db)
	err = migrate(ctx, driver, opts.Path)
	if err == nil {
		// A job still marked running was held by a process that died (this process
		// holds the data directory alone): run it again now rather than after
		// River's stuck-job rescue, an hour later.
		_, err = db.ExecContext(ctx, `UPDATE river_job SET state = 'available', scheduled_at = datetime('now', 'subsec')
		WHERE state = 'running'`)
		if err != nil {
			err = fmt.Errorf("jobs: requeue interrupted jobs: %w", err)
		}
	}
	var client *river.Client[*sql.Tx]
	if err == nil {
		client, err = newClient(driver, q)
	}
	if err != nil {
		db.Close()
		return err
	}
	q.client, q.closeDB = client, db.Close
	q.db = db
	return nil
}

// openPostgres keeps the queue in the metadata database, where every server sharing
// it works the same jobs: each job runs once, on whichever server takes it first, and
// one elected server schedules the periodic ones. A job held by a server that died is
// run again by River's rescuer once it has run past the job timeout.
func (q *Queue) openPostgres(ctx context.Context) error {
	cfg, err := pgxpool.ParseConfig(q.opts.Postgres)
	if err != nil {
		return fmt.Errorf("jobs: postgresql URI: %w", err)
	}
	cfg.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("jobs: connect to PostgreSQL: %w", err)
	}
	driver := riverpgxv5.New(pool)
	var schema string
	err = pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema)
	if err == nil {
		q.scope = "mlship." + schema + "."
		err = withLock(ctx, pool, lockKey(q.scope+"migrate"), func() error { return migrate(ctx, driver, "PostgreSQL") })
	}
	var client *river.Client[pgx.Tx]
	if err == nil {
		client, err = newClient(driver, q)
	}
	if err != nil {
		pool.Close()
		return err
	}
	q.client, q.pool = client, pool
	q.closeDB = func() error { pool.Close(); return nil }
	return nil
}

func migrate[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], where string) error {
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: quiet(nil)})
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("jobs: migrate the queue in %s: %w", where, err)
	}
	return nil
}

func newClient[TTx any](driver riverdriver.Driver[TTx], q *Queue) (*river.Client[TTx], error) {
	opts := q.opts
	periodic, err := periodicJobs(q.workers, opts.Periodic)
	if err != nil {
		return nil, err
	}
	timeout := cmp.Or(opts.Timeout, DefaultTimeout)
	client, err := river.NewClient(driver, &river.Config{
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cmp.Or(opts.Workers, DefaultWorkers)}},
		Workers:              q.workers,
		PeriodicJobs:         periodic,
		FetchPollInterval:    cmp.Or(opts.PollInterval, DefaultPollInterval),
		FetchCooldown:        20 * time.Millisecond,
		JobTimeout:           timeout,
		RescueStuckJobsAfter: timeout + time.Minute,
		MaxAttempts:          3,
		Logger:               quiet(opts.Logger),
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	return client, nil
}

// quiet keeps River's own info messages (leadership, maintenance) out of the
// server log; its warnings and errors stay.
func quiet(l *slog.Logger) *slog.Logger {
	if l == nil {
		l = slog.Default()
	}
	return slog.New(levelFloor{l.Handler(), slog.LevelWarn}).With("component", "jobs")
}

type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (h levelFloor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelFloor) WithAttrs(as []slog.Attr) slog.Handler {
	return levelFloor{h.Handler.WithAttrs(as), h.min}
}

func (h levelFloor) WithGroup(name string) slog.Handler {
	return levelFloor{h.Handler.WithGroup(name), h.min}
}

// Start begins working jobs until ctx ends or Stop is called.
func (q *Queue) Start(ctx context.Context) error {
	return q.client.Start(ctx)
}

// Insert enqueues a job and returns its id.
func (q *Queue) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (int64, error) {
	res, err := q.client.Insert(ctx, args, opts)
	if err != nil {
		return 0, fmt.Errorf("jobs: enqueue %s: %w", args.Kind(), err)
	}
	return res.Job.ID, nil
}

// Job returns a job's row: its state, attempts and errors.
func (q *Queue) Job(ctx context.Context, id int64) (*rivertype.JobRow, error) {
	return q.client.JobGet(ctx, id)
}

// Close stops working jobs, letting running ones finish until ctx ends (then
// cancelling them: they run again at the next start), and closes the queue.
func (q *Queue) Close(ctx context.Context) error {
	if q.client == nil { // never opened
		return nil
	}
	err := q.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = q.client.StopAndCancel(context.Background())
	}
	return errors.Join(err, q.closeDB())
}

func (q *Queue) logger() *slog.Logger { return cmp.Or(q.opts.Logger, slog.Default()) }
