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

	"github.com/riverqueue/river"
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

// Queue is a running job queue.
type Queue struct {
	db     *sql.DB
	client *river.Client[*sql.Tx]
}

// Open opens (creating or upgrading) the queue at opts.Path and builds a client
// whose workers are those register adds. Start begins working jobs.
func Open(ctx context.Context, opts Options, register func(*river.Workers) error) (*Queue, error) {
	if opts.Path == "" {
		return nil, errors.New("jobs: no queue file")
	}
	if err := os.MkdirAll(filepath.Dir(opts.Path), 0o755); err != nil {
		return nil, fmt.Errorf("jobs: create directory for %s: %w", opts.Path, err)
	}
	dsn := "file:" + opts.Path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("jobs: open %s: %w", opts.Path, err)
	}
	// One connection: SQLite takes one writer at a time, and River's concurrent
	// maintenance would otherwise meet SQLITE_BUSY.
	db.SetMaxOpenConns(1)
	q, err := open(ctx, db, opts, register)
	if err != nil {
		db.Close()
		return nil, err
	}
	return q, nil
}

func open(ctx context.Context, db *sql.DB, opts Options, register func(*river.Workers) error) (*Queue, error) {
	driver := riversqlite.New(db)
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: quiet(opts.Logger)})
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("jobs: migrate %s: %w", opts.Path, err)
	}
	// A job still marked running was held by a process that died (this process
	// holds the data directory alone): run it again now rather than after River's
	// stuck-job rescue, an hour later.
	if _, err := db.ExecContext(ctx, `UPDATE river_job SET state = 'available', scheduled_at = datetime('now', 'subsec')
		WHERE state = 'running'`); err != nil {
		return nil, fmt.Errorf("jobs: requeue interrupted jobs: %w", err)
	}
	workers := river.NewWorkers()
	if err := register(workers); err != nil {
		return nil, err
	}
	periodic, err := periodicJobs(workers, opts.Periodic)
	if err != nil {
		return nil, err
	}
	timeout := cmp.Or(opts.Timeout, DefaultTimeout)
	client, err := river.NewClient(driver, &river.Config{
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cmp.Or(opts.Workers, DefaultWorkers)}},
		Workers:              workers,
		PeriodicJobs:         periodic,
		FetchPollInterval:    cmp.Or(opts.PollInterval, DefaultPollInterval),
		FetchCooldown:        20 * time.Millisecond,
		JobTimeout:           timeout,
		RescueStuckJobsAfter: timeout + time.Hour,
		MaxAttempts:          3,
		Logger:               quiet(opts.Logger),
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	return &Queue{db: db, client: client}, nil
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
	err := q.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = q.client.StopAndCancel(context.Background())
	}
	return errors.Join(err, q.db.Close())
}
